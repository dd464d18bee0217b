"""Which configuration file is read: ``$OAUTHKIT_CONFIG`` when set (by the command, its fast
``token`` path, ``Session.from_config`` and ``WebFlow.from_config`` alike), else the user's
config folder; and ``Session.from_config``, which shares the command's token with a
program."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.harness import make_cli
from oauthkit import Session, Token
from oauthkit.errors import ConfigurationError
from oauthkit.sandbox import Sandbox
from oauthkit.stores import SQLiteStore

CONFIG = """
store = "{store}"

[providers.sandbox]
issuer = "{issuer}"
client_id = "demo-service"
client_secret_env = "SANDBOX_SERVICE_SECRET"

[providers.old]
type = "oauth1"
consumer_key = "k"
consumer_secret = "s"
request_token_url = "http://127.0.0.1:1/rt"
authorize_url = "http://127.0.0.1:1/a"
access_token_url = "http://127.0.0.1:1/at"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sandbox = Sandbox().start()
    path = tmp_path / "elsewhere.toml"
    path.write_text(CONFIG.format(store=tmp_path / "t.sqlite3", issuer=sandbox.issuer))
    path.chmod(0o600)
    monkeypatch.setenv("OAUTHKIT_CONFIG", str(path))
    monkeypatch.setenv("SANDBOX_SERVICE_SECRET", str(sandbox.clients["demo-service"].client_secret))
    yield path
    sandbox.stop()


def test_the_command_reads_the_file_the_variable_names(config: Path, tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    cli.env["OAUTHKIT_CONFIG"] = str(config)
    listed = cli.run("providers")
    assert listed.returncode == 0, listed.stderr
    assert "sandbox" in listed.stdout
    cli.env["OAUTHKIT_CONFIG"] = str(tmp_path / "missing.toml")
    missing = cli.run("providers")
    assert missing.returncode != 0
    assert "missing.toml does not exist" in missing.stderr


def test_a_program_shares_the_commands_token(config: Path, tmp_path: Path) -> None:
    session = Session.from_config("sandbox")
    assert session.key == "sandbox"
    assert isinstance(session.store, SQLiteStore)
    token = session.client.client_credentials()
    session.save(token)
    cli = make_cli(tmp_path)
    cli.env.update(OAUTHKIT_CONFIG=str(config))
    printed = cli.run("token", "sandbox")  # the fast path: standard library only
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == token.access_token
    again = Session.from_config("sandbox", str(config), store=session.store)
    assert isinstance(again.token(), Token)
    assert again.token().access_token == token.access_token


def test_from_config_names_what_is_wrong(config: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no provider 'nope' .*configured: old, sandbox"):
        Session.from_config("nope")
    with pytest.raises(ConfigurationError, match=r"OAuth 1\.0a provider"):
        Session.from_config("old")
