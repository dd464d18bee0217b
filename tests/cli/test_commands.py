"""The ``oauthkit`` command end to end against oidc-provider and the OAuth 1.0a peers, run as
a separate process with its own config and data folders. The "user" answers the consent pages
over plain HTTP here (tests/cli/test_browser.py does it in a real Chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Any

import httpx2
import pytest

from cli.harness import Cli, login_over_http, oidc_config, read_url
from peers.oauth1_common import OAuth1Peer
from peers.oidc_provider import OIDCPeer


def test_login_token_request_status_logout(cli: Cli, oidc_provider: OIDCPeer) -> None:
    cli.config(oidc_config(oidc_provider))
    done = login_over_http(cli, oidc_provider)
    assert done.returncode == 0, done.stderr
    assert "Signed in to work as alice" in done.stderr
    store = cli.home / "data" / "oauthkit" / "tokens.sqlite3"
    assert store.exists()
    assert store.stat().st_mode & 0o777 == 0o600

    token = cli.run("token", "work")
    assert token.returncode == 0, token.stderr
    access = token.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_\-.~+/=]{20,}", access)
    assert token.stderr == ""

    me = cli.run("request", "work", "GET", "me")  # relative to api_base
    assert me.returncode == 0, me.stderr
    assert '"sub": "alice"' in me.stdout.replace('":"', '": "')

    status = cli.run("status")
    assert status.returncode == 0
    assert "work" in status.stdout
    assert "alice" in status.stdout
    assert "yes" in status.stdout  # refreshable

    logout = cli.run("logout", "work", "--revoke")
    assert logout.returncode == 0, logout.stderr
    assert "Revoked" in logout.stderr
    again = cli.run("token", "work")
    assert again.returncode == 3
    assert "oauthkit login work" in again.stderr

    everything = [done, token, me, status, logout, again]
    for result in everything:
        visible = result.stderr + (result.stdout if result is not token else "")
        assert access not in visible, "an access token leaked into the output"


def test_token_fast_path_does_not_import_the_http_stack(cli: Cli, oidc_provider: OIDCPeer) -> None:
    cli.config(oidc_config(oidc_provider))
    assert login_over_http(cli, oidc_provider).returncode == 0
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from oauthkit.cli import main; code = main(['token', 'work']); "
            "print('httpx2' in sys.modules, 'click' in sys.modules, code, file=sys.stderr)",
        ],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.stderr.strip() == "False False 0"
    assert probe.stdout.strip()


def test_token_refreshes_when_due(cli: Cli, start_oidc: Any) -> None:
    peer = start_oidc(ttl={"AccessToken": 2})
    cli.config(oidc_config(peer))
    assert login_over_http(cli, peer).returncode == 0
    first = cli.run("token", "work").stdout.strip()
    time.sleep(2.5)
    second = cli.run("token", "work")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() != first
    with httpx2.Client() as http:
        response = http.get(
            peer.userinfo_endpoint, headers={"Authorization": f"Bearer {second.stdout.strip()}"}
        )
    assert response.status_code == 200


def test_devicelogin_over_http(cli: Cli, oidc_provider: OIDCPeer) -> None:
    cli.config(f"""
[providers.tv]
issuer = "{oidc_provider.issuer}"
client_id = "device"
client_secret_env = "TV_SECRET"
scope = "openid offline_access"
""")
    from peers.oidc_provider import DEVICE_SECRET

    cli.env["TV_SECRET"] = DEVICE_SECRET
    process = cli.start("login", "tv", "--device")
    assert process.stderr is not None
    code = None
    lines = []
    while code is None:
        line = process.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
        if "enter the code" in line:
            code = line.split()[-1]
    oidc_provider.approve_device(code)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Signed in to tv as alice" in err
    assert DEVICE_SECRET not in "".join(lines) + err + out


def test_oauth1_login_with_a_pin(cli: Cli, oauthlib_peer: OAuth1Peer) -> None:
    cli.config(f"""
