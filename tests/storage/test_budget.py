"""storage/budget.py with SQLite's reader: a read past its budget is stopped and said so; the
connection goes back to the pool without the budget; reads outside a budget are untouched."""

from __future__ import annotations

import pytest

from ehelse.storage.budget import ReadBudgetExceeded, current_budget, read_budget
from ehelse.storage.sqlite import repository as sqlite_module
from ehelse.storage.sqlite.repository import SqliteRepository

# A read of a few hundred thousand virtual-machine steps: counting to 100,000.
COUNT = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT count(*) FROM n"


@pytest.fixture
def repo(tmp_path):
    repo = SqliteRepository(f"sqlite:///{tmp_path / 'budget.sqlite'}")
    yield repo
    repo.close()


def _count(repo) -> int:
    with repo._read_conn() as conn:
        return conn.execute(COUNT).fetchone()[0]


def test_a_read_within_its_budget_answers(repo):
    with read_budget(60.0) as budget:
        assert _count(repo) == 100_000
    assert not budget.exceeded


def test_a_read_past_its_budget_is_stopped_and_the_connection_is_clean_after(repo):
    with read_budget(-1.0) as budget:  # spent before it starts
        with pytest.raises(ReadBudgetExceeded):
            _count(repo)
    assert budget.exceeded
    assert current_budget() is None
    # The same pooled connection, now without a budget: the whole count runs.
    assert _count(repo) == 100_000


def test_a_spent_budget_stops_the_next_statement_however_short(repo):
    """SQLite counts steps per statement, so a run of short statements might never reach a
    progress check: the repository checks the budget before each statement too."""
    with read_budget(-1.0) as budget:
        with pytest.raises(ReadBudgetExceeded):
            with repo._read_conn() as conn:
                repo._exec(conn, "SELECT 1")
    assert budget.exceeded
    with read_budget(60.0):
        with repo._read_conn() as conn:
            assert repo._exec(conn, "SELECT 1").fetchone() == (1,)


def test_no_write_within_a_budget(repo):
    """A write would wait for the write lock (another process may hold it for seconds): not
    within a budget; the caller runs it in a worker thread instead."""
    with read_budget(60.0):
        with pytest.raises(ReadBudgetExceeded):
            repo.create({"resourceType": "Patient"})
    assert repo.create({"resourceType": "Patient"}).id  # outside a budget, as always


def test_a_lock_held_elsewhere_is_waited_for_only_within_the_budget():
    import threading

    from ehelse.storage.budget import acquire

    lock = threading.Lock()
    lock.acquire()
    with read_budget(0.01) as budget:
        with pytest.raises(ReadBudgetExceeded):
            acquire(lock)
    assert budget.exceeded
    lock.release()
    with read_budget(0.01):
        acquire(lock)  # free: taken at once
    lock.release()


def test_budgets_nest_and_the_outer_one_comes_back(repo):
    with read_budget(60.0) as outer:
        with read_budget(-1.0) as inner:
            assert current_budget() is inner
        assert current_budget() is outer
        assert _count(repo) == 100_000


def test_a_check_at_every_step_stops_nothing_within_the_budget(repo, monkeypatch):
    """Checked at every step (the most often SQLite can call back): the check alone never
    stops a read whose budget is not spent."""
    monkeypatch.setattr(sqlite_module, "STEPS_PER_CHECK", 1)
    with read_budget(60.0) as budget:
        assert _count(repo) == 100_000
    assert not budget.exceeded


def test_budget_exceeded_is_not_an_exception_that_except_exception_catches():
    """Control flow for the caller that set the budget: no `except Exception` on the way
    (the router's 500) may turn it into an answer."""
    assert not issubclass(ReadBudgetExceeded, Exception)
    assert issubclass(ReadBudgetExceeded, BaseException)
