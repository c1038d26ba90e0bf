"""Everything the bulletin shows for an as-of date D, read from the warehouse (SPEC §5–7).

Every read of the warehouse goes through `_connect`: the views of its commit records
(`warehouse.catalog`), committed vintages with as_of ≤ D only. Tables published in the
bulletin are built here, already suppressed, so the templates, the CSV files, the charts
and the read-back check all see the same cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import duckdb

from returnstats.config import Settings
from returnstats.reference import REGIONS, Province, provinces
from returnstats.warehouse.catalog import create_views

from .dates import long_date, table_date
from .labels import FIGURE_LABELS, check_label, rule_id, rule_label
from .rounding import exact_number, headline_number
from .suppression import Status, suppress

BEIJING = ZoneInfo("Asia/Shanghai")
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
REPORT_CHECKS_SHOWN = 20
"""Findings listed in the annex; all of them are in report_checks.csv."""

# The key figures of the release section: national_summary columns of date D, with units.
KEY_FIGURES = (
    ("returns_cumulative", "累计返岗人数（人）", "Cumulative returns (persons)"),
    ("returns_new", "当日新增返岗人数（人）", "New returns on the day (persons)"),
    ("cross_province_cumulative", "累计跨省返岗人数（人）", "Cumulative cross-province returns (persons)"),
    ("cross_province_new", "当日新增跨省返岗人数（人）", "New cross-province returns (persons)"),
    ("key_enterprises_resolved_cumulative", "已解决用工需求的重点企业（家）",
     "Key enterprises with labour needs met"),
    ("provinces_reporting", "当日报送省份（个）", "Provinces reporting for the day"),
)
MAIN_FIGURES = frozenset(figure for figure, _, _ in KEY_FIGURES)



@dataclass(frozen=True)
class Cell:
    """One published table cell: the warehouse value and how each edition shows it.

    `value` is a count, or a date in the revisions table."""

    value: int | date
    zh: str
    en: str
    status: Status = "shown"


@dataclass(frozen=True)
class TableRow:
    label_zh: str
    label_en: str
    cells: tuple[Cell, ...]
    key: str = ""
    """The national_summary figure a key-figures row shows (the read-back checks it)."""


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
    previous_value: int | None = None
    """Its value in the previous vintage (None when that vintage did not have it)."""

    @property
    def change(self) -> int:
        return self.value - self.first_value


def revision_matters(figure: str, first_value: int, previous_value: int | None, value: int,
                     threshold_percent: float) -> bool:
    """Whether the bulletin lists a revision (every revision goes to revisions.csv): a main
    figure (`KEY_FIGURES`; the breakdowns by mode are in Table 1) that this vintage changed,
    and that now differs from its first value by at least `threshold_percent` of it (any
    difference from a first value 0). A figure revised days ago and unchanged since is
    not listed again, so the list stays as short on day 30 as on day 3."""
    change = abs(value - first_value)
    return (figure in MAIN_FIGURES and value != previous_value and change > 0
            and (first_value == 0 or 100 * change >= threshold_percent * abs(first_value)))


@dataclass(frozen=True)
class ReportCheck:
    """A SPEC §3.3 finding of this vintage (a `report_checks` row)."""

    check: str
    province: str | None
    report_date: date | None
    package: str | None
    figure: str | None
    declared: int | None
    observed: int | None
    detail: str | None
    province_zh: str = ""
    province_en: str = ""

    def describe(self, lang: str) -> str:
        """One line of the annex: "<check name> (<id>): <province>, <date>, <package>, ..."."""
        zh = lang == "zh"
        parts = [self.province_zh if zh else self.province_en,
                 table_date(self.report_date, lang) if self.report_date else "",
                 self.package or ""]
        if self.figure:
            numbers = ((f"申报{self.declared}、核实{self.observed}" if zh else
                        f"declared {exact_number(self.declared, lang)}, observed "
                        f"{exact_number(self.observed, lang)}")
                       if self.declared is not None and self.observed is not None else "")
            parts.append(f"{self.figure}{'' if zh else ' '}{numbers}".strip())
        where = ("，" if zh else ", ").join(p for p in parts if p)
        return f"{check_label(self.check, lang)}{'：' if zh else ': '}{where}"


@dataclass(frozen=True)
class CorrectedFigure:
    """A figure of this bulletin that differs from the bulletin approved before for the same
    as-of date (a correction, SPEC §7): national_summary `figure` of `date`."""

    date: date
    figure: str
    previous: int
    value: int


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
    key_figures: DisplayTable
    modes: DisplayTable
    top_flows: DisplayTable
    region_flows: DisplayTable
    enterprises: DisplayTable
    quarantine: DisplayTable
    revisions: DisplayTable
    """The revisions that matter (`revision_matters`); `revision_list` holds them all."""
    missing: tuple[Province, ...]
    late: tuple[PackageNote, ...]
    rejected: tuple[PackageNote, ...]
    corrected: tuple[PackageNote, ...]
    not_accepted: tuple[Province, ...]
    """Provinces whose only packages for D were rejected (counted apart from `missing`)."""
    revision_list: tuple[Revision, ...]
    revision_threshold_percent: float
    report_check_list: tuple[ReportCheck, ...]
    quarantined_total: int
    duplicates_merged: int
    previous_as_of: date | None
    issuer_zh: str
    issuer_en: str
    contact: str
    released_at: datetime
    """When the bulletin is released (Beijing time), from configuration."""
    base_url: str | None
    """Where `<output>/` is served (RETURNSTATS_PUBLIC_BASE_URL); no link without it."""
    data_docs: str | None
    """Path of the run's Data Docs under `<output>/` when they exist."""
    correction: DisplayTable | None = None
    """The figures changed since the bulletin approved before for D; None when it is not
    a correction."""
    region_matrix: tuple[tuple[int, ...], ...] = field(default=())

    @property
    def cross_province_share(self) -> float:
        """Cross-province share of cumulative returns, in percent to one decimal."""
        if not self.returns_cumulative:
            return 0.0
        return round(100 * self.cross_province_cumulative / self.returns_cumulative, 1)

    @property
    def tables(self) -> tuple[DisplayTable, ...]:
        """Every table the editions show, in order (the correction first when there is one)."""
        return ((self.correction,) if self.correction else ()) + (
            self.key_figures, self.modes, self.top_flows, self.region_flows, self.enterprises,
            self.quarantine, self.revisions)

    @property
    def report_checks_total(self) -> int:
        return len(self.report_check_list)

    @property
    def report_checks_shown(self) -> tuple[ReportCheck, ...]:
        """The findings the annex lists (all of them are in report_checks.csv)."""
        return self.report_check_list[:REPORT_CHECKS_SHOWN]

    def date_text(self, lang: str) -> str:
        return long_date(self.as_of, lang)

    def release_text(self, lang: str) -> str:
        """"2020年2月23日21:00（北京时间）" / "23 February 2020, 21:00 Beijing time"."""
        t = self.released_at.astimezone(BEIJING)
        day = long_date(t.date(), lang)
        return f"{day}{t:%H:%M}（北京时间）" if lang == "zh" else f"{day}, {t:%H:%M} Beijing time"

    def headline(self, lang: str) -> str:
        return headline_number(self.returns_cumulative, lang)

    def number(self, n: int, lang: str) -> str:
        return exact_number(n, lang)

    def public_url(self, relative: str) -> str | None:
        """Absolute URL of a file under `<output>/`, or None when no base URL is configured."""
        return urljoin(self.base_url, relative) if self.base_url else None

    @property
    def data_docs_url(self) -> str | None:
        return self.public_url(self.data_docs) if self.data_docs else None

    def edition_url(self, lang: str) -> str | None:
        return self.public_url(f"bulletins/{self.as_of.isoformat()}/bulletin.{lang}.html")


