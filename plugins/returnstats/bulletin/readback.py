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


def _check_cell(text: str, value: int, status: str, threshold: int) -> bool:
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
            if not _check_cell(cell_text, cell.value, cell.status, threshold):
                problems.append(
                    f"{lang}: {table.key} [{label} / {header}] reads {cell_text!r}, "
                    f"warehouse has {cell.value}"
                )
    return problems


def check_text(text: str, lang: str, figures: dict[str, float],
               context: BulletinContext) -> list[str]:
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
    return problems


def check_readback(settings: Settings, as_of: date, texts: dict[str, str],
                   context: BulletinContext) -> None:
    """Raise ReadbackMismatch unless every figure in every text edition matches."""
    figures = warehouse_figures(settings, as_of, context)
    problems = [p for lang, text in texts.items() for p in check_text(text, lang, figures, context)]
    if problems:
        raise ReadbackMismatch(problems)
