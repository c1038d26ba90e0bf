"""Reference tables of the sample generator, read independently of the rest of returnstats.

The generator is the oracle of the tests, so it reads `include/reference/provinces.csv` and
python-stdnum's county table itself instead of importing `returnstats.reference`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import stdnum

PROVINCES_CSV = Path(__file__).resolve().parents[3] / "include" / "reference" / "provinces.csv"
LOC_DAT = Path(stdnum.__file__).parent / "cn" / "loc.dat"

# A county code is used only when it is current and existed early enough for an adult's ID
# number issued there to pass stdnum's birth-place-at-birth-year check.
LATEST_COUNTY_START = 2002
PREFERRED_COUNTY_START = 1980


@dataclass(frozen=True)
class Province:
    code: str
    name_zh: str
    name_en: str
    region: str


@dataclass(frozen=True)
class County:
    code: str
    name: str
    valid_from: int  # first year the code exists (0: always)


@lru_cache(maxsize=1)
def provinces() -> dict[str, Province]:
    with open(PROVINCES_CSV, encoding="utf-8") as handle:
        return {
            row["code"]: Province(row["code"], row["name_zh"], row["name_en"], row["region"])
            for row in csv.DictReader(handle)
        }


def short_name_zh(province: Province) -> str:
    """广东省 → 广东, 北京市 → 北京, 广西壮族自治区 → 广西, 内蒙古自治区 → 内蒙古."""
    name = province.name_zh
    if province.code == "15":
        return "内蒙古"
    if name.endswith("自治区"):
        return name[:2]
    return name.rstrip("省市")


_ENTRY = re.compile(r'^\s+(\d{4})\s+county="([^"]*)"')
_PERIOD = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


@lru_cache(maxsize=1)
def _loc_table() -> tuple[dict[str, list[County]], dict[str, list[str]]]:
    known = provinces()
    counties: dict[str, list[County]] = {code: [] for code in known}
    prefectures: dict[str, list[str]] = {code: [] for code in known}
    province = None
    for line in LOC_DAT.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        match = _ENTRY.match(line)
        if not match or province not in known:
            continue
        suffix, names = match.groups()
        for part in names.split(","):
            period = _PERIOD.match(part)
            start, end, name = period.groups() if period else ("", "", part)
            if end or name in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
                continue
            if suffix == "0000":
                continue
            if suffix.endswith("00"):
                prefectures[province].append(name)
                continue
            valid_from = int(start) if start else 0
            if valid_from <= LATEST_COUNTY_START:
                counties[province].append(County(province + suffix, name, valid_from))
                break
    for code, found in counties.items():
        # Prefer codes old enough for any adult's ID number, where the province has enough.
        old = [c for c in found if c.valid_from <= PREFERRED_COUNTY_START]
        if len(old) >= 10:
            counties[code] = old
    for code, names in prefectures.items():
        if not names:  # municipalities: their districts serve as cities
            names.extend(c.name for c in counties[code][:5])
    return counties, prefectures


def counties() -> dict[str, list[County]]:
    """Current county-level codes (last two digits not 00) of the 31 provinces."""
    return _loc_table()[0]


def cities() -> dict[str, list[str]]:
    """Prefecture-level city names by province, for `destination_city`."""
    return _loc_table()[1]


SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
GIVEN_MALE = "伟军明强磊洋勇杰涛斌超刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林建国东文海峰成亮志新"
GIVEN_FEMALE = "丽静敏燕艳娟霞芳娜玲婷雪慧红兰梅琳萍颖莉倩晶月秀英佳欣怡琴云凤美霞洁玉"
MINORITY_NAMES = (
    "艾力·买买提", "阿依古丽·吐尔逊", "古丽娜尔·艾合买提", "买买提·依明", "热依拉·阿布都",
    "努尔兰·哈力木", "阿不都·热合曼", "帕提古丽·艾则孜", "吐尔洪·司马义", "米娜瓦尔·卡德尔",
)
TRADITIONAL = str.maketrans({
    "刘": "劉", "陈": "陳", "张": "張", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳",
    "孙": "孫", "马": "馬", "罗": "羅", "郑": "鄭", "谢": "謝", "韩": "韓", "冯": "馮",
    "邓": "鄧", "许": "許", "华": "華", "伟": "偉", "丽": "麗", "军": "軍", "红": "紅",
    "兰": "蘭", "国": "國", "东": "東", "龙": "龍", "强": "強", "涛": "濤", "辉": "輝",
    "鹏": "鵬", "飞": "飛", "鑫": "鑫", "凤": "鳳", "玲": "玲", "娟": "娟", "叶": "葉",
})
HOMOPHONES = {
    "明": "鸣", "丽": "莉", "伟": "玮", "静": "敬", "勇": "永", "杰": "洁", "涛": "韬",
    "斌": "彬", "华": "桦", "平": "萍", "林": "琳", "燕": "艳", "芳": "方", "娜": "纳",
    "婷": "亭", "红": "虹", "兰": "岚", "梅": "玫", "军": "君", "磊": "蕾", "波": "博",
}
