"""The command and the stores against what an attacker tried: the token sent outside the
API base or over plain http, terminal escapes from servers and stores, store and config files
others can touch, and the token fast path disagreeing with the full command."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
import requests

from cli.harness import Cli
from oauthkit import OAuth2Auth, OAuth2Client, Session, Token
from oauthkit.auth.requests import RequestsOAuth2Auth
from oauthkit.errors import InsecureTransportError, StoreError
from oauthkit.stores import SQLiteStore

ACCESS = "stored-access-token-0123456789"
ESCAPES = "\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[31mred\x1b[0m\u202eevil"


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.answer: tuple[int, dict[str, str], bytes] = (200, {}, b'{"ok": true}')
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _signed_in(cli: Cli, server: _Recorder, api_base: str, **token: Any) -> None:
    cli.config(f"""
[providers.work]
token_endpoint = "{server.base}/token"
authorization_endpoint = "{server.base}/authorize"
client_id = "cli"
api_base = "{api_base}"
""")
    store = SQLiteStore(cli.home / "data" / "oauthkit" / "tokens.sqlite3")
    fields: dict[str, Any] = {
        "access_token": ACCESS,
        "expires_at": datetime.now(UTC) + timedelta(hours=1),
        "refresh_token": "stored-refresh-token-0123456789",
        **token,
    }
    store.put("work", Token(**fields))


# --------------------------------------------------------------------------- the token's origin


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("me", True),
        ("/me", True),
        ("//evil.example/x", True),  # a path under api_base, not another host
        ("../../escape", False),
        ("{base}/other/me", False),
        ("http://evil.example/api/me", False),
        ("https://evil.example/api/me", False),
        ("{base}/apiary", False),  # a sibling that merely starts with the same letters
        ("a/%2e%2e/%2E%2e/escape", False),  # RFC 3986 §6.2.2.2: %2E is "."
        ("{base}/api/.%2e/escape", False),
        ("a/..%2f..%2fescape", False),  # "..%2F" read as "../" by servers that decode first
        ("a\\..\\..\\escape", False),  # WHATWG URL parsing reads "\\" as "/"
        ("a/%5c..%5c..%5cescape", False),
        ("group%2Fproject/me", True),  # an encoded slash inside a segment is data
    ],
)
def test_request_sends_the_token_only_under_api_base(
    cli: Cli, recorder: _Recorder, url: str, sent: bool
) -> None:
    _signed_in(cli, recorder, f"{recorder.base}/api")  # no trailing slash, as reported
    done = cli.run("request", "work", "GET", url.format(base=recorder.base))
    if sent:
        assert done.returncode == 0, done.stderr
        path, authorization = recorder.seen[-1]
        assert path.startswith("/api/")
        assert authorization == f"Bearer {ACCESS}"
    else:
        assert done.returncode == 2, done.stderr
        assert "outside" in done.stderr and "--outside-api-base" in done.stderr
        assert recorder.seen == []
    assert ACCESS not in done.stderr


def test_outside_api_base_needs_the_flag_and_still_no_plain_http(
    cli: Cli, recorder: _Recorder
) -> None:
    _signed_in(cli, recorder, f"{recorder.base}/api/")
    other = f"http://localhost:{recorder.server_address[1]}/elsewhere"
    assert cli.run("request", "work", "GET", other).returncode == 2
    allowed = cli.run("request", "work", "GET", other, "--outside-api-base")
    assert allowed.returncode == 0, allowed.stderr
    assert recorder.seen[-1] == ("/elsewhere", f"Bearer {ACCESS}")
    insecure = cli.run("request", "work", "GET", "http://192.0.2.1/x", "--outside-api-base")
    assert insecure.returncode != 0
    assert "plain http" in insecure.stderr or "http" in insecure.stderr
    assert len(recorder.seen) == 1


def _mock(seen: list[str]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, json={})

    return httpx2.MockTransport(handler)


def _client(**options: Any) -> OAuth2Client:
    return OAuth2Client(
        "c", token_endpoint="https://id.example/token", http=httpx2.Client(), **options
    )


@pytest.mark.parametrize("url", ["http://api.example/x", "http://10.0.0.1/x", "ftp://x/y"])
def test_auth_objects_refuse_plain_http_to_other_hosts(url: str, tmp_path: Path) -> None:
    token = Token(ACCESS, expires_at=datetime.now(UTC) + timedelta(hours=1))
    seen: list[str] = []
    with _client() as client:
        session = Session(client, store=SQLiteStore(tmp_path / "s.sqlite3"), key="k")
        session.save(token) if hasattr(session, "save") else session.store.put("k", token)
        for auth in (client.auth(token), session.auth()):
            with httpx2.Client(auth=auth, transport=_mock(seen)) as http:
                with pytest.raises(InsecureTransportError, match="6750"):
                    http.get(url)
        with pytest.raises(InsecureTransportError):
            RequestsOAuth2Auth(client, token)(requests.Request("GET", url).prepare())
    assert seen == []


def test_plain_http_to_loopback_or_when_allowed_is_sent() -> None:
    token = Token(ACCESS, expires_at=datetime.now(UTC) + timedelta(hours=1))
    seen: list[str] = []
    with _client() as client, httpx2.Client(auth=client.auth(token), transport=_mock(seen)) as h:
        h.get("http://127.0.0.1:9/x")
        h.get("http://localhost/x")
        h.get("https://api.example/x")
    with _client(allow_insecure_http=True) as client:
        with httpx2.Client(auth=client.auth(token), transport=_mock(seen)) as http:
            http.get("http://api.example/x")  # the client's own opt-out carries over
        auth = OAuth2Auth(client, token, allow_insecure_http=False)
        with (
            httpx2.Client(auth=auth, transport=_mock(seen)) as http,
            pytest.raises(InsecureTransportError),
        ):
            http.get("http://api.example/y")
    assert seen == [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "https://api.example/x",
        "http://api.example/x",
    ]


# --------------------------------------------------------------------------- terminal escapes


def _on_a_terminal(cli: Cli, *args: str) -> str:
    """Run the command with stdout and stderr on a pseudo-terminal; what it wrote."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "oauthkit.cli", *args],
        env={**cli.env, "COLUMNS": "200", "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(30)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def _no_escapes_from_outside(text: str) -> None:
    assert "\x1b]" not in text  # no OSC: clipboard, title, hyperlink
    assert "\x07" not in text
    assert "\u202e" not in text
    assert "pwned" not in text or "\\x1b]0;pwned" in text


def test_status_shows_a_hostile_account_name_inert(cli: Cli, recorder: _Recorder) -> None:
    name = f"[link=https://evil.example]alice[/link] {ESCAPES}"
    _signed_in(cli, recorder, f"{recorder.base}/api/", extra={"oauthkit_account": name})
    piped = cli.run("status")
    assert piped.returncode == 0
    assert "\x1b" not in piped.stdout
    assert "[link=https://evil.example]" in piped.stdout  # shown as text
    shown = _on_a_terminal(cli, "status")
    _no_escapes_from_outside(shown)
    assert "[link=https://evil.example]" in shown.replace("\r\n", "").replace("\n", "")


@pytest.mark.parametrize("where", ["error_description", "body"])
def test_server_text_in_errors_is_shown_inert(cli: Cli, recorder: _Recorder, where: str) -> None:
    _signed_in(
        cli, recorder, f"{recorder.base}/api/", expires_at=datetime.now(UTC) - timedelta(hours=1)
    )
    if where == "body":
        recorder.answer = (500, {"Content-Type": "text/plain"}, ESCAPES.encode())
    else:
        body = {"error": "invalid_request", "error_description": ESCAPES}
        recorder.answer = (400, {}, json.dumps(body).encode())
    piped = cli.run("token", "work")
    assert piped.returncode != 0
    assert "\x1b" not in piped.stderr
    assert "\\x1b" in piped.stderr
    _no_escapes_from_outside(_on_a_terminal(cli, "token", "work"))


def test_a_response_body_on_a_terminal_is_inert_and_raw_through_a_pipe(
    cli: Cli, recorder: _Recorder
) -> None:
    _signed_in(cli, recorder, f"{recorder.base}/api/")
    recorder.answer = (200, {"Content-Type": "text/plain"}, ESCAPES.encode())
    piped = cli.run("request", "work", "GET", "me")
    assert piped.stdout == ESCAPES  # a pipe gets the bytes as sent, like curl
    _no_escapes_from_outside(_on_a_terminal(cli, "request", "work", "GET", "me"))


# --------------------------------------------------------------------------- store and config


def test_a_store_file_others_can_read_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    SQLiteStore(path).put("k", Token(ACCESS))
    os.chmod(path, 0o666)
    assert SQLiteStore(path).get("k") is not None
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_store_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite3"
    SQLiteStore(path).put("k", Token(ACCESS))
    os.chown(path, 65534, 65534)
    with pytest.raises(StoreError, match="another user"):
        SQLiteStore(path).get("k")


def test_a_dangling_symlink_is_not_followed(tmp_path: Path) -> None:
    attacker = tmp_path / "attacker"
    attacker.mkdir(mode=0o777)
    link = tmp_path / "mine" / "tokens.sqlite3"
    link.parent.mkdir(mode=0o700)
    link.symlink_to(attacker / "stolen.sqlite3")
    with pytest.raises(StoreError, match="symbolic link"):
        SQLiteStore(link).put("k", Token(ACCESS))
    assert list(attacker.iterdir()) == []


def test_new_folders_are_private_and_open_folders_refused(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "tokens.sqlite3"
    SQLiteStore(path).put("k", Token(ACCESS))
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(StoreError, match="writable by others"):
        SQLiteStore(shared / "tokens.sqlite3").put("k", Token(ACCESS))
    os.chmod(shared, 0o1777)  # sticky, like /tmp: others cannot replace our file
    SQLiteStore(shared / "tokens.sqlite3").put("k", Token(ACCESS))


def test_a_deleted_token_leaves_no_trace_in_the_files(tmp_path: Path) -> None:
    """With another process's connection open (so the write-ahead log stays), a deleted
    token is in neither the database nor its log."""
    import sqlite3

    path = tmp_path / "tokens.sqlite3"
    store = SQLiteStore(path)
    store.put("kept", Token(ACCESS))
    other = sqlite3.connect(path)  # another process's idle connection
    try:
        other.execute("SELECT count(*) FROM tokens").fetchone()
        secret = "deleted-token-that-must-vanish-" + "x" * 40
        store.put("gone", Token(secret, refresh_token=secret + "-refresh"))
        store.delete("gone")
        for file in tmp_path.iterdir():
            assert secret.encode() not in file.read_bytes(), file.name
        with store._connection() as connection:
            assert connection.execute("PRAGMA secure_delete").fetchone() == (1,)
    finally:
        other.close()


@pytest.mark.parametrize("problem", ["world-writable", "group-writable", "another-owner"])
def test_a_config_others_control_is_refused_and_runs_nothing(cli: Cli, problem: str) -> None:
    marker = cli.home / "ran"
    cli.config(f"""
[providers.work]
issuer = "https://id.example"
client_id = "c"
client_secret_command = "touch {marker}"
""")
    path = cli.home / "config" / "oauthkit" / "config.toml"
    if problem == "world-writable":
        os.chmod(path, 0o666)
    elif problem == "group-writable":
        os.chmod(path, 0o620)
    else:
        os.chown(path, 65534, 65534)
    for command in (["token", "work"], ["login", "work", "--device"], ["status"]):
        done = cli.run(*command)
        assert done.returncode == 1, done.stderr
        assert str(path) in done.stderr
        assert "another user" in done.stderr or "chmod go-w" in done.stderr
    assert not marker.exists()


def test_a_missing_config_file_and_a_misspelt_table_are_named(cli: Cli) -> None:
    missing = cli.run("--config", str(cli.home / "nope.toml"), "status")
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    cli.config('[provider.work]\nissuer = "https://id.example"\nclient_id = "c"\n')
    misspelt = cli.run("status")
    assert misspelt.returncode == 1
    assert "[providers.NAME]" in misspelt.stderr


# --------------------------------------------------------------------------- the fast path


def test_token_fast_path_reads_the_store_the_full_command_reads(
    cli: Cli, recorder: _Recorder, tmp_path: Path
) -> None:
    _signed_in(cli, recorder, f"{recorder.base}/api/")
    config = cli.home / "config" / "oauthkit" / "config.toml"
    config.write_text('store = "sqlite"\n' + config.read_text())
    planted_dir = tmp_path / "cwd"
    planted_dir.mkdir()
    SQLiteStore(planted_dir / "sqlite").put("work", Token("planted-token-0123456789"))
    done = subprocess.run(
        [sys.executable, "-m", "oauthkit.cli", "token", "work"],
        env=cli.env,
        cwd=planted_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ACCESS


def test_token_answers_only_configured_providers(cli: Cli, recorder: _Recorder) -> None:
    _signed_in(cli, recorder, f"{recorder.base}/api/")
    SQLiteStore(cli.home / "data" / "oauthkit" / "tokens.sqlite3").put(
        "ghost", Token("ghost-token-0123456789", expires_at=datetime.now(UTC) + timedelta(hours=1))
    )
    done = cli.run("token", "ghost")
    assert done.returncode != 0
    assert "ghost-token" not in done.stdout
    assert "unknown provider" in done.stderr


# --------------------------------------------------------------------------- network failures


def test_request_to_a_closed_port_is_one_line_and_exit_4(cli: Cli, recorder: _Recorder) -> None:
    import socket

    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{held.getsockname()[1]}"
        _signed_in(cli, recorder, f"{closed}/api/")
        done = cli.run("request", "work", "GET", "me")
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("oauthkit: GET ") and "ConnectError" in done.stderr
    assert done.stderr.count("\n") == 1


def test_request_timeout_against_a_silent_server(cli: Cli, recorder: _Recorder) -> None:
    import socket
    import time

    with socket.socket() as silent:  # accepts (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        _signed_in(cli, recorder, f"http://127.0.0.1:{silent.getsockname()[1]}/api/")
        started = time.monotonic()
        done = cli.run("request", "work", "GET", "me", "--timeout", "1")
        elapsed = time.monotonic() - started
    assert done.returncode == 4, done.stderr
    assert "ReadTimeout" in done.stderr
    assert elapsed < 10


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_oauth1_requests_raise_typed_network_errors(kind: str) -> None:
    import socket

    import anyio

    from oauthkit import AsyncOAuth1Client, OAuth1Client
    from oauthkit.errors import TransportError
    from oauthkit.oauth1 import OAuth1Credentials

    creds = OAuth1Credentials("k", "s", token="t", token_secret="u")
    urls = {"request_token_url": "http://127.0.0.1:9/r", "authorize_url": "http://127.0.0.1:9/a"}
    urls["access_token_url"] = "http://127.0.0.1:9/t"
    with socket.socket() as held, socket.socket() as silent:
        held.bind(("127.0.0.1", 0))
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        closed = f"http://127.0.0.1:{held.getsockname()[1]}/x"
        quiet = f"http://127.0.0.1:{silent.getsockname()[1]}/x"
        errors: list[TransportError] = []
        if kind == "sync":
            with OAuth1Client("k", "s", **urls) as client:
                for url in (closed, quiet):
                    with pytest.raises(TransportError) as info:
                        client.get(url, credentials=creds, timeout=0.5)
                    errors.append(info.value)
        else:

            async def main() -> None:
                async with AsyncOAuth1Client("k", "s", **urls) as client:
                    for url in (closed, quiet):
                        with pytest.raises(TransportError) as info:
                            await client.get(url, credentials=creds, timeout=0.5)
                        errors.append(info.value)

            anyio.run(main)
    assert [type(e.__cause__).__name__ for e in errors] == ["ConnectError", "ReadTimeout"]
    assert [e.sent for e in errors] == [False, True]


def test_oauth1_providers_listing_and_logout_revoke_say_what_they_do(cli: Cli) -> None:
    cli.config("""
[providers.legacy]
type = "oauth1"
request_token_url = "https://api.example/oauth/request_token"
authorize_url = "https://api.example/oauth/authorize"
access_token_url = "https://api.example/oauth/access_token"
consumer_key = "ck"
consumer_secret = "cs"
""")
    listing = cli.run("providers")
    assert "configured (https://api.example/oauth/request_token)" in listing.stdout
    assert "None" not in listing.stdout
    from oauthkit.oauth1 import OAuth1Credentials

    SQLiteStore(cli.home / "data" / "oauthkit" / "tokens.sqlite3").put(
        "legacy", OAuth1Credentials("ck", "cs", token="t", token_secret="ts")
    )
    done = cli.run("logout", "legacy", "--revoke")
    assert done.returncode == 0, done.stderr
    assert "no revocation endpoint" in done.stderr
    assert "Signed out of legacy" in done.stderr


def test_a_refused_refresh_is_remembered(cli: Cli, recorder: _Recorder) -> None:
    """After invalid_grant, ``token`` exits 3 every time, without asking the provider again,
    and ``status`` says to sign in again."""
    _signed_in(
        cli, recorder, f"{recorder.base}/api/", expires_at=datetime.now(UTC) - timedelta(hours=1)
    )
    recorder.answer = (400, {}, b'{"error": "invalid_grant"}')
    first = cli.run("token", "work")
    assert first.returncode == 3, first.stderr
    assert len(recorder.seen) == 1
    recorder.answer = (200, {}, b'{"access_token": "would-work", "token_type": "Bearer"}')
    again = cli.run("token", "work")
    assert again.returncode == 3, again.stderr
    assert "refused" in again.stderr and "run  oauthkit login work" in again.stderr
    assert "would-work" not in again.stdout
    assert len(recorder.seen) == 1  # nothing was sent the second time
    status = cli.run("status")
    assert "refused: sign in again" in status.stdout
    stored = SQLiteStore(cli.home / "data" / "oauthkit" / "tokens.sqlite3").get("work")
    assert isinstance(stored, Token)
    assert stored.refresh_token is None


def test_a_provider_that_cannot_answer_now_is_not_a_sign_in(cli: Cli, recorder: _Recorder) -> None:
    """A 503 at the token endpoint: tried again (three sends in all), then exit 4 with
    "try again", and the refresh token kept as it was."""
    _signed_in(
        cli, recorder, f"{recorder.base}/api/", expires_at=datetime.now(UTC) - timedelta(hours=1)
    )
    recorder.answer = (503, {"Retry-After": "1"}, b"<html>busy</html>")
    done = cli.run("token", "work")
    assert done.returncode == 4, done.stderr
    assert "cannot answer now" in done.stderr and "nothing was lost: try again" in done.stderr
    assert len(recorder.seen) == 3
    stored = SQLiteStore(cli.home / "data" / "oauthkit" / "tokens.sqlite3").get("work")
    assert isinstance(stored, Token)
    assert stored.refresh_token == "stored-refresh-token-0123456789"


def test_request_shows_a_429_and_its_retry_after(cli: Cli, recorder: _Recorder) -> None:
    _signed_in(cli, recorder, f"{recorder.base}/api/")
    recorder.answer = (429, {"Retry-After": "30"}, b'{"error": "rate_limited"}')
    done = cli.run("request", "work", "GET", "me")
    assert done.returncode == 0, done.stderr
    assert "HTTP 429 Too Many Requests (Retry-After: 30)" in done.stderr


# --------------------------------------------------------------------------- the sandbox command


def test_sandbox_options_fixed_secret_extra_client_redirects_ttl_and_log(cli: Cli) -> None:
    import re
    import signal

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oauthkit.cli",
            "sandbox",
            "--port",
            "0",
            "--client",
            "ci:service",
            "--secret",
            "ci=fixed-ci-secret-0123456789",
            "--redirect-uri",
            "http://127.0.0.1/other-callback",
            "--token-ttl",
            "120",
            "--log",
        ],
        env=cli.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        while not any("Press Ctrl+C" in line for line in lines):
            line = process.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        banner = "".join(lines)
        assert "FOR DEVELOPMENT ONLY" in banner
        assert "fixed-ci-secret" not in banner  # hidden unless --show-secrets
        assert "oauth2 client ci (client_secret_basic; client_credentials)" in banner
        assert "http://127.0.0.1/other-callback" in banner
        base = re.search(r"sandbox at (http://\S+)", banner)
        assert base is not None
        issuer = base.group(1)
        with OAuth2Client("ci", "fixed-ci-secret-0123456789", issuer=issuer) as client:
            token = client.client_credentials()
            assert token.lifetime is not None
            assert token.lifetime.total_seconds() == 120
        with httpx2.Client() as http:
            page = http.get(
                f"{issuer}/oauth2/authorize",
                params={
                    "response_type": "code",
                    "client_id": "demo-web",
                    "redirect_uri": "http://127.0.0.1:5555/other-callback",
                    "state": "s",
                    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    "code_challenge_method": "S256",
                },
            )
            assert page.status_code == 200
        line = process.stderr.readline()
        while "POST /oauth2/token" not in line:
            line = process.stderr.readline()
            assert line
        assert "POST /oauth2/token 200" in line
        assert "?" not in line
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)
