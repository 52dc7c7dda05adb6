"""`ehelse audit verify`: check every hash chain of the audit log.

Each server process writes its own chain (trail.py) into `audit_log`. For every chain, rows
must run seq 1, 2, 3, ... with no gap, each `previous` must be the hash of the row before,
and each row's stored hash must be the hash of its columns (record.digest). A row changed
in the database fails its own hash; a row removed leaves a gap (and the next row's
`previous` points at nothing); a row inserted either takes a seq that is not free (the
primary key refuses it), extends the sequence with a `previous` or hash that does not fit,
or renumbers rows whose hashes then fail. What this cannot see: the newest rows of a
chain removed together (no later row names them); `ehelse audit report` shows each
chain's last record time, so a chain ending early stands out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ehelse.audit import log
from ehelse.audit.record import digest, event_id
from ehelse.audit.trail import GENESIS


@dataclass(frozen=True, slots=True)
class Break:
    chain: str
    seq: int | None
    id: str
    problem: str

    def __str__(self) -> str:
        return f"chain {self.chain} seq {self.seq} (AuditEvent/{self.id}): {self.problem}"


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
    for chain in log.chains(repo):
        expected_seq, previous, n = 1, GENESIS, 0
        for row in log.chain_rows(repo, chain):
            n += 1
            seq, id = row["seq"], event_id(row)
            if seq != expected_seq:
                missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
                result.breaks.append(Break(chain, seq, id, f"record(s) {missing} missing before it"))
            elif row["previous"] != previous:
                result.breaks.append(Break(chain, seq, id, "previous hash does not match the record before"))
            if row["hash"] != digest(row):
                result.breaks.append(Break(chain, seq, id, "content does not match its hash (modified)"))
            expected_seq, previous = seq + 1, row["hash"]
        result.chains[chain] = n
    return result
