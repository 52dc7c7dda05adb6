"""AuditTrail: append AuditEvents durably, as a tamper-evident hash chain per process.

Each record carries, in the `audit-chain` extension, the chain id (one per AuditTrail, so
one per server process), its sequence number in the chain, the previous record's hash and
its own: SHA-256 over the canonical JSON of the AuditEvent without `meta` and without the
hash itself. Changing a stored record breaks its hash; removing one leaves a gap in the
sequence and a `previous` that points nowhere (verify.py reports both).

Durability before data (the issue: "no patient data leaves the server before its audit
record is durable"): `record()` returns only after the records are committed. Concurrent
requests share commits (group commit): whoever takes the write lock writes every record
queued so far in one transaction, and the others find theirs done. Inside a write
transaction (`transaction()`), records join that transaction, so the write and its audit
commit together or not at all.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from ehelse.nobasis.seed.vocabulary import EHELSE_CS

CHAIN_URL = EHELSE_CS + "audit-chain"
GENESIS = "0" * 64


def canonical_hash(event: dict[str, Any]) -> str:
    """The hash a record must carry: over the event without meta and without `hash`."""
    body = {k: v for k, v in event.items() if k != "meta"}
    extensions = []
    for ext in body.get("extension") or []:
        if ext.get("url") == CHAIN_URL:
            ext = {**ext, "extension": [e for e in ext.get("extension") or [] if e.get("url") != "hash"]}
        extensions.append(ext)
    body["extension"] = extensions
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def chain_link(event: dict[str, Any]) -> dict[str, Any] | None:
    """{chain, seq, previous, hash} of a stored record, or None when it has no link."""
    for ext in event.get("extension") or []:
        if ext.get("url") == CHAIN_URL:
            values = {e.get("url"): next((v for k, v in e.items() if k.startswith("value")), None)
                      for e in ext.get("extension") or []}
            return values
    return None


@dataclass
class _Pending:
    events: list[dict[str, Any]]
    done: bool = False
    error: BaseException | None = None


@dataclass
class AuditTrail:
    repo: Any
    chain_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int = 0
    previous: str = GENESIS
    commits: int = 0  # transactions written (to see group commit at work)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # chain order and write order
    _queue: list[_Pending] = field(default_factory=list)
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)
    _owner: int | None = None  # thread inside transaction()

    def record(self, events: list[dict[str, Any]]) -> None:
        """Append the events; returns once they are durable (or part of the caller's open
        transaction). Raises if they could not be written: the caller must not answer."""
        if not events:
            return
        if self._owner == threading.get_ident():
            self._append(events)  # inside transaction(): commits with the caller's writes
            return
        item = _Pending(events)
        with self._queue_lock:
            self._queue.append(item)
        with self._lock:
            if not item.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                seq, previous = self.seq, self.previous
                try:
                    with self.repo.transaction():
                        self._append([e for p in batch for e in p.events])
                    self.commits += 1
                except BaseException as exc:
                    self.seq, self.previous = seq, previous  # not committed: not in the chain
                    for p in batch:
                        p.error = exc
                    raise
                finally:
                    for p in batch:
                        p.done = True
        if item.error is not None:
            raise item.error

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that audit records join. The chain lock is taken before the
        database's write lock, as record() does, so the two never wait on each other."""
        if self._owner == threading.get_ident():
            yield
            return
        with self._lock:
            self._owner = threading.get_ident()
            seq, previous = self.seq, self.previous
            try:
                with self.repo.transaction():
                    yield
                self.commits += 1
            except BaseException:
                self.seq, self.previous = seq, previous  # rolled back: the chain never had them
                raise
            finally:
                self._owner = None

    def _append(self, events: list[dict[str, Any]]) -> None:
        seq, previous = self.seq, self.previous
        try:
            for event in events:
                self.seq += 1
                link = {"url": CHAIN_URL, "extension": [
                    {"url": "chain", "valueString": self.chain_id}, {"url": "seq", "valueInteger": self.seq},
                    {"url": "previous", "valueString": self.previous}]}
                event["id"] = f"{self.chain_id[:12]}-{self.seq}"
                event.setdefault("extension", []).append(link)
                digest = canonical_hash(event)
                link["extension"].append({"url": "hash", "valueString": digest})
                self.repo.create(event, id=event["id"])
                self.previous = digest
        except BaseException:
            self.seq, self.previous = seq, previous
            raise


_TRAILS: dict[int, tuple[Any, AuditTrail]] = {}
_TRAILS_LOCK = threading.Lock()


def trail_for(repo: Any) -> AuditTrail:
    """The process's trail for this repository (one chain per process and database)."""
    with _TRAILS_LOCK:
        found = _TRAILS.get(id(repo))
        if found is None or found[0] is not repo:
            found = (repo, AuditTrail(repo))
            _TRAILS[id(repo)] = found
        return found[1]
