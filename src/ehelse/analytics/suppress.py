"""Small-cell suppression for aggregate tables, with secondary suppression.

DOMAIN.md "Health statistics": counts below the threshold (3, the SSB and helsedata.no norm;
setting `small_cell_threshold`) are hidden, and so many other cells that no hidden cell can
be recovered from the row and column totals that are shown.

Rules, applied until nothing changes (a fixed point):
1. primary: a cell with 0 < count < threshold is hidden;
2. a line (row or column) whose total is shown must not have exactly one hidden cell (else
   total minus the shown cells gives it): hide the smallest shown cell of that line,
   preferring cells > 0 (a hidden zero protects nothing when the total bounds it);
3. the hidden cells of such a line must together count at least the threshold (else their
   sum, total minus shown, is itself a small number): hide the next smallest;
4. a total that is itself small (0 < total < threshold) is hidden, and so is the grand total.
Totals are computed from the unsuppressed counts and shown only where rule 4 allows.
Limit: this is the classical line-by-line heuristic; it does not solve the linear program
an attacker could set up over many lines at once (tests check that no hidden primary cell
has a single feasible value on the test tables by enumeration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

SUPPRESSED = None  # what a hidden cell or total shows as


@dataclass(slots=True)
class Table:
    rows: list[Hashable]
    columns: list[Hashable]
    counts: list[list[int]]  # counts[r][c]
    hidden: set[tuple[int, int]] = field(default_factory=set)
    primary: set[tuple[int, int]] = field(default_factory=set)
    threshold: int = 3

    @property
    def row_totals(self) -> list[int]:
        return [sum(row) for row in self.counts]

    @property
    def column_totals(self) -> list[int]:
        return [sum(self.counts[r][c] for r in range(len(self.rows))) for c in range(len(self.columns))]

    def total_shown(self, total: int) -> bool:
        return not (0 < total < self.threshold)

    def cell(self, r: int, c: int) -> int | None:
        return SUPPRESSED if (r, c) in self.hidden else self.counts[r][c]

    def published(self) -> dict[str, Any]:
        """What may be shown: cells, row/column totals and the grand total (None = hidden)."""
        rt, ct = self.row_totals, self.column_totals
        grand = sum(rt)
        return {
            "rows": list(self.rows), "columns": list(self.columns),
            "cells": [[self.cell(r, c) for c in range(len(self.columns))] for r in range(len(self.rows))],
            "row_totals": [t if self.total_shown(t) else SUPPRESSED for t in rt],
            "column_totals": [t if self.total_shown(t) else SUPPRESSED for t in ct],
            "total": grand if self.total_shown(grand) else SUPPRESSED,
            "threshold": self.threshold,
            "suppressed_cells": len(self.hidden), "primary": len(self.primary),
        }


def crosstab(records: Iterable[dict[str, Any]], row_key: str, column_key: str) -> Table:
    """Count records by (row value, column value) into a Table."""
    counts: dict[tuple[Any, Any], int] = {}
    for record in records:
        key = (record.get(row_key), record.get(column_key))
        counts[key] = counts.get(key, 0) + 1
    rows = sorted({k[0] for k in counts}, key=lambda v: (v is None, str(v)))
    columns = sorted({k[1] for k in counts}, key=lambda v: (v is None, str(v)))
    return Table(rows, columns, [[counts.get((r, c), 0) for c in columns] for r in rows])


def suppress(table: Table, threshold: int | None = None) -> Table:
    """Hide small cells and their complements in place; returns the table."""
    if threshold is None:
        from ehelse.settings import get_settings

        threshold = get_settings().small_cell_threshold
    table.threshold = threshold
    n_rows, n_cols = len(table.rows), len(table.columns)
    table.primary = {(r, c) for r in range(n_rows) for c in range(n_cols) if 0 < table.counts[r][c] < threshold}
    table.hidden = set(table.primary)
    lines = [[(r, c) for c in range(n_cols)] for r in range(n_rows)]
    lines += [[(r, c) for r in range(n_rows)] for c in range(n_cols)]
    totals = table.row_totals + table.column_totals
    changed = True
    while changed:
        changed = False
        for line, total in zip(lines, totals):
            if not table.total_shown(total) and len(line) > 1:
                continue  # the total is hidden; this line gives nothing away by itself
            hidden = [cell for cell in line if cell in table.hidden]
            if not hidden:
                continue
            hidden_sum = sum(table.counts[r][c] for r, c in hidden)
            if len(hidden) >= 2 and hidden_sum >= threshold:
                continue
            candidates = [cell for cell in line if cell not in table.hidden]
            if not candidates:
                continue  # every cell is hidden: only the total is shown, which is safe
            candidates.sort(key=lambda rc: (table.counts[rc[0]][rc[1]] == 0, table.counts[rc[0]][rc[1]]))
            table.hidden.add(candidates[0])
            changed = True
    return table
