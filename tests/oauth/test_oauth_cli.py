"""`ehelse client add|list|remove` and `ehelse keys rotate|list`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ehelse.access.tokens import TokenService
from ehelse.cli.main import app
from ehelse.oauth import clients
from ehelse.oauth.store import digest, store_for
from ehelse.settings import Settings
from ehelse.storage import open_repository

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def test_client_add_public_list_remove(url):
    r = invoke("client", "add", "Min app", "--redirect-uri", "https://app.example.no/cb", "--client-id", "minapp",
               "--database", url)
    assert r.exit_code == 0, r.output
    assert "client_id: minapp" in r.stdout and "client_secret" not in r.stdout
    listed = invoke("client", "list", "--database", url)
    assert "minapp" in listed.stdout and "Min app" in listed.stdout and "none" in listed.stdout
    assert invoke("client", "remove", "minapp", "--database", url).exit_code == 0
    assert "minapp" not in invoke("client", "list", "--database", url).stdout
    assert invoke("client", "remove", "minapp", "--database", url).exit_code == 1


def test_confidential_client_secret_shown_once_stored_hashed(url):
    r = invoke("client", "add", "EPJ", "--confidential", "--redirect-uri", "https://ehr.example.no/cb",
               "--client-id", "epj", "--scope", "openid user/*.cruds", "--database", url)
    assert r.exit_code == 0, r.output
    secret = r.stdout.split("client_secret: ")[1].split()[0]
    repo = open_repository(url)
    try:
        client = clients.get(store_for(repo), "epj")
        assert client.secret_hash == digest(secret) and secret not in json.dumps(client.to_record())
        assert client.scope == "openid user/*.cruds"
    finally:
        repo.close()


def test_backend_client_with_jwks_file(url, tmp_path):
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-384")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    r = invoke("client", "add", "Eksport", "--jwks", str(path), "--scope", "system/*.rs", "--database", url)
    assert r.exit_code == 0, r.output
    assert "private_key_jwt" in invoke("client", "list", "--database", url).stdout


def test_bad_client_input_is_a_message(url):
    r = invoke("client", "add", "x", "--redirect-uri", "http://evil.example/cb", "--database", url)
    assert r.exit_code == 1 and "loopback" in r.output
    r = invoke("client", "add", "x", "--redirect-uri", "https://a.example/cb", "--scope", "patient/*.fly",
               "--database", url)
    assert r.exit_code == 1


def test_keys_rotate(url):
    settings = Settings.from_env({}, database_url=url)
    repo = open_repository(url)
    try:
        tokens = TokenService(settings, repo)
        old_token = tokens.issue("admin")
        old_kid = tokens.signing_key().kid
        r = invoke("keys", "rotate", "--database", url)
        assert r.exit_code == 0, r.output
        new_kid = r.stdout.strip()
        assert new_kid != old_kid
        assert invoke("keys", "list", "--database", url).stdout.split() == [new_kid, old_kid]
        fresh = TokenService(settings, repo)  # a process started after the rotation
        assert fresh.signing_key().kid == new_kid
        assert fresh.verify(old_token).subject == "admin"  # the old key still verifies
        assert {k["kid"] for k in fresh.public_jwks()["keys"]} == {old_kid, new_kid}
    finally:
        repo.close()
