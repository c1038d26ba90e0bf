"""The column dictionary of the warehouse, generated from `schema.py` as Markdown for
`docs/querying.md`: `python -m returnstats.warehouse.dictionary`."""

from __future__ import annotations

from returnstats.warehouse.catalog import sql_type
from returnstats.warehouse.schema import TABLES, Table

_AS_OF = "Vintage: the as-of date of the run that published the row (partition key)."


def table_markdown(table: Table) -> str:
    lines = [
        f"### `{table.name}`",
        "",
        f"{table.description} Grain: {', '.join(f'`{g}`' for g in table.grain)}.",
        "",
        "| column | type | description |",
        "|---|---|---|",
        f"| `as_of` | DATE | {_AS_OF} |",
    ]
    for column in table.columns:
        description = column.description.replace("|", "\\|").replace("<", "&lt;")
        lines.append(f"| `{column.name}` | {sql_type(column.type)} | {description} |")
    return "\n".join(lines)


def dictionary_markdown() -> str:
    return "\n\n".join(table_markdown(t) for t in TABLES.values()) + "\n"


if __name__ == "__main__":
    print(dictionary_markdown(), end="")
