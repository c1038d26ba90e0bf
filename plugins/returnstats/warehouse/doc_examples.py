"""The worked examples of docs/querying.md and the results they show.

Every ```sql and ```python block of the doc runs against a warehouse laid out as
`make run` leaves it (`data/warehouse/` under the working directory). A ```text block
right after one is its shown result: for SQL, what the block's last statement returns,
as `render` prints it; for Python, what the block prints.

    PYTHONPATH=plugins python -m returnstats.warehouse.doc_examples [--write] [ROOT]

checks the shown results against the warehouse under ROOT (default: the working
directory), printing each difference (exit status 1), or with `--write` rewrites them.
`tests/docs/test_querying_docs.py` checks them on the `make run` sample.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from returnstats.config import REPO_ROOT

DOC = REPO_ROOT / "docs" / "querying.md"
CATALOG = Path("data") / "warehouse" / "warehouse.duckdb"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```\n", re.S | re.M)


@dataclass(frozen=True)
class Example:
    language: str  # sql or python
    code: str
    line: int  # of the opening fence, from 1
    shown: str | None  # the ```text block after it, if any
    shown_span: tuple[int, int] | None  # its body's offsets in the doc


def examples(text: str) -> list[Example]:
    """The sql and python blocks of `text`, each with the text block that follows it."""
    blocks = list(_BLOCK.finditer(text))
    found = []
    for block, after in zip(blocks, [*blocks[1:], None], strict=True):
        if block.group(1) not in ("sql", "python"):
            continue
        follows = after is not None and after.group(1) == "text" and \
            not text[block.end():after.start()].strip()
        found.append(Example(
            block.group(1), block.group(2), text.count("\n", 0, block.start()) + 1,
            after.group(2) if follows else None,
            (after.start(2), after.end(2)) if follows else None))
    return found


def statements(sql: str) -> list[str]:
    """The statements of a block, comment lines dropped (no `;` inside a literal)."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def _width(text: str) -> int:
    """Columns `text` takes in a monospace font (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render(columns: list[str], rows: list[tuple]) -> str:
    """A result as aligned text: numbers right, everything else left, NULL for null."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [any(row[i] is not None for row in rows)
               and all(isinstance(row[i], int | float | Decimal) or row[i] is None
                       for row in rows) for i in range(len(columns))]
    widths = [max([_width(c), *(_width(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        padded = [" " * (w - _width(v)) + v if right else v + " " * (w - _width(v))
                  for v, w, right in zip(values, widths, numeric, strict=True)]
        return "  ".join(padded).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths), *(line(r) for r in cells)]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


@contextlib.contextmanager
def _working_directory(root: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(before)


class ExampleFailed(Exception):
    """An example of the doc did not run; names its line."""


def run(example: Example) -> str:
    """What `example` gives (run in the working directory): the rendered result of its
    last statement, or what it prints."""
    if example.language == "sql":
        import duckdb

        with duckdb.connect(str(CATALOG), read_only=True) as con:
            result = None
            for statement in statements(example.code):
                try:
                    result = con.execute(statement)
                except duckdb.Error as error:
                    raise ExampleFailed(f"docs/querying.md:{example.line}: {error}") from error
            columns = [d[0] for d in result.description] if result and result.description else []
            return render(columns, result.fetchall() if columns else [])
    printed = io.StringIO()
    namespace: dict[str, Any] = {}
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(example.code, f"docs/querying.md:{example.line}", "exec"),  # noqa: S102
                 namespace)
    except Exception as error:
        raise ExampleFailed(f"docs/querying.md:{example.line}: {type(error).__name__}: "
                            f"{error}") from error
    finally:
        if (engine := namespace.get("engine")) is not None:
            engine.dispose()
    return printed.getvalue()


def differences(root: Path, doc: Path = DOC) -> list[str]:
    """Each shown result that differs from what its example gives on the warehouse under
    `root`, as a unified diff naming the doc's line; every example runs."""
    found = []
    with _working_directory(root):
        for example in examples(doc.read_text(encoding="utf-8")):
            got = run(example)
            if example.shown is not None and got != example.shown:
                found.append("".join(difflib.unified_diff(
                    example.shown.splitlines(keepends=True), got.splitlines(keepends=True),
                    f"docs/querying.md:{example.line} (shown)", "returned")))
    return found


def write(root: Path, doc: Path = DOC) -> None:
    """Rewrite every shown result of `doc` with what its example gives under `root`."""
    text = doc.read_text(encoding="utf-8")
    with _working_directory(root):
        shown = [(e.shown_span, run(e)) for e in examples(text) if e.shown_span is not None]
    for (start, end), result in reversed(shown):
        text = text[:start] + result + text[end:]
    doc.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path.cwd(),
                        help="the directory holding data/warehouse (default: here)")
    parser.add_argument("--write", action="store_true", help="rewrite the shown results")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.write:
        write(root)
        return 0
    found = differences(root)
    for diff in found:
        print(diff)
    print(f"{len(found)} shown result(s) differ" if found else "every shown result matches")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
