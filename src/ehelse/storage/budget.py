"""A time budget for one thread's reads: what lets the event loop try a search itself.

On SQLite a search that the web layer runs on the event loop, instead of handing it to a
worker thread and back, costs the server 20-45 % less CPU (no two thread hand-overs and
their GIL wake-ups; docs/benchmarks.md, seventh session). But a search run on the loop that
turns out slow stalls every other request of that server process. So the loop runs it under
a budget: `with read_budget(seconds) as budget:` makes this thread's SQLite reads check the
clock every few thousand virtual-machine steps (sqlite3 `set_progress_handler`,
https://www.sqlite.org/c3ref/progress_handler.html) and abort once the budget is spent. The
caller then throws away what it made and runs the search in a worker thread as before.

`ReadBudgetExceeded` derives from BaseException on purpose, like GeneratorExit: it is
control flow for the caller that set the budget, and no `except Exception` on the way (the
router's "unexpected error" 500, a value set expansion that "cannot be done") may turn it
into an answer. The caller also checks `budget.exceeded` afterwards, so an abort that some
code did catch as a database error still never reaches the client.

Backends without a progress handler (PostgreSQL, memory) ignore budgets: the web layer runs
searches on the loop only on SQLite.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

# How often SQLite calls back: every this many virtual-machine instructions (a few to a
# few tens of microseconds of work). The call is a clock read, so this costs ~1 %.
STEPS_PER_CHECK = 1000

# Thread ident -> its innermost budget. A dict, not a threading.local: every SQLite statement
# asks (check_budget), and while no thread has a budget the answer is one global's truth
# value (~30 ns against ~300 for a threading.local look-up).
_budgets: dict[int, "ReadBudget"] = {}


class ReadBudgetExceeded(BaseException):
    """This thread's reads ran past the budget of the enclosing `read_budget` block."""


class ReadBudget:
    __slots__ = ("deadline", "exceeded")

    def __init__(self, seconds: float):
        self.deadline = time.perf_counter() + seconds
        self.exceeded = False

    def check(self) -> int:
        """SQLite's progress handler: non-zero aborts the statement (SQLITE_INTERRUPT)."""
        if time.perf_counter() > self.deadline:
            self.exceeded = True
            return 1
        return 0


@contextmanager
def read_budget(seconds: float) -> Iterator[ReadBudget]:
    """This thread's reads within the block may take `seconds` of wall time in all."""
    budget = ReadBudget(seconds)
    me = threading.get_ident()
    before = _budgets.get(me)
    _budgets[me] = budget
    try:
        yield budget
    finally:
        if before is None:
            del _budgets[me]
        else:
            _budgets[me] = before


def current_budget() -> ReadBudget | None:
    """The budget of this thread's innermost `read_budget` block, if any."""
    return _budgets.get(threading.get_ident()) if _budgets else None


def check_budget() -> None:
    """Raise ReadBudgetExceeded when this thread's budget is spent. Called before each SQLite
    statement: SQLite counts the steps between progress checks per statement, so a run of
    many short statements, or Python work between them, would not reach one."""
    if _budgets:
        budget = _budgets.get(threading.get_ident())
        if budget is not None and budget.check():
            raise ReadBudgetExceeded()


def refuse_wait() -> None:
    """Within a budget, what would wait for a lock or write is not tried: raise
    ReadBudgetExceeded, so the caller runs it in a worker thread. A write (an emergency
    grant made by a search, access/care.py) takes the audit chain's lock and the database's
    write lock, which another process may hold for seconds; the event loop must not wait
    for either."""
    if _budgets and threading.get_ident() in _budgets:
        raise ReadBudgetExceeded()


def acquire(lock: Any) -> None:
    """`lock.acquire()`, within a budget at most for what is left of it (then
    ReadBudgetExceeded): a lock another thread holds while it builds shared access facts
    (access/care.py) may be held for tens of milliseconds."""
    budget = current_budget()
    if budget is None:
        lock.acquire()
        return
    if not lock.acquire(timeout=max(0.0, budget.deadline - time.perf_counter())):
        budget.exceeded = True
        raise ReadBudgetExceeded()
