"""The publish step of a day (SPEC §5–6): run `include/sql/` in DuckDB over the staged
records and the linkage output, check the ledger, then write every table and commit the
vintage in one atomic step (`warehouse/vintages.py`), held until approved
(`returnstats.release`).

A day is published by increment from the previous run's vintage when that vintage allows
it (figures/increment.py), else in full; both give the same tables."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from returnstats.config import Settings
from returnstats.figures.increment import (
    MERGED_COUNTS,
    Carried,
    compute_increment,
    identity,
    read_increment,
    split_segments,
)
from returnstats.figures.sql import run_query
from returnstats.reference import provinces
from returnstats.release import Policy, figure_digests, publication
from returnstats.validation.ledger import check_ledger as ledger_violations
from returnstats.validation.report_checks import report_checks
from returnstats.validation.staging import PACKAGES_SCHEMA, TOTALS_SCHEMA
from returnstats.warehouse.location import Root
from returnstats.warehouse.schema import (
    LEDGER,
    NATIONAL_SUMMARY,
    PERSON_RETURNS,
    QUARANTINE,
    TABLES,
)
from returnstats.warehouse.store import Segments, conform
from returnstats.warehouse.vintages import commit_vintage

log = logging.getLogger(__name__)

_S, _I, _D, _B = pa.string(), pa.int64(), pa.date32(), pa.bool_()

# The relations the queries read, by the fixed names they use (docs/architecture.md).
# Warehouse-shaped inputs take their table's schema; the others follow the staging contract.
ENTERPRISES_INPUT = pa.schema([
    ("package", _S), ("province", _S), ("report_date", _D), ("version", _I), ("file", _S),
    ("row_number", _I), ("enterprise_uscc", _S), ("enterprise_name", _S),
    ("key_enterprise", _B), ("labour_gap", _I), ("workers_supplied", _I), ("channel", _S),
    ("status_date", _D),
])
# ledger.sql counts the merged records of each file: nothing else of a record is read.
RECORD_PERSON_INPUT = pa.schema([("package", _S), ("file", _S), ("row_number", _I), ("merged", _B)])
PROVINCES_INPUT = pa.schema([("code", _S), ("name_zh", _S), ("name_en", _S), ("region", _S)])
PERSONS_INPUT = PERSON_RETURNS.schema.append(pa.field("seq", _I))
"""`seq`: the linkage delta that wrote the person's current version (0 when not given)."""
RELATIONS: dict[str, pa.Schema] = {
    "persons": PERSONS_INPUT,
    "record_person": RECORD_PERSON_INPUT,
    "enterprises": ENTERPRISES_INPUT,
    "ledger_staged": LEDGER.schema,
    "quarantine_staged": QUARANTINE.schema,
    "packages_staged": PACKAGES_SCHEMA,
    "totals_staged": TOTALS_SCHEMA,
    "provinces": PROVINCES_INPUT,
}

Frame = pd.DataFrame | pa.Table
COMPUTED = tuple(name for name in TABLES if name != "vintages")
"""The tables publish computes; the commit writes `vintages`."""
STAGED = ("enterprises", "ledger", "quarantine", "packages", "totals")
"""The staged tables publish reads, in the order of `FigureInputs`."""


class LedgerImbalance(ValueError):
    """A ledger row breaks SPEC §6: where its received rows ended does not add up."""


@dataclass(frozen=True)
class FigureInputs:
    """What the queries read for one as-of date (`enterprises`: staged records of every
    package; only the accepted ones with report_date <= as_of are used)."""

    persons: Frame | None
    record_person: Frame | None
    enterprises: Frame
    ledger: Frame
    quarantine: Frame
    packages: Frame | None = None
    """The active packages (report_checks); none: no package checks."""
    totals: Frame | None = None
    """Declared and observed figures per active package (report_checks)."""


def _relation(name: str, frame: Frame) -> pa.Table:
    """`frame` with exactly the columns of relation `name`, typed; extra columns dropped."""
    schema = RELATIONS[name]
    arrow = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
        frame, preserve_index=False
    )
    if arrow.num_rows == 0:
        return schema.empty_table()
    if name == "persons" and "seq" not in arrow.column_names:
        arrow = arrow.append_column("seq", pa.array(np.zeros(arrow.num_rows, np.int64)))
    missing = set(schema.names) - set(arrow.column_names)
    if missing:
        raise ValueError(f"relation {name} lacks columns {sorted(missing)}")
    return arrow.select(schema.names).cast(schema)


def _optional(name: str, frame: Frame | None) -> pa.Table:
    return RELATIONS[name].empty_table() if frame is None else _relation(name, frame)


