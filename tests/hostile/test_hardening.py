"""What an adversarial review found beyond the hostile suite, each as a whole class: parsers
of server text in linear time under a cap, secrets scrubbed by value from every message and
chained cause, codes refused to another client or issuer, and every odd number, nesting or
repeated key ending in an oauthkit error."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import pytest

from hostile.server import ACCESS, CLIENT_ID, CLIENT_SECRET, REFRESH, HostileServer, Seen
from oauthkit import OAuth1Client, OAuth2Auth, OAuth2Client, Token
from oauthkit.errors import (
    InvalidResponse,
    IssuerMismatch,
    OAuth1ServerError,
    OAuthKitError,
    OAuthServerError,
    ReauthenticationRequired,
    TransportError,
)
from oauthkit.protocol.http import HttpResponse
from oauthkit.protocol.jsontext import MAX_DEPTH, JSONTextError, loads
from oauthkit.protocol.oauth1.encoding import parse_form
from oauthkit.protocol.oauth1.flow import parse_credentials_response
from oauthkit.protocol.oauth2.authorization import parse_callback_parameters
from oauthkit.protocol.oauth2.bearer import bearer_challenge_error, parse_challenges
from oauthkit.protocol.oauth2.oidc import IdTokenError
from oauthkit.protocol.oauth2.response import parse_token_response
from oauthkit.protocol.redaction import redact

JSON = {"Content-Type": "application/json"}
REDIRECT = "http://127.0.0.1:8765/callback"
CONSUMER_SECRET = "consumer-secret-never-shown-42"


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


@pytest.fixture
def hostile(server: HostileServer) -> Iterator[HostileServer]:
    server.mode, server.answer, server.claims = "ok", None, {}
    yield server
    server.mode, server.answer, server.claims = "ok", None, {}


def _client(server: HostileServer, **options: Any) -> OAuth2Client:
    return OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        issuer=server.issuer,
        redirect_uri=REDIRECT,
        scope="openid",
        **options,
    )


def _sign_in(server: HostileServer, client: OAuth2Client) -> Token:
    request = client.authorization_request()
    server.nonce = request.nonce
    return client.exchange_code(
        request, {"code": "code-never-shown-123456", "state": request.state, "iss": server.issuer}
    )


def _everything_said(exc: BaseException) -> str:
    """What a traceback, a log line or a CLI could show: every message, repr, preview and
    description along the whole chain of causes."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen)]
        for name in ("body_preview", "error_description", "error_uri"):
            value = getattr(seen, name, None)
            if value:
                parts.append(str(value))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


# --------------------------------------------------------------------------- 1. linear time


