"""`ehelse keys rotate|list`: the token signing keys kept in the database."""

from __future__ import annotations

from typing import Optional

import typer

from ehelse.cli.common import DatabaseOption, console, fail, friendly_errors, open_repo, settings_for

app = typer.Typer(help="Token signing keys.", no_args_is_help=True)


@app.command("rotate")
def rotate(database: Optional[str] = DatabaseOption) -> None:
    """Make a new signing key (new kid). New tokens are signed with it (every server process
    picks it up within a minute); older keys stay in the JWKS and keep verifying the tokens
    they signed until those expire."""
    from ehelse.access.tokens import new_signing_key

    settings = settings_for(database)
    if settings.key_file:
        fail("EHELSE_KEY_FILE is set: the signing key is that file; replace it to rotate")
    with open_repo(settings) as repo, friendly_errors():
        jwk = new_signing_key()
        repo.add_signing_key(jwk)
        count = len(repo.signing_keys())
    typer.echo(jwk["kid"])
    console.print(f"new signing key {jwk['kid']}; {count} key(s) in the JWKS")


@app.command("list")
def list_(database: Optional[str] = DatabaseOption) -> None:
    """List the key ids, newest (the signing one) first."""
    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        for jwk in repo.signing_keys():
            typer.echo(jwk["kid"])
