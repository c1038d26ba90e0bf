"""The publish step of a day (SPEC §5–6): run `include/sql/` in DuckDB over the staged
records and the linkage output, check the ledger, write each table's `as_of` partition
atomically and refresh the DuckDB catalog."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from returnstats.config import Settings
from returnstats.figures.sql import run_query
from returnstats.reference import provinces
from returnstats.validation.ledger import check_ledger as ledger_violations
from returnstats.warehouse.catalog import refresh_catalog
from returnstats.warehouse.schema import (
    LEDGER,
    NATIONAL_SUMMARY,
    PERSON_RETURNS,
    QUARANTINE,
    TABLES,
)
from returnstats.warehouse.store import Root, conform, is_local, recover, write_partition

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
RELATIONS: dict[str, pa.Schema] = {
    "persons": PERSON_RETURNS.schema,
    "record_person": RECORD_PERSON_INPUT,
    "enterprises": ENTERPRISES_INPUT,
    "ledger_staged": LEDGER.schema,
    "quarantine_staged": QUARANTINE.schema,
    "provinces": PROVINCES_INPUT,
}

Frame = pd.DataFrame | pa.Table


class LedgerImbalance(ValueError):
    """A ledger row breaks SPEC §6: where its received rows ended does not add up."""


@dataclass(frozen=True)
class FigureInputs:
    """What the queries read for one as-of date (`enterprises`: staged records of every
    package; only the accepted ones with report_date <= as_of are used)."""

    persons: Frame
    record_person: Frame
    enterprises: Frame
    ledger: Frame
    quarantine: Frame


def _relation(name: str, frame: Frame) -> pa.Table:
    """`frame` with exactly the columns of relation `name`, typed; extra columns dropped."""
    schema = RELATIONS[name]
    arrow = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
        frame, preserve_index=False
    )
    if arrow.num_rows == 0:
        return schema.empty_table()
    missing = set(schema.names) - set(arrow.column_names)
    if missing:
        raise ValueError(f"relation {name} lacks columns {sorted(missing)}")
    return arrow.select(schema.names).cast(schema)


def _active_enterprises(enterprises: pa.Table, ledger: pa.Table, as_of: date) -> pa.Table:
    """Enterprise records of the accepted (active) packages with report_date <= as_of."""
    accepted = ledger.filter(
        pc.and_(pc.equal(ledger["status"], "accepted"),
                pc.less_equal(ledger["report_date"], pa.scalar(as_of, _D)))
    )["package"]
    return enterprises.filter(pc.is_in(enterprises["package"], value_set=pc.unique(accepted)))


def compute_tables(inputs: FigureInputs, as_of: date, campaign_start: date) -> dict[str, pa.Table]:
    """Every warehouse table for `as_of`, each cast to its schema (nothing written)."""
    import duckdb

    ledger = _relation("ledger_staged", inputs.ledger)
    relations = {
        "persons": _relation("persons", inputs.persons),
        "record_person": _relation("record_person", inputs.record_person),
        "enterprises": _active_enterprises(
            _relation("enterprises", inputs.enterprises), ledger, as_of
        ),
        "ledger_staged": ledger,
        "quarantine_staged": _relation("quarantine_staged", inputs.quarantine),
        "provinces": pa.Table.from_pylist(
            [vars(p) for p in provinces().values()], schema=PROVINCES_INPUT
        ),
    }
    values = {"as_of": as_of, "campaign_start": campaign_start}
    con = duckdb.connect()
    try:
        for name, relation in relations.items():
            con.register(name, relation)
        return {
            name: conform(table, run_query(con, name, values)) for name, table in TABLES.items()
        }
    finally:
        con.close()


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


def publish_tables(root: Root, as_of: date, tables: dict[str, pa.Table]) -> dict:
    """Clean up after a killed writer, check the ledger (before writing anything), write
    every table's partition, refresh the catalog; returns the summary.

    On an object store the DuckDB catalog is not built (docs/warehouse.md)."""
    recover(root)
    check_ledger(tables["ledger"])
    for name, table in tables.items():
        write_partition(root, TABLES[name], as_of, table)
    if is_local(root):
        refresh_catalog(root)
    else:
        log.info("%s is an object store: no warehouse.duckdb (docs/warehouse.md)", root)
    return {
        "as_of": as_of.isoformat(),
        "rows": {name: table.num_rows for name, table in tables.items()},
        "headline": headline(tables["national_summary"], as_of),
    }


def read_linkage(staging: Path, as_of: date) -> tuple[pa.Table, pa.Table]:
    """persons and record_person (the `RECORD_PERSON_INPUT` columns) of the linkage step's
    state for `as_of`."""
    from returnstats.linkage.store import linkage_root, read_linked

    return read_linked(linkage_root(staging) / f"as_of={as_of.isoformat()}",
                       RECORD_PERSON_INPUT.names)


def publish_as_of(settings: Settings, as_of: date) -> dict:
    """The DAG's publish task: the warehouse partitions of `as_of` and a JSON-able summary
    (rows per table, headline figures of the as-of date)."""
    from returnstats.validation.staging import read_staged

    staged = read_staged(settings, as_of)
    persons, record_person = read_linkage(settings.staging, as_of)
    inputs = FigureInputs(
        persons=persons,
        record_person=record_person,
        enterprises=staged.enterprises,
        ledger=staged.ledger,
        quarantine=staged.quarantine,
    )
    tables = compute_tables(inputs, as_of, settings.campaign_start)
    summary = publish_tables(settings.warehouse, as_of, tables)
    log.info("published %s: %s", as_of, summary)
    return summary
