"""The DuckDB catalog at the warehouse root (SPEC §6): `warehouse.duckdb` holds no data,
only views over the Parquet files that the current commit records name (`commits.py`),
so `duckdb <root>/warehouse.duckdb` or a SQLAlchemy `duckdb:///` URL is all a
statistician needs. `latest_<table>` is the newest *approved* vintage.

The views name each file by absolute path (DuckDB resolves a relative path against the
reader's working directory, not the database file), so moving the warehouse root means
calling `refresh_catalog` again. The catalog is rebuilt after every commit record and
swapped into place by one rename: a reader sees the vintages of one set of records,
never two mixed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa

from returnstats.reference import provinces
from returnstats.warehouse.commits import Commit, current_commits
from returnstats.warehouse.duckdb_access import open_store
from returnstats.warehouse.location import TMP_DIR, Location, Root, locate, put_atomic
from returnstats.warehouse.schema import NATIONAL_SUMMARY, TABLES, VINTAGES, Table
from returnstats.warehouse.store import writer_lock

CATALOG_FILE = "warehouse.duckdb"

# The national_summary columns that are figures (everything but the grain).
REVISED_FIGURES = tuple(c.name for c in NATIONAL_SUMMARY.columns if c.name != "date")
APPROVED = "approved"


def sql_type(type_: pa.DataType) -> str:
    """The DuckDB type a warehouse column reads back as."""
    if pa.types.is_date32(type_):
        return "DATE"
    if pa.types.is_int64(type_):
        return "BIGINT"
    if pa.types.is_string(type_):
        return "VARCHAR"
    if pa.types.is_boolean(type_):
        return "BOOLEAN"
    if pa.types.is_timestamp(type_):
        return "TIMESTAMP WITH TIME ZONE" if type_.tz else "TIMESTAMP"
    if pa.types.is_list(type_):
        return f"{sql_type(type_.value_type)}[]"
    raise TypeError(f"no DuckDB type for {type_}")


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_view_sql(location: Location, table: Table, commits: dict[date, Commit]) -> str:
    """SELECT over the files of `table` that `commits` name; typed and empty without any."""
    columns = ", ".join(_quote_ident(n) for n in ("as_of", *table.column_names))
    files = [location.url_of(p) for commit in commits.values() for p in commit.paths(table.name)]
    if not files:
        # read_parquet refuses an empty list; keep the view's columns anyway.
        typed = ", ".join(
            f"CAST(NULL AS {sql_type(c.type)}) AS {_quote_ident(c.name)}" for c in table.columns
        )
        return f"SELECT CAST(NULL AS DATE) AS as_of, {typed} WHERE false"
    listed = ", ".join(_quote_literal(f) for f in files)
    return (
        f"SELECT {columns} FROM read_parquet([{listed}], hive_partitioning = true, "
        "hive_types = {'as_of': DATE})"
    )


def latest_view_sql(table: Table) -> str:
    """The table's rows of the newest approved vintage (none before the first approval)."""
    return (f"SELECT * FROM {_quote_ident(table.name)} WHERE as_of = (SELECT max(as_of) "
            f"FROM {_quote_ident(VINTAGES.name)} WHERE status = '{APPROVED}')")


def revisions_view_sql() -> str:
    """First-published against latest value of each national figure, where they differ;
    published means approved."""
    figures = ", ".join(_quote_ident(f) for f in REVISED_FIGURES)
    return f"""
SELECT date, figure,
       arg_min(value, as_of) AS first_value, min(as_of) AS first_as_of,
       arg_max(value, as_of) AS latest_value, max(as_of) AS latest_as_of,
       arg_max(value, as_of) - arg_min(value, as_of) AS difference
FROM (UNPIVOT (SELECT * FROM national_summary WHERE as_of IN (
          SELECT as_of FROM vintages WHERE status = '{APPROVED}'))
      ON {figures} INTO NAME figure VALUE value)
GROUP BY date, figure
HAVING arg_min(value, as_of) IS DISTINCT FROM arg_max(value, as_of)
"""


