"""Actor: who is calling, as the token says. The trust issue adds citizens, representatives,
personnel and the policy; the server core knows admin and system clients."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # admin | patient | practitioner | system
    subject: str  # admin name, FNR (pid), HPR number or client id
    scopes: tuple[str, ...] = ()
    patient: str | None = None  # SMART patient context: whom a citizen acts for
    organization: str | None = None  # orgnr of personnel
    purpose: str | None = None  # TREAT | ETREAT | COC | BTG
    reason: str | None = None
    token_id: str | None = None  # jti
    claims: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"


SYSTEM = Actor(kind="admin", subject="system")
