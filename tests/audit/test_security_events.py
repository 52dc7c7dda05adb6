"""Logins and token issuance are audit-log rows on the hash chain (audit/security.py)."""

from __future__ import annotations

from ehelse.audit import log
from ehelse.audit.record import render
from ehelse.audit.security import record_security
from ehelse.audit.verify import verify
from ehelse.storage import open_repository


def test_login_and_token_rows_are_chained_and_render(tmp_path):
    repo = open_repository(f"sqlite:///{tmp_path / 's.sqlite'}")
    repo.upgrade()
    record_security(repo, interaction="login", actor_kind="practitioner", actor_id="995651119", ok=False,
                    organization="979513763", purpose="BTG", detail="reason_needed")
    record_security(repo, interaction="token", actor_kind="client", actor_id="app", client="app",
                    detail="authorization_code: scope openid")
    rows = log.select(repo, log.LogQuery(newest_first=False))
    assert [(r["interaction"], r["outcome"], r["actor_id"]) for r in rows] == [
        ("login", "4", "995651119"), ("token", "0", "app")]
    assert rows[0]["organization"] == "979513763" and rows[0]["purpose"] == "BTG" and rows[0]["patient"] == ""
    assert rows[1]["query"] == "client=app"
    assert render(rows[0])["outcome"] == "4"
    assert verify(repo).ok
    repo.close()
