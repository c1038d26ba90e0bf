"""Everything the bulletin shows for an as-of date D, read from the warehouse (SPEC §5–7).

The warehouse is read through the views of its commit records (`warehouse.catalog`),
only committed vintages with as_of ≤ D. Tables published in the bulletin are built here, already suppressed, so the
templates, the CSV files, the charts and the read-back check all see the same cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from returnstats.config import Settings
from returnstats.reference import REGIONS, Province, provinces
from returnstats.warehouse.catalog import create_views

from .labels import FIGURE_LABELS, rule_id, rule_label
from .rounding import exact_number, headline_number
from .suppression import Status, suppress

MODES = ("special_train", "chartered_bus", "train_carriage", "charter_flight")
MODE_LABELS = {
    "special_train": ("专列", "Special trains"),
    "chartered_bus": ("包车", "Chartered buses"),
    "train_carriage": ("专用车厢", "Reserved train carriages"),
    "charter_flight": ("包机", "Charter flights"),
}
REGION_LABELS = {
    "east": ("东部", "East"),
    "central": ("中部", "Central"),
    "west": ("西部", "West"),
    "northeast": ("东北", "Northeast"),
}
TOTAL_LABEL = ("合计", "Total")
TOP_FLOWS = 10
N_PROVINCES = 31


def date_zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def date_en(d: date) -> str:
    return f"{d.day} {d.strftime('%B')} {d.year}"


def short_date_zh(d: date) -> str:
    """Month and day, the way tables of a release write a date of the campaign: "2月21日"."""
    return f"{d.month}月{d.day}日"


def short_date_en(d: date) -> str:
    return f"{d.day} {d.strftime('%b')}"


@dataclass(frozen=True)
class Cell:
    """One published table cell: the warehouse figure and how each edition shows it.

    `value` is a count, or a date for the date columns of the revisions table.
    """

    value: int | date
    zh: str
    en: str
    status: Status = "shown"


@dataclass(frozen=True)
class TableRow:
    label_zh: str
    label_en: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class DisplayTable:
    key: str
    title_zh: str
    title_en: str
    headers_zh: tuple[str, ...]
    headers_en: tuple[str, ...]
    rows: tuple[TableRow, ...]

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def headers(self, lang: str) -> tuple[str, ...]:
        return self.headers_zh if lang == "zh" else self.headers_en


@dataclass(frozen=True)
class DayFigures:
    date: date
    returns_new: int
    returns_cumulative: int
    cumulative_by_mode: dict[str, int]


@dataclass(frozen=True)
class PackageNote:
    package: str
    province_zh: str
    province_en: str
    report_date: date
    reason: str | None = None
    days_late: int = 0

    def reason_text(self, lang: str) -> str:
        return rule_label(rule_id(self.reason), lang)


@dataclass(frozen=True)
class Revision:
    """A national figure of an earlier date whose value in this vintage differs from the
    value first published (SPEC §5: vintages)."""

    date: date
    figure: str
    first_as_of: date
    first_value: int
    value: int

    @property
    def change(self) -> int:
        return self.value - self.first_value


@dataclass(frozen=True)
class BulletinContext:
    as_of: date
    threshold: int
    returns_cumulative: int
    returns_new: int
    cross_province_cumulative: int
    cross_province_new: int
    key_enterprises_resolved: int
    provinces_reporting: int
    series: tuple[DayFigures, ...]
    modes: DisplayTable
    top_flows: DisplayTable
    region_flows: DisplayTable
    enterprises: DisplayTable
    revisions: DisplayTable
    quarantine: DisplayTable
    missing: tuple[Province, ...]
    late: tuple[PackageNote, ...]
    rejected: tuple[PackageNote, ...]
    corrected: tuple[PackageNote, ...]
    not_accepted: tuple[Province, ...]
    """Provinces whose only packages for D were rejected (counted apart from `missing`)."""
    revision_list: tuple[Revision, ...]
    quarantined_total: int
    duplicates_merged: int
    previous_as_of: date | None
    data_docs: Path | None
    """index.html of the run's Data Docs, else their directory; None when there are none."""
    region_matrix: tuple[tuple[int, ...], ...] = field(default=())

    @property
    def cross_province_share(self) -> float:
        """Cross-province share of cumulative returns, in percent to one decimal."""
        if not self.returns_cumulative:
            return 0.0
        return round(100 * self.cross_province_cumulative / self.returns_cumulative, 1)

    @property
    def tables(self) -> tuple[DisplayTable, ...]:
        return (self.modes, self.top_flows, self.region_flows, self.enterprises,
                self.revisions, self.quarantine)

    def date_text(self, lang: str) -> str:
        return date_zh(self.as_of) if lang == "zh" else date_en(self.as_of)

    def headline(self, lang: str) -> str:
        return headline_number(self.returns_cumulative, lang)

    def number(self, n: int, lang: str) -> str:
        return exact_number(n, lang)


