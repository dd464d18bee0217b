"""The retry policy (oauthkit.protocol.retry) on httpx2.MockTransport: what is tried again
(429, 5xx, temporarily_unavailable, a connection that never reached the server), how long it
waits (exponential with jitter, or Retry-After), and what is never sent twice (an
authorization code, a pushed request, a device poll, a registration, a lost answer). The same
against a real token server, through Session and several processes: tests/stores/
test_transient.py."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx2
import pytest
from joserfc import jwk

from oauthkit import AsyncOAuth2Client, OAuth2Client, Retry, Token
from oauthkit.drivers import run
from oauthkit.errors import (
    ConfigurationError,
    InvalidClient,
    InvalidGrant,
    TemporarilyUnavailable,
    TransportError,
)
from oauthkit.protocol.http import HttpResponse
from oauthkit.protocol.oauth2.authorization import AuthorizationRequest
from oauthkit.protocol.oauth2.registration import register
from oauthkit.protocol.retry import retry_after, transient

AS = "https://as.example"
FAST = Retry(backoff=0.01)
TOKEN = {"access_token": "AT", "token_type": "Bearer", "expires_in": 3600}

Answer = httpx2.Response | Exception


class Scripted:
    """A transport that answers each request with the next of ``answers`` (the last one
    again when they run out) and keeps every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.seen: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        self.seen.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def forms(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(r.content.decode())) for r in self.seen]


def _client(script: Scripted, **kwargs: Any) -> OAuth2Client:
    kwargs.setdefault("retry", FAST)
    return OAuth2Client(
        "app",
        "secret",
        token_endpoint=f"{AS}/token",
        authorization_endpoint=f"{AS}/authorize",
        http=httpx2.Client(transport=httpx2.MockTransport(script)),
        **kwargs,
    )


def _busy(status: int = 503, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, html="<html>busy</html>", headers=headers)


# ------------------------------------------------------------------------------ the policy


def test_waits_grow_exponentially_with_jitter() -> None:
    low = Retry(backoff=0.5, random=lambda: 0.0)
    high = Retry(backoff=0.5, random=lambda: 0.999999)
    assert [low.delay(n, None) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert [round(high.delay(n, None), 3) for n in (1, 2, 3)] == [0.75, 1.5, 3.0]
    assert low.delay(1, 7.0) == 7.0  # the server's Retry-After, as asked


def test_a_policy_that_cannot_work_is_refused() -> None:
    for bad in ({"attempts": 0}, {"backoff": -1}, {"max_wait": -1}):
        with pytest.raises(ConfigurationError):
            Retry(**bad)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = 1_800_000_000.0
    seconds = HttpResponse(429, {"retry-after": "120"})
    dated = HttpResponse(429, {"retry-after": formatdate(now + 30, usegmt=True)})
    past = HttpResponse(503, {"retry-after": formatdate(now - 30, usegmt=True)})
    assert retry_after(seconds, now) == 120.0
    assert retry_after(dated, now) == pytest.approx(30.0, abs=1)
    assert retry_after(past, now) == 0.0
    for junk in ("soon", "-5", "1e3", "Wed, 99 Foo 2025", ""):
        assert retry_after(HttpResponse(429, {"retry-after": junk}), now) is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, b"", True),
        (500, b"", True),
        (503, b"<html>", True),
        (400, b'{"error": "temporarily_unavailable"}', True),
        (400, b'{"error": "server_error"}', True),
        (400, b'{"error": "invalid_grant"}', False),
        (400, b'{"error": {"code": 190}}', False),
        (401, b"", False),
        (200, b"{}", False),
    ],
)
def test_what_counts_as_not_now(status: int, body: bytes, expected: bool) -> None:
    assert transient(HttpResponse(status, {}, body)) is expected


# --------------------------------------------------------------- what is tried again, and how


def test_a_burst_of_5xx_is_waited_out() -> None:
    script = Scripted(_busy(503), _busy(502), httpx2.Response(200, json=TOKEN))
    with _client(script) as client:
        assert client.client_credentials().access_token == "AT"
    assert len(script.seen) == 3


def test_a_client_assertion_is_never_sent_twice() -> None:
    """Each send is a new request: a private_key_jwt assertion (its jti) is made anew, as a
    server's replay check demands (RFC 7523 §3)."""
    key = jwk.ECKey.generate_key("P-256", private=True)
    script = Scripted(_busy(503), _busy(503), httpx2.Response(200, json=TOKEN))
    client = OAuth2Client(
        "app",
        private_key=key.as_dict(private=True),
        token_endpoint=f"{AS}/token",
        http=httpx2.Client(transport=httpx2.MockTransport(script)),
        retry=FAST,
    )
    with client:
        client.client_credentials()
    assertions = [form["client_assertion"] for form in script.forms()]
    assert len(assertions) == 3 and len(set(assertions)) == 3


