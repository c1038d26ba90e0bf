"""Reference data: the 31 provincial-level divisions, their names and regions."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from returnstats.config import INCLUDE

REGIONS = ("east", "central", "west", "northeast")

# Short Chinese forms that are not a plain prefix cut of the full name.
_SHORT_ZH_EXTRA = {
    "15": ("内蒙古", "内蒙"),
    "45": ("广西",),
    "54": ("西藏",),
    "64": ("宁夏",),
    "65": ("新疆",),
}
_EN_EXTRA = {"54": ("Tibet",), "15": ("Nei Mongol", "Inner Mongolia Autonomous Region")}


_ZH_SUFFIXES = ("省", "市", "壮族自治区", "回族自治区", "维吾尔自治区", "自治区")


@dataclass(frozen=True)
class Province:
    code: str
    name_zh: str
    name_en: str
    region: str

    @property
    def short_zh(self) -> str:
        """The name without its administrative suffix: 广东, 北京, 内蒙古, 新疆."""
        if self.code in _SHORT_ZH_EXTRA:
            return _SHORT_ZH_EXTRA[self.code][0]
        for suffix in _ZH_SUFFIXES:
            if self.name_zh.endswith(suffix):
                return self.name_zh[: -len(suffix)]
        return self.name_zh


def province_label(code: str) -> str:
    """"44 广东 Guangdong": how the UI and logs name a province (the code alone if unknown)."""
    province = provinces().get(code)
    return f"{code} {province.short_zh} {province.name_en}" if province else code


@lru_cache(maxsize=1)
def provinces() -> dict[str, Province]:
    """Provinces by two-digit code, in the order of `include/reference/provinces.csv`."""
    with open(INCLUDE / "reference" / "provinces.csv", encoding="utf-8") as handle:
        return {
            row["code"]: Province(row["code"], row["name_zh"], row["name_en"], row["region"])
            for row in csv.DictReader(handle)
        }


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")


@lru_cache(maxsize=1)
def province_aliases() -> dict[str, str]:
    """Folded name or code → province code: codes, full and short Chinese and English names."""
    aliases: dict[str, str] = {}
    for code, p in provinces().items():
        names = {code, p.name_zh, p.short_zh, p.name_en, *(_SHORT_ZH_EXTRA.get(code, ())),
                 *(_EN_EXTRA.get(code, ()))}
        for name in names:
            aliases[_fold(name)] = code
    return aliases


def province_code(value: object) -> str | None:
    """The two-digit code for a code or a Chinese/English province name, or None."""
    if value is None:
        return None
    return province_aliases().get(_fold(str(value)))
