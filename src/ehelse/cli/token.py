"""`ehelse token`: print a bearer token valid for this database (development and tests)."""

from __future__ import annotations

from typing import Optional

import typer

from ehelse.cli.common import DatabaseOption, friendly_errors, open_repo, settings_for


def token(
    actor: str = typer.Option(..., "--as", help="Who: admin, patient:<fnr> or practitioner:<hpr>."),
    for_patient: Optional[str] = typer.Option(None, "--for", help="Whom the token acts for (fnr): the SMART patient context."),
    organization: Optional[str] = typer.Option(None, "--org", help="Personnel's organisation number (orgnr)."),
    purpose: Optional[str] = typer.Option(None, "--purpose", help="Purpose of use: TREAT, ETREAT, COC or BTG."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Reason text (e.g. for emergency access)."),
    scope: Optional[str] = typer.Option(None, "--scope", help="SMART scopes, space separated (default by actor)."),
    audience: Optional[str] = typer.Option(None, "--audience", help="aud claim (default: EHELSE_TOKEN_AUDIENCE, <base>/fhir or 'ehelse')."),
    lifetime: Optional[int] = typer.Option(None, "--lifetime", help="Seconds the token is valid (default: EHELSE_TOKEN_LIFETIME)."),
    database: Optional[str] = DatabaseOption,
) -> None:
    """Print a signed bearer token (a JWT) for the given actor, valid for this database."""
    from ehelse.access.tokens import TokenService

    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        service = TokenService(settings, repo)
        typer.echo(service.issue(actor, for_patient=for_patient, organization=organization, purpose=purpose,
                                 reason=reason, scope=scope, audience=audience, lifetime=lifetime))