def test_retry_after_is_honoured() -> None:
    script = Scripted(_busy(429, **{"Retry-After": "1"}), httpx2.Response(200, json=TOKEN))
    started = time.monotonic()
    with _client(script) as client:
        client.client_credentials()
    assert time.monotonic() - started >= 1.0
    assert len(script.seen) == 2


def test_a_server_asking_for_longer_than_max_wait_is_not_waited_for() -> None:
    script = Scripted(_busy(429, **{"Retry-After": "120"}))
    started = time.monotonic()
    with _client(script, retry=Retry(max_wait=30)) as client:
        with pytest.raises(TemporarilyUnavailable) as info:
            client.client_credentials()
    assert time.monotonic() - started < 1
    assert info.value.retry_after == 120.0
    assert len(script.seen) == 1


def test_after_the_attempts_the_error_says_not_now() -> None:
    script = Scripted(httpx2.Response(400, json={"error": "temporarily_unavailable"}))
    with _client(script) as client:
        with pytest.raises(TemporarilyUnavailable):
            client.client_credentials()
    assert len(script.seen) == 3


def test_retry_none_sends_once() -> None:
    script = Scripted(_busy(503), httpx2.Response(200, json=TOKEN))
    with _client(script, retry=None) as client:
        with pytest.raises(TemporarilyUnavailable):
            client.client_credentials()
    assert len(script.seen) == 1


def test_a_connection_that_never_reached_the_server_is_tried_again() -> None:
    refused = httpx2.ConnectError("connection refused")
    script = Scripted(refused, refused, httpx2.Response(200, json=TOKEN))
    with _client(script) as client:
        assert client.client_credentials().access_token == "AT"
    assert len(script.seen) == 3


def test_a_lost_answer_to_a_refresh_is_not_sent_again() -> None:
    """The server may have rotated the refresh token: sending it again could revoke the
    grant (RFC 9700 §4.14.2). The caller learns it was lost."""
    script = Scripted(httpx2.ReadError("connection reset"), httpx2.Response(200, json=TOKEN))
    with _client(script) as client:
        with pytest.raises(TransportError) as info:
            client.refresh(Token("old", refresh_token="RT"))
    assert info.value.sent is True
    assert len(script.seen) == 1


def test_reads_are_tried_again_even_after_a_lost_answer() -> None:
    """Discovery (an idempotent GET) is sent again after a reset."""
    metadata = {"issuer": AS, "token_endpoint": f"{AS}/token"}
    script = Scripted(httpx2.ReadError("reset"), httpx2.Response(200, json=metadata))
    client = OAuth2Client(
        "app",
        "secret",
        issuer=AS,
        http=httpx2.Client(transport=httpx2.MockTransport(script)),
        retry=FAST,
    )
    with client:
        assert client.metadata().endpoints["token_endpoint"] == f"{AS}/token"
    assert len(script.seen) == 2


# ---------------------------------------------------------------------- never sent twice


def _callback(request: AuthorizationRequest) -> dict[str, str]:
    return {"code": "single-use-code", "state": request.state}


def test_an_authorization_code_is_exchanged_once() -> None:
    script = Scripted(_busy(503), httpx2.Response(200, json=TOKEN))
    with _client(script) as client:
        request = client.authorization_request(redirect_uri="http://127.0.0.1:8000/cb")
        with pytest.raises(TemporarilyUnavailable):
            client.exchange_code(request, _callback(request))
    assert len(script.seen) == 1


def test_a_pushed_authorization_request_is_sent_once() -> None:
    script = Scripted(
        _busy(503), httpx2.Response(201, json={"request_uri": "urn:x", "expires_in": 60})
    )
    client = OAuth2Client(
        "app",
        "secret",
        issuer=AS,
        http=httpx2.Client(transport=httpx2.MockTransport(script)),
        metadata=_metadata(pushed_authorization_request_endpoint=f"{AS}/par"),
        retry=FAST,
    )
    with client, pytest.raises(TemporarilyUnavailable):
        client.authorization_request(redirect_uri="http://127.0.0.1:8000/cb", par=True)
    assert len(script.seen) == 1


