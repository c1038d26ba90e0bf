"""The read-back check: parse the figures out of the rendered text editions and compare
each with the warehouse figure it names. A mismatch raises and nothing is sent (SPEC §7).

The national figures (headline, key figures, the corrected values) and the revisions are
read from the warehouse afresh here, through the context's one connection function but not
from the context the text was rendered from; other table cells are compared with the
warehouse values they hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from returnstats.config import Settings

from .context import BulletinContext, DisplayTable, Revision, _connect, revision_matters
from .dates import TABLE_DATE_PATTERN, parse_table_date
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
        Figure("returns_cumulative", r"输送农民工返岗复工([\d亿万零余]+)人", "headline"),
        Figure("key_enterprises_resolved_cumulative", r"已解决(\d+)家重点企业用工需求", "count"),
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
        Figure("key_enterprises_resolved_cumulative", rf"the labour needs of ({_NUM}) key enterprises",
               "count"),
        Figure("returns_new", rf"A further ({_NUM}) returned on the day", "count"),
        Figure("cross_province_cumulative", rf"Cross-province returns totalled ({_NUM})", "count"),
        Figure("cross_province_share", r"or ([\d.]+)% of all returns", "percent"),
        Figure("cross_province_new", rf"; ({_NUM}) of them on the day", "count"),
        Figure("provinces_reporting", r"Provinces reporting: (\d+)/31", "count"),
        Figure("quarantined_total", rf"({_NUM}) records were quarantined", "count"),
        Figure("duplicates_merged", rf"({_NUM}) duplicate records were merged", "count"),
    ),
}
_NATIONAL = ("returns_cumulative", "returns_new", "cross_province_cumulative",
             "cross_province_new", "key_enterprises_resolved_cumulative", "provinces_reporting")


def warehouse_figures(settings: Settings, as_of: date, context: BulletinContext) -> dict[str, float]:
    """The figures the text names: national ones straight from national_summary."""
    con = _connect(settings.warehouse, as_of)
    try:
        row = con.execute(
            f"SELECT {', '.join(_NATIONAL)} FROM national_summary WHERE as_of = ? AND date = ?",
            [as_of, as_of],
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise ReadbackMismatch([f"national_summary has no row for {as_of}"])
    figures: dict[str, float] = dict(zip(_NATIONAL, row, strict=True))
    cumulative, cross = figures["returns_cumulative"], figures["cross_province_cumulative"]
    figures["cross_province_share"] = round(100 * cross / cumulative, 1) if cumulative else 0.0
    figures["quarantined_total"] = context.quarantined_total
    figures["duplicates_merged"] = context.duplicates_merged
    return figures


def warehouse_vintages(settings: Settings, as_of: date) -> dict[date, dict[tuple[date, str], int]]:
    """Every figure of every vintage as_of ≤ D: vintage → (date, figure) → value."""
    con = _connect(settings.warehouse, as_of)
    try:
        rows = con.execute(
            f"SELECT as_of, date, {', '.join(FIGURE_LABELS)} FROM national_summary"
        ).fetchall()
    finally:
        con.close()
    vintages: dict[date, dict[tuple[date, str], int]] = {}
    for vintage, day, *values in rows:
        figures = vintages.setdefault(vintage, {})
        for figure, value in zip(FIGURE_LABELS, values, strict=True):
            figures[(day, figure)] = value
    return vintages


def revisions_afresh(vintages: dict[date, dict[tuple[date, str], int]],
                     as_of: date) -> dict[tuple, int | None]:
    """(date, figure, first_as_of, first_value, value) of every revised figure → its value
    in the previous vintage; computed in Python from the vintages, not by the context's SQL."""
    first: dict[tuple[date, str], tuple[date, int]] = {}
    for vintage in sorted(vintages):
        for key, value in vintages[vintage].items():
            first.setdefault(key, (vintage, value))
    current = vintages.get(as_of, {})
    earlier = [v for v in vintages if v < as_of]
    previous = vintages[max(earlier)] if earlier else {}
    return {
        (d, figure, first_as_of, first_value, current[(d, figure)]): previous.get((d, figure))
        for (d, figure), (first_as_of, first_value) in first.items()
        if d < as_of and (d, figure) in current and current[(d, figure)] != first_value
    }