def revision_history_view_sql() -> str:
    """Every published (approved) value of each national figure, by vintage, with the
    change from the previous published value (null for the first)."""
    figures = ", ".join(_quote_ident(f) for f in REVISED_FIGURES)
    return f"""
SELECT date, figure, as_of, CAST(value AS BIGINT) AS value,
       CAST(value - lag(value) OVER (PARTITION BY date, figure ORDER BY as_of) AS BIGINT)
           AS change
FROM (UNPIVOT (SELECT * FROM national_summary WHERE as_of IN (
          SELECT as_of FROM vintages WHERE status = '{APPROVED}'))
      ON {figures} INTO NAME figure VALUE value)
"""


def provinces_view_sql() -> str:
    """The 31 provinces of the reference data (code, zh and en names, region), written
    into the view itself: it reads no file."""
    rows = ", ".join(
        "(" + ", ".join(_quote_literal(v) for v in (p.code, p.name_zh, p.name_en, p.region)) + ")"
        for p in provinces().values())
    return f"SELECT * FROM (VALUES {rows}) AS p(code, name_zh, name_en, region)"


def create_views(con, root: Root, upto: date | None = None,
                 commits: dict[date, Commit] | None = None) -> dict[date, Commit]:
    """Create in DuckDB connection `con` a view per table over the committed vintages
    (as-of dates ≤ `upto` when given), a `latest_<table>` view per table, `revisions`,
    `revision_history` and `provinces`;
    returns the commit records the views read."""
    location = locate(root)
    open_store(con, location)
    if commits is None:
        commits = current_commits(location, upto)
    for table in TABLES.values():
        con.execute(f"CREATE OR REPLACE VIEW {_quote_ident(table.name)} AS "
                    f"{table_view_sql(location, table, commits)}")
    for table in TABLES.values():  # they read `vintages`
        con.execute(f"CREATE OR REPLACE VIEW {_quote_ident('latest_' + table.name)} AS "
                    f"{latest_view_sql(table)}")
    con.execute(f"CREATE OR REPLACE VIEW revisions AS {revisions_view_sql()}")
    con.execute(f"CREATE OR REPLACE VIEW revision_history AS {revision_history_view_sql()}")
    con.execute(f"CREATE OR REPLACE VIEW provinces AS {provinces_view_sql()}")
    return commits


def build_catalog(root: Root) -> str:
    """(Re)create `<root>/warehouse.duckdb` from the current commit records and swap it
    into place; returns its path. The caller holds the writer lock (`refresh_catalog`
    takes it). On an object store it is built in a local temporary file and put as one
    object; its views name `s3://…` files, which a reader opens through httpfs with a
    secret of its own (docs/querying.md)."""
    import duckdb

    location = locate(root)
    if location.is_local:
        tmp_dir = location.local_path.resolve() / TMP_DIR
        location = locate(location.local_path.resolve())
    else:
        tmp_dir = Path(tempfile.mkdtemp(prefix="returnstats-catalog-"))
    tmp_dir.mkdir(parents=True, exist_ok=True)
    building = tmp_dir / f"catalog-{uuid.uuid4().hex}.duckdb"
    try:
        con = duckdb.connect(str(building))
        try:
            create_views(con, location)
            if not location.is_local:  # the secret or filesystem is the reader's own
                con.execute("DROP SECRET IF EXISTS returnstats")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if not location.is_local:
            return put_atomic(location, CATALOG_FILE, building.read_bytes())
        fd = os.open(building, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        target = location.local_path / CATALOG_FILE
        os.replace(building, target)
    finally:
        building.unlink(missing_ok=True)
        Path(f"{building}.wal").unlink(missing_ok=True)
        if not location.is_local:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return str(target)


def refresh_catalog(root: Root) -> str:
    """`build_catalog` under the writer lock (for a caller that holds none)."""
    with writer_lock(root):
        return build_catalog(root)
