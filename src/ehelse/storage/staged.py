"""Staged: a write taken in steps, so that a caller may run several writes in one database
transaction without running anything but the writes themselves inside it.

    staged = repo.stage_update(resource)   # now: checks, validation, index rows
    result = staged.apply()                # inside a write transaction: the writing itself
    answer = staged.finish(result)         # after the commit: what the caller gets

`run()` takes the steps one after the other (apply opens its own transaction then). The web
layer's write lane (web/writes.py) stages the writes waiting in a process, applies them in one
transaction (each in a savepoint of its own) and finishes them after its commit: on SQLite
that transaction holds the file's one write lock, and a commit costs a fixed part that one
write per transaction paid alone (docs/benchmarks.md, tenth session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


def _same(result: Any) -> Any:
    return result


@dataclass(slots=True)
class Staged(Generic[T]):
    apply: Callable[[], Any]  # inside a write transaction; may raise (nothing of it stays)
    finish: Callable[[Any], T] = _same  # after the commit, with what apply returned

    def then(self, step: Callable[[T], Any]) -> "Staged":
        """The same write, with `step` applied to what finish gives."""
        finish = self.finish
        return Staged(self.apply, lambda result: step(finish(result)))

    def run(self) -> T:
        return self.finish(self.apply())


def staged(repo: Any, interaction: str, *args: Any, **kwargs: Any) -> Staged:
    """`repo.stage_<interaction>(...)` where the repository stages (SecuredRepository), else
    its plain `<interaction>(...)` as the apply step of a Staged."""
    stage = getattr(repo, f"stage_{interaction}", None)
    if stage is not None:
        return stage(*args, **kwargs)
    write = getattr(repo, interaction)
    return Staged(lambda: write(*args, **kwargs))
