"""`ehelse audit verify`: check every hash chain of the audit trail.

Each server process writes its own chain (trail.py). For every chain, records must run
seq 1, 2, 3, ... with no gap, each `previous` must be the hash of the record before, and each
record's stored hash must be the hash of its content. A record changed in the database fails
its own hash; a record removed leaves a gap (and the next record's `previous` points at
nothing). Records with no chain link at all are reported too. What this cannot see: the
newest records of a chain removed together (no later record names them); `ehelse audit
report` shows each chain's last record time, so a chain ending early stands out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ehelse.audit.trail import GENESIS, canonical_hash, chain_link
from ehelse.fhir import jsoncodec


@dataclass(frozen=True, slots=True)
class Break:
    chain: str
    seq: int | None
    id: str
    problem: str

    def __str__(self) -> str:
        where = f"chain {self.chain[:12]} seq {self.seq}" if self.seq is not None else "no chain"
        return f"{where} (AuditEvent/{self.id}): {self.problem}"


@dataclass
class Verification:
    chains: dict[str, int] = field(default_factory=dict)  # chain id -> records
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def records(self) -> int:
        return sum(self.chains.values())


def verify(repo: Any) -> Verification:
    result = Verification()
    chains: dict[str, list[tuple[int, dict[str, Any], dict[str, Any]]]] = {}
    for version in repo.iter_current("AuditEvent"):
        event = jsoncodec.loads(version.content, max_depth=10_000)
        link = chain_link(event)
        if not link or not isinstance(link.get("seq"), int) or not link.get("chain"):
            result.breaks.append(Break("", None, version.id, "record is not part of any chain"))
            continue
        chains.setdefault(link["chain"], []).append((link["seq"], link, event))
    for chain, records in sorted(chains.items()):
        records.sort(key=lambda r: r[0])
        result.chains[chain] = len(records)
        expected_seq, previous = 1, GENESIS
        for seq, link, event in records:
            if seq != expected_seq:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
                result.breaks.append(Break(chain, seq, event["id"], f"record(s) {missing} missing before it"))
            elif link.get("previous") != previous:
                result.breaks.append(Break(chain, seq, event["id"], "previous hash does not match the record before"))
            actual = canonical_hash(event)
            if link.get("hash") != actual:
                result.breaks.append(Break(chain, seq, event["id"], "content does not match its hash (modified)"))
            expected_seq, previous = seq + 1, link.get("hash") or actual
    return result