class WarehouseEmpty(LookupError):
    """No national_summary row for the as-of date: the warehouse has not published it."""


# -- reading -------------------------------------------------------------------------

def _connect(warehouse, as_of: date) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per warehouse table over the committed vintages
    with as_of ≤ D (what the commit records name, never a directory listing)."""
    con = duckdb.connect()
    create_views(con, warehouse, upto=as_of)
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _cells(grid, r: int, threshold: int) -> tuple[Cell, ...]:
    return tuple(
        Cell(
            grid.values[r][c],
            grid.display(r, c, threshold, lambda v: exact_number(v, "zh")),
            grid.display(r, c, threshold, lambda v: exact_number(v, "en")),
            grid.status[r][c],
        )
        for c in range(len(grid.values[r]))
    )


def _plain_cells(values, lang_fmt=exact_number) -> tuple[Cell, ...]:
    return tuple(Cell(v, lang_fmt(v, "zh"), lang_fmt(v, "en")) for v in values)


def signed_number(n: int, lang: str) -> str:
    """A change: "+1,239" / "-5" / "0"."""
    if n < 0:
        return "-" + exact_number(-n, lang)
    return ("+" if n > 0 else "") + exact_number(n, lang)


def revision_label(d: date, figure: str, lang: str) -> str:
    """Row label of the revisions table: "2月21日累计返岗人数" / "21 Feb, cumulative returns"."""
    zh, en = FIGURE_LABELS[figure]
    return f"{short_date_zh(d)}{zh}" if lang == "zh" else f"{short_date_en(d)}, {en}"


def _revisions(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[Revision, ...]:
    """Figures of dates before D whose vintage-D value differs from the first published."""
    columns = ", ".join(FIGURE_LABELS)  # identifiers from this module's list, never input
    rows = _rows(
        con,
        f"WITH long AS (UNPIVOT (SELECT as_of, date, {columns} FROM national_summary "
        f"WHERE date < ?) ON {columns} INTO NAME figure VALUE value), "
        "first AS (SELECT date, figure, min(as_of) AS first_as_of, "
        "arg_min(value, as_of) AS first_value FROM long GROUP BY date, figure) "
        "SELECT f.date, f.figure, f.first_as_of, f.first_value, n.value FROM first f "
        "JOIN long n ON n.date = f.date AND n.figure = f.figure AND n.as_of = ? "
        "WHERE f.first_as_of < ? AND n.value IS DISTINCT FROM f.first_value",
        [as_of, as_of, as_of],
    )
    order = {figure: i for i, figure in enumerate(FIGURE_LABELS)}
    return tuple(
        Revision(d, figure, first_as_of, int(first), int(now))
        for d, figure, first_as_of, first, now in sorted(rows, key=lambda r: (r[0], order[r[1]]))
    )


def build_context(settings: Settings, as_of: date) -> BulletinContext:
    """Read the warehouse for `as_of` (and earlier vintages) into the bulletin's figures."""
    con = _connect(settings.warehouse, as_of)
    threshold = settings.suppression_threshold
    prov = provinces()
    try:
        return _build(con, settings, as_of, threshold, prov)
    finally:
        con.close()


