"""The one press-release rounding of headline counts (SPEC §7).

Below 10,000 a count is given exactly. From 10,000 on it is floored to whole ten-thousands
(万): English "more than 810,000" when the count exceeds the floored value and "810,000"
when equal; Chinese "81余万" / "81万". Chinese stays in 万 even past 1亿 (100,000,000 →
"10000万") so that one unit is read day after day and the read-back check parses one form.
Chinese figures carry no thousands separators ("9999", "7600家"), English ones do.
"""

from __future__ import annotations

WAN = 10_000


def exact_number(n: int, lang: str) -> str:
    """An exact count the way each edition writes it: en "7,600", zh "7600"."""
    return f"{n:,}" if lang == "en" else str(n)


def headline_number(n: int, lang: str) -> str:
    """A headline count rounded the press-release way, without its unit."""
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
    return f"{wan}余万" if n > floor else f"{wan}万"


def headline_bounds(text: str, lang: str) -> tuple[int, int]:
    """The inclusive range of counts that `headline_number` writes as `text` (read-back)."""
    text = text.strip()
    if lang == "en":
        if text.startswith("more than "):
            floor = int(text[len("more than "):].replace(",", ""))
            if floor % WAN or floor < WAN:
                raise ValueError(f"not a headline figure: {text!r}")
            return floor + 1, floor + WAN - 1
        value = int(text.replace(",", ""))
        if value >= WAN and value % WAN:
            raise ValueError(f"not a headline figure: {text!r}")
        return value, value
    if text.endswith("余万"):
        floor = int(text[:-2]) * WAN
        return floor + 1, floor + WAN - 1
    if text.endswith("万"):
        value = int(text[:-1]) * WAN
        return value, value
    value = int(text)
    if value >= WAN:
        raise ValueError(f"not a headline figure: {text!r}")
    return value, value