def _active_enterprises(enterprises: pa.Table, ledger: pa.Table, as_of: date) -> pa.Table:
    """Enterprise records of the accepted (active) packages with report_date <= as_of."""
    accepted = ledger.filter(
        pc.and_(pc.equal(ledger["status"], "accepted"),
                pc.less_equal(ledger["report_date"], pa.scalar(as_of, _D)))
    )["package"]
    return enterprises.filter(pc.is_in(enterprises["package"], value_set=pc.unique(accepted)))


def _staged_relations(inputs: FigureInputs, as_of: date) -> dict[str, pa.Table]:
    ledger = _relation("ledger_staged", inputs.ledger)
    return {
        "enterprises": _active_enterprises(
            _relation("enterprises", inputs.enterprises), ledger, as_of
        ),
        "ledger_staged": ledger,
        "quarantine_staged": _relation("quarantine_staged", inputs.quarantine),
        "packages_staged": _optional("packages_staged", inputs.packages),
        "totals_staged": _optional("totals_staged", inputs.totals),
        "provinces": pa.Table.from_pylist(
            [vars(p) for p in provinces().values()], schema=PROVINCES_INPUT
        ),
    }


Vintage = dict[str, pa.Table | Segments]
"""Every warehouse table of one as-of date; person_returns may be `Segments`."""


