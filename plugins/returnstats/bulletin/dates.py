"""Dates as the editions write them, and read them back.

Text and tables always carry the year ("2020年2月21日", "21 Feb 2020"): a campaign can span
a new year, and a bulletin can be rendered again in a later year. Chart axes are short
("2月16日", "16 Feb") and add the year only to a date whose year is not the as-of date's.
"""

from __future__ import annotations

import re
from datetime import date

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS_EN_FULL = ("January", "February", "March", "April", "May", "June", "July", "August",
                   "September", "October", "November", "December")


def long_date(d: date, lang: str) -> str:
    """The as-of date in a title or a sentence: "2020年2月23日" / "23 February 2020"."""
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {_MONTHS_EN_FULL[d.month - 1]} {d.year}"


def table_date(d: date, lang: str) -> str:
    """A date in a table or a note: "2020年2月21日" / "21 Feb 2020"."""
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}"


def chart_date(d: date, as_of: date, lang: str) -> str:
    """A chart tick: "2月16日" / "16 Feb", with the year when it is not the as-of date's."""
    if d.year != as_of.year:
        return table_date(d, lang)
    return f"{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {MONTHS_EN[d.month - 1]}"


_TABLE_DATE = {
    "zh": re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日"),
    "en": re.compile(r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4})"),
}


def parse_table_date(text: str, lang: str) -> date:
    """The date `table_date` wrote as `text`; ValueError for anything else."""
    match = _TABLE_DATE[lang].fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a date: {text!r}")
    if lang == "zh":
        parsed = date(int(match[1]), int(match[2]), int(match[3]))
    else:
        if match[2] not in MONTHS_EN:
            raise ValueError(f"not a date: {text!r}")
        parsed = date(int(match[3]), MONTHS_EN.index(match[2]) + 1, int(match[1]))
    if table_date(parsed, lang) != text.strip():
        raise ValueError(f"not a date as the bulletin writes it: {text!r}")
    return parsed


TABLE_DATE_PATTERN = {"zh": r"\d{4}年\d{1,2}月\d{1,2}日", "en": r"\d{1,2} [A-Z][a-z]{2} \d{4}"}
"""Regular expressions of `table_date`'s output, for parsers that find dates in labels."""