def revision_csv_rows(revisions: Iterable[Revision]) -> list[list[object]]:
    """The rows of revisions.csv (all revisions): what render writes and the read-back checks."""
    return [[r.date.isoformat(), r.figure, *FIGURE_LABELS[r.figure], r.first_as_of.isoformat(),
             r.first_value, r.value, r.change] for r in revisions]


def _matches(kind: str, text: str, expected: float, lang: str) -> bool:
    if kind == "headline":
        low, high = headline_bounds(text, lang)
        return low <= expected <= high
    if kind == "percent":
        return float(text) == expected
    return _count(text) == expected


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _check_cell(text: str, cell, threshold: int, lang: str) -> bool:
    value, status = cell.value, cell.status
    if isinstance(value, date):
        try:
            return parse_table_date(text, lang) == value
        except ValueError:
            return False
    if status == "primary":
        return text == f"<{threshold}" and 0 < value < threshold
    if status == "secondary":
        return text == SECONDARY_MARK
    try:
        return int(text.replace(",", "").replace("+", "")) == value
    except ValueError:
        return False


def _parsed_rows(text: str, table: DisplayTable, lang: str) -> tuple[list[list[str]], list[str]]:
    parsed = parse_text_table(text, table.title(lang))
    if parsed is None:
        return [], [f"{lang}: table {table.key!r} not found"]
    if len(parsed) != len(table.rows):
        return parsed, [f"{lang}: table {table.key!r} has {len(parsed)} rows, "
                        f"expected {len(table.rows)}"]
    return parsed, []


def check_table(text: str, table: DisplayTable, lang: str, threshold: int) -> list[str]:
    if not table.rows:
        return []
    parsed, problems = _parsed_rows(text, table, lang)
    for line, row in zip(parsed, table.rows, strict=False):
        label = row.label_zh if lang == "zh" else row.label_en
        if not line or line[0] != label or len(line) != 1 + len(row.cells):
            problems.append(f"{lang}: table {table.key!r} row {line!r} does not match {label!r}")
            continue
        for header, cell_text, cell in zip(table.headers(lang)[1:], line[1:], row.cells, strict=True):
            if not _check_cell(cell_text, cell, threshold, lang):
                problems.append(
                    f"{lang}: {table.key} [{label} / {header}] reads {cell_text!r}, "
                    f"warehouse has {cell.value}"
                )
    return problems


def check_key_figures(text: str, table: DisplayTable, lang: str,
                      figures: dict[str, float]) -> list[str]:
    """The key figures against national_summary (exact counts), row by row."""
    parsed, problems = _parsed_rows(text, table, lang)
    for line, row in zip(parsed, table.rows, strict=False):
        label = row.label_zh if lang == "zh" else row.label_en
        try:
            good = len(line) == 2 and line[0] == label and _count(line[1]) == figures[row.key]
        except ValueError:
            good = False
        if not good:
            problems.append(f"{lang}: key figure {line!r}, warehouse has {label} "
                            f"{figures[row.key]}")
    return problems


def _figure_row(label: str, lang: str) -> tuple[date, str]:
    """(date, figure) of a row label written by `context.figure_label`."""
    pattern = (rf"({TABLE_DATE_PATTERN['zh']})(.+)" if lang == "zh"
               else rf"({TABLE_DATE_PATTERN['en']}), (.+)")
    match = re.fullmatch(pattern, label)
    figure_of = {names[0 if lang == "zh" else 1]: figure for figure, names in FIGURE_LABELS.items()}
    if match is None or match[2] not in figure_of:
        raise ValueError(label)
    return parse_table_date(match[1], lang), figure_of[match[2]]


