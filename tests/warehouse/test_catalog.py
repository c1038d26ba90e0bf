"""The DuckDB catalog of SPEC §6: views per table, latest_<table>, revisions; DuckDB and
SQLAlchemy clients."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from returnstats.warehouse.catalog import CATALOG_FILE, refresh_catalog
from returnstats.warehouse.schema import NATIONAL_SUMMARY, TABLES
from returnstats.warehouse.store import write_partition

D10, D11, D12 = date(2020, 2, 10), date(2020, 2, 11), date(2020, 2, 12)


def summary(rows: list[tuple[date, int, int]]) -> pd.DataFrame:
    """national_summary rows from (date, returns_new, key_enterprises_resolved_cumulative)."""
    out = []
    for day, new, resolved in rows:
        row = dict.fromkeys(NATIONAL_SUMMARY.column_names, 0)
        row.update(date=day, returns_new=new, key_enterprises_resolved_cumulative=resolved)
        out.append(row)
    return pd.DataFrame(out)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    write_partition(tmp_path, NATIONAL_SUMMARY, D11, summary([(D10, 5, 1), (D11, 2, 1)]))
    # A late package revises 02-10's returns and 02-11's resolved enterprises.
    write_partition(tmp_path, NATIONAL_SUMMARY, D12,
                    summary([(D10, 8, 1), (D11, 2, 3), (D12, 4, 3)]))
    refresh_catalog(tmp_path)
    return tmp_path


def test_catalog_has_a_view_and_a_latest_view_per_table_plus_revisions(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True)
    try:
        views = {r[0] for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        # Tables never published read as empty views with their columns.
        ledger_columns = [r[0] for r in con.execute("DESCRIBE ledger").fetchall()]
        assert con.execute("SELECT count(*) FROM ledger").fetchone() == (0,)
    finally:
        con.close()
    assert views == {*TABLES, *(f"latest_{t}" for t in TABLES), "revisions"}
    assert ledger_columns == ["as_of", *TABLES["ledger"].column_names]


def test_latest_national_summary_via_duckdb(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True)
    try:
        rows = con.execute(
            "SELECT as_of, date, returns_new FROM latest_national_summary ORDER BY date"
        ).fetchall()
        vintages = con.execute("SELECT DISTINCT as_of FROM national_summary ORDER BY 1").fetchall()
    finally:
        con.close()
    assert rows == [(D12, D10, 8), (D12, D11, 2), (D12, D12, 4)]
    assert vintages == [(D11,), (D12,)]


def test_latest_national_summary_via_sqlalchemy_url(warehouse: Path) -> None:
    engine = sa.create_engine(f"duckdb:///{warehouse / CATALOG_FILE}",
                              connect_args={"read_only": True})
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT date, returns_new FROM latest_national_summary WHERE date = :day"
            ), {"day": D10}).fetchall()
            frame = pd.read_sql("SELECT * FROM latest_national_summary", connection)
    finally:
        engine.dispose()
    assert rows == [(D10, 8)]
    assert len(frame) == 3


def test_revisions_show_first_published_and_latest_where_they_differ(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True)
    try:
        rows = con.execute(
            "SELECT date, figure, first_value, first_as_of, latest_value, latest_as_of, difference"
            " FROM revisions ORDER BY date, figure"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (D10, "returns_new", 5, D11, 8, D12, 3),
        (D11, "key_enterprises_resolved_cumulative", 1, D11, 3, D12, 2),
    ]


def test_views_read_absolute_paths_from_any_working_directory(
    warehouse: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    con = duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM national_summary").fetchone() == (5,)
    finally:
        con.close()


def test_refresh_swaps_the_file_and_sees_new_partitions(warehouse: Path) -> None:
    before = (warehouse / CATALOG_FILE).stat().st_ino
    write_partition(warehouse, NATIONAL_SUMMARY, date(2020, 2, 13),
                    summary([(D10, 8, 1), (D11, 2, 3), (D12, 4, 3), (date(2020, 2, 13), 1, 3)]))
    refresh_catalog(warehouse)
    assert (warehouse / CATALOG_FILE).stat().st_ino != before
    assert not list((warehouse / ".tmp").glob("*.duckdb*"))
    con = duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True)
    try:
        assert con.execute("SELECT max(as_of) FROM latest_national_summary").fetchone() == (
            date(2020, 2, 13),)
    finally:
        con.close()
