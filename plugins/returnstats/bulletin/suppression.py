"""Small-cell suppression of published tables (SPEC §7).

A cell with 0 < value < threshold is suppressed (primary, shown "<5"). Then, so that it
cannot be recovered by subtraction from a row or column total, every additive line of
the table (a row with its row total, a column with its column total) that holds exactly
one suppressed cell gets a second one: the smallest non-zero cell of the line that is not
a figure published elsewhere (secondary, shown "x"). This repeats until no line has a
single suppressed cell. Headline totals are never suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["shown", "primary", "secondary"]

SECONDARY_MARK = "x"


@dataclass(frozen=True)
class SuppressedGrid:
    """Values and statuses of a table with its margins appended as last row / column."""

    values: list[list[int]]
    status: list[list[Status]]

    def display(self, r: int, c: int, threshold: int, fmt=str) -> str:
        status = self.status[r][c]
        if status == "primary":
            return f"<{threshold}"
        if status == "secondary":
            return SECONDARY_MARK
        return fmt(self.values[r][c])


def suppress(
    cells: list[list[int]],
    threshold: int,
    *,
    row_totals: bool = False,
    column_totals: bool = False,
) -> SuppressedGrid:
    """Suppress `cells` (rows × columns) and the margins asked for, appended at the end.

    With only column totals, the total row is published elsewhere (national figures) and
    is never suppressed; with both margins, the grand total is.
    """
    n_rows = len(cells)
    n_cols = len(cells[0]) if cells else 0
    grid = [list(row) for row in cells]
    if row_totals:
        for row in grid:
            row.append(sum(row[:n_cols]))
    if column_totals:
        width = n_cols + (1 if row_totals else 0)
        grid.append([sum(grid[r][c] for r in range(n_rows)) for c in range(width)])
    height = len(grid)
    width = len(grid[0]) if grid else 0

    fixed: set[tuple[int, int]] = set()
    if column_totals and row_totals:
        fixed.add((height - 1, width - 1))
    elif column_totals:
        fixed.update((height - 1, c) for c in range(width))
    elif row_totals:
        fixed.update((r, width - 1) for r in range(height))

    status: list[list[Status]] = [["shown"] * width for _ in range(height)]
    for r in range(height):
        for c in range(width):
            if (r, c) not in fixed and 0 < grid[r][c] < threshold:
                status[r][c] = "primary"

    lines: list[list[tuple[int, int]]] = []
    if row_totals:  # each row, its cells plus its row total
        lines += [[(r, c) for c in range(width)] for r in range(height)]
    if column_totals:
        lines += [[(r, c) for r in range(height)] for c in range(width)]

    changed = True
    while changed:
        changed = False
        for line in lines:
            hidden = [p for p in line if status[p[0]][p[1]] != "shown"]
            if len(hidden) != 1:
                continue
            candidates = [p for p in line if status[p[0]][p[1]] == "shown" and p not in fixed]
            if not candidates:
                continue  # nothing left to hide: the line is protected as far as it can be
            # Non-zero before zero (a hidden zero protects nothing), then the smallest value.
            r, c = min(candidates, key=lambda p: (grid[p[0]][p[1]] == 0, grid[p[0]][p[1]], p))
            status[r][c] = "secondary"
            changed = True
    return SuppressedGrid(grid, status)
