"""``profile = "fapi2"`` in the command's configuration: ``oauthkit login`` signs in at a
FAPI 2.0 server (https, PAR, PKCE, DPoP, ``private_key_jwt`` with a PEM key file) in a real
Chromium, and ``oauthkit request`` calls userinfo with the DPoP-bound token; a table that
breaks the profile is refused, naming the clause, before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from joserfc.jwk import RSAKey

from cli.conftest import ChromiumUser
from cli.harness import Cli
from oauth2.fapi_peer import CLIENT_KEY, start_fapi
from peers.oidc_provider import OIDCPeer


def _configure(cli: Cli, peer: OIDCPeer, tmp_path: Path, extra: str = "") -> None:
    key_file = tmp_path / "bank-key.pem"
    key_file.write_bytes(RSAKey.import_key(CLIENT_KEY).as_pem(private=True))
    key_file.chmod(0o600)
    cli.config(f"""
[providers.bank]
issuer = "{peer.issuer}"
client_id = "fapi-native"
private_key_file = "{key_file}"
dpop = true
profile = "fapi2"
scope = "openid profile"
api_base = "{peer.issuer}/"
{extra}""")
    assert peer.tls is not None
    cli.env["SSL_CERT_FILE"] = str(peer.tls.ca_cert)  # the command trusts the test CA


def test_login_at_a_fapi2_server_in_chromium(
    cli: Cli, chromium: ChromiumUser, start_oidc: Callable[..., OIDCPeer], tmp_path: Path
) -> None:
    peer = start_fapi(start_oidc)
    assert peer.tls is not None
    _configure(cli, peer, tmp_path)
    log = tmp_path / "browser.log"
    cli.env.update(
        {
            "BROWSER": chromium.browser_user,
            "BROWSER_LOG": str(log),
            "BROWSER_TRUST_SPKI": peer.tls.server_spki(),
        }
    )
    login = cli.run("login", "bank", "--timeout", "90", timeout=120)
    assert login.returncode == 0, login.stderr + (log.read_text() if log.exists() else "")
    assert "Signed in to bank as alice" in login.stderr
    assert ("POST", "/request") in peer.request_log  # pushed (RFC 9126)
    me = cli.run("request", "bank", "GET", peer.userinfo_endpoint)
    assert me.returncode == 0, me.stderr
    assert "alice" in me.stdout


def test_a_table_that_breaks_the_profile_is_refused(
    cli: Cli, start_oidc: Callable[..., OIDCPeer], tmp_path: Path
) -> None:
    peer = start_fapi(start_oidc)
    _configure(
        cli,
        peer,
        tmp_path,
        extra='client_secret = "a secret"\nauth_method = "client_secret_basic"\n',
    )
    login = cli.run("login", "bank", "--no-browser", timeout=60)
    assert login.returncode != 0
    assert "FAPI 2.0 §5.3.3.1 item 2" in login.stderr
    assert peer.request_log == []