class WarehouseEmpty(LookupError):
    """No national_summary row for the as-of date: the warehouse has not published it."""


# -- reading -------------------------------------------------------------------------

def _connect(warehouse, as_of: date) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per warehouse table over the committed vintages
    with as_of ≤ D (what the commit records name, never a directory listing).

    The one place the bulletin reads the warehouse: the context and the read-back both
    query these views (report_checks among them). A table the warehouse does not hold yet
    is an empty view."""
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


def count_cell(n: int) -> Cell:
    return Cell(n, exact_number(n, "zh"), exact_number(n, "en"))


def date_cell(d: date) -> Cell:
    return Cell(d, table_date(d, "zh"), table_date(d, "en"))


def signed_number(n: int, lang: str) -> str:
    """A change: "+1,239" / "-5" / "0"."""
    if n < 0:
        return "-" + exact_number(-n, lang)
    return ("+" if n > 0 else "") + exact_number(n, lang)


def change_cell(n: int) -> Cell:
    return Cell(n, signed_number(n, "zh"), signed_number(n, "en"))


def figure_label(d: date, figure: str, lang: str) -> str:
    """Row label of a date's figure: "2020年2月21日累计返岗人数" / "21 Feb 2020, cumulative returns"."""
    zh, en = FIGURE_LABELS[figure]
    return f"{table_date(d, 'zh')}{zh}" if lang == "zh" else f"{table_date(d, 'en')}, {en}"


