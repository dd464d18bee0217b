"""Token endpoint answers (RFC 6749 §5.1-5.2): every malformed case is a typed error that
shows the status and a truncated, secret-free body; good answers become frozen Tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oauthkit.errors import (
    SERVER_ERRORS,
    InvalidClient,
    InvalidGrant,
    InvalidResponse,
    OAuthKitError,
    OAuthServerError,
    TemporarilyUnavailable,
)
from oauthkit.oauth2 import Token, parse_token_response
from oauthkit.protocol.http import HttpResponse

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
JSON = {"Content-Type": "application/json"}


def _parse(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Token:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = HttpResponse.build(status, headers or JSON, raw)
    return parse_token_response(
        response, requested_scope="a b", grant="authorization_code", now=NOW
    )


def test_a_complete_response() -> None:
    token = _parse(
        {
            "access_token": "AT",
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": "RT",
            "scope": "a",
            "id_token": "h.p.s",
            "custom": {"x": 1},
        }
    )
    assert token.access_token == "AT"
    assert token.token_type == "Bearer"
    assert token.expires_at == NOW + timedelta(seconds=3600)
    assert token.expires_at.tzinfo is not None
    assert token.refresh_token == "RT"
    assert token.scope == "a"  # the granted scope is recorded, not raised
    assert token.id_token == "h.p.s"
    assert token.extra == {"custom": {"x": 1}}
    assert token.grant == "authorization_code"


def test_missing_scope_means_the_requested_one_and_missing_lifetime_is_unknown() -> None:
    token = _parse({"access_token": "AT", "token_type": "Bearer"})
    assert token.scope == "a b"
    assert token.expires_at is None
    assert not token.is_expired(leeway=10**9)


@pytest.mark.parametrize(
    ("value", "seconds"), [("3600", 3600), (60, 60), (120.0, 120), (" 30 ", 30)]
)
def test_expires_in_as_number_or_numeric_string(value: Any, seconds: int) -> None:
    token = _parse({"access_token": "AT", "token_type": "Bearer", "expires_in": value})
    assert token.expires_at == NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize("value", [-1, 0, 1e308, True, "soon", "1e3", 12.5, "NaN", [], {}, "٣"])
def test_nonsense_expires_in_is_refused(value: Any) -> None:
    with pytest.raises(InvalidResponse, match="expires_in"):
        _parse({"access_token": "AT", "token_type": "Bearer", "expires_in": value})


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"<html><body>Sign in</body></html>", 200, "HTML page"),
        (b"access_token=AT&token_type=bearer", 200, "not JSON"),
        (b"[1, 2]", 200, "not an object (list)"),
        (b'"AT"', 200, "not an object (str)"),
        ({"token_type": "Bearer"}, 200, "has no access_token"),
        ({"access_token": 12, "token_type": "Bearer"}, 200, "malformed access_token"),
        ({"access_token": "", "token_type": "Bearer"}, 200, "malformed access_token"),
        ({"access_token": "AT"}, 200, "without a token_type"),
        ({"access_token": "AT", "token_type": "mac"}, 200, "token_type 'mac'"),
        ({"access_token": "AT", "token_type": "Bearer", "refresh_token": 5}, 200, "refresh_token"),
        ({"access_token": "AT", "token_type": "Bearer", "scope": ["a"]}, 200, "scope"),
        ({"message": "nope"}, 400, "without an OAuth error"),
    ],
)
def test_malformed_responses_are_invalid_response(body: Any, status: int, fragment: str) -> None:
    with pytest.raises(InvalidResponse) as info:
        _parse(body, status)
    assert fragment in str(info.value)
    assert f"HTTP {status}" in str(info.value)
    assert info.value.status_code == status


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"<html>Bad Gateway</html>", 502, "HTTP 502; body: <html>Bad Gateway</html>"),
        (b"", 500, "HTTP 500"),
        (b"slow down", 429, "HTTP 429"),
        ({"error": "temporarily_unavailable"}, 400, "HTTP 400, temporarily_unavailable"),
        ({"error": "server_error"}, 500, "HTTP 500, server_error"),
    ],
)
def test_not_now_is_temporarily_unavailable(body: Any, status: int, fragment: str) -> None:
    """RFC 6585 §4, RFC 9110 §15.6, RFC 6749 §5.2: "not now" is neither a refusal nor a
    malformed answer."""
    with pytest.raises(TemporarilyUnavailable) as info:
        _parse(body, status)
    assert fragment in str(info.value)
    assert info.value.status_code == status
    assert info.value.retry_after is None


def test_messages_never_show_secrets_and_are_truncated() -> None:
    with pytest.raises(InvalidResponse) as info:
        _parse({"access_token": "SECRET-AT", "refresh_token": "SECRET-RT", "pad": "x" * 5000})
    text = str(info.value)
    assert "SECRET" not in text
    assert len(text) < 600
    assert "[redacted]" in text


@pytest.mark.parametrize(("code", "cls"), sorted(SERVER_ERRORS.items()))
def test_rfc6749_errors_map_by_table(code: str, cls: type[OAuthServerError]) -> None:
    with pytest.raises(cls) as info:
        _parse({"error": code, "error_description": "why", "error_uri": "https://e/x"}, 400)
    assert info.value.error == code
    assert info.value.error_description == "why"
    assert info.value.error_uri == "https://e/x"
    assert info.value.status_code == 400
    assert isinstance(info.value, OAuthKitError)


def test_unknown_error_codes_are_the_generic_server_error() -> None:
    with pytest.raises(OAuthServerError) as info:
        _parse({"error": "not_a_code_anyone_defined"}, 400)
    assert type(info.value) is OAuthServerError
    assert info.value.error == "not_a_code_anyone_defined"


def test_error_classes_for_the_common_cases() -> None:
    with pytest.raises(InvalidGrant):
        _parse({"error": "invalid_grant"}, 400)
    with pytest.raises(InvalidClient):
        _parse({"error": "invalid_client"}, 401)


def test_token_round_trips_and_hides_secrets() -> None:
    token = _parse(
        {"access_token": "AT", "token_type": "Bearer", "expires_in": 60, "refresh_token": "RT"}
    )
    again = Token.from_dict(token.to_dict())
    assert again == token
    assert json.loads(json.dumps(token.to_dict()))["expires_at"] == token.expires_at.isoformat()
    for text in (repr(token), str(token)):
        assert "AT" not in text.replace("expires_at", "").replace("Token", "")
        assert "RT" not in text
    raw = Token.from_dict(
        {"access_token": "x", "token_type": "bearer", "expires_in": 10, "foo": 1}, now=NOW
    )
    assert raw.expires_at == NOW + timedelta(seconds=10)
    assert raw.extra == {"foo": 1}


def test_is_expired_with_leeway() -> None:
    token = Token("x", expires_at=NOW + timedelta(seconds=30))
    assert not token.is_expired(now=NOW)
    assert token.is_expired(60, now=NOW)
    assert token.is_expired(timedelta(seconds=31), now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        Token("x", expires_at=datetime(2026, 1, 1))


def test_refresh_token_expiry_is_kept_absolute() -> None:
    token = _parse(
        {
            "access_token": "AT",
            "token_type": "bearer",
            "expires_in": 28800,
            "refresh_token": "RT",
            "refresh_token_expires_in": 15811200,
        }
    )
    assert token.refresh_token_expires_at == NOW + timedelta(seconds=15811200)
    assert token.issued_at == NOW
    assert token.lifetime == timedelta(hours=8)
    assert Token.from_dict(token.to_dict()) == token
    assert "refresh_token_expires_in" not in token.extra


def test_renewal_is_due_at_the_leeway_or_halfway_for_short_tokens() -> None:
    long = Token("x", issued_at=NOW, expires_at=NOW + timedelta(hours=1))
    assert long.renew_at(60) == NOW + timedelta(minutes=59)
    short = Token("x", issued_at=NOW, expires_at=NOW + timedelta(seconds=60))
    assert short.renew_at(60) == NOW + timedelta(seconds=30)
    assert not short.is_due(60, now=NOW + timedelta(seconds=29))
    assert short.is_due(60, now=NOW + timedelta(seconds=30))
    unknown = Token("x", expires_at=NOW + timedelta(seconds=60))
    assert unknown.renew_at(60) == NOW
    assert Token("x").renew_at(60) is None


@pytest.mark.parametrize("status", [200, 201, 203])
def test_any_2xx_token_answer_is_a_token_response(status: int) -> None:
    """Some token endpoints answer 201 Created (pydantic-ai#8123): still a token response."""
    token = _parse({"access_token": "a", "token_type": "Bearer", "expires_in": 60}, status)
    assert token.access_token == "a"
