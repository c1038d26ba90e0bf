"""The column dictionary in docs/querying.md is the one generated from schema.py."""

from __future__ import annotations

from pathlib import Path

from returnstats.warehouse.dictionary import dictionary_markdown
from returnstats.warehouse.schema import TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "querying.md"


def test_dictionary_lists_every_column_of_every_table() -> None:
    text = dictionary_markdown()
    for table in TABLES.values():
        assert f"### `{table.name}`" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text


def test_querying_doc_carries_the_current_dictionary() -> None:
    assert DOC.read_text(encoding="utf-8").endswith(dictionary_markdown())