def warehouse_revisions(con: duckdb.DuckDBPyConnection, as_of: date,
                        previous_as_of: date | None) -> tuple[Revision, ...]:
    """Figures of dates before D whose vintage-D value differs from the first published,
    with their value in the previous vintage."""
    columns = ", ".join(FIGURE_LABELS)  # identifiers from this module's list, never input
    rows = _rows(
        con,
        f"WITH long AS (UNPIVOT (SELECT as_of, date, {columns} FROM national_summary "
        f"WHERE date < ?) ON {columns} INTO NAME figure VALUE value), "
        "first AS (SELECT date, figure, min(as_of) AS first_as_of, "
        "arg_min(value, as_of) AS first_value FROM long GROUP BY date, figure) "
        "SELECT f.date, f.figure, f.first_as_of, f.first_value, n.value, p.value FROM first f "
        "JOIN long n ON n.date = f.date AND n.figure = f.figure AND n.as_of = ? "
        "LEFT JOIN long p ON p.date = f.date AND p.figure = f.figure AND p.as_of = ? "
        "WHERE f.first_as_of < ? AND n.value IS DISTINCT FROM f.first_value",
        [as_of, as_of, previous_as_of, as_of],
    )
    order = {figure: i for i, figure in enumerate(FIGURE_LABELS)}
    return tuple(
        Revision(d, figure, first_as_of, int(first), int(now),
                 None if previous is None else int(previous))
        for d, figure, first_as_of, first, now, previous
        in sorted(rows, key=lambda r: (r[0], order[r[1]]))
    )


def _revision_table(revisions: tuple[Revision, ...]) -> DisplayTable:
    return DisplayTable(
        "revisions", "表A3 本期修订的主要指标", "Table A3. Main figures revised in this bulletin",
        ("日期及指标", "首次发布日", "首次发布数", "本期数", "修订"),
        ("Date and figure", "First published", "First value", "Now", "Change"),
        tuple(
            TableRow(figure_label(r.date, r.figure, "zh"), figure_label(r.date, r.figure, "en"),
                     (date_cell(r.first_as_of), count_cell(r.first_value), count_cell(r.value),
                      change_cell(r.change)))
            for r in revisions
        ),
    )


def correction_table(changed: tuple[CorrectedFigure, ...]) -> DisplayTable:
    """The figures a correction bulletin changes, as the release section shows them."""
    order = {figure: i for i, figure in enumerate(FIGURE_LABELS)}
    return DisplayTable(
        "correction", "更正内容", "What this correction changes",
        ("日期及指标", "原发布数", "更正后", "变化"),
        ("Date and figure", "Published", "Corrected", "Change"),
        tuple(
            TableRow(figure_label(c.date, c.figure, "zh"), figure_label(c.date, c.figure, "en"),
                     (count_cell(c.previous), count_cell(c.value), change_cell(c.value - c.previous)))
            for c in sorted(changed, key=lambda c: (c.date, order[c.figure]))
        ),
    )


def build_context(settings: Settings, as_of: date,
                  correction: tuple[CorrectedFigure, ...] | None = None) -> BulletinContext:
    """Read the warehouse for `as_of` (and earlier vintages) into the bulletin's figures.

    `correction`: the figures changed since the bulletin approved before for `as_of`
    (issue 16 wires it from the approval state); None for a first release."""
    con = _connect(settings.warehouse, as_of)
    try:
        return _build(con, settings, as_of, provinces(), correction)
    finally:
        con.close()


