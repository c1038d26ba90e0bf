"""The read-back check: parse the figures out of the rendered text editions and compare
each with the warehouse figure it names. A mismatch raises and nothing is sent (SPEC §7).

Headline figures are re-read from `national_summary` here, independently of the context
the text was rendered from; table cells are compared with the warehouse values they hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import duckdb

from returnstats.config import Settings

from .context import BulletinContext, DisplayTable
from .labels import FIGURE_LABELS
from .rounding import headline_bounds
from .suppression import SECONDARY_MARK
from .texttable import parse_text_table


class ReadbackMismatch(AssertionError):
    """A rendered figure differs from the warehouse figure it names."""

    def __init__(self, problems: list[str]):
        super().__init__("read-back mismatch:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Figure:
    name: str
    pattern: str
    kind: str  # "headline", "count" or "percent"


_NUM = r"[\d,]+"
FIGURES: dict[str, tuple[Figure, ...]] = {
    "zh": (
        Figure("returns_cumulative", r"输送农民工返岗复工(\d+余?万|\d+)人", "headline"),
        Figure("key_enterprises_resolved", r"已解决(\d+)家重点企业用工需求", "count"),
        Figure("returns_new", r"当日新增返岗复工(\d+)人", "count"),
        Figure("cross_province_cumulative", r"跨省返岗累计(\d+)人", "count"),
        Figure("cross_province_share", r"占累计返岗人数的([\d.]+)%", "percent"),
        Figure("cross_province_new", r"当日新增跨省返岗(\d+)人", "count"),
        Figure("provinces_reporting", r"报送省份：(\d+)/31", "count"),
        Figure("quarantined_total", r"按规则剔除记录(\d+)条", "count"),
        Figure("duplicates_merged", r"合并重复记录(\d+)条", "count"),
    ),
    "en": (
        Figure("returns_cumulative", rf"As of [^,]+, (more than {_NUM}|{_NUM}) migrant workers",
               "headline"),
        Figure("key_enterprises_resolved", rf"the labour needs of ({_NUM}) key enterprises", "count"),
        Figure("returns_new", rf"A further ({_NUM}) returned on the day", "count"),
        Figure("cross_province_cumulative", rf"Cross-province returns totalled ({_NUM})", "count"),
        Figure("cross_province_share", r"or ([\d.]+)% of all returns", "percent"),
        Figure("cross_province_new", rf"; ({_NUM}) of them on the day", "count"),
        Figure("provinces_reporting", r"Provinces reporting: (\d+)/31", "count"),
        Figure("quarantined_total", rf"({_NUM}) records were quarantined", "count"),
        Figure("duplicates_merged", rf"({_NUM}) duplicate records were merged", "count"),
    ),
}


def warehouse_figures(settings: Settings, as_of: date, context: BulletinContext) -> dict[str, float]:
    """The figures the text names: national ones straight from national_summary."""
    pattern = str(settings.warehouse / "national_summary" / f"as_of={as_of.isoformat()}" / "*.parquet")
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT returns_cumulative, returns_new, cross_province_cumulative, cross_province_new, "
            "key_enterprises_resolved_cumulative, provinces_reporting "
            "FROM read_parquet(?) WHERE date = ?",
            [pattern, as_of],
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise ReadbackMismatch([f"national_summary has no row for {as_of}"])
    cumulative, new, cross_cum, cross_new, enterprises, reporting = row
    return {
        "returns_cumulative": cumulative,
        "returns_new": new,
        "cross_province_cumulative": cross_cum,
        "cross_province_new": cross_new,
        "cross_province_share": round(100 * cross_cum / cumulative, 1) if cumulative else 0.0,
        "key_enterprises_resolved": enterprises,
        "provinces_reporting": reporting,
        "quarantined_total": context.quarantined_total,
        "duplicates_merged": context.duplicates_merged,
    }


def _matches(kind: str, text: str, expected: float, lang: str) -> bool:
    if kind == "headline":
        low, high = headline_bounds(text, lang)
        return low <= expected <= high
    if kind == "percent":
        return float(text) == expected
    return _count(text) == expected


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _month_day(text: str, lang: str, as_of: date) -> date | None:
    """A table date ("2月21日" / "21 Feb") in the year that puts it on or before D."""
    m = re.fullmatch(r"(\d{1,2})月(\d{1,2})日" if lang == "zh" else r"(\d{1,2}) ([A-Z][a-z]{2})",
                     text)
    if m is None:
        return None
    if lang == "zh":
        month, day = int(m[1]), int(m[2])
    else:
        months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec")
        if m[2] not in months:
            return None
        month, day = months.index(m[2]) + 1, int(m[1])
    try:
        d = date(as_of.year, month, day)
        return d if d <= as_of else date(as_of.year - 1, month, day)
    except ValueError:
        return None


def _check_cell(text: str, value: int | date, status: str, threshold: int,
                lang: str = "en") -> bool:
    if isinstance(value, date):
        return _month_day(text, lang, value) == value
    if status == "primary":
        return text == f"<{threshold}" and 0 < value < threshold
    if status == "secondary":
        return text == SECONDARY_MARK
    try:
        return int(text.replace(",", "")) == value
    except ValueError:
        return False


def check_table(text: str, table: DisplayTable, lang: str, threshold: int) -> list[str]:
    if not table.rows:
        return []
    parsed = parse_text_table(text, table.title(lang))
    if parsed is None:
        return [f"{lang}: table {table.key!r} not found"]
    problems = []
    if len(parsed) != len(table.rows):
        problems.append(f"{lang}: table {table.key!r} has {len(parsed)} rows, expected {len(table.rows)}")
    for line, row in zip(parsed, table.rows, strict=False):
        label = row.label_zh if lang == "zh" else row.label_en
        if not line or line[0] != label or len(line) != 1 + len(row.cells):
            problems.append(f"{lang}: table {table.key!r} row {line!r} does not match {label!r}")
            continue
        for header, cell_text, cell in zip(table.headers(lang)[1:], line[1:], row.cells, strict=True):
            if not _check_cell(cell_text, cell.value, cell.status, threshold, lang):
                problems.append(
                    f"{lang}: {table.key} [{label} / {header}] reads {cell_text!r}, "
                    f"warehouse has {cell.value}"
                )
    return problems


def warehouse_revisions(settings: Settings, as_of: date) -> set[tuple]:
    """(date, figure, first_as_of, first_value, value) of every revised figure, read from
    the national_summary partitions as_of ≤ D afresh (not from the bulletin's context)."""
    first: dict[tuple[date, str], tuple[date, int]] = {}
    current: dict[tuple[date, str], int] = {}
    con = duckdb.connect()
    try:
        for partition in sorted((settings.warehouse / "national_summary").glob("as_of=*")):
            vintage = date.fromisoformat(partition.name.removeprefix("as_of="))
            if vintage > as_of:
                continue
            rel = con.read_parquet(str(partition / "*.parquet"))
            for row in rel.select("date", *FIGURE_LABELS).fetchall():
                for figure, value in zip(FIGURE_LABELS, row[1:], strict=True):
                    key = (row[0], figure)
                    if key not in first or vintage < first[key][0]:
                        first[key] = (vintage, value)
                    if vintage == as_of:
                        current[key] = value
    finally:
        con.close()
    return {
        (d, figure, first_as_of, first_value, current[(d, figure)])
        for (d, figure), (first_as_of, first_value) in first.items()
        if d < as_of and (d, figure) in current and current[(d, figure)] != first_value
    }


def check_revisions(text: str, lang: str, expected: set[tuple], as_of: date,
                    title: str) -> list[str]:
    """The revisions table read back: every revised figure once, each number as published."""
    parsed = parse_text_table(text, title) or []
    if expected and not parsed:
        return [f"{lang}: revisions table not found, {len(expected)} revised figures expected"]
    figure_of = {names[0 if lang == "zh" else 1]: figure for figure, names in FIGURE_LABELS.items()}
    pattern = r"(\d{1,2}月\d{1,2}日)(.+)" if lang == "zh" else r"(\d{1,2} [A-Z][a-z]{2}), (.+)"
    found, problems = set(), []
    for line in parsed:
        m = re.fullmatch(pattern, line[0]) if line else None
        figure = figure_of.get(m[2]) if m else None
        if m is None or figure is None or len(line) != 5:
            problems.append(f"{lang}: revisions row {line!r} cannot be read")
            continue
        try:
            row = (_month_day(m[1], lang, as_of), figure, _month_day(line[1], lang, as_of),
                   _count(line[2]), _count(line[3]))
            change = int(line[4].replace(",", ""))
        except ValueError:
            problems.append(f"{lang}: revisions row {line!r} cannot be read")
            continue
        if change != row[4] - row[3]:
            problems.append(f"{lang}: revisions row {line!r}: change is not now − first")
        found.add(row)
    for row in sorted(found - expected, key=str):
        problems.append(f"{lang}: revisions table shows {row}, not a revision in the warehouse")
    for row in sorted(expected - found, key=str):
        problems.append(f"{lang}: revision {row} missing from the revisions table")
    return problems


def check_text(text: str, lang: str, figures: dict[str, float],
               context: BulletinContext, revisions: set[tuple] | None = None) -> list[str]:
    """Problems found reading `text` (one edition) back against the warehouse figures."""
    problems = []
    for figure in FIGURES[lang]:
        found = re.findall(figure.pattern, text)
        expected = figures[figure.name]
        if len(found) != 1:
            problems.append(f"{lang}: {figure.name} found {len(found)} times")
            continue
        try:
            good = _matches(figure.kind, found[0], expected, lang)
        except ValueError:
            good = False
        if not good:
            problems.append(f"{lang}: {figure.name} reads {found[0]!r}, warehouse has {expected}")
    for table in context.tables:
        problems += check_table(text, table, lang, context.threshold)
    if revisions is not None:
        problems += check_revisions(text, lang, revisions, context.as_of,
                                    context.revisions.title(lang))
    return problems


def check_readback(settings: Settings, as_of: date, texts: dict[str, str],
                   context: BulletinContext) -> None:
    """Raise ReadbackMismatch unless every figure in every text edition matches."""
    figures = warehouse_figures(settings, as_of, context)
    revisions = warehouse_revisions(settings, as_of)
    problems = [p for lang, text in texts.items()
                for p in check_text(text, lang, figures, context, revisions)]
    if problems:
        raise ReadbackMismatch(problems)
