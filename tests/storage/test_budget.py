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


def test_a_short_read_never_reaches_a_check(repo):
    """SQLite calls the check every STEPS_PER_CHECK steps: a read of fewer steps is not
    stopped, even with a spent budget (the caller's budget.exceeded stays False)."""
    with read_budget(-1.0) as budget:
        with repo._read_conn() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not budget.exceeded


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