def _build(con, settings, as_of, threshold, prov) -> BulletinContext:
    mode_cols = [f"returns_cumulative_{m}" for m in MODES]
    summary = _rows(
        con,
        "SELECT date, returns_new, returns_cumulative, cross_province_new, "
        "cross_province_cumulative, key_enterprises_resolved_cumulative, provinces_reporting, "
        + ", ".join(mode_cols)
        + " FROM national_summary WHERE as_of = ? AND date <= ? ORDER BY date",
        [as_of, as_of],
    )
    if not summary or summary[-1][0] != as_of:
        raise WarehouseEmpty(f"national_summary has no figures for {as_of} in vintage {as_of}")
    series = tuple(
        DayFigures(r[0], r[1], r[2], dict(zip(MODES, r[7:11], strict=True))) for r in summary
    )
    today = summary[-1]

    # Returns by mode: new (returns_daily, date = D) and cumulative (national_summary).
    new_by_mode = dict(_rows(
        con,
        "SELECT mode, sum(workers_new) FROM returns_daily WHERE as_of = ? AND date = ? GROUP BY mode",
        [as_of, as_of],
    ))
    mode_grid = suppress(
        [[int(new_by_mode.get(m, 0)), series[-1].cumulative_by_mode[m]] for m in MODES],
        threshold, column_totals=True,
    )
    modes = DisplayTable(
        "returns_by_mode", "表1 分方式返岗人数（人）", "Table 1. Returns by mode (persons)",
        ("方式", "当日新增", "累计"), ("Mode", "New", "Cumulative"),
        tuple(
            TableRow(*(MODE_LABELS[m] if i < len(MODES) else TOTAL_LABEL),
                     _cells(mode_grid, i, threshold))
            for i, m in enumerate((*MODES, "total"))
        ),
    )

    # Top cross-province flows, cumulative to D.
    flows = _rows(
        con,
        "SELECT origin_province, destination_province, "
        "sum(CASE WHEN date = ? THEN workers_new ELSE 0 END) AS new, sum(workers_new) AS cumulative "
        "FROM returns_daily WHERE as_of = ? AND date <= ? "
        "AND origin_province <> destination_province "
        "GROUP BY ALL ORDER BY cumulative DESC, origin_province, destination_province LIMIT ?",
        [as_of, as_of, as_of, TOP_FLOWS],
    )
    flow_grid = suppress([[int(f[2]), int(f[3])] for f in flows], threshold)
    top_flows = DisplayTable(
        "top_flows", "表2 主要跨省返岗流向（人）",
        "Table 2. Main cross-province flows (persons)",
        ("输出地→输入地", "当日新增", "累计"), ("Origin → destination", "New", "Cumulative"),
        tuple(
            TableRow(
                f"{_pzh(prov, f[0])}→{_pzh(prov, f[1])}",
                f"{_pen(prov, f[0])} → {_pen(prov, f[1])}",
                _cells(flow_grid, i, threshold),
            )
            for i, f in enumerate(flows)
        ),
    )

    # Flows between the four regions, cumulative to D.
    region_of = {code: p.region for code, p in prov.items()}
    matrix = {(a, b): 0 for a in REGIONS for b in REGIONS}
    for origin, destination, n in _rows(
        con,
        "SELECT origin_province, destination_province, sum(workers_new) FROM returns_daily "
        "WHERE as_of = ? AND date <= ? GROUP BY ALL",
        [as_of, as_of],
    ):
        key = (region_of.get(origin), region_of.get(destination))
        if key in matrix:
            matrix[key] += int(n)
    region_values = [[matrix[(a, b)] for b in REGIONS] for a in REGIONS]
    region_grid = suppress(region_values, threshold, row_totals=True, column_totals=True)
    region_flows = DisplayTable(
        "region_flows", "表3 四大区域间返岗流向（累计，人）",
        "Table 3. Returns between regions, cumulative (persons)",
        ("输出地＼输入地", *(REGION_LABELS[r][0] for r in REGIONS), "合计"),
        ("Origin \\ destination", *(REGION_LABELS[r][1] for r in REGIONS), "Total"),
        tuple(
            TableRow(*(REGION_LABELS[r] if i < len(REGIONS) else TOTAL_LABEL),
                     _cells(region_grid, i, threshold))
            for i, r in enumerate((*REGIONS, "total"))
        ),
    )

    # Key enterprises by reporting province: each province's latest row dated ≤ D.
    ent = _rows(
        con,
        "SELECT province, key_enterprises_reported, key_enterprises_resolved_cumulative "
        "FROM enterprises_daily WHERE as_of = ? AND date <= ? "
        "QUALIFY row_number() OVER (PARTITION BY province ORDER BY date DESC) = 1 "
        "ORDER BY province",
        [as_of, as_of],
    )
    ent = [e for e in ent if e[1] > 0]
    ent_grid = suppress([[int(e[1]), int(e[2])] for e in ent], threshold, column_totals=True)
    enterprises = DisplayTable(
        "enterprises_by_province", "表4 分省重点企业用工保障情况（家）",
        "Table 4. Key enterprises by province (enterprises)",
        ("省份", "重点企业", "已解决用工"), ("Province", "Key enterprises", "Needs met"),
        tuple(
            TableRow(*((_pzh(prov, e[0]), _pen(prov, e[0])) if i < len(ent) else TOTAL_LABEL),
                     _cells(ent_grid, i, threshold))
            for i, e in enumerate((*ent, None))
        ) if ent else (),
    )

    # Revisions: each figure of an earlier date against the value first published, over
    # the vintages as_of ≤ D only (the warehouse's `revisions` view looks at all vintages).
    previous_as_of = _rows(
        con, "SELECT max(as_of) FROM national_summary WHERE as_of < ?", [as_of]
    )[0][0]
    revision_list = _revisions(con, as_of)
    revisions = DisplayTable(
        "revisions", "表5 对已发布数据的修订", "Table 5. Revisions to published figures",
        ("日期及指标", "首次发布日", "首次发布数", "本期数", "修订"),
        ("Date and figure", "First published", "First value", "Now", "Change"),
        tuple(
            TableRow(
                revision_label(r.date, r.figure, "zh"),
                revision_label(r.date, r.figure, "en"),
                (Cell(r.first_as_of, short_date_zh(r.first_as_of), short_date_en(r.first_as_of)),
                 Cell(r.first_value, exact_number(r.first_value, "zh"),
                      exact_number(r.first_value, "en")),
                 Cell(r.value, exact_number(r.value, "zh"), exact_number(r.value, "en")),
                 Cell(r.change, signed_number(r.change, "zh"), signed_number(r.change, "en"))),
            )
            for r in revision_list
        ),
    )

    # Data quality, from the ledger and the quarantine of this vintage.
    reporting = {r[0] for r in _rows(
        con,
        "SELECT DISTINCT province FROM ledger WHERE as_of = ? AND report_date = ? "
        "AND status = 'accepted'",
        [as_of, as_of],
    )}
    submitted = {r[0] for r in _rows(
        con, "SELECT DISTINCT province FROM ledger WHERE as_of = ? AND report_date = ?",
        [as_of, as_of],
    )}
    missing = tuple(p for code, p in prov.items() if code not in submitted)
    not_accepted = tuple(p for code, p in prov.items() if code in submitted - reporting)
    # SPEC §3.3: late = first processed by a run whose as-of date is after its report date.
    # The ledger keeps no processing date, so "first processed by this run" is "in this
    # vintage's ledger and not in the previous one's". A package replacing one already in
    # the previous vintage for the same province and date is a correction, named apart.
    late, corrected = [], []
    if previous_as_of is not None:
        for package, province, report_date, replaces in _rows(
            con,
            "SELECT DISTINCT l.package, l.province, l.report_date, EXISTS ("
            "  SELECT 1 FROM ledger p WHERE p.as_of = ? AND p.province = l.province"
            "  AND p.report_date = l.report_date AND p.status <> 'rejected') "
            "FROM ledger l WHERE l.as_of = ? AND l.report_date < ? AND l.status = 'accepted' "
            "AND l.package NOT IN (SELECT package FROM ledger WHERE as_of = ?) "
            "ORDER BY l.report_date, l.package",
            [previous_as_of, as_of, as_of, previous_as_of],
        ):
            note = PackageNote(package, _pzh(prov, province), _pen(prov, province), report_date,
                               days_late=(as_of - report_date).days)
            (corrected if replaces else late).append(note)
    rejected = tuple(
        PackageNote(r[0], _pzh(prov, r[1]), _pen(prov, r[1]), r[2], r[3])
        for r in _rows(
            con,
            "SELECT package, any_value(province), any_value(report_date), "
            "coalesce(min(reason), '') FROM ledger WHERE as_of = ? AND status = 'rejected' "
            "AND package NOT IN (SELECT package FROM ledger WHERE as_of IS NOT DISTINCT FROM ?) "
            "GROUP BY package ORDER BY package",
            [as_of, previous_as_of],
        )
    )
    by_rule = _rows(
        con,
        "SELECT rule, count(*) FILTER (WHERE report_date = ?), count(*) FROM quarantine "
        "WHERE as_of = ? AND severity = 'error' GROUP BY rule ORDER BY count(*) DESC, rule",
        [as_of, as_of],
    )
    quarantine = DisplayTable(
        "quarantined_by_rule", "表6 按规则剔除的记录（条）",
        "Table 6. Records quarantined, by rule (records)",
        ("规则", "当日报送", "累计"), ("Rule", "Reported today", "To date"),
        tuple(TableRow(rule_label(r[0], "zh"), rule_label(r[0], "en"),
                       _plain_cells((int(r[1]), int(r[2])))) for r in by_rule),
    )
    duplicates_merged = int(_rows(
        con, "SELECT coalesce(sum(rows_merged), 0) FROM ledger WHERE as_of = ?", [as_of]
    )[0][0])

    docs = settings.output / "data_docs" / as_of.isoformat()
    if (docs / "index.html").is_file():
        docs = docs / "index.html"
    return BulletinContext(
        as_of=as_of,
        threshold=threshold,
        returns_cumulative=today[2],
        returns_new=today[1],
        cross_province_new=today[3],
        cross_province_cumulative=today[4],
        key_enterprises_resolved=today[5],
        provinces_reporting=len(reporting),
        series=series,
        modes=modes,
        top_flows=top_flows,
        region_flows=region_flows,
        enterprises=enterprises,
        revisions=revisions,
        quarantine=quarantine,
        missing=missing,
        late=tuple(late),
        rejected=rejected,
        corrected=tuple(corrected),
        not_accepted=not_accepted,
        revision_list=revision_list,
        quarantined_total=sum(int(r[2]) for r in by_rule),
        duplicates_merged=duplicates_merged,
        previous_as_of=previous_as_of,
        data_docs=docs if docs.exists() else None,
        region_matrix=tuple(tuple(row) for row in region_values),
    )


def _pzh(prov: dict[str, Province], code: str) -> str:
    return prov[code].name_zh if code in prov else code


def _pen(prov: dict[str, Province], code: str) -> str:
    return prov[code].name_en if code in prov else code