def check_revisions(text: str, lang: str, expected: set[tuple], title: str) -> list[str]:
    """The revisions table read back: each revision that matters once, each number as in
    the warehouse, nothing else."""
    parsed = parse_text_table(text, title) or []
    if expected and not parsed:
        return [f"{lang}: revisions table not found, {len(expected)} revised figures expected"]
    found, problems = set(), []
    for line in parsed:
        try:
            if len(line) != 5:
                raise ValueError(line)
            day, figure = _figure_row(line[0], lang)
            row = (day, figure, parse_table_date(line[1], lang), _count(line[2]), _count(line[3]))
            change = int(line[4].replace(",", ""))
        except ValueError:
            problems.append(f"{lang}: revisions row {line!r} cannot be read")
            continue
        if change != row[4] - row[3]:
            problems.append(f"{lang}: revisions row {line!r}: change is not now − first")
        found.add(row)
    for row in sorted(found - expected, key=str):
        problems.append(f"{lang}: revisions table shows {row}, not a revision that matters")
    for row in sorted(expected - found, key=str):
        problems.append(f"{lang}: revision {row} missing from the revisions table")
    return problems


def check_revision_csv(rows: list[list[object]], expected: set[tuple]) -> list[str]:
    """revisions.csv against every revision in the warehouse: each once, nothing else."""
    found = {(date.fromisoformat(r[0]), r[1], date.fromisoformat(r[4]), r[5], r[6])
             for r in rows}
    problems = [f"revisions.csv: row for {r[:2]} has change {r[7]}, not now − first"
                for r in rows if r[7] != r[6] - r[5]]
    if len(found) != len(rows):
        problems.append("revisions.csv lists a revision twice")
    problems += [f"revisions.csv shows {row}, not a revision in the warehouse"
                 for row in sorted(found - expected, key=str)]
    problems += [f"revisions.csv misses revision {row}" for row in sorted(expected - found, key=str)]
    return problems


def check_correction(text: str, table: DisplayTable, lang: str,
                     current: dict[tuple[date, str], int]) -> list[str]:
    """A correction's "corrected" values against this vintage's national_summary."""
    parsed, problems = _parsed_rows(text, table, lang)
    for line in parsed:
        try:
            key = _figure_row(line[0], lang)
            good = len(line) == 4 and _count(line[2]) == current.get(key) and \
                int(line[3].replace(",", "")) == _count(line[2]) - _count(line[1])
        except ValueError:
            good = False
        if not good:
            problems.append(f"{lang}: correction row {line!r} does not match the warehouse")
    return problems


def check_text(text: str, lang: str, figures: dict[str, float], context: BulletinContext,
               revisions: dict[tuple, int | None] | None = None,
               current: dict[tuple[date, str], int] | None = None) -> list[str]:
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
    problems += check_key_figures(text, context.key_figures, lang, figures)
    for table in (context.modes, context.top_flows, context.region_flows, context.enterprises,
                  context.quarantine):
        problems += check_table(text, table, lang, context.threshold)
    if revisions is not None:
        shown = {r for r, previous in revisions.items()
                 if revision_matters(r[1], r[3], previous, r[4], context.revision_threshold_percent)}
        problems += check_revisions(text, lang, shown, context.revisions.title(lang))
    if context.correction is not None and current is not None:
        problems += check_correction(text, context.correction, lang, current)
    return problems


def check_readback(settings: Settings, as_of: date, texts: dict[str, str],
                   context: BulletinContext) -> None:
    """Raise ReadbackMismatch unless every figure in every text edition, and every row of
    revisions.csv, matches the warehouse."""
    figures = warehouse_figures(settings, as_of, context)
    vintages = warehouse_vintages(settings, as_of)
    revisions = revisions_afresh(vintages, as_of)
    current = vintages.get(as_of, {})
    problems = [p for lang, text in texts.items()
                for p in check_text(text, lang, figures, context, revisions, current)]
    problems += check_revision_csv(revision_csv_rows(context.revision_list), set(revisions))
    if problems:
        raise ReadbackMismatch(problems)