[providers.legacy]
type = "oauth1"
request_token_url = "{oauthlib_peer.request_token_url}"
authorize_url = "{oauthlib_peer.authorize_url}"
access_token_url = "{oauthlib_peer.access_token_url}"
consumer_key = "{oauthlib_peer.consumer_key}"
consumer_secret_command = "printf %s {oauthlib_peer.consumer_secret}"
api_base = "{oauthlib_peer.base_url}/api/"
""")
    process = cli.start("login", "legacy", "--pin", "--no-browser")
    url, _ = read_url(process)
    pin = oauthlib_peer.approve(url)
    out, err = process.communicate(input=pin + "\n", timeout=30)
    assert process.returncode == 0, err
    assert "Signed in to legacy as alice" in err
    echo = cli.run("request", "legacy", "GET", "echo", "-H", "X-Test: 1")
    assert echo.returncode == 0, echo.stderr
    assert '"peer"' in echo.stdout
    status = cli.run("status", "legacy")
    assert "OAuth 1.0a" in status.stdout
    assert oauthlib_peer.consumer_secret not in out + err + echo.stdout + status.stdout


def test_oauth1_login_with_a_callback(cli: Cli, authlib_peer: OAuth1Peer) -> None:
    cli.config(f"""
[providers.legacy]
type = "oauth1"
request_token_url = "{authlib_peer.request_token_url}"
authorize_url = "{authlib_peer.authorize_url}"
access_token_url = "{authlib_peer.access_token_url}"
consumer_key = "{authlib_peer.consumer_key}"
consumer_secret = "{authlib_peer.consumer_secret}"
""")
    process = cli.start("login", "legacy", "--no-browser")
    url, _ = read_url(process)
    callback = authlib_peer.approve(url)
    with httpx2.Client() as http:
        assert http.get(callback).status_code == 200
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


@pytest.mark.parametrize(
    ("config", "args", "code", "message"),
    [
        ("", ["token", "nobody"], 2, "unknown provider 'nobody'"),
        ("", ["login", "nobody"], 2, "add [providers.nobody] to"),
        ("[providers.x]\nissuer = 'https://id.example'\n", ["login", "x"], 1, "has no client_id"),
        ("[providers.x]\nclient_id = 'c'\nissuer = \n", ["status"], 1, "malformed TOML"),
        (
            "[providers.x]\nclient_id = 'c'\nclent_secret = 's'\n",
            ["providers"],
            1,
            "config.toml:3: unknown key 'clent_secret' in [providers.x] (did you mean "
            "'client_secret'?)",
        ),
        (
            "[providers.x]\nclient_id='c'\nissuer='https://a'\nclient_secret_env='NOPE_X'\n",
            ["login", "x"],
            1,
            "$NOPE_X, which is not set",
        ),
        (
            "[providers.x]\nclient_id='c'\nissuer='https://a'\nclient_secret_env='EMPTY_X'\n",
            ["login", "x"],
            1,
            "$EMPTY_X, which is set but empty",
        ),
        ("", ["request", "x"], 2, "Missing argument"),
    ],
)
def test_error_paths_are_clear(
    cli: Cli, config: str, args: list[str], code: int, message: str
) -> None:
    cli.config(config)
    cli.env["EMPTY_X"] = ""
    result = cli.run(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_status_and_providers_on_an_empty_machine(cli: Cli) -> None:
    assert "Nothing stored" in cli.run("status").stderr
    listing = cli.run("providers")
    assert "No providers configured" in listing.stderr
    assert "github" in listing.stdout
    help_text = cli.run("--help")
    assert help_text.returncode == 0
    assert "Exit codes" in help_text.stdout


def test_demo_runs_both_walkthroughs_offline(cli: Cli) -> None:
    started = time.monotonic()
    demo = cli.run("demo", timeout=120)
    elapsed = time.monotonic() - started
    assert demo.returncode == 0, demo.stderr
    for step in (
        "Consumer credentials",
        "Request token",
        "User authorization",
        "Verifier exchange",
        "Signed request",
        "Client registration",
        "Authorization with PKCE",
        "Code exchange",
        "Authenticated request",
        "Refresh",
    ):
        assert step in demo.stdout
    store = cli.home / "data" / "oauthkit" / "tokens.sqlite3"
    assert str(store) in demo.stdout  # it says where the tokens went
    assert elapsed < 30
    status = cli.run("status")
    assert "demo:oauth1" in status.stdout
    assert "demo:oauth2" in status.stdout
    from oauthkit.stores import SQLiteStore

    stored = SQLiteStore(store).get("demo:oauth2")
    assert stored is not None
    assert stored.access_token not in demo.stdout + demo.stderr  # type: ignore[union-attr]
    assert stored.refresh_token not in demo.stdout + demo.stderr  # type: ignore[union-attr]


def test_sandbox_command_hides_secrets_unless_asked(cli: Cli) -> None:
    process = cli.start("sandbox", "--port", "0")
    assert process.stderr is not None
    lines = [process.stderr.readline() for _ in range(7)]
    process.terminate()
    process.communicate(timeout=10)
    text = "".join(lines)
    assert "oauthkit sandbox at http://127.0.0.1:" in text
    assert "demo-web" in text
    assert "secret:" not in text
    assert "secrets hidden" in text


def test_a_preset_provider_signs_in(cli: Cli, oidc_provider: OIDCPeer) -> None:
    cli.config(f"""
