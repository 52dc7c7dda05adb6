"""Schema migrations: numbered SQL files per backend, applied in order by `upgrade()`.

Each backend has a folder here (`sqlite/`, `postgres/`) of files named `NNNN_what.sql`.
The applied ones are rows in the `schema_version` table; `upgrade()` applies the missing
ones, each in its own database transaction together with its `schema_version` row, so a
crash leaves the schema at a whole version. Files are never edited once released: a change
is a new file (the search issue adds its index tables that way).

Statements in a file are separated by a semicolon at the end of a line; keep them free of
procedural bodies (no `$$ ... ;` blocks) so this simple split stays right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

SCHEMA_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
)

_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file's statements, comments dropped, split on `;` at line ends."""
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
        return [p.strip() for p in parts if p.strip()]


def migrations(backend: str) -> list[Migration]:
    """All migrations of a backend ('sqlite' or 'postgres'), oldest first."""
    found = []
    for entry in resources.files(__package__).joinpath(backend).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations are not numbered 1..n: {versions}")
    return found


def latest(backend: str) -> int:
    return len(migrations(backend))
