"""The three-legged flow steps driven by hand with next()/send(): no network, no mocks."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from oauthkit.errors import (
    AuthorizationDenied,
    CallbackNotConfirmed,
    ConfigurationError,
    DuplicateParameter,
    InvalidResponse,
    MissingParameter,
    OAuth1ServerError,
    OAuthKitError,
    TokenMismatch,
)
from oauthkit.oauth1 import OAuth1Credentials, Signer, TemporaryCredentials
from oauthkit.protocol.http import HttpRequest, HttpResponse
from oauthkit.protocol.oauth1 import flow

CONSUMER = OAuth1Credentials(consumer_key="ck", consumer_secret="cs")
SIGNER = Signer(clock=lambda: 1_700_000_000)
TEMP = TemporaryCredentials(token="reqtok", token_secret="reqsecret", callback="oob")
FORM = "application/x-www-form-urlencoded"


def _answer(
    step: Generator[HttpRequest, HttpResponse, Any],
    status: int,
    body: bytes,
    content_type: str = FORM,
) -> tuple[HttpRequest, Any]:
    request = next(step)
    try:
        step.send(HttpResponse.build(status, {"Content-Type": content_type}, body))
    except StopIteration as done:
        return request, done.value
    raise AssertionError("the step asked for a second request")


def test_request_token_step_sends_a_signed_post_with_the_callback() -> None:
    step = flow.request_temporary_credentials(
        SIGNER,
        CONSUMER,
        "https://p.example/request_token",
        "https://app.example/cb",
        {"x_auth_access_type": "read"},
    )
    request, temp = _answer(
        step, 200, b"oauth_token=t1&oauth_token_secret=s1&oauth_callback_confirmed=true&x=y"
    )
    assert request.method == "POST"
    assert request.url == "https://p.example/request_token?x_auth_access_type=read"
    auth = request.header("authorization") or ""
    assert 'oauth_callback="https%3A%2F%2Fapp.example%2Fcb"' in auth
    assert 'oauth_timestamp="1700000000"' in auth
    assert "oauth_token=" not in auth
    assert temp.token == "t1"
    assert temp.token_secret == "s1"
    assert temp.callback == "https://app.example/cb"
    assert dict(temp.extra) == {"x": "y"}


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_callback_confirmed_accepts_true_in_any_case(value: str) -> None:
    step = flow.request_temporary_credentials(SIGNER, CONSUMER, "https://p.example/rt")
    body = f"oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed={value}".encode()
    assert _answer(step, 200, body)[1].token == "t"


@pytest.mark.parametrize(
    "body",
    [
        b"oauth_token=t&oauth_token_secret=s",
        b"oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=false",
    ],
)
def test_callback_not_confirmed_is_refused(body: bytes) -> None:
    step = flow.request_temporary_credentials(SIGNER, CONSUMER, "https://p.example/rt")
    with pytest.raises(CallbackNotConfirmed, match="oauth_callback_confirmed") as info:
        _answer(step, 200, body)
    assert (info.value.body_preview or "").startswith(
        "oauth_token=[redacted]&oauth_token_secret=[redacted]"
    )
    assert isinstance(info.value, InvalidResponse)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "error", "fragment"),
    [
        (401, b"", "text/plain", OAuth1ServerError, "(empty body)"),
        (401, b"Invalid signature", "text/plain", OAuth1ServerError, "Invalid signature"),
        (400, b"oauth_problem=timestamp_refused", FORM, OAuth1ServerError, "timestamp_refused"),
        (200, b"<html><body>Login</body></html>", "text/html", InvalidResponse, "HTML"),
        (200, b"oauth_token=t", FORM, InvalidResponse, "oauth_token_secret"),
        (200, b"oauth_token=&oauth_token_secret=s", FORM, InvalidResponse, "without oauth_token"),
        (
            200,
            b"oauth_token=a&oauth_token=b&oauth_token_secret=s",
            FORM,
            InvalidResponse,
            "repeats",
        ),
        (200, b"[1, 2]", "application/json", InvalidResponse, "not an object"),
        (200, b"{nope", "application/json", InvalidResponse, "malformed JSON"),
        (200, b"\xff\xfe", FORM, InvalidResponse, "UTF-8"),
    ],
)
def test_malformed_access_token_responses_are_typed(
    status: int, body: bytes, content_type: str, error: type[Exception], fragment: str
) -> None:
    step = flow.request_token_credentials(SIGNER, CONSUMER, "https://p.example/at", TEMP, "v")
    with pytest.raises(error) as info:
        _answer(step, status, body, content_type)
    assert fragment in str(info.value)
    assert isinstance(info.value, OAuthKitError)
    assert f"HTTP {status}" in str(info.value)


def test_401_explains_what_oauth1_servers_leave_unsaid() -> None:
    step = flow.request_token_credentials(SIGNER, CONSUMER, "https://p.example/at", TEMP, "v")
    with pytest.raises(OAuth1ServerError, match="clock") as info:
        _answer(step, 401, b"", "text/plain")
    assert info.value.status_code == 401


def test_error_text_never_shows_returned_secrets() -> None:
    step = flow.request_token_credentials(SIGNER, CONSUMER, "https://p.example/at", TEMP, "v")
    with pytest.raises(InvalidResponse) as info:
        _answer(step, 200, b"oauth_token=SECRET1&user_id=9", FORM)
    assert "SECRET1" not in str(info.value)
    step = flow.request_token_credentials(SIGNER, CONSUMER, "https://p.example/at", TEMP, "v")
    with pytest.raises(InvalidResponse) as info:
        _answer(step, 200, b'{"oauth_token_secret": "SECRET2"}', "application/json")
    assert "SECRET2" not in str(info.value)


def test_access_token_step_keeps_extra_fields_and_signs_with_the_verifier() -> None:
    step = flow.request_token_credentials(
        SIGNER, CONSUMER, "https://p.example/at", TEMP, "  pin123 \n"
    )
    request, creds = _answer(
        step,
        200,
        b"oauth_token=at&oauth_token_secret=as&user_id=42&screen_name=alice",
        "text/html",
    )
    auth = request.header("Authorization") or ""
    assert 'oauth_verifier="pin123"' in auth
    assert 'oauth_token="reqtok"' in auth
    assert creds.token == "at"
    assert creds.token_secret == "as"
    assert dict(creds.extra) == {"user_id": "42", "screen_name": "alice"}
    assert creds.consumer_key == "ck"


def test_access_token_step_accepts_a_json_object() -> None:
    step = flow.request_token_credentials(SIGNER, CONSUMER, "https://p.example/at", TEMP, "v")
    _, creds = _answer(
        step,
        200,
        b'{"oauth_token": "a", "oauth_token_secret": "b", "user_id": 7}',
        "application/json",
    )
    assert creds.extra["user_id"] == "7"


def test_empty_verifier_is_refused_before_any_request() -> None:
    step = flow.request_token_credentials(SIGNER, CONSUMER, "https://p.example/at", TEMP, "  ")
    with pytest.raises(ConfigurationError, match="verifier"):
        next(step)


def test_body_placement_puts_the_protocol_parameters_in_the_form() -> None:
    signer = Signer(placement="body")
    step = flow.request_temporary_credentials(signer, CONSUMER, "https://p.example/rt")
    request = next(step)
    assert request.header("content-type") == FORM
    assert b"oauth_callback=oob" in request.body
    assert request.header("authorization") is None


def test_authorization_url_keeps_the_query_and_adds_the_token() -> None:
    url = flow.authorization_url(
        "https://p.example/authorize?lang=fr", TEMP, {"force_login": "true"}
    )
    assert url == "https://p.example/authorize?lang=fr&oauth_token=reqtok&force_login=true"


@pytest.mark.parametrize(
    "callback",
    [
        "https://app.example/cb?oauth_token=reqtok&oauth_verifier=ver",
        "oauth_token=reqtok&oauth_verifier=ver",
        "?oauth_token=reqtok&oauth_verifier=ver",
        {"oauth_token": "reqtok", "oauth_verifier": "ver"},
    ],
)
def test_parse_callback_accepts_url_query_or_mapping(callback: Any) -> None:
    assert flow.parse_callback(TEMP, callback) == "ver"


@pytest.mark.parametrize(
    ("callback", "error"),
    [
        ("https://app.example/cb?oauth_token=other&oauth_verifier=v", TokenMismatch),
        ("https://app.example/cb?oauth_verifier=v", TokenMismatch),
        ("https://app.example/cb?oauth_token=reqtok", MissingParameter),
        ("https://app.example/cb?oauth_token=reqtok&oauth_verifier=", MissingParameter),
        ("https://app.example/cb?denied=reqtok", AuthorizationDenied),
        (
            "https://app.example/cb?oauth_token=reqtok&oauth_verifier=a&oauth_verifier=b",
            DuplicateParameter,
        ),
    ],
)
def test_parse_callback_refusals_are_typed(callback: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        flow.parse_callback(TEMP, callback)


def test_temporary_credentials_round_trip_and_hide_the_secret() -> None:
    again = TemporaryCredentials.from_dict(TEMP.to_dict())
    assert again == TEMP
    assert "reqsecret" not in repr(TEMP)
    with pytest.raises(ConfigurationError):
        TemporaryCredentials.from_dict({"token": "x"})


def test_parse_callback_takes_the_pin_of_an_out_of_band_flow() -> None:
    from oauthkit.errors import TokenMismatch
    from oauthkit.protocol.oauth1.flow import parse_callback

    oob = TemporaryCredentials("tok", "sec", callback="oob")
    assert parse_callback(oob, " 8162534\n") == "8162534"
    assert parse_callback(oob, "?oauth_token=tok&oauth_verifier=v1") == "v1"
    with pytest.raises(TokenMismatch):
        parse_callback(
            TemporaryCredentials("tok", "sec", callback="http://127.0.0.1/cb"), "8162534"
        )
    with pytest.raises(TokenMismatch):  # a query is never taken for a PIN
        parse_callback(oob, "oauth_verifier=v1")
