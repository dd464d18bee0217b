"""``oauthkit login`` in a real browser: the command opens headless Chromium through the
``BROWSER`` variable (tests/cli/browser_user.sh), which signs in on oidc-provider's login and
consent pages and lands on the command's loopback redirect; then ``oauthkit token`` prints the
token and ``oauthkit request`` reads userinfo with it. Also the device flow approved in
Chromium, and an OAuth 1.0a sign-in with ``--pin`` read off the page by Chromium."""

from __future__ import annotations

import time
from pathlib import Path

from cli.conftest import ChromiumUser
from cli.harness import Cli, oidc_config
from peers.oidc_provider import DEVICE_SECRET, OIDCPeer


def _browser(cli: Cli, chromium: ChromiumUser, tmp: Path, **env: str) -> Path:
    log = tmp / "browser.log"
    cli.env.update({"BROWSER": chromium.browser_user, "BROWSER_LOG": str(log), **env})
    return log


def test_login_in_chromium_then_token_and_request(
    cli: Cli, chromium: ChromiumUser, oidc_provider: OIDCPeer, tmp_path: Path
) -> None:
    cli.config(oidc_config(oidc_provider))
    log = _browser(cli, chromium, tmp_path)
    login = cli.run("login", "work", "--timeout", "90", timeout=120)
    assert login.returncode == 0, login.stderr + (log.read_text() if log.exists() else "")
    assert "Signed in to work as alice" in login.stderr
    token = cli.run("token", "work")
    assert token.returncode == 0, token.stderr
    access = token.stdout.strip()
    me = cli.run("request", "work", "GET", oidc_provider.userinfo_endpoint)
    assert me.returncode == 0, me.stderr
    assert "alice" in me.stdout
    browser_log = log.read_text()
    assert access not in browser_log
    assert "code=" not in browser_log  # the user's log keeps paths, never codes


def test_device_login_approved_in_chromium(
    cli: Cli, chromium: ChromiumUser, oidc_provider: OIDCPeer, tmp_path: Path
) -> None:
    cli.config(f"""
[providers.tv]
issuer = "{oidc_provider.issuer}"
client_id = "device"
client_secret_env = "TV_SECRET"
scope = "openid offline_access"
""")
    cli.env["TV_SECRET"] = DEVICE_SECRET
    log = tmp_path / "browser.log"
    process = cli.start("login", "tv", "--device")
    assert process.stderr is not None
    address = code = None
    seen: list[str] = []
    while code is None:
        line = process.stderr.readline()
        assert line, "the command ended before showing a code:\n" + "".join(seen)
        seen.append(line)
        if line.startswith("On any device, open "):
            address = line.removeprefix("On any device, open ").strip()
        if "enter the code" in line:
            code = line.split()[-1]
    assert address is not None
    import subprocess

    subprocess.run(
        [chromium.browser_user, address],
        env={**cli.env, "BROWSER_USER_CODE": code, "BROWSER_LOG": str(log)},
        check=True,
    )
    _, err = process.communicate(timeout=90)
    assert process.returncode == 0, err + (log.read_text() if log.exists() else "")
    assert "Signed in to tv as alice" in err
    assert cli.run("token", "tv").returncode == 0


def test_oauth1_pin_read_by_chromium(cli: Cli, chromium: ChromiumUser, tmp_path: Path) -> None:
    """The sandbox's OAuth 1.0a consent page in Chromium: Approve, then the PIN shown on the
    page is typed into the waiting command."""
    from oauthkit.sandbox import Sandbox

    with Sandbox() as sandbox:
        consumer = sandbox.clients["demo-oauth1"]
        urls = sandbox.oauth1_urls
        cli.config(f"""
[providers.legacy]
type = "oauth1"
request_token_url = "{urls["request_token_url"]}"
authorize_url = "{urls["authorize_url"]}"
access_token_url = "{urls["access_token_url"]}"
consumer_key = "{consumer.consumer_key}"
consumer_secret = "{consumer.consumer_secret}"
api_base = "{sandbox.base_url}/oauth1/api/"
""")
        pin_file = tmp_path / "pin.txt"
        _browser(cli, chromium, tmp_path, BROWSER_PIN_FILE=str(pin_file))
        process = cli.start("login", "legacy", "--pin")
        deadline = time.monotonic() + 60
        while not pin_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pin_file.exists(), (tmp_path / "browser.log").read_text()
        _, err = process.communicate(input=pin_file.read_text(), timeout=60)
        assert process.returncode == 0, err
        assert "Signed in to legacy" in err
        me = cli.run("request", "legacy", "GET", "me")
        assert me.returncode == 0, me.stderr
        assert "alice" in me.stdout


def test_demo_with_the_consent_in_a_real_browser(
    cli: Cli, chromium: ChromiumUser, tmp_path: Path
) -> None:
    """``oauthkit demo --browser``: both consents happen on the sandbox's pages in Chromium."""
    log = _browser(cli, chromium, tmp_path)
    demo = cli.run("demo", "--browser", timeout=180)
    assert demo.returncode == 0, demo.stderr + (log.read_text() if log.exists() else "")
    assert "approves in the browser" in demo.stdout
    assert "Refresh (§6)" in demo.stdout
