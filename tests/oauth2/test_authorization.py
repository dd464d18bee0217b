"""The authorization request and the validation of the redirect back, driven by hand."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from oauthkit.errors import (
    AuthorizationDenied,
    AuthorizationResponseError,
    ConfigurationError,
    DuplicateParameter,
    IssuerMismatch,
    MissingParameter,
    RequestAlreadyUsed,
    StateMismatch,
    UnexpectedParameter,
)
from oauthkit.oauth2 import AuthorizationCode, AuthorizationRequest, code_challenge
from oauthkit.protocol.oauth2.authorization import build_authorization_request, validate_callback
from oauthkit.protocol.oauth2.client_auth import ClientAuth
from oauthkit.protocol.oauth2.config import ClientConfig
from oauthkit.protocol.oauth2.metadata import ServerMetadata
from oauthkit.protocol.oauth2.server import MetadataCache

ISSUER = "https://as.example"


def _config(**overrides: Any) -> ClientConfig:
    args: dict[str, Any] = {
        "auth": ClientAuth("cid"),
        "endpoints": {"authorization_endpoint": "https://as.example/authorize?tenant=t1"},
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "openid profile",
    }
    return ClientConfig(**{**args, **overrides})


def _request(iss_required: bool = False, **overrides: Any) -> AuthorizationRequest:
    metadata = ServerMetadata(
        issuer=ISSUER,
        endpoints={"authorization_endpoint": "https://as.example/authorize?tenant=t1"},
        authorization_response_iss_parameter_supported=iss_required,
    )
    step = build_authorization_request(_config(**overrides), MetadataCache(metadata))
    try:
        next(step)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("no request expected: the metadata is cached")


def _query(request: AuthorizationRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def test_the_url_carries_pkce_state_nonce_and_keeps_the_endpoint_query() -> None:
    request = _request()
    query = _query(request)
    assert query["tenant"] == ["t1"]
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["cid"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8765/callback"]
    assert query["scope"] == ["openid profile"]
    assert query["state"] == [request.state]
    assert len(request.state) >= 43  # 256 bits, base64url
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [code_challenge(request.code_verifier or "")]
    assert query["nonce"] == [request.nonce]


def test_no_nonce_without_openid_and_pkce_opt_out_and_plain() -> None:
    step = build_authorization_request(
        _config(pkce=None, scope="repo"),
        MetadataCache(
            ServerMetadata(endpoints={"authorization_endpoint": "https://as.example/authorize"})
        ),
    )
    with pytest.raises(StopIteration) as done:
        next(step)
    request = done.value.value
    assert "code_challenge" not in _query(request)
    assert "nonce" not in _query(request)
    plain = _request(pkce="plain")
    assert _query(plain)["code_challenge"] == [plain.code_verifier]


def test_extra_parameters_repeat_and_cannot_replace_protected_ones() -> None:
    step = build_authorization_request(
        _config(),
        MetadataCache(ServerMetadata(endpoints={"authorization_endpoint": "https://a/x"})),
        extra={"resource": ["https://r1/", "https://r2/"], "prompt": "consent"},
    )
    with pytest.raises(StopIteration) as done:
        next(step)
    query = _query(done.value.value)
    assert query["resource"] == ["https://r1/", "https://r2/"]
    assert query["prompt"] == ["consent"]
    bad = build_authorization_request(
        _config(),
        MetadataCache(ServerMetadata(endpoints={"authorization_endpoint": "https://a/x"})),
        extra={"state": "mine"},
    )
    with pytest.raises(ConfigurationError, match="state"):
        next(bad)


def _cb(request: AuthorizationRequest, **params: str) -> str:
    from urllib.parse import urlencode

    return "http://127.0.0.1:8765/callback?" + urlencode(params)


def test_a_good_callback_in_every_form() -> None:
    request = _request()
    url = _cb(request, code="C", state=request.state, iss=ISSUER)
    for callback in (
        url,
        urlsplit(url).query,
        "?" + urlsplit(url).query,
        {"code": "C", "state": request.state, "iss": ISSUER},
        {"code": ["C"], "state": [request.state]},
    ):
        code = validate_callback(request, callback)
        assert isinstance(code, AuthorizationCode)
        assert code.code == "C"
        assert "C" not in repr(code).replace("AuthorizationCode", "").replace(
            "AuthorizationRequest", ""
        )


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code": "C", "state": "STATE", "iss": "https://evil.example"}, IssuerMismatch),
        ({"code": "C", "iss": ISSUER}, StateMismatch),
        ({"code": "C", "state": "forged", "iss": ISSUER}, StateMismatch),
        ({"error": "access_denied", "state": "forged"}, StateMismatch),
        ({"error": "access_denied", "state": "STATE"}, AuthorizationDenied),
        ({"error": "invalid_scope", "state": "STATE"}, AuthorizationResponseError),
        ({"code": "C", "state": "STATE", "access_token": "AT"}, UnexpectedParameter),
        ({"code": "C", "state": "STATE", "id_token": "x.y.z"}, UnexpectedParameter),
        ({"state": "STATE"}, MissingParameter),
        ({"code": "", "state": "STATE"}, MissingParameter),
    ],
)
def test_refused_callbacks_are_typed(params: dict[str, str], error: type[Exception]) -> None:
    request = _request()
    params = {k: (request.state if v == "STATE" else v) for k, v in params.items()}
    with pytest.raises(error):
        validate_callback(request, params)
    assert not request.used  # a refused callback leaves the request usable


def test_duplicated_parameters_are_refused_first() -> None:
    request = _request()
    url = f"http://127.0.0.1/cb?code=a&code=b&state={request.state}"
    with pytest.raises(DuplicateParameter):
        validate_callback(request, url)
    with pytest.raises(DuplicateParameter):
        validate_callback(request, {"code": ["a", "b"], "state": request.state})


def test_iss_required_when_the_server_announces_it() -> None:
    request = _request(iss_required=True)
    with pytest.raises(IssuerMismatch, match="9207"):
        validate_callback(request, {"code": "C", "state": request.state})
    assert validate_callback(request, {"code": "C", "state": request.state, "iss": ISSUER})


def test_error_callback_carries_the_servers_words() -> None:
    request = _request()
    with pytest.raises(AuthorizationResponseError) as info:
        validate_callback(
            request,
            {
                "error": "invalid_scope",
                "error_description": "no  such\nscope",
                "error_uri": "https://as/doc",
                "state": request.state,
            },
        )
    assert info.value.error == "invalid_scope"
    assert "no such scope" in str(info.value)


def test_a_used_request_refuses_a_second_exchange_and_round_trips() -> None:
    request = _request()
    again = AuthorizationRequest.from_dict(request.to_dict())
    assert again.state == request.state and again.code_verifier == request.code_verifier
    assert again.url == request.url and again.issuer == ISSUER
    request.mark_used()
    with pytest.raises(RequestAlreadyUsed):
        validate_callback(request, {"code": "C", "state": request.state})
    with pytest.raises(RequestAlreadyUsed):
        request.mark_used()
    assert AuthorizationRequest.from_dict(request.to_dict()).used
    assert request.code_verifier not in repr(request)


def test_an_authorization_code_only_comes_from_the_validator() -> None:
    with pytest.raises(TypeError, match="validate_callback"):
        AuthorizationCode("C", _request(), {})
