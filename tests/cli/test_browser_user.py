"""The real-browser user (browser_user.sh / browser_user.py) against oidc-provider, without
the CLI: headless Chromium logs in and consents on devInteractions pages and the redirect
reaches a loopback server of the test's own; the code it carries is exchanged for real
tokens.  Also the device flow, a refusal, a generic Approve/Deny page (the sandbox's kind)
with a callback or a PIN, and a loopback redirect that nobody answers."""

from __future__ import annotations

import dataclasses
import html
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest

from oauthkit import OAuth2Client
from oauthkit.errors import AccessDenied, AuthorizationDenied, PollingTimeout
from peers.oidc_provider import DEVICE_SECRET, OIDCPeer

if TYPE_CHECKING:
    from .conftest import ChromiumUser

WAIT = 75  # the user script stops itself after 60 s
SUCCESS_PAGE = (
    b"<!doctype html><html><head><title>oauthkit</title></head>"
    b"<body><p>Authorized. You can close this window.</p></body></html>"
)


# --------------------------------------------------------------------------- helpers


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, 0), handler)
        self.host = host
        self.received: list[str] = []
        self.first = threading.Event()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.server_address[1]}"


class _CallbackHandler(BaseHTTPRequestHandler):
    """The CLI's loopback redirect server, reduced: records ``/callback`` requests."""

    server: _Server

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/callback":
            self.send_error(404)
            return
        with self.server.lock:
            self.server.received.append(self.path)
        self.server.first.set()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(SUCCESS_PAGE)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(SUCCESS_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclasses.dataclass
class Loopback:
    server: _Server

    @property
    def redirect_uri(self) -> str:
        return self.server.base + "/callback"

    def wait(self, timeout: float = WAIT) -> str:
        """The first ``/callback`` request (path and query)."""
        assert self.server.first.wait(timeout), "no request reached the loopback /callback"
        with self.server.lock:
            return self.server.received[0]

    def callback_url(self) -> str:
        return self.server.base + self.wait()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = _Server("127.0.0.1", _CallbackHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Loopback(server)
    server.shutdown()
    server.server_close()


@dataclasses.dataclass
class BrowserRun:
    log: Path
    shots: Path
    started: float

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def exit_code(self, timeout: float = WAIT) -> int:
        """The script's exit code, from its last log line ``exit N``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r" exit (\d+)$", self.text(), re.MULTILINE)
            if match:
                return int(match.group(1))
            time.sleep(0.1)
        raise AssertionError(f"the browser user did not finish; its log:\n{self.text()}")


def _browse(user: ChromiumUser, url: str, tmp_path: Path, **env: str) -> BrowserRun:
    """Run the BROWSER wrapper as webbrowser would (``$BROWSER URL``) and check that it
    returns at once, leaving the user script running."""
    log, shots = tmp_path / "browser.log", tmp_path / "shots"
    environ = {
        **os.environ,
        "BROWSER_LOG": str(log),
        "BROWSER_SCREENSHOT_DIR": str(shots),
        **env,
    }
    started = time.monotonic()
    done = subprocess.run([user.browser_user, url], env=environ, timeout=10, check=False)
    assert done.returncode == 0
    assert time.monotonic() - started < 3, "the wrapper must not wait for the browser"
    return BrowserRun(log, shots, started)


def _query(callback_path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(callback_path).query)


def _assert_log_is_clean(run: BrowserRun, *secrets: str) -> None:
    text = run.text()
    assert not re.search(r"\?[\w.~%-]+=", text), text  # paths only, never a query string
    for secret in secrets:
        assert secret not in text


# --------------------------------------------------------------------------- oidc-provider


def test_authorization_code_flow_in_a_real_browser(
    chromium: ChromiumUser, oidc_provider: OIDCPeer, loopback: Loopback, tmp_path: Path
) -> None:
    client = OAuth2Client(
        "public",
        issuer=oidc_provider.issuer,
        redirect_uri=loopback.redirect_uri,
        scope="openid profile offline_access",
    )
    with client:
        request = client.authorization_request()
        run = _browse(chromium, request.url, tmp_path, BROWSER_USER_LOGIN="bob")
        callback = loopback.wait()
        elapsed = time.monotonic() - run.started
        assert urlsplit(callback).path == "/callback"
        query = _query(callback)
        assert set(query) == {"code", "state", "iss"}
        assert query["state"] == [request.state]
        assert query["iss"] == [oidc_provider.issuer]
        token = client.exchange_code(request, loopback.callback_url())
        assert token.access_token
        assert token.refresh_token
        assert token.id_token
    assert run.exit_code() == 0, run.text()
    assert elapsed < 30
    text = run.text()
    assert "login as 'bob'" in text
    assert "consent at" in text
    assert f"redirected to {loopback.redirect_uri}: loaded" in text
    _assert_log_is_clean(run, query["code"][0], query["state"][0])
    assert sorted(p.name for p in run.shots.glob("*.png")) == [
        "01-login-as-bob.png",
        "02-consent.png",
        "03-redirected.png",
    ]
    assert len(loopback.server.received) == 1
    paths = [path for _, path in oidc_provider.request_log]
    assert "/auth" in paths
    assert any(p.startswith("/interaction/") for p in paths)


def test_refusal_in_a_real_browser(
    chromium: ChromiumUser, oidc_provider: OIDCPeer, loopback: Loopback, tmp_path: Path
) -> None:
    with OAuth2Client(
        "public", issuer=oidc_provider.issuer, redirect_uri=loopback.redirect_uri
    ) as client:
        request = client.authorization_request(scope="openid")
        run = _browse(chromium, request.url, tmp_path, BROWSER_USER_ACTION="deny")
        query = _query(loopback.wait())
        assert query["error"] == ["access_denied"]
        assert query["state"] == [request.state]
        with pytest.raises(AuthorizationDenied):
            client.exchange_code(request, loopback.callback_url())
    assert run.exit_code() == 0, run.text()
    assert "cancel at the login prompt" in run.text()
    assert not any(path.startswith("/token") for _, path in oidc_provider.request_log)


@pytest.mark.parametrize("entry", ["typed", "complete"])
def test_device_flow_in_a_real_browser(
    chromium: ChromiumUser, oidc_provider: OIDCPeer, tmp_path: Path, entry: str
) -> None:
    """``typed``: /device with BROWSER_USER_CODE; ``complete``: verification_uri_complete
    (oidc-provider answers it with a self-submitting form, then the confirmation)."""
    with OAuth2Client(
        "device", DEVICE_SECRET, issuer=oidc_provider.issuer, scope="openid offline_access"
    ) as client:
        device = client.device_authorization()
        if entry == "typed":
            run = _browse(
                chromium, device.verification_uri, tmp_path, BROWSER_USER_CODE=device.user_code
            )
        else:
            assert device.verification_uri_complete
            run = _browse(chromium, device.verification_uri_complete, tmp_path)
        try:
            token = client.poll_device(dataclasses.replace(device, interval=1), timeout=60)
        except PollingTimeout:
            pytest.fail(f"the browser did not approve the device in time:\n{run.text()}")
    assert token.access_token
    assert token.refresh_token
    assert run.exit_code() == 0, run.text()
    text = run.text()
    assert "confirm the device" in text
    assert "done at" in text
    assert "Sign-in Success" in text
    _assert_log_is_clean(run, device.user_code)


def test_device_flow_refused_in_a_real_browser(
    chromium: ChromiumUser, oidc_provider: OIDCPeer, tmp_path: Path
) -> None:
    with OAuth2Client("device", DEVICE_SECRET, issuer=oidc_provider.issuer) as client:
        device = client.device_authorization(scope="openid")
        run = _browse(
            chromium,
            device.verification_uri,
            tmp_path,
            BROWSER_USER_CODE=device.user_code,
            BROWSER_USER_ACTION="deny",
        )
        assert run.exit_code() == 0, run.text()
        with pytest.raises(AccessDenied):
            client.poll_device(dataclasses.replace(device, interval=1), timeout=10)
    assert "abort the device confirmation" in run.text()


# --------------------------------------------------------------------------- a generic consent page


class _ConsentHandler(BaseHTTPRequestHandler):
    """A consent page of the sandbox's kind: a user name field, an Approve ``<button>`` and
    a Deny ``<input type=submit>``; ``redirect_uri=oob`` shows a PIN instead of redirecting."""

    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        if parts.path == "/go":  # a plain redirect (to a loopback nobody answers)
            self._redirect(params["to"])
            return
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params.get(name, ""))}">'
            for name in ("redirect_uri", "state")
        )
        page = (
            "<!doctype html><html><head><title>Authorize demo-app</title></head><body>"
            '<h1>Authorize demo-app?</h1><form method="post" action="/authorize">'
            f'{hidden}<label>User name <input type="text" name="username" required></label>'
            '<button type="submit" name="decision" value="approve">Approve</button>'
            '<input type="submit" name="decision" value="Deny">'
            "</form></body></html>"
        )
        self._page(page)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        with self.server.lock:
            decision = form.get("decision", "").lower()
            self.server.received.append(f"{decision} by {form.get('username')}")
        target, state = form.get("redirect_uri", ""), form.get("state", "")
        if form.get("decision") == "approve":
            if target == "oob":
                self._page(
                    '<p>Enter this PIN in the application:</p><code id="pin">4711-0815</code>'
                )
            else:
                self._redirect(f"{target}?{urlencode({'code': 'c0de', 'state': state})}")
        elif target == "oob":
            self._page("<p>Access denied.</p>", status=403)
        else:
            self._redirect(f"{target}?{urlencode({'error': 'access_denied', 'state': state})}")

    def _page(self, body: str, status: int = 200) -> None:
        data = (body if body.startswith("<!doctype") else f"<!doctype html>{body}").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def consent_page() -> Iterator[_Server]:
    server = _Server("127.0.0.1", _ConsentHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("action", "host"),
    [
        ("approve", "127.0.0.1"),
        pytest.param(
            "approve",
            "::1",
            marks=pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback"),
        ),
        ("deny", "127.0.0.1"),
    ],
)
def test_generic_consent_page_redirects_to_the_loopback(
    chromium: ChromiumUser, consent_page: _Server, tmp_path: Path, action: str, host: str
) -> None:
    server = _Server(host, _CallbackHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        callback = Loopback(server)
        url = f"{consent_page.base}/authorize?" + urlencode(
            {"redirect_uri": callback.redirect_uri, "state": "s1"}
        )
        run = _browse(
            chromium, url, tmp_path, BROWSER_USER_ACTION=action, BROWSER_USER_LOGIN="carol"
        )
        query = _query(callback.wait())
        assert run.exit_code() == 0, run.text()
    finally:
        server.shutdown()
        server.server_close()
    assert query["state"] == ["s1"]
    if action == "approve":
        assert query["code"] == ["c0de"]
        assert consent_page.received == ["approve by carol"]
    else:
        assert query["error"] == ["access_denied"]
        assert consent_page.received == ["deny by carol"]
    assert f"redirected to {callback.redirect_uri}: loaded" in run.text()


def test_generic_consent_page_then_pin(
    chromium: ChromiumUser, consent_page: _Server, tmp_path: Path
) -> None:
    pin_file = tmp_path / "pin.txt"
    url = f"{consent_page.base}/authorize?" + urlencode({"redirect_uri": "oob", "state": "s2"})
    run = _browse(chromium, url, tmp_path, BROWSER_PIN_FILE=str(pin_file))
    assert run.exit_code() == 0, run.text()
    assert pin_file.read_text(encoding="utf-8") == "4711-0815\n"
    assert consent_page.received == ["approve by alice"]
    _assert_log_is_clean(run, "4711-0815")
    assert (run.shots / "02-pin.png").is_file()


def test_a_loopback_redirect_nobody_answers_is_a_failure(
    chromium: ChromiumUser, consent_page: _Server, tmp_path: Path
) -> None:
    """The script itself (not detached): exit code 1 and the reason in its log."""
    with socket.socket() as sock:
        # Bound but never listening: connections are refused, and no other server of the
        # test session can take the port meanwhile.
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
        target = f"http://127.0.0.1:{closed_port}/callback?code=secret-code"
        url = f"{consent_page.base}/go?" + urlencode({"to": target})
        done = subprocess.run(
            [chromium.script, url],
            env={**os.environ, "BROWSER_LOG": str(tmp_path / "browser.log")},
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert (
        f"FAILED: the loopback redirect http://127.0.0.1:{closed_port}/callback did not load "
        "(ERR_CONNECTION_REFUSED)" in done.stderr
    )
    assert "secret-code" not in done.stderr
    assert (tmp_path / "browser.log").read_text() == done.stderr
