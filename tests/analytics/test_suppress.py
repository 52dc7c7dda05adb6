"""Small-cell suppression: cases where naive (primary only) suppression leaks, and a check by
enumeration that no hidden small cell can be pinned down from the published table."""

from __future__ import annotations

from ehelse.analytics.suppress import Table, crosstab, suppress


def naive_leaks(counts, threshold=3):
    """Cells a reader recovers from a row or column total when only small cells are hidden."""
    leaked = []
    for r, row in enumerate(counts):
        small = [c for c, v in enumerate(row) if 0 < v < threshold]
        if len(small) == 1:
            leaked.append((r, small[0]))
    return leaked


def recoverable(published, counts):
    """Hidden cells whose value is the only one consistent with every shown total: every
    solution of the published table is enumerated (backtracking with the shown row and column
    totals as bounds; the test tables are small)."""
    cells = published["cells"]
    n_rows, n_cols = len(cells), len(cells[0])
    row_t, col_t = published["row_totals"], published["column_totals"]
    hidden = [(r, c) for r in range(n_rows) for c in range(n_cols) if cells[r][c] is None]
    grand = sum(map(sum, counts))
    grid = [[v if v is not None else 0 for v in row] for row in cells]
    seen: list[set[int]] = [set() for _ in hidden]
    last_in_row = [all(h[0] != r or h[1] <= c for h in hidden) for r, c in hidden]

    def room(total, used):
        return grand if total is None else total - used

    def fits(final: bool) -> bool:
        for r in range(n_rows):
            if row_t[r] is not None and (sum(grid[r]) > row_t[r] or (final and sum(grid[r]) != row_t[r])):
                return False
        for c in range(n_cols):
            column = sum(grid[r][c] for r in range(n_rows))
            if col_t[c] is not None and (column > col_t[c] or (final and column != col_t[c])):
                return False
        return True

    def search(i: int) -> None:
        if i == len(hidden):
            if fits(True):
                for j, (r, c) in enumerate(hidden):
                    seen[j].add(grid[r][c])
            return
        r, c = hidden[i]
        limit = min(room(row_t[r], sum(grid[r])), room(col_t[c], sum(grid[k][c] for k in range(n_rows))))
        values = range(limit + 1)
        if row_t[r] is not None and last_in_row[i]:  # the row's total fixes its last hidden cell
            values = [row_t[r] - sum(grid[r])] if row_t[r] - sum(grid[r]) >= 0 else []
        for value in values:
            grid[r][c] = value
            if fits(False):
                search(i + 1)
        grid[r][c] = 0

    search(0)
    return [cell for cell, values in zip(hidden, seen) if len(values) == 1]


def test_a_row_with_one_small_cell_and_a_shown_total_leaks_naively_but_not_here():
    counts = [[1, 10, 12], [8, 9, 15], [20, 30, 40]]
    assert naive_leaks(counts) == [(0, 0)]  # 23 - 10 - 12 = 1
    published = suppress(Table(["a", "b", "c"], ["x", "y", "z"], counts), 3).published()
    assert published["cells"][0][0] is None
    assert published["row_totals"][0] == 23  # the total is still shown ...
    assert recoverable(published, counts) == []  # ... and no hidden cell can be recovered


def test_secondary_suppression_in_a_row_forces_one_in_the_column():
    counts = [[2, 7, 9], [6, 5, 8], [4, 11, 3]]
    table = suppress(Table(["r1", "r2", "r3"], ["k1", "k2", "k3"], counts), 3)
    published = table.published()
    assert table.primary == {(0, 0)}
    for line in ([(0, c) for c in range(3)], [(r, 0) for r in range(3)]):
        hidden = [cell for cell in line if cell in table.hidden]
        assert len(hidden) != 1  # never exactly one hidden cell in a line with a shown total
    assert recoverable(published, counts) == []


def test_two_small_cells_in_a_row_whose_sum_is_small_get_a_third():
    counts = [[1, 1, 20, 30], [10, 12, 14, 16]]
    table = suppress(Table(["a", "b"], ["w", "x", "y", "z"], counts), 3)
    hidden_in_row = [c for c in range(4) if (0, c) in table.hidden]
    assert sum(counts[0][c] for c in hidden_in_row) >= 3  # 1 + 1 = 2 would give the pair away
    assert recoverable(table.published(), counts) == []


def test_small_totals_are_hidden_and_threshold_is_configurable():
    counts = [[1, 1], [10, 12]]
    published = suppress(Table(["a", "b"], ["x", "y"], counts), 3).published()
    assert published["row_totals"][0] is None  # 2 people in row a
    strict = suppress(Table(["a", "b"], ["x", "y"], [[4, 9], [10, 12]]), 5).published()
    assert strict["cells"][0][0] is None and strict["threshold"] == 5


def test_zero_cells_are_shown_and_big_cells_untouched():
    published = suppress(Table(["a", "b"], ["x", "y"], [[0, 10], [10, 12]]), 3).published()
    assert published["cells"] == [[0, 10], [10, 12]]
    assert published["total"] == 32


def test_crosstab_counts_records():
    records = [{"kommune": "0301", "sex": "f"}] * 4 + [{"kommune": "0301", "sex": "m"}] + \
              [{"kommune": "4202", "sex": "f"}] * 5 + [{"kommune": "4202", "sex": "m"}] * 6
    table = crosstab(records, "kommune", "sex")
    assert table.rows == ["0301", "4202"] and table.columns == ["f", "m"]
    assert table.counts == [[4, 1], [5, 6]]
    published = suppress(table, 3).published()
    assert published["cells"][0][1] is None
    assert recoverable(published, table.counts) == []


def test_the_recovery_check_finds_the_naive_leak():
    """The checker itself: primary suppression alone is caught leaking."""
    counts = [[1, 10, 12], [8, 9, 15], [20, 30, 40]]
    naive = {"cells": [[None, 10, 12], [8, 9, 15], [20, 30, 40]], "row_totals": [23, 32, 90],
             "column_totals": [29, 49, 67]}
    assert recoverable(naive, counts) == [(0, 0)]
