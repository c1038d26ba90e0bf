"""Small-cell suppression with secondary suppression."""

from returnstats.bulletin.suppression import suppress


def _lines(grid):
    rows = [[(r, c) for c in range(len(grid.values[0]))] for r in range(len(grid.values))]
    cols = [[(r, c) for r in range(len(grid.values))] for c in range(len(grid.values[0]))]
    return rows + cols


def test_small_cell_is_shown_below_threshold_and_cannot_be_recovered_from_totals():
    cells = [[3, 40, 50], [60, 70, 80], [90, 100, 110]]
    grid = suppress(cells, 5, row_totals=True, column_totals=True)
    assert grid.status[0][0] == "primary"
    assert grid.display(0, 0, 5) == "<5"
    # Every row and column (with its total) hides none or at least two cells.
    for line in _lines(grid):
        hidden = sum(grid.status[r][c] != "shown" for r, c in line)
        assert hidden != 1
    # The complements are the smallest cells of the lines: 40 in row 0, 60 in column 0.
    assert grid.status[0][1] == "secondary" and grid.display(0, 1, 5) == "x"
    assert grid.status[1][0] == "secondary"
    assert grid.status[3][3] == "shown"  # the grand total is published


def test_suppressed_cell_value_is_not_unique_given_shown_totals():
    grid = suppress([[3, 40], [60, 70]], 5, row_totals=True, column_totals=True)
    assert all(grid.status[r][c] != "shown" for r in range(2) for c in range(2))
    row0, row1, col0 = grid.values[0][2], grid.values[1][2], grid.values[2][0]
    # Every value v of the small cell that leaves the other hidden cells non-negative
    # fits the published totals: the reader cannot tell which one it is.
    fits = [v for v in range(1, 5) if row0 - v >= 0 and col0 - v >= 0 and row1 - (col0 - v) >= 0]
    assert len(fits) > 1


def test_column_with_one_small_cell_gets_a_complement_and_total_row_stays():
    grid = suppress([[3], [3000], [5000]], 5, column_totals=True)
    assert [grid.status[r][0] for r in range(4)] == ["primary", "secondary", "shown", "shown"]


def test_zero_and_large_cells_are_not_suppressed():
    grid = suppress([[0, 5], [7, 100]], 5)
    assert all(s == "shown" for row in grid.status for s in row)
