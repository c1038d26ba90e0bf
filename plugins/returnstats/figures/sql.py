"""The one loader of `include/sql/<table>.sql` and the one way a query runs with its
parameters bound (never formatted into the text, STYLE.md)."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

import pyarrow as pa

from returnstats.config import INCLUDE

if TYPE_CHECKING:
    import duckdb

SQL_DIR = INCLUDE / "sql"

_COMMENT = re.compile(r"--[^\n]*")
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@cache
def load_sql(name: str) -> str:
    """The query that produces warehouse table `name`."""
    if not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"not a query name: {name!r}")
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def parameters(sql: str) -> set[str]:
    """The `$name` parameters a query uses (DuckDB refuses values for unused ones)."""
    return set(_PARAMETER.findall(_COMMENT.sub("", sql)))


def run_query(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, date | str | int]) -> pa.Table:
    """Run `include/sql/<name>.sql` on `con` with the values of the parameters it uses."""
    sql = load_sql(name)
    needed = parameters(sql)
    missing = needed - values.keys()
    if missing:
        raise KeyError(f"{name}.sql needs parameters {sorted(missing)}")
    return con.sql(sql, params={k: values[k] for k in needed}).to_arrow_table()
