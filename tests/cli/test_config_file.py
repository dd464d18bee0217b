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
from oauthkit.stores import Encryption, SQLiteStore

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


def test_a_store_encrypted_at_rest_for_the_command_and_programs(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """store_keys_env: a token saved in clear before is encrypted by ``oauthkit store
    rekey``, then read by the fast path, the full command and Session.from_config; the keys
    missing, or lacking the one that sealed it, is one line and exit 1."""
    from oauthkit.cli.fast import fresh_token

    session = Session.from_config("sandbox")
    token = session.client.client_credentials()
    session.save(token)  # in clear, as before store_keys_env
    config.write_text('store_keys_env = "OAUTHKIT_STORE_KEYS"\n' + config.read_text())
    cli = make_cli(tmp_path)
    cli.env.update(OAUTHKIT_CONFIG=str(config))
    unset = cli.run("token", "sandbox")
    assert unset.returncode == 1
    assert unset.stderr.strip().splitlines() == [
        "oauthkit: $OAUTHKIT_STORE_KEYS is not set: it holds the token store's keys, "
        "kid:key[,kid:key…] (make one with  oauthkit store keygen KID)"
    ]
    key = cli.run("store", "keygen", "k1").stdout.strip()
    assert Encryption.parse(key).key_ids == ("k1",)
    cli.env["OAUTHKIT_STORE_KEYS"] = key
    rekeyed = cli.run("store", "rekey")
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert "1 entry of" in rekeyed.stderr and "now under key k1" in rekeyed.stderr
    files = [tmp_path / "t.sqlite3", tmp_path / "t.sqlite3-wal"]
    assert token.access_token.encode() not in b"".join(f.read_bytes() for f in files if f.exists())
    printed = cli.run("token", "sandbox")
    assert (printed.returncode, printed.stdout.strip()) == (0, token.access_token)
    monkeypatch.setenv("OAUTHKIT_STORE_KEYS", key)
    assert fresh_token("sandbox") == token.access_token  # the fast path opens it itself
    assert Session.from_config("sandbox").token().access_token == token.access_token
    cli.env["OAUTHKIT_STORE_KEYS"] = Encryption.generate("k2")  # k1 dropped too early
    lacking = cli.run("token", "sandbox")
    assert lacking.returncode == 1
    [line] = lacking.stderr.strip().splitlines()
    assert "'sandbox' is encrypted with the key id 'k1'" in line and "aes-256-gcm" not in line
