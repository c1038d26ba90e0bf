"""`python -m returnstats.warehouse.shell [ROOT]`: a read-only SQL prompt on the warehouse
catalog from the project's venv (no DuckDB CLI needed). Statements end with `;`; an
empty line at the prompt or end of input (Ctrl-D) quits. ROOT defaults to
RETURNSTATS_WAREHOUSE (data/warehouse)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from returnstats.config import load_settings
from returnstats.warehouse.catalog import CATALOG_FILE


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(load_settings().warehouse)
    con = duckdb.connect(str(root / CATALOG_FILE), read_only=True)
    interactive = sys.stdin.isatty()
    buffer = ""
    while True:
        try:
            line = input("warehouse> " if not buffer else "      ...> ") if interactive \
                else sys.stdin.readline()
        except EOFError:
            break
        if not interactive and line == "":
            break
        buffer += line + "\n"
        if not buffer.strip():
            break
        if buffer.rstrip().endswith(";"):
            try:
                result = con.sql(buffer)
                if result is not None:
                    result.show(max_rows=50, max_width=160)
            except duckdb.Error as error:
                print(f"error: {error}", file=sys.stderr)
            buffer = ""
    con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
