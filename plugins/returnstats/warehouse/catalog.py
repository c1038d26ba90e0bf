"""The DuckDB catalog at the warehouse root (SPEC §6): `warehouse.duckdb` holds no data,
only views over the Parquet partitions, so `duckdb <root>/warehouse.duckdb` or a SQLAlchemy
`duckdb:///` URL is all a statistician needs.

Views name the Parquet files by absolute path (DuckDB resolves a relative path against
the reader's working directory, not the database file), so moving the warehouse root
means calling `refresh_catalog` again.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa

from returnstats.warehouse.schema import NATIONAL_SUMMARY, TABLES, Table
from returnstats.warehouse.store import TMP_DIR, Root, locate, writer_lock

CATALOG_FILE = "warehouse.duckdb"

# The national_summary columns that are figures (everything but the grain).
REVISED_FIGURES = tuple(c.name for c in NATIONAL_SUMMARY.columns if c.name != "date")


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
    if pa.types.is_list(type_):
        return f"{sql_type(type_.value_type)}[]"
    raise TypeError(f"no DuckDB type for {type_}")


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_view_sql(root: Path, table: Table) -> str:
    """SELECT over every partition of `table`; a typed empty SELECT before the first one."""
    columns = ", ".join(_quote_ident(n) for n in ("as_of", *table.column_names))
    if not any((root / table.name).glob("as_of=*/*.parquet")):
        # read_parquet refuses a glob that matches nothing; keep the view's columns anyway.
        typed = ", ".join(
            f"CAST(NULL AS {sql_type(c.type)}) AS {_quote_ident(c.name)}" for c in table.columns
        )
        return f"SELECT CAST(NULL AS DATE) AS as_of, {typed} WHERE false"
    glob = _quote_literal(str(root / table.name / "*" / "*.parquet"))
    return (
        f"SELECT {columns} FROM read_parquet({glob}, hive_partitioning = true, "
        "hive_types = {'as_of': DATE})"
    )


def revisions_view_sql() -> str:
    """First-published against latest value of each national figure, where they differ."""
    figures = ", ".join(_quote_ident(f) for f in REVISED_FIGURES)
    return f"""
SELECT date, figure,
       arg_min(value, as_of) AS first_value, min(as_of) AS first_as_of,
       arg_max(value, as_of) AS latest_value, max(as_of) AS latest_as_of,
       arg_max(value, as_of) - arg_min(value, as_of) AS difference
FROM (UNPIVOT national_summary ON {figures} INTO NAME figure VALUE value)
GROUP BY date, figure
HAVING arg_min(value, as_of) IS DISTINCT FROM arg_max(value, as_of)
"""


def refresh_catalog(root: Root) -> Path:
    """(Re)create `<root>/warehouse.duckdb` and swap it into place; returns its path.

    The new catalog is built in `<root>/.tmp/` and renamed over the old one, so a reader
    opens either the old or the new file, never a half-built one. Local roots only: over
    an object store DuckDB needs its httpfs extension and credentials (docs/warehouse.md).
    """
    import duckdb

    root = locate(root).local_path.resolve()
    with writer_lock(root):
        tmp_dir = root / TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        building = tmp_dir / f"catalog-{uuid.uuid4().hex}.duckdb"
        try:
            con = duckdb.connect(str(building))
            try:
                for table in TABLES.values():
                    name = _quote_ident(table.name)
                    con.execute(f"CREATE VIEW {name} AS {table_view_sql(root, table)}")
                    con.execute(
                        f"CREATE VIEW {_quote_ident('latest_' + table.name)} AS "
                        f"SELECT * FROM {name} WHERE as_of = (SELECT max(as_of) FROM {name})"
                    )
                con.execute(f"CREATE VIEW revisions AS {revisions_view_sql()}")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            fd = os.open(building, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            target = root / CATALOG_FILE
            os.replace(building, target)
        finally:
            building.unlink(missing_ok=True)
            Path(f"{building}.wal").unlink(missing_ok=True)
    return target
