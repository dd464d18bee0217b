"""The loopback redirect server under stray, hostile and slow requests, a taken port and a
timeout; its pages load nothing external, are not cached, send no referrer and never echo
the code."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx2
import pytest

from oauthkit.errors import AuthorizationDenied, ConfigurationError
from oauthkit.signin.loopback import LoopbackRedirect, LoopbackTimeout

pytestmark = pytest.mark.slow

STATE = "expected-state-value"


def _serve(
    redirect: LoopbackRedirect[Any], check: Any = None, timeout: float = 10
) -> dict[str, Any]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = redirect.wait(
                STATE, check or (lambda params: params["code"]), timeout
            )
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    outcome["thread"] = thread
    time.sleep(0.05)
    return outcome


def test_stray_requests_get_400_and_the_wait_goes_on() -> None:
    redirect: LoopbackRedirect[Any] = LoopbackRedirect()
    outcome = _serve(redirect)
    base = f"http://127.0.0.1:{redirect.port}"
    with httpx2.Client() as http:
        assert http.get(f"{base}/favicon.ico").status_code == 400
        assert http.get(f"{base}/other?code=x&state={STATE}").status_code == 400
        assert http.get(f"{base}/callback?code=x").status_code == 400  # no state
        assert http.get(f"{base}/callback?code=x&state=forged").status_code == 400
        doubled = http.get(f"{base}/callback?code=x&code=y&state={STATE}")
        assert doubled.status_code == 400
        assert "value" not in outcome and "error" not in outcome
        good = http.get(f"{base}/callback?code=the-code&state={STATE}")
    outcome["thread"].join(5)
    assert outcome["value"] == "the-code"
    assert good.status_code == 200
    assert b"close this window" in good.content
    assert b"the-code" not in good.content  # never echoes the code
    for name, value in {
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    }.items():
        assert good.headers[name] == value
    assert b"http" not in good.content.split(b"<main>")[1]  # nothing external to load


def test_a_provider_error_ends_the_flow_with_an_escaped_page() -> None:
    from oauthkit.oauth2 import AuthorizationRequest, validate_callback

    request = AuthorizationRequest(
        url="https://as/authorize",
        state=STATE,
        client_id="c",
        redirect_uri=None,
        scope=None,
        code_verifier=None,
        code_challenge_method=None,
        nonce=None,
        issuer=None,
        iss_required=False,
        created_at=0,
    )
    redirect: LoopbackRedirect[Any] = LoopbackRedirect()
    outcome = _serve(redirect, check=lambda params: validate_callback(request, params))
    hostile = "<script>alert(1)</script>"
    with httpx2.Client() as http:
        page = http.get(
            f"http://127.0.0.1:{redirect.port}/callback",
            params={"error": "access_denied", "error_description": hostile, "state": STATE},
        )
    outcome["thread"].join(5)
    assert isinstance(outcome["error"], AuthorizationDenied)
    assert page.status_code == 400
    assert b"<script>" not in page.content
    assert b"&lt;script&gt;" in page.content


def test_a_timeout_is_clear_and_frees_the_port() -> None:
    redirect: LoopbackRedirect[Any] = LoopbackRedirect()
    port = redirect.port
    started = time.monotonic()
    with pytest.raises(LoopbackTimeout, match="no redirect arrived"):
        redirect.wait(STATE, lambda params: params, timeout=0.3)
    assert time.monotonic() - started < 3
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # free again


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"port {port}"):
            LoopbackRedirect(port=port)


def test_a_slow_client_does_not_block_the_redirect() -> None:
    redirect: LoopbackRedirect[Any] = LoopbackRedirect()
    outcome = _serve(redirect)
    slow = socket.create_connection(("127.0.0.1", redirect.port))
    slow.sendall(b"GET /callback?code=x&sta")  # and never finishes the request line
    with httpx2.Client() as http:
        assert (
            http.get(
                f"http://127.0.0.1:{redirect.port}/callback", params={"code": "ok", "state": STATE}
            ).status_code
            == 200
        )
    outcome["thread"].join(5)
    slow.close()
    assert outcome["value"] == "ok"


def test_ipv6_loopback_and_refusal_of_other_hosts() -> None:
    redirect: LoopbackRedirect[Any] = LoopbackRedirect(host="::1")
    assert redirect.redirect_uri.startswith("http://[::1]:")
    redirect.close()
    with pytest.raises(ConfigurationError, match="loopback"):
        LoopbackRedirect(host="0.0.0.0")


def _handler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "127.0.0.1:1", "127.0.0.2:{port}", "", "[::1]:{port}"],
)
def test_only_loopback_host_names_are_answered(host: str) -> None:
    """DNS rebinding: a page on another name that resolves to 127.0.0.1 gets nothing."""
    redirect: LoopbackRedirect[Any] = LoopbackRedirect()
    outcome = _serve(redirect)
    with socket.create_connection(("127.0.0.1", redirect.port)) as raw:
        header = f"Host: {host.format(port=redirect.port)}\r\n" if host else ""
        raw.sendall(
            f"GET /callback?code=x&state={STATE} HTTP/1.1\r\n{header}Connection: close\r\n\r\n".encode()
        )
        answer = raw.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    assert "value" not in outcome and "error" not in outcome
    with httpx2.Client() as http:  # localhost:port and 127.0.0.1:port are answered
        response = http.get(
            f"http://localhost:{redirect.port}/callback", params={"code": "ok", "state": STATE}
        )
    outcome["thread"].join(5)
    assert response.status_code == 200
    assert outcome["value"] == "ok"


def test_only_the_first_of_simultaneous_callbacks_reaches_the_check() -> None:
    calls: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def check(params: dict[str, str]) -> str:
        calls.append(params["code"])
        entered.set()
        release.wait(5)  # hold the first inside the check while the others arrive
        return params["code"]

    redirect: LoopbackRedirect[Any] = LoopbackRedirect()
    outcome = _serve(redirect, check)
    url = f"http://127.0.0.1:{redirect.port}/callback"
    statuses: list[int] = []

    def hit(code: str) -> None:
        with httpx2.Client() as http:
            statuses.append(http.get(url, params={"code": code, "state": STATE}).status_code)

    first = threading.Thread(target=hit, args=("first",))
    first.start()
    assert entered.wait(5)
    others = [threading.Thread(target=hit, args=(f"other-{i}",)) for i in range(5)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(5)
    release.set()
    first.join(5)
    outcome["thread"].join(5)
    assert calls == ["first"]
    assert outcome["value"] == "first"
    assert sorted(statuses) == [200, 400, 400, 400, 400, 400]


def test_no_handler_thread_outlives_the_wait() -> None:
    before = set(_handler_threads())
    redirect: LoopbackRedirect[Any] = LoopbackRedirect()
    outcome = _serve(redirect)
    idle = [socket.create_connection(("127.0.0.1", redirect.port)) for _ in range(3)]
    idle[0].sendall(b"GET /callback?co")  # half a request line
    idle[1].sendall(b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never end
    time.sleep(0.2)
    assert len(set(_handler_threads()) - before) >= 2
    started = time.monotonic()
    with httpx2.Client() as http:
        assert (
            http.get(
                f"http://127.0.0.1:{redirect.port}/callback", params={"code": "ok", "state": STATE}
            ).status_code
            == 200
        )
    outcome["thread"].join(5)
    assert outcome["value"] == "ok"
    assert time.monotonic() - started < 3, "closing waited for the idle connections' timeout"
    assert set(_handler_threads()) - before == set()
    for sock in idle:
        sock.close()


def test_localhost_is_kept_in_the_redirect_uri() -> None:
    """A provider that matches redirect URIs exactly (Etsy) gets the registered spelling."""
    redirect: LoopbackRedirect[Any] = LoopbackRedirect(host="localhost")
    assert redirect.redirect_uri == f"http://localhost:{redirect.port}/callback"
    outcome = _serve(redirect)
    with httpx2.Client() as http:
        response = http.get(redirect.redirect_uri, params={"code": "ok", "state": STATE})
    outcome["thread"].join(5)
    assert response.status_code == 200
    assert outcome["value"] == "ok"
