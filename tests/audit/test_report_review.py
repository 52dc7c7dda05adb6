"""The privacy officer's report: emergency grants get their own audit row (who, patient,
purpose, reason, expiry), logins are listed by outcome, and --until bounds the period."""

from __future__ import annotations

from typer.testing import CliRunner

from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.audit import log, report as reports
from ehelse.audit.security import record_security
from ehelse.audit.verify import verify
from ehelse.cli.main import app
from audit.test_trail import _world, repo  # noqa: F401  (the fixture)


def test_grant_row_logins_and_period(repo):  # noqa: F811
    emergency = Actor("practitioner", "995651119", ("user/*.cruds",), organization="979513763", purpose="BTG",
                      reason="Bevisstløs", token_id="t-grant")
    secured = SecuredRepository(repo, emergency, AccessPolicy())
    secured.read("Observation", "obs-anna")
    secured.read("Observation", "obs-anna")  # the same grant: no second grant row
    record_security(repo, interaction="login", actor_kind="practitioner", actor_id="995651119", ok=True,
                    organization="979513763")
    record_security(repo, interaction="login", actor_kind="patient", actor_id="13116900216", ok=False,
                    detail="unknown")
    result = reports.report(repo, "2000-01-01")
    assert len(result.grants) == 1
    grant = result.grants[0]
    assert (grant.who, grant.patient, grant.purpose, grant.reason) == ("995651119", "anna", "BTG", "Bevisstløs")
    assert grant.what > grant.when[:19]  # the expiry, after the grant
    assert len(result.emergency) == 2  # the accesses, beside the grant
    assert [(a.kind, a.denied) for a in result.logins] == [("practitioner", False), ("patient", True)]
    assert not any(a.action == "login" for a in result.without_care)  # a login touched no patient
    assert verify(repo).ok  # the grant row sits in the same hash chain
    assert reports.report(repo, "2000-01-01", "2000-12-31").grants == []
    today = result.grants[0].when[:10]
    assert len(reports.report(repo, today, today).grants) == 1  # until covers the whole day
    cli = CliRunner().invoke(app, ["audit", "report", "--since", "2000-01-01", "--database", repo.url])
    assert cli.exit_code == 0, cli.output
    assert "Emergency access grants: 1" in cli.output and "1 succeeded, 1 failed" in cli.output
    rows = log.select(repo, log.LogQuery(interactions=["operation"]))
    assert any(r["detail"].startswith(reports.GRANT_DETAIL) and r["relation"] == "emergency" for r in rows)
