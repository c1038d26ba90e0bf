"""The one press-release rounding of headline counts (SPEC §7).

Below 10,000 a count is given exactly. From 10,000 on it is floored to whole ten-thousands
(万). English: "more than 810,000" when the count exceeds the floored value, "810,000" when
equal. Chinese, in the idiom of a press office: "81万" when equal; "80余万" when it exceeds
a multiple of ten 万 ("余" before the unit: eighty-odd 万), "13万余" otherwise ("余" after
the unit: 13 万 and more). From 1亿 on the count is written in 亿 and 万 ("1亿", "1亿余",
"1亿2345万", "1亿零500万余"). Chinese figures carry no thousands separators ("9999",
"7600家"), English ones do.
"""

from __future__ import annotations

import re

WAN = 10_000
YI = 10_000 * WAN


def exact_number(n: int, lang: str) -> str:
    """An exact count the way each edition writes it: en "7,600", zh "7600"."""
    return f"{n:,}" if lang == "en" else str(n)


def _wan_zh(wan: int, more: bool) -> str:
    """`wan` 万 in the Chinese idiom, with "余" where a press office puts it when `more`."""
    yi, rest = divmod(wan, WAN)
    if yi == 0:
        if not more:
            return f"{wan}万"
        return f"{wan}余万" if wan % 10 == 0 else f"{wan}万余"
    if rest == 0:
        return f"{yi}亿余" if more else f"{yi}亿"
    zero = "零" if rest < 1000 else ""  # 1亿零500万: the skipped thousands are read out
    return f"{yi}亿{zero}{rest}万" + ("余" if more else "")


def headline_number(n: int, lang: str) -> str:
    """A headline count rounded the press-release way, without its unit ("人")."""
    if lang not in ("zh", "en"):
        raise ValueError(f"unknown language {lang!r}")
    if n < 0:
        raise ValueError("a headline count cannot be negative")
    if n < WAN:
        return exact_number(n, lang)
    wan = n // WAN
    floor = wan * WAN
    if lang == "en":
        return f"more than {floor:,}" if n > floor else f"{floor:,}"
    return _wan_zh(wan, n > floor)


_ZH = re.compile(r"(?:(\d+)亿(?:零?(\d+)万)?|(\d+)万)")


def headline_bounds(text: str, lang: str) -> tuple[int, int]:
    """The inclusive range of counts that `headline_number` writes as `text` (read-back).

    Only what `headline_number` itself writes is accepted: "13余万" (should be "13万余"),
    "810,123" or "1万0" raise ValueError."""
    text = text.strip()
    if lang == "en":
        more = text.startswith("more than ")
        value = text.removeprefix("more than ").replace(",", "")
    else:
        plain = text.replace("余", "")
        more = plain != text
        match = _ZH.fullmatch(plain)
        if match is None:
            value = plain
        elif match[3] is not None:
            value = str(int(match[3]) * WAN)
        else:
            value = str(int(match[1]) * YI + int(match[2] or 0) * WAN)
    if not value.isdigit():
        raise ValueError(f"not a headline figure: {text!r}")
    low = int(value) + (1 if more else 0)
    high = int(value) + (WAN - 1 if more else 0)
    if headline_number(low, lang) != text or headline_number(high, lang) != text:
        raise ValueError(f"not a headline figure: {text!r}")
    return low, high
