"""`ehelse client add|list|remove`: the OAuth clients (SMART apps, backend services)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ehelse.cli.common import DatabaseOption, console, fail, friendly_errors, open_repo, settings_for

app = typer.Typer(help="OAuth clients: SMART apps and backend services.", no_args_is_help=True)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="A name people recognise (shown on the consent page)."),
    redirect_uri: List[str] = typer.Option([], "--redirect-uri", help="Where codes go back to (repeat for more)."),
    scope: str = typer.Option("openid fhirUser launch launch/patient offline_access patient/*.rs",
                              "--scope", help="The scopes the client may ask for."),
    confidential: bool = typer.Option(False, "--confidential", help="A client secret (client_secret_basic/post)."),
    jwks: Optional[Path] = typer.Option(None, "--jwks", help="A JWK Set file with the client's public keys (private_key_jwt)."),
    jwks_uri: Optional[str] = typer.Option(None, "--jwks-uri", help="URL of the client's JWK Set (private_key_jwt)."),
    client_id: Optional[str] = typer.Option(None, "--client-id", help="Choose the client_id (default: random)."),
    database: Optional[str] = DatabaseOption,
) -> None:
    """Register a client. Public unless --confidential, --jwks or --jwks-uri; a confidential
    client's secret is printed once and stored only as a hash."""
    from ehelse.oauth import clients
    from ehelse.oauth.errors import OAuthError
    from ehelse.oauth.store import store_for

    method = "private_key_jwt" if (jwks or jwks_uri) else "client_secret_basic" if confidential else "none"
    key_set = None
    if jwks:
        try:
            key_set = json.loads(jwks.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"cannot read {jwks}: {exc}")
    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        try:
            client, secret = clients.register(store_for(repo), name=name, redirect_uris=list(redirect_uri), scope=scope,
                                              auth_method=method, jwks=key_set, jwks_uri=jwks_uri or "",
                                              client_id=client_id)
        except OAuthError as exc:
            fail(exc.description)
    typer.echo(f"client_id: {client.client_id}")
    if secret:
        typer.echo(f"client_secret: {secret}")
        console.print("[yellow]The secret is shown only now; store it safely.[/yellow]")


@app.command("list")
def list_(database: Optional[str] = DatabaseOption) -> None:
    """List the registered clients."""
    from ehelse.oauth.store import store_for

    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        rows = store_for(repo).list("client")
    table = Table(title="OAuth clients")
    for column in ("client_id", "name", "kind", "redirect URIs", "scopes"):
        table.add_column(column)
    for client_id, data in rows:
        table.add_row(client_id, data.get("client_name", ""), data.get("auth_method", ""),
                      "\n".join(data.get("redirect_uris") or []) or (data.get("jwks_uri") or ""), data.get("scope", ""))
    Console(width=200).print(table)  # stdout: the list is the command's output


@app.command("remove")
def remove(client_id: str = typer.Argument(..., help="The client_id."),
           database: Optional[str] = DatabaseOption) -> None:
    """Remove a client: it can no longer get tokens (tokens it has run out within their lifetime)."""
    from ehelse.oauth.store import store_for

    settings = settings_for(database)
    with open_repo(settings) as repo, friendly_errors():
        if not store_for(repo).delete("client", client_id):
            fail(f"no client {client_id!r}")
    console.print(f"removed client {client_id}")
