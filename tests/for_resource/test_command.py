"""``oauthkit login URL`` and ``oauthkit token URL`` with no configuration (issue 17, item 5):
the command discovers the MCP server's authorization server, registers itself, signs in
through Chromium (the real-browser user as ``$BROWSER``) and prints a token the server takes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from cli.conftest import ChromiumUser
from cli.harness import make_cli
from for_resource.conftest import Protected
from for_resource.test_for_resource import INITIALIZE, MCP_ACCEPT


@pytest.mark.timeout(300)
def test_login_then_token_for_a_url(
    protected: Callable[..., Protected], chromium: ChromiumUser, tmp_path: Path
) -> None:
    server = protected()
    cli = make_cli(tmp_path)
    log = tmp_path / "browser.log"
    cli.env.update({"BROWSER": chromium.browser_user, "BROWSER_LOG": str(log)})
    login = cli.run("login", server.url, "--timeout", "90", timeout=150)
    assert login.returncode == 0, login.stderr + (log.read_text() if log.exists() else "")
    assert f"Signed in for {server.url}" in login.stderr
    assert "mcp:tools" in login.stderr
    printed = cli.run("token", server.url)
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    with httpx2.Client() as http:
        answer = http.post(
            server.url,
            json=INITIALIZE,
            headers={**MCP_ACCEPT, "Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200
    assert token not in login.stderr + (log.read_text() if log.exists() else "")
    status = cli.run("status")
    assert "registration" in status.stdout and server.peer.issuer in status.stdout
    assert server.registrations() == 1


def test_token_for_a_url_never_signed_in_says_so(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected()
    cli = make_cli(tmp_path)
    printed = cli.run("token", server.url)
    assert printed.returncode == 3, printed.stderr
    assert "sign in first" in printed.stderr
    assert server.registrations() == 0