def test_a_device_poll_is_paced_by_its_own_protocol_only() -> None:
    script = Scripted(
        httpx2.Response(
            200,
            json={
                "device_code": "DC",
                "user_code": "UC",
                "verification_uri": f"{AS}/device",
                "expires_in": 60,
                "interval": 1,
            },
        ),
        _busy(503),
    )
    client = OAuth2Client(
        "app",
        "secret",
        issuer=AS,
        http=httpx2.Client(transport=httpx2.MockTransport(script)),
        metadata=_metadata(device_authorization_endpoint=f"{AS}/device_authorization"),
        retry=FAST,
    )
    with client:
        device = client.device_authorization()
        with pytest.raises(TemporarilyUnavailable):
            client.poll_device(device, wait=lambda seconds: None)
    assert len(script.seen) == 2  # the authorization, and one poll


def test_a_registration_is_sent_once() -> None:
    script = Scripted(_busy(503), httpx2.Response(201, json={"client_id": "new"}))
    http = httpx2.Client(transport=httpx2.MockTransport(script))
    step = register(AS, f"{AS}/register", {"redirect_uris": ["http://127.0.0.1/cb"]})
    with pytest.raises(TemporarilyUnavailable):
        run(step, http)
    assert len(script.seen) == 1


# ------------------------------------------------------------------ refresh outcomes


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx2.Response(400), InvalidGrant),
        (httpx2.Response(401), InvalidGrant),
        (httpx2.Response(401, headers={"WWW-Authenticate": "Basic"}), InvalidClient),
        (httpx2.Response(400, json={"error": "invalid_grant"}), InvalidGrant),
    ],
    ids=["bare-400", "bare-401", "401-challenge", "invalid_grant"],
)
def test_a_refusal_without_a_body_is_told_apart(answer: httpx2.Response, error: type) -> None:
    """A 400/401 with no OAuth error refuses the grant (servers that say so with a bare
    status); a 401 with a challenge refuses the client (RFC 6749 §5.2)."""
    script = Scripted(answer)
    with _client(script) as client:
        with pytest.raises(error):
            client.refresh(Token("old", refresh_token="RT"))
    assert len(script.seen) == 1


def test_an_auth_object_never_sends_a_refused_refresh_token_again() -> None:
    from datetime import UTC, datetime, timedelta

    from oauthkit.errors import ReauthenticationRequired

    script = Scripted(httpx2.Response(400, json={"error": "invalid_grant"}))
    expired = Token("old", refresh_token="RT", expires_at=datetime.now(UTC) - timedelta(1))
    with (
        _client(script) as client,
        httpx2.Client(auth=client.auth(expired), transport=httpx2.MockTransport(script)) as api,
    ):
        for _ in range(3):
            with pytest.raises(ReauthenticationRequired, match="invalid_grant"):
                api.get("https://api.example/me")
    assert len(script.seen) == 1  # the refresh, once


# ------------------------------------------------------------------------------ async


def test_the_async_client_tries_again_the_same_way() -> None:
    script = Scripted(_busy(503), httpx2.ConnectError("refused"), httpx2.Response(200, json=TOKEN))

    async def main() -> Token:
        async with AsyncOAuth2Client(
            "app",
            "secret",
            token_endpoint=f"{AS}/token",
            http=httpx2.AsyncClient(transport=httpx2.MockTransport(script)),
            retry=FAST,
        ) as client:
            return await client.client_credentials()

    assert anyio.run(main).access_token == "AT"
    assert len(script.seen) == 3


def test_the_async_client_exchanges_a_code_once() -> None:
    script = Scripted(_busy(503), httpx2.Response(200, json=TOKEN))

    async def main() -> None:
        async with AsyncOAuth2Client(
            "app",
            "secret",
            token_endpoint=f"{AS}/token",
            authorization_endpoint=f"{AS}/authorize",
            http=httpx2.AsyncClient(transport=httpx2.MockTransport(script)),
            retry=FAST,
        ) as client:
            request = await client.authorization_request(redirect_uri="http://127.0.0.1:8/cb")
            await client.exchange_code(request, _callback(request))

    with pytest.raises(TemporarilyUnavailable):
        anyio.run(main)
    assert len(script.seen) == 1


def _metadata(**endpoints: str) -> Any:
    from oauthkit.protocol.oauth2.metadata import ServerMetadata

    return ServerMetadata(
        issuer=AS,
        endpoints={
            "token_endpoint": f"{AS}/token",
            "authorization_endpoint": f"{AS}/authorize",
            **endpoints,
        },
    )