[providers.idp]
preset = "oidc"
issuer = "{oidc_provider.issuer}"
client_id = "public"
scope = "openid profile offline_access"
""")
    done = login_over_http(cli, oidc_provider, "idp")
    assert done.returncode == 0, done.stderr
    assert "Signed in to idp as alice" in done.stderr
    assert cli.run("token", "idp").returncode == 0


def test_preset_options_are_keys_of_the_table(cli: Cli) -> None:
    cli.config(
        '[providers.ms]\npreset = "microsoft"\nclient_id = "c"\ntenant = "contoso.example"\n'
    )
    assert cli.run("providers").returncode == 0
    cli.config('[providers.ms]\npreset = "microsoft"\nclient_id = "c"\ntennant = "x"\n')
    wrong = cli.run("providers")
    assert wrong.returncode == 1
    assert "config.toml:4: unknown key 'tennant' in [providers.ms] (did you mean 'tenant'?)" in (
        wrong.stderr
    )


def test_headless_login_takes_the_pasted_redirect(cli: Cli, oidc_provider: OIDCPeer) -> None:
    """--no-browser over SSH: the browser runs elsewhere and its redirect never reaches this
    machine; the pasted address is checked like a redirect (a wrong one is refused)."""
    cli.config(oidc_config(oidc_provider))
    process = cli.start("login", "work", "--no-browser", "--timeout", "60")
    url, printed = read_url(process)
    redirect = oidc_provider.approve(url)
    assert process.stdin is not None
    forged = re.sub(r"state=[^&]+", "state=forged", redirect)
    process.stdin.write("not an address\n" + forged + "\n" + redirect + "\n")
    process.stdin.close()
    assert process.stderr is not None
    err = process.stderr.read()  # not communicate(): it would skip what readline buffered
    process.wait(60)
    everything = "".join(printed) + err
    assert process.returncode == 0, everything
    assert "paste its address here" in everything, everything
    assert everything.count("That is not the address of this sign-in") == 2
    assert "Signed in to work as alice" in everything
    assert cli.run("token", "work").returncode == 0


def test_a_provider_is_resolved_once(tmp_path: Any) -> None:
    """The table and its preset are merged once; each secret is read once however many
    steps of a command need it (a secret command runs once)."""
    from oauthkit.config.file import load_config
    from oauthkit.config.provider import ResolvedProvider

    counter = tmp_path / "reads"
    script = tmp_path / "secret.sh"
    script.write_text(f"#!/bin/sh\necho read >> {counter}\nprintf %s s3cret\n")
    script.chmod(0o700)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[providers.ms]\npreset = "microsoft"\ntenant = "contoso"\nclient_id = "c"\n'
        f'client_secret_command = "{script}"\n'
    )
    os.chmod(config, 0o600)
    provider = ResolvedProvider(load_config(config).provider("ms"))
    assert provider.preset is not None and provider.preset.name == "microsoft"
    assert provider.options == {"tenant": "contoso"}
    assert [provider.secret("client_secret") for _ in range(3)] == ["s3cret"] * 3
    assert counter.read_text().count("read") == 1
