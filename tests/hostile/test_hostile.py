"""The hostile-server suite: one misbehaviour at a time, each refused with a specific oauthkit
error; no token is handed back, nothing hangs, memory stays bounded, no secret is shown."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from hostile.server import ACCESS, CLIENT_ID, CLIENT_SECRET, REFRESH, HostileServer
from oauthkit import OAuth2Client
from oauthkit.errors import (
    DuplicateParameter,
    InsecureTransportError,
    InvalidResponse,
    IssuerMismatch,
    OAuthKitError,
    UnexpectedParameter,
)
from oauthkit.protocol.oauth2.oidc import IdTokenError


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


def _sign_in(server: HostileServer, mode: str) -> Any:
    server.mode = mode
    with OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        issuer=server.issuer,
        redirect_uri="http://127.0.0.1:8765/callback",
        scope="openid",
    ) as client:
        request = client.authorization_request()
        server.nonce = request.nonce
        callback = {"code": "c", "state": request.state, "iss": server.issuer}
        return client.exchange_code(request, callback)


CASES: list[tuple[str, type[Exception], str]] = [
    ("html", InvalidResponse, "HTML page"),
    ("array", InvalidResponse, "not an object"),
    ("missing_access_token", InvalidResponse, "no access_token"),
    ("non_string_access_token", InvalidResponse, "malformed access_token"),
    ("unknown_token_type", InvalidResponse, "token_type"),
    ("redirect", InvalidResponse, "HTTP 307"),
    ("huge", InvalidResponse, "larger than"),
    ("endless", InvalidResponse, "larger than"),
    ("gzip_bomb", InvalidResponse, "larger than"),
    ("expires_in=-1", InvalidResponse, "expires_in"),
    ("expires_in=0", InvalidResponse, "expires_in"),
    ("expires_in=1e308", InvalidResponse, "expires_in"),
    ("expires_in=true", InvalidResponse, "expires_in"),
    ("idt_iss", IdTokenError, "iss"),
    ("idt_aud", IdTokenError, "aud"),
    ("idt_azp", IdTokenError, "azp"),
    ("idt_expired", IdTokenError, "expired"),
    ("idt_no_iat", IdTokenError, "iat"),
    ("idt_no_sub", IdTokenError, "sub"),
    ("idt_no_nonce", IdTokenError, "nonce"),
    ("idt_nonce", IdTokenError, "nonce"),
    ("idt_none", IdTokenError, "unsigned"),
    ("idt_bad_signature", IdTokenError, "signature"),
    ("idt_hs256_public", IdTokenError, "HS256"),
    ("idt_unknown_kid", IdTokenError, "kid"),
    ("idt_crit", IdTokenError, "critical"),
    ("discovery_issuer", InvalidResponse, "8414"),
    ("discovery_http", InsecureTransportError, "token_endpoint"),
]


@pytest.mark.parametrize(("mode", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_misbehaviour_is_refused(
    server: HostileServer, mode: str, error: type[Exception], message: str
) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(error, match=message) as info:
            _sign_in(server, mode)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - started < 20, "it hung"
    assert peak < 16 * 1024 * 1024, f"memory grew to {peak} bytes"
    assert isinstance(info.value, OAuthKitError)
    text = str(info.value)
    for secret in (CLIENT_SECRET, ACCESS, REFRESH):
        assert secret not in text


def test_a_string_expires_in_is_accepted(server: HostileServer) -> None:
    token = _sign_in(server, 'expires_in="3600"')
    assert token.lifetime is not None
    assert token.lifetime.total_seconds() == 3600


def test_key_rotation_is_followed_once(server: HostileServer) -> None:
    token = _sign_in(server, "idt_rotated")
    assert token.id_claims is not None
    assert token.id_claims["sub"] == "alice"


def test_the_good_server_works(server: HostileServer) -> None:
    token = _sign_in(server, "ok")
    assert token.access_token == ACCESS
    assert token.id_claims is not None


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (lambda q, r: {**q, "code": ["a", "b"]}, DuplicateParameter),
        (lambda q, r: {**q, "iss": "https://evil.example"}, IssuerMismatch),
        (lambda q, r: {**q, "access_token": "injected"}, UnexpectedParameter),
        (lambda q, r: {k: v for k, v in q.items() if k != "iss"}, IssuerMismatch),
    ],
    ids=["duplicated", "forged-iss", "access-token-in-query", "missing-iss"],
)
def test_hostile_callbacks_send_nothing(
    server: HostileServer, tamper: Any, error: type[Exception]
) -> None:
    server.mode = "ok"
    with OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        issuer=server.issuer,
        redirect_uri="http://127.0.0.1:8765/callback",
        scope="openid",
    ) as client:
        request = client.authorization_request()
        before = len(server.requests)
        callback = tamper({"code": "c", "state": request.state, "iss": server.issuer}, request)
        with pytest.raises(error):
            client.exchange_code(request, callback)
        assert server.requests[before:] == []