def _best_of(function: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(OAuthKitError, ValueError):
            function()
        best = min(best, time.perf_counter() - started)
    return best


#: Inputs built to make a backtracking parser quadratic: long runs that almost match.
JUNK: dict[str, Callable[[int], str]] = {
    "word": lambda n: "a" * n,
    "escapes": lambda n: '\\"' * (n // 2),
    "equals": lambda n: "a=" * (n // 2),
    "quotes": lambda n: '"' * n,
    "commas": lambda n: "x," * (n // 2),
    "open-quote": lambda n: 'error="' + "\\" * n,
    "brackets": lambda n: "[" * n,
    "braces": lambda n: '{"a":' * (n // 5),
    "percent": lambda n: "%" * n,
    "ampersands": lambda n: "&=" * (n // 2),
}

PARSERS: dict[str, Callable[[str], object]] = {
    "www-authenticate": lambda text: bearer_challenge_error("Bearer " + text),
    "challenges": lambda text: parse_challenges("DPoP " + text),
    "json": lambda text: loads(text),
    "redact-json": lambda text: redact('{"code": "' + text, secrets=["code-never-shown"]),
    "redact-text": lambda text: redact(text, secrets=["code-never-shown", "x" * 20]),
    "callback": lambda text: parse_callback_parameters("http://127.0.0.1/cb?" + text),
    "oauth1-form": lambda text: parse_form(text),
    "oauth1-credentials": lambda text: parse_credentials_response(
        HttpResponse(200, {}, text.encode()), "the endpoint"
    ),
    "token-response": lambda text: parse_token_response(
        HttpResponse(200, JSON, text.encode()), requested_scope=None, grant="x"
    ),
    "error-response": lambda text: parse_token_response(
        HttpResponse(400, JSON, ('{"error": "x", "error_description": "' + text).encode()),
        requested_scope=None,
        grant="x",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("junk", sorted(JUNK))
@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_every_parser_of_server_text_is_linear(parser: str, junk: str) -> None:
    """16 times the input costs far less than 256 times the time (what quadratic would
    cost). The best of three runs each, and a floor, keep a busy machine from failing it."""
    parse, make = PARSERS[parser], JUNK[junk]
    small = _best_of(lambda: parse(make(16 * 1024)))
    large = _best_of(lambda: parse(make(256 * 1024)))
    assert large < max(small * 64, 0.1), f"{parser} on {junk}: {small:.4f}s -> {large:.4f}s"


def test_a_junk_challenge_does_not_stall_the_auth(hostile: HostileServer) -> None:
    """The reported case: a 401 with ``Bearer`` and 48 kB of junk took 20 s."""
    junk = "Bearer " + "a" * 48 * 1024
    hostile.answer = lambda seen: (401, {"WWW-Authenticate": junk}, b"")
    auth = OAuth2Auth(_client(hostile), Token(access_token=ACCESS, token_type="Bearer"))
    started = time.monotonic()
    with httpx2.Client(auth=auth) as http:
        assert http.get(f"{hostile.issuer}/api").status_code == 401
    assert time.monotonic() - started < 1.0


def test_challenges_are_parsed_as_rfc_9110_says() -> None:
    header = (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple", '
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l==, "
        'Bearer error="invalid_token", error_description="expired", '
        'DPoP algs="ES256 EdDSA", error="use_dpop_nonce"'
    )
    assert parse_challenges(header) == [
        ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        ("basic", {"realm": "simple"}),
        ("basic", {}),
        ("bearer", {"error": "invalid_token", "error_description": "expired"}),
        ("dpop", {"algs": "ES256 EdDSA", "error": "use_dpop_nonce"}),
    ]
    assert bearer_challenge_error(header) == "invalid_token"
    assert bearer_challenge_error('DPoP error="invalid_token"') is None
    assert bearer_challenge_error('Bearer realm="a bearer error=x"') is None


# --------------------------------------------------------------------------- 3. secrets


def _echo(shape: str) -> Callable[[Seen], tuple[int, dict[str, str], bytes]]:
    """An error answer that quotes what the request carried, in one of several shapes."""

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        form = dict(parse_qsl(seen.body.decode(), keep_blank_values=True))
        authorization = seen.headers.get("Authorization", "")
        quoted = " ".join([authorization, *form.values()])
        if shape == "json-token":
            body = {"error": "invalid_request", "token": form.get("token"), "got": form}
            return 400, JSON, json.dumps(body).encode()
        if shape == "description":
            body = {"error": "invalid_grant", "error_description": f"bad: {quoted}"}
            return 400, JSON, json.dumps(body).encode()
        if shape == "plain":
            return 500, {"Content-Type": "text/plain"}, f"failed for {quoted}".encode()
        if shape == "html":
            return 502, {"Content-Type": "text/html"}, f"<p>{quoted}</p>".encode()
        if shape == "echo-authorization":
            body = {"authorization": authorization, "secret": form.get("client_secret")}
            return 401, JSON, json.dumps(body).encode()
        if shape == "percent":
            from urllib.parse import quote

            return 400, {"Content-Type": "text/plain"}, quote(quoted, safe="").encode()
        raise AssertionError(shape)

    return answer


SHAPES = ["json-token", "description", "plain", "html", "echo-authorization", "percent"]
SECRETS = (CLIENT_SECRET, ACCESS, REFRESH, "code-never-shown-123456")


def _echoed(exc: BaseException) -> bool:
    """Whether the server's raw answer (kept on the error) did quote a secret: what makes a
    clean message mean something."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode())
        if response is not None and any(
            s in response.body for s in (basic, *(s.encode() for s in SECRETS))
        ):
            return True
        seen = seen.__cause__
    return False


def _assert_clean(exc: BaseException) -> None:
    said = _everything_said(exc)
    for secret in SECRETS:
        assert secret not in said, f"{secret!r} shown"


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
@pytest.mark.parametrize("shape", SHAPES)
def test_no_secret_in_any_error(hostile: HostileServer, shape: str, auth_method: str) -> None:
    token = Token(access_token=ACCESS, token_type="Bearer", refresh_token=REFRESH)
    with _client(hostile, auth_method=auth_method) as client:
        client.metadata()
        hostile.answer = _echo(shape)
        with pytest.raises(OAuthKitError) as code:
            _sign_in(hostile, client)
        errors = [code.value]
        for call in (client.revoke, client.introspect, client.refresh):
            with pytest.raises(OAuthKitError) as info:
                call(token)
            errors.append(info.value)
    for error in errors:
        _assert_clean(error)
    assert any(_echoed(error) for error in errors)


def test_a_refused_refresh_keeps_secrets_out_of_the_chain(hostile: HostileServer) -> None:
    """``ReauthenticationRequired`` from an auth object, with its ``__cause__``."""
    token = Token(
        access_token=ACCESS,
        token_type="Bearer",
        refresh_token=REFRESH,
        expires_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    with _client(hostile) as client:
        client.metadata()
        hostile.answer = _echo("description")
        with (
            httpx2.Client(auth=client.auth(token)) as http,
            pytest.raises(ReauthenticationRequired) as info,
        ):
            http.get(f"{hostile.issuer}/api")
    assert isinstance(info.value.__cause__, OAuthServerError)
    _assert_clean(info.value)
    assert _echoed(info.value)


@pytest.mark.parametrize("method", ["HMAC-SHA1", "PLAINTEXT"])
@pytest.mark.parametrize("shape", ["plain", "html", "echo-authorization", "form"])
def test_oauth1_secrets_echoed_back_are_scrubbed(
    hostile: HostileServer, method: str, shape: str
) -> None:
    token_secret = "token-secret-never-shown-99"

    def answer(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        said = f"{seen.headers.get('Authorization', '')} {CONSUMER_SECRET} {token_secret}"
        if shape == "form":
            body = f"oauth_problem=signature_invalid&debug={said}&oauth_token_secret=x"
            return 401, {"Content-Type": "application/x-www-form-urlencoded"}, body.encode()
        if shape == "html":
            return 401, {"Content-Type": "text/html"}, f"<pre>{said}</pre>".encode()
        if shape == "echo-authorization":
            return 401, JSON, json.dumps({"authorization": said}).encode()
        return 401, {"Content-Type": "text/plain"}, said.encode()

    hostile.answer = answer
    from oauthkit.oauth1 import TemporaryCredentials

    with OAuth1Client(
        "consumer-key",
        CONSUMER_SECRET,
        request_token_url=f"{hostile.issuer}/oauth1/request_token",
        authorize_url=f"{hostile.issuer}/oauth1/authorize",
        access_token_url=f"{hostile.issuer}/oauth1/access_token",
        signature_method=method,
    ) as client:
        with pytest.raises(OAuth1ServerError) as first:
            client.fetch_request_token(callback="oob")
        temporary = TemporaryCredentials("temporary-token", token_secret)
        with pytest.raises(OAuth1ServerError) as second:
            client.fetch_access_token(temporary, "verifier-123456")
    # The first step knows no token secret yet: only the second can scrub it.
    for info, secrets in ((first, [CONSUMER_SECRET]), (second, [CONSUMER_SECRET, token_secret])):
        said = _everything_said(info.value)
        for secret in secrets:
            assert secret not in said
        assert "[redacted]" in said


# --------------------------------------------------------------------------- 4. mix-up


@pytest.mark.slow
def test_a_code_goes_only_to_the_client_and_issuer_that_asked(
    hostile: HostileServer,
) -> None:
    other = HostileServer().start()
    try:
        with (
            _client(hostile) as client_a,
            _client(other) as client_b,
            OAuth2Client(
                "another-client", CLIENT_SECRET, issuer=hostile.issuer, redirect_uri=REDIRECT
            ) as client_c,
        ):
            request = client_a.authorization_request()
            hostile.nonce = request.nonce
            callback = {"code": "code-of-a-123456", "state": request.state, "iss": hostile.issuer}
            client_b.metadata()
            client_c.metadata()
            before_a, before_b = len(hostile.requests), len(other.requests)
            with pytest.raises(IssuerMismatch, match="9207"):
                client_b.exchange_code(request, callback)
            with pytest.raises(IssuerMismatch, match="another-client"):
                client_c.exchange_code(request, callback)
            assert other.requests[before_b:] == []
            assert hostile.requests[before_a:] == []
            assert not request.used
            token = client_a.exchange_code(request, callback)  # still usable by its own client
            assert token.access_token == ACCESS
    finally:
        other.stop()


def test_a_code_goes_only_to_the_endpoint_that_issued_it(hostile: HostileServer) -> None:
    """Explicit endpoints and no issuer: the authorization endpoint names the server."""
    with (
        OAuth2Client(
            CLIENT_ID,
            CLIENT_SECRET,
            authorization_endpoint="http://127.0.0.1:9/authorize",
            token_endpoint=f"{hostile.issuer}/token",
            redirect_uri=REDIRECT,
        ) as client_a,
        OAuth2Client(
            CLIENT_ID,
            CLIENT_SECRET,
            authorization_endpoint=f"{hostile.issuer}/authorize",
            token_endpoint=f"{hostile.issuer}/token",
            redirect_uri=REDIRECT,
        ) as client_b,
    ):
        request = client_a.authorization_request()
        before = len(hostile.requests)
        with pytest.raises(IssuerMismatch, match="authorization endpoint"):
            client_b.exchange_code(request, {"code": "c0de-123456", "state": request.state})
        assert hostile.requests[before:] == []


# --------------------------------------------------------------------------- 5, 10. odd JSON


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return (
            b'{"access_token": "a", "token_type": "Bearer", "x": '
            + b"[" * depth
            + b"]" * depth
            + b"}"
        )
    return b'{"error": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


TOKEN_BODIES: dict[str, tuple[int, bytes]] = {
    "array-900": (200, _nested(900, "array")),
    "array-50000": (200, _nested(50_000, "array")),
    "object-50000-error": (400, _nested(50_000, "object")),
    "deep-error-body": (500, b"[" * 50_000),
    "expires_in-5000-digits": (
        200,
        b'{"access_token": "a", "token_type": "Bearer", "expires_in": ' + b"9" * 5000 + b"}",
    ),
    "expires_in-5000-digit-string": (
        200,
        b'{"access_token": "a", "token_type": "Bearer", "expires_in": "' + b"9" * 5000 + b'"}',
    ),
    "expires_in-NaN": (200, b'{"access_token": "a", "token_type": "Bearer", "expires_in": NaN}'),
    "expires_in-1e999": (
        200,
        b'{"access_token": "a", "token_type": "Bearer", "expires_in": 1e999}',
    ),
    "duplicate-access_token": (
        200,
        b'{"access_token": "a", "access_token": "b", "token_type": "Bearer"}',
    ),
    "duplicate-error": (400, b'{"error": "invalid_grant", "error": "slow_down"}'),
    "invalid-utf8": (200, b'{"access_token": "\xff\xfe", "token_type": "Bearer"}'),
    "lone-surrogate": (200, b'{"access_token": "\\ud800", "token_type": "Bearer"}'),
}


@pytest.mark.parametrize("case", sorted(TOKEN_BODIES))
def test_odd_json_ends_in_a_typed_error(hostile: HostileServer, case: str) -> None:
    status, body = TOKEN_BODIES[case]
    with _client(hostile) as client:
        client.metadata()
        hostile.answer = lambda seen: (status, dict(JSON), body)
        with pytest.raises(OAuthKitError) as info:
            _sign_in(hostile, client)
    assert isinstance(info.value, InvalidResponse | OAuthServerError)
    if case.startswith("duplicate-access_token"):
        assert "repeated" in str(info.value)
    assert len(str(info.value)) < 2000


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": 10**400}, "not JSON|number"),
        ({"exp": float("nan")}, "not JSON|NaN"),
        ({"iat": float("-inf")}, "not JSON|Infinity"),
        ({"exp": 10**30}, "NumericDate"),
        ({"exp": 1e300}, "NumericDate"),
        ({"iat": -(10**20)}, "NumericDate"),
    ],
    ids=["exp-10**400", "exp-NaN", "iat--inf", "exp-10**30", "exp-1e300", "iat-huge-negative"],
)
def test_odd_id_token_times_are_refused(
    hostile: HostileServer, claims: dict[str, Any], message: str
) -> None:
    hostile.claims = claims
    with _client(hostile) as client, pytest.raises(IdTokenError, match=message):
        _sign_in(hostile, client)


def test_a_duplicate_claim_in_an_id_token_is_refused(hostile: HostileServer) -> None:

    from joserfc import jws

    from hostile.server import KEY

    with _client(hostile) as client:
        request = client.authorization_request()
        now = int(time.time())
        payload = (
            f'{{"iss": "{hostile.issuer}", "sub": "alice", "sub": "mallory", '
            f'"aud": "{CLIENT_ID}", "exp": {now + 300}, "iat": {now}, "nonce": "{request.nonce}"}}'
        )
        id_token = jws.serialize_compact({"alg": "RS256", "kid": "k1"}, payload, KEY)
        body = json.dumps(
            {"access_token": ACCESS, "token_type": "Bearer", "id_token": id_token}
        ).encode()
        hostile.answer = lambda seen: (200, dict(JSON), body)
        callback = {"code": "c0de-123456", "state": request.state, "iss": hostile.issuer}
        with pytest.raises(IdTokenError, match="repeated"):
            client.exchange_code(request, callback)


def test_oauth1_json_answers_refuse_duplicates() -> None:
    body = b'{"oauth_token": "a", "oauth_token": "b", "oauth_token_secret": "s"}'
    with pytest.raises(InvalidResponse, match="repeated"):
        parse_credentials_response(HttpResponse(200, JSON, body), "the endpoint")


def test_loads_refuses_what_json_would_accept() -> None:
    for text in ('{"a": 1, "a": 2}', "NaN", "[Infinity]", "1e400", "9" * 41):
        with pytest.raises(JSONTextError):
            loads(text)
    with pytest.raises(JSONTextError, match="deeper"):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


# --------------------------------------------------------------------------- 6. slow headers


def _slow_headers(seen: Seen) -> tuple[int, dict[str, str], bytes]:
    if seen.path == "/token":
        return 200, {**JSON, "X-Slow-Headers": "1"}, b"{}"
    raise AssertionError(seen.path)


@pytest.mark.slow
@pytest.mark.parametrize("connection", ["reused", "new"])
def test_the_deadline_covers_slow_headers_sync(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch, connection: str
) -> None:
    """One header line a second for a minute: the exchange ends at the deadline, on a fresh
    connection as on one kept alive from the discovery request."""
    monkeypatch.setattr("oauthkit.drivers.READ_DEADLINE", 2.0)
    if connection == "reused":  # discovery first: the token request reuses its connection
        client = _client(hostile)
    else:  # no discovery: the token request opens the connection
        client = OAuth2Client(CLIENT_ID, CLIENT_SECRET, token_endpoint=f"{hostile.issuer}/token")
    with client:
        client.metadata()
        hostile.answer = _slow_headers
        started = time.monotonic()
        with pytest.raises(TransportError, match="headers included"):
            client.client_credentials()
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_the_deadline_covers_slow_headers_async(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    from oauthkit import AsyncOAuth2Client

    monkeypatch.setattr("oauthkit.drivers.READ_DEADLINE", 2.0)

    async def main() -> None:
        async with AsyncOAuth2Client(
            CLIENT_ID, CLIENT_SECRET, issuer=hostile.issuer, redirect_uri=REDIRECT
        ) as client:
            await client.metadata()
            hostile.answer = _slow_headers
            with pytest.raises(TransportError, match="headers included"):
                await client.client_credentials()

    started = time.monotonic()
    anyio.run(main)
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- a missing ID token


@pytest.mark.parametrize(
    ("granted", "refused"),
    [("openid profile", True), (None, True), ("profile", False)],
    ids=["openid-granted", "scope-omitted", "openid-not-granted"],
)
def test_an_id_token_is_required_when_openid_was_granted(
    hostile: HostileServer, granted: str | None, refused: bool
) -> None:
    """OIDC Core §3.1.3.3: asked for and granted ``openid`` (an omitted scope means as
    requested, RFC 6749 §5.1), the answer must carry an ID token."""
    body: dict[str, Any] = {"access_token": ACCESS, "token_type": "Bearer"}
    if granted is not None:
        body["scope"] = granted
    with _client(hostile) as client:
        client.metadata()
        hostile.answer = lambda seen: (200, dict(JSON), json.dumps(body).encode())
        if refused:
            with pytest.raises(IdTokenError, match=r"3\.1\.3\.3"):
                _sign_in(hostile, client)
        else:
            assert _sign_in(hostile, client).id_token is None


def test_an_error_redirect_without_iss_still_names_the_error(hostile: HostileServer) -> None:
    """RFC 9207 wants iss on error redirects too; refused, but the user learns what it said."""
    with _client(hostile) as client:
        request = client.authorization_request()
        with pytest.raises(IssuerMismatch, match=r"error=.access_denied.*unverified"):
            client.exchange_code(request, {"error": "access_denied", "state": request.state})


@pytest.mark.slow
def test_a_slow_token_endpoint_is_waited_for(hostile: HostileServer) -> None:
    """A refresh answered after 6 s (a loaded server): the client waits for the answer, which
    carries the only copy of the rotated refresh token. httpx's own 5 s default would give up,
    and the old refresh token would be refused from then on."""
    token = Token(
        access_token=ACCESS,
        token_type="Bearer",
        refresh_token=REFRESH,
        expires_at=datetime.now(UTC) - timedelta(minutes=5),
    )

    def slow(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        time.sleep(6)
        body = {"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    with _client(hostile) as client:
        client.metadata()
        hostile.answer = slow
        renewed = client.refresh(token)
    assert renewed.refresh_token == "rt-2"