def _vintage(inputs: FigureInputs, as_of: date, campaign_start: date,
             carried: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The tables of `as_of` but person_returns when `carried` holds returns_daily and
    merged_counts (an increment), all of them when it holds persons and record_person to
    compute them from; the others from the staged relations."""
    import duckdb

    values = {"as_of": as_of, "campaign_start": campaign_start}
    staged = _staged_relations(inputs, as_of)
    con = duckdb.connect()
    try:
        for name, relation in {**staged, **carried}.items():
            con.register(name, relation)
        derived = ("person_returns",) if "persons" in carried else ()
        tables = {name: carried[name] if name in carried else run_query(con, name, values)
                  for name in (*derived, "returns_daily", "merged_counts")}
        con.register("returns_daily", tables["returns_daily"])
        con.register("merged_counts", tables["merged_counts"].cast(MERGED_COUNTS))
        for name in ("national_summary", "enterprises_daily", "quarantine", "record_flags",
                     "ledger"):
            tables[name] = run_query(con, name, values)
    finally:
        con.close()
    tables["report_checks"] = report_checks(
        staged["ledger_staged"], staged["packages_staged"], staged["totals_staged"],
        staged["provinces"]["code"].to_pylist(), as_of).table
    return tables


def compute_tables(inputs: FigureInputs, as_of: date, campaign_start: date) -> dict[str, pa.Table]:
    """Every warehouse table for `as_of` (but `vintages`, which the commit writes), each cast
    to its schema (nothing written), from all persons and records; person_returns is one
    table, its rows in person_key order."""
    tables = _compute_full(inputs, as_of, campaign_start)
    tables["person_returns"] = tables["person_returns"].drop_columns("seq")
    return {name: conform(TABLES[name], tables[name]) for name in COMPUTED}


def _compute_full(inputs: FigureInputs, as_of: date, campaign_start: date) -> dict[str, pa.Table]:
    carried = {"persons": _relation("persons", inputs.persons),
               "record_person": _relation("record_person", inputs.record_person)}
    return _vintage(inputs, as_of, campaign_start, carried)


def compute_segmented(inputs: FigureInputs, as_of: date, campaign_start: date,
                      deltas: tuple[str, ...]) -> Vintage:
    """`compute_tables`, with person_returns as segments (one per linkage delta) that a
    later day's increment can start from."""
    tables = _compute_full(inputs, as_of, campaign_start)
    people = tables["person_returns"]
    # A person left out (returned after as_of, which SPEC §3 forbids) would be missing
    # from a later increment: such a vintage is no base.
    complete = people.num_rows == len(inputs.persons)
    vintage = identity(deltas, campaign_start) + ("" if complete else "-incomplete")
    persons = conform(PERSON_RETURNS, people.drop_columns("seq"))
    result: Vintage = {name: conform(TABLES[name], tables[name]) for name in COMPUTED
                       if name != "person_returns"}
    result["person_returns"] = split_segments(persons, people["seq"], vintage)
    return result


def compute_by_increment(inputs: FigureInputs, carried: Carried, as_of: date,
                         campaign_start: date) -> Vintage:
    """The vintage `as_of` from the carried tables of an increment and the staged ones."""
    tables = _vintage(inputs, as_of, campaign_start, {
        "returns_daily": carried.returns_daily, "merged_counts": carried.merged_counts})
    result: Vintage = {name: conform(TABLES[name], tables[name]) for name in COMPUTED
                       if name != "person_returns"}
    result["person_returns"] = carried.person_returns
    return result


def check_ledger(ledger: pa.Table) -> None:
    """Raise `LedgerImbalance` naming every (package, file) that breaks SPEC §6 (the rules
    are `returnstats.validation.ledger.check_ledger`'s)."""
    problems = ledger_violations(ledger.to_pandas())
    if problems:
        raise LedgerImbalance("ledger does not balance: " + "; ".join(problems))


def headline(national_summary: pa.Table, as_of: date) -> dict[str, int]:
    """The national figures of the as-of date itself (zeros when before the campaign)."""
    rows = national_summary.filter(pc.equal(national_summary["date"], pa.scalar(as_of, _D)))
    figures = [c.name for c in NATIONAL_SUMMARY.columns if c.name != "date"]
    if rows.num_rows == 0:
        return dict.fromkeys(figures, 0)
    row = rows.to_pylist()[0]
    return {f: int(row[f]) for f in figures}


def publish_tables(root: Root, as_of: date, tables: Vintage, policy: Policy | None = None,
                   key_fingerprint: str | None = None) -> dict:
    """Check the ledger (before writing anything), then write every table and commit the
    vintage `held` (`release.publication` says when it keeps an earlier approval);
    returns the summary. `policy` says whether it may later be approved automatically."""
    check_ledger(tables["ledger"])
    figures = headline(tables["national_summary"], as_of)
    digests = figure_digests(tables)
    hold = (policy or Policy()).hold_reason(as_of, figures["provinces_reporting"])
    state = publication(root, as_of, digests, hold)
    people = tables["person_returns"]
    commit, rows = commit_vintage(
        root, as_of, tables, status=state.status, reason=state.reason,
        provinces_reporting=figures["provinces_reporting"], key_fingerprint=key_fingerprint,
        identity=people.identity if isinstance(people, Segments) else None,
        digests=digests, carried=state.carried, corrects=state.corrects)
    return {
        "as_of": as_of.isoformat(),
        "commit": commit.id,
        "status": commit.status,
        "reason": commit.vintage["reason"],
        "corrects": commit.corrects,
        "rows": rows,
        "headline": figures,
    }


def read_linkage(staging: Path, as_of: date) -> tuple[pa.Table, pa.Table]:
    """persons (with `seq`) and record_person (the `RECORD_PERSON_INPUT` columns) of the
    linkage step's state for `as_of`."""
    from returnstats.linkage.store import linkage_root, read_linked

    return read_linked(linkage_root(staging) / f"as_of={as_of.isoformat()}",
                       RECORD_PERSON_INPUT.names, person_seq=True)


def publish_as_of(settings: Settings, as_of: date, key_fingerprint: str | None = None) -> dict:
    """The DAG's publish task: the vintage `as_of`, committed held, and a JSON-able summary
    (rows per table, headline figures of the as-of date, status). By increment from the
    previous run's vintage when it allows (figures/increment.py), else in full."""
    from returnstats.linkage import mirror, store
    from returnstats.linkage.run import linkage_dir, previous_as_of
    from returnstats.validation.failures import failure_ledger
    from returnstats.validation.staging import read_staged

    staged = read_staged(settings, as_of)
    staged_tables = dict(staged.tables)
    failed = failure_ledger(settings.staging, as_of)
    if failed.num_rows:  # provinces whose ingest failed today: their packages, rejected
        staged_tables["ledger"] = pa.concat_tables(
            [_relation("ledger_staged", staged_tables["ledger"]), failed])
    mirror.pull(settings.staging, as_of, last_only=True)  # an object-store zone: mirror.py
    chain = store.read_chain(linkage_dir(settings, as_of))
    increment = read_increment(settings.warehouse, store.linkage_root(settings.staging),
                               previous_as_of(settings, as_of), chain, settings.campaign_start)
    carried = None if increment is None else compute_increment(
        increment, as_of, settings.campaign_start)
    if carried is not None:
        inputs = FigureInputs(None, None, *(staged_tables.get(t) for t in STAGED))
        tables = compute_by_increment(inputs, carried, as_of, settings.campaign_start)
    else:  # reads every delta of the chain: on an object store, those not mirrored yet
        mirror.pull(settings.staging, as_of)
        persons, record_person = read_linkage(settings.staging, as_of)
        inputs = FigureInputs(persons, record_person, *(staged_tables.get(t) for t in STAGED))
        tables = compute_segmented(inputs, as_of, settings.campaign_start, chain.deltas)
    summary = publish_tables(settings.warehouse, as_of, tables, Policy.from_settings(settings),
                             key_fingerprint)
    summary["by_increment"] = carried is not None
    log.info("published %s: %s", as_of, summary)
    return summary
