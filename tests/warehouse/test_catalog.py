"""The DuckDB catalog of SPEC §6: views per table over the committed vintages,
latest_<table> (the newest approved vintage), revisions; DuckDB and SQLAlchemy clients."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from returnstats.release import approve, reject
from returnstats.warehouse.catalog import CATALOG_FILE
from returnstats.warehouse.schema import TABLES

from tests.warehouse.conftest import commit, summary

D10, D11, D12, D13 = (date(2020, 2, d) for d in (10, 11, 12, 13))


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    commit(tmp_path, D11, national_summary=summary([(D10, 5, 1), (D11, 2, 1)]))
    # A late package revises 02-10's returns and 02-11's resolved enterprises.
    commit(tmp_path, D12, national_summary=summary([(D10, 8, 1), (D11, 2, 3), (D12, 4, 3)]))
    return tmp_path


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


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
    assert views == {*TABLES, *(f"latest_{t}" for t in TABLES), "revisions",
                     "revision_history", "provinces"}
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


def test_each_commit_swaps_the_catalog_in_and_it_sees_the_new_vintage(warehouse: Path) -> None:
    before = (warehouse / CATALOG_FILE).stat().st_ino
    commit(warehouse, D13,
           national_summary=summary([(D10, 8, 1), (D11, 2, 3), (D12, 4, 3), (D13, 1, 3)]))
    assert (warehouse / CATALOG_FILE).stat().st_ino != before
    assert not list((warehouse / ".tmp").glob("*.duckdb*"))
    assert _rows(warehouse, "SELECT max(as_of) FROM latest_national_summary") == [(D13,)]


def test_latest_is_the_newest_approved_vintage_and_held_or_rejected_ones_never_show(
        warehouse: Path) -> None:
    commit(warehouse, D13, status="held",
           national_summary=summary([(D10, 8, 1), (D11, 2, 3), (D12, 4, 3), (D13, 0, 3)]))
    latest = "SELECT DISTINCT as_of FROM latest_national_summary"
    assert _rows(warehouse, latest) == [(D12,)]
    assert _rows(warehouse, "SELECT as_of, status FROM vintages ORDER BY as_of") == [
        (D11, "approved"), (D12, "approved"), (D13, "held")]
    assert _rows(warehouse, "SELECT count(*) FROM national_summary WHERE as_of = DATE '2020-02-13'"
                 ) == [(4,)], "a held vintage is committed: the all-vintages view shows it"
    reject(warehouse, D12, by="reviewer", reason="a province's figures are wrong")
    assert _rows(warehouse, latest) == [(D11,)]
    approve(warehouse, D13, by="reviewer")
    assert _rows(warehouse, latest) == [(D13,)]
    assert _rows(warehouse, "SELECT status, approved_by, reason FROM vintages WHERE as_of = "
                 "DATE '2020-02-12'") == [("rejected", "reviewer", "a province's figures are wrong")]


def test_views_read_only_the_files_a_commit_names(warehouse: Path) -> None:
    stray = warehouse / "national_summary" / "as_of=2020-02-12" / "part-stray.parquet"
    summary([(D10, 1000, 0)]).to_parquet(stray)
    commit(warehouse, D13, national_summary=summary([(D13, 1, 0)]))  # rebuilds the catalog
    assert _rows(warehouse, "SELECT max(returns_new) FROM national_summary") == [(8,)]


def test_provinces_view_and_counts_are_bigint_in_every_view(warehouse: Path,
                                                           tmp_path: Path,
                                                           monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the views read no path relative to the repository
    con = duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True)
    try:
        provinces = con.execute("SELECT code, name_zh, name_en, region FROM provinces "
                                "WHERE code = '44'").fetchall()
        assert con.execute("SELECT count(*) FROM provinces").fetchone() == (31,)
        types = con.execute("SELECT table_name, column_name, data_type FROM "
                            "information_schema.columns").fetchall()
    finally:
        con.close()
    assert provinces == [("44", "广东省", "Guangdong", "east")]
    wide = [t for t in types if t[2] in ("HUGEINT", "DOUBLE", "DECIMAL", "INTEGER")]
    assert not wide, wide


def test_revision_history_lists_every_published_value(warehouse: Path) -> None:
    rows = _rows(warehouse, "SELECT as_of, value, change FROM revision_history "
                            "WHERE figure = 'returns_new' ORDER BY date, as_of")
    published = _rows(warehouse, "SELECT count(*) FROM national_summary WHERE as_of IN "
                                 "(SELECT as_of FROM vintages WHERE status = 'approved')")
    assert len(rows) == published[0][0] and rows
    assert all((change is None) or isinstance(change, int) for _, _, change in rows)