def _build(con, settings: Settings, as_of: date, prov: dict[str, Province],
           correction: tuple[CorrectedFigure, ...] | None) -> BulletinContext:
    threshold = settings.suppression_threshold
    summary = _rows(
        con,
        "SELECT date, returns_new, returns_cumulative, cross_province_new, "
        "cross_province_cumulative, key_enterprises_resolved_cumulative, provinces_reporting "
        "FROM national_summary WHERE as_of = ? AND date <= ? ORDER BY date",
        [as_of, as_of],
    )
    if not summary or summary[-1][0] != as_of:
        raise WarehouseEmpty(f"national_summary has no figures for {as_of} in vintage {as_of}")
    today = dict(zip(("date", "returns_new", "returns_cumulative", "cross_province_new",
                      "cross_province_cumulative", "key_enterprises_resolved_cumulative",
                      "provinces_reporting"), summary[-1], strict=True))
    by_mode = {r[0]: dict(zip(MODES, r[1:], strict=True)) for r in _rows(
        con,
        "SELECT date, " + ", ".join(f"returns_cumulative_{m}" for m in MODES)
        + " FROM national_summary WHERE as_of = ? AND date <= ?",
        [as_of, as_of],
    )}
    series = tuple(DayFigures(r[0], r[1], r[2], by_mode[r[0]]) for r in summary)

    key_figures = DisplayTable(
        "key_figures", "主要指标", "Key figures", ("指标", "数值"), ("Figure", "Value"),
        tuple(TableRow(zh, en, (count_cell(int(today[figure])),), key=figure)
              for figure, zh, en in KEY_FIGURES),
    )

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
    revision_list = warehouse_revisions(con, as_of, previous_as_of)
    percent = settings.revision_threshold_percent
    revisions = _revision_table(tuple(
        r for r in revision_list
        if revision_matters(r.figure, r.first_value, r.previous_value, r.value, percent)))

    # Data quality, from the ledger, report_checks and the quarantine of this vintage.
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
    checks = tuple(
        ReportCheck(*row, province_zh=_pzh(prov, row[1]) if row[1] else "",
                    province_en=_pen(prov, row[1]) if row[1] else "")
        for row in _rows(
            con,
            'SELECT "check", province, report_date, package, figure, declared, observed, detail '
            "FROM report_checks WHERE as_of = ? "
            'ORDER BY "check", report_date, province, package, figure',
            [as_of],
        ))
    by_rule = _rows(
        con,
        "SELECT rule, count(*) FILTER (WHERE report_date = ?), count(*) FROM quarantine "
        "WHERE as_of = ? AND severity = 'error' GROUP BY rule ORDER BY count(*) DESC, rule",
        [as_of, as_of],
    )
    quarantine = DisplayTable(
        "quarantined_by_rule", "表A2 按规则剔除的记录（条）",
        "Table A2. Records quarantined, by rule (records)",
        ("规则", "当日报送", "累计"), ("Rule", "Reported today", "To date"),
        tuple(TableRow(rule_label(r[0], "zh"), rule_label(r[0], "en"),
                       (count_cell(int(r[1])), count_cell(int(r[2])))) for r in by_rule),
    )
    duplicates_merged = int(_rows(
        con, "SELECT coalesce(sum(rows_merged), 0) FROM ledger WHERE as_of = ?", [as_of]
    )[0][0])

    docs = Path("data_docs") / as_of.isoformat()
    if (settings.output / docs / "index.html").is_file():
        docs = docs / "index.html"
    release = datetime.combine(as_of, settings.release_time, tzinfo=BEIJING)
    return BulletinContext(
        as_of=as_of,
        threshold=threshold,
        returns_cumulative=int(today["returns_cumulative"]),
        returns_new=int(today["returns_new"]),
        cross_province_new=int(today["cross_province_new"]),
        cross_province_cumulative=int(today["cross_province_cumulative"]),
        key_enterprises_resolved=int(today["key_enterprises_resolved_cumulative"]),
        provinces_reporting=len(reporting),
        series=series,
        key_figures=key_figures,
        modes=modes,
        top_flows=top_flows,
        region_flows=region_flows,
        enterprises=enterprises,
        quarantine=quarantine,
        revisions=revisions,
        missing=missing,
        late=tuple(late),
        rejected=rejected,
        corrected=tuple(corrected),
        not_accepted=not_accepted,
        revision_list=revision_list,
        revision_threshold_percent=percent,
        report_check_list=checks,
        quarantined_total=sum(int(r[2]) for r in by_rule),
        duplicates_merged=duplicates_merged,
        previous_as_of=previous_as_of,
        issuer_zh=settings.issuer_zh,
        issuer_en=settings.issuer_en,
        contact=settings.contact,
        released_at=release,
        base_url=settings.public_base_url,
        data_docs=docs.as_posix() if (settings.output / docs).exists() else None,
        correction=correction_table(correction) if correction is not None else None,
        region_matrix=tuple(tuple(row) for row in region_values),
    )


def _pzh(prov: dict[str, Province], code: str) -> str:
    return prov[code].name_zh if code in prov else code


def _pen(prov: dict[str, Province], code: str) -> str:
    return prov[code].name_en if code in prov else code
