"""PKCE (RFC 7636 Appendix B), client authentication (RFC 6749 §2.3.1, RFC 7523), discovery
(RFC 8414), device polling (RFC 8628) and the Bearer challenge (RFC 6750), driven by hand."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
from joserfc import jwk, jwt

from oauthkit.errors import (
    AccessDenied,
    ConfigurationError,
    InsecureTransportError,
    InvalidResponse,
    PollingTimeout,
)
from oauthkit.oauth2 import ClientAuth, bearer_challenge_error, code_challenge, make_code_verifier
from oauthkit.protocol.http import HttpRequest, HttpResponse, Wait
from oauthkit.protocol.oauth2 import device as device_grant
from oauthkit.protocol.oauth2 import grants
from oauthkit.protocol.oauth2.config import ClientConfig
from oauthkit.protocol.oauth2.metadata import ServerMetadata, discover, metadata_urls
from oauthkit.protocol.oauth2.server import MetadataCache

PKCE = json.loads((Path(__file__).parents[1] / "vectors" / "rfc7636.json").read_text())


def test_pkce_appendix_b_vector() -> None:
    vector = PKCE["pkce_vectors"][0]
    assert code_challenge(vector["code_verifier"], "S256") == vector["code_challenge"]
    assert code_challenge(vector["code_verifier"], "plain") == vector["plain_code_challenge"]


def test_code_verifiers_are_long_random_and_valid() -> None:
    verifiers = {make_code_verifier() for _ in range(500)}
    assert len(verifiers) == 500
    assert all(len(v) == 64 for v in verifiers)
    for bad in ("short", "x" * 129, "a" * 42 + "!"):
        with pytest.raises(ConfigurationError):
            code_challenge(bad)
    with pytest.raises(ConfigurationError):
        make_code_verifier(42)


def _apply(auth: ClientAuth) -> tuple[dict[str, str], dict[str, str]]:
    form: dict[str, str] = {"grant_type": "x"}
    headers: dict[str, str] = {}
    auth.apply(form, headers, audience="https://as.example/token", now=1_700_000_000)
    return form, headers


def test_client_secret_basic_form_encodes_before_base64() -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and base64-encoded."""
    form, headers = _apply(ClientAuth("my client", "client_secret_basic", "s3cr:t+/=&é"))
    user, _, password = base64.b64decode(headers["Authorization"][6:]).decode().partition(":")
    assert user == "my+client"
    assert password == "s3cr%3At%2B%2F%3D%26%C3%A9"
    assert unquote_plus(password) == "s3cr:t+/=&é"
    assert "client_id" not in form
    _, raw = _apply(ClientAuth("my client", "client_secret_basic", "s3:t", basic_encoding="raw"))
    assert base64.b64decode(raw["Authorization"][6:]).decode() == "my client:s3:t"


def test_client_secret_post_and_none() -> None:
    form, headers = _apply(ClientAuth("cid", "client_secret_post", "sec"))
    assert form["client_id"] == "cid" and form["client_secret"] == "sec"
    assert "Authorization" not in headers
    form, headers = _apply(ClientAuth("cid"))
    assert form["client_id"] == "cid" and "client_secret" not in form


def test_private_key_jwt_assertion_verifies_with_the_public_key() -> None:
    key = jwk.ECKey.generate_key("P-256", private=True)
    form, _ = _apply(ClientAuth("cid", "private_key_jwt", private_key=key.as_dict(private=True)))
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    public = jwk.ECKey.import_key(key.as_dict(private=False))
    decoded = jwt.decode(form["client_assertion"], public, algorithms=["ES256"])
    claims = decoded.claims
    assert claims["iss"] == claims["sub"] == "cid"
    assert claims["aud"] == "https://as.example/token"
    assert claims["exp"] - claims["iat"] == 60
    second, _ = _apply(ClientAuth("cid", "private_key_jwt", private_key=key.as_dict(private=True)))
    assert (
        jwt.decode(second["client_assertion"], public, algorithms=["ES256"]).claims["jti"]
        != claims["jti"]
    )


def test_client_secret_jwt_is_hs256_and_needs_a_long_secret() -> None:
    secret = "x" * 40
    form, _ = _apply(ClientAuth("cid", "client_secret_jwt", secret))
    decoded = jwt.decode(
        form["client_assertion"], jwk.OctKey.import_key(secret), algorithms=["HS256"]
    )
    assert decoded.header["alg"] == "HS256"
    with pytest.raises(ConfigurationError, match="32"):
        ClientAuth("cid", "client_secret_jwt", "short")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "client_secret_basic"}, "client_secret"),
        ({"method": "private_key_jwt"}, "private_key"),
        ({"method": "private_key_jwt", "private_key": "not a pem"}, "private key"),
        ({"method": "magic"}, "unknown auth_method"),
    ],
)
def test_client_auth_mistakes_are_configuration_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ClientAuth("cid", **kwargs)
    assert "secret-value" not in repr(ClientAuth("cid", "client_secret_post", "secret-value"))


def test_metadata_urls_for_issuers_with_and_without_a_path() -> None:
    assert metadata_urls("https://as.example") == (
        "https://as.example/.well-known/openid-configuration",
        "https://as.example/.well-known/oauth-authorization-server",
    )
    assert metadata_urls("https://as.example/tenant/1") == (
        "https://as.example/tenant/1/.well-known/openid-configuration",
        "https://as.example/.well-known/oauth-authorization-server/tenant/1",
    )


def _drive(step: Any, *answers: HttpResponse | None) -> tuple[list[HttpRequest | Wait], Any]:
    sent = [next(step)]
    try:
        for answer in answers:
            sent.append(step.send(answer))
    except StopIteration as done:
        return sent, done.value
    raise AssertionError(f"the step wanted more: {sent[-1]!r}")


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse.build(
        status, {"Content-Type": "application/json"}, json.dumps(body).encode()
    )


def test_discovery_falls_back_to_rfc8414_and_checks_the_issuer() -> None:
    doc = {
        "issuer": "https://as.example",
        "token_endpoint": "https://as.example/token",
        "authorization_response_iss_parameter_supported": True,
    }
    sent, metadata = _drive(discover("https://as.example"), _json(404, {}), _json(200, doc))
    assert [r.url for r in sent if isinstance(r, HttpRequest)] == list(
        metadata_urls("https://as.example")
    )
    assert metadata.endpoint("token_endpoint") == "https://as.example/token"
    assert metadata.authorization_response_iss_parameter_supported
    with pytest.raises(InvalidResponse, match="8414"):
        _drive(discover("https://as.example"), _json(200, {**doc, "issuer": "https://as.example/"}))
    with pytest.raises(InsecureTransportError, match="token_endpoint"):
        _drive(
            discover("https://as.example"),
            _json(200, {**doc, "token_endpoint": "http://as.example/t"}),
        )
    with pytest.raises(ConfigurationError, match="device_authorization_endpoint"):
        ServerMetadata(issuer="https://as.example").endpoint("device_authorization_endpoint")


CONFIG = ClientConfig(
    auth=ClientAuth("cid", "client_secret_basic", "sec"),
    endpoints={
        "token_endpoint": "https://as.example/token",
        "device_authorization_endpoint": "https://as.example/device",
    },
    clock=lambda: 1_700_000_000.0,
)


def _device(interval: int = 5, expires_in: int = 600) -> device_grant.DeviceAuthorization:
    step = device_grant.device_authorization(CONFIG, MetadataCache(), scope="s")
    body = {
        "device_code": "DC",
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://as.example/d",
        "expires_in": expires_in,
    }
    if interval != 5:
        body["interval"] = interval
    sent, device = _drive(step, _json(200, body))
    form = dict(parse_qsl(sent[0].body.decode()))  # type: ignore[union-attr]
    assert form == {"scope": "s"}
    return device  # type: ignore[no-any-return]


def test_device_polling_waits_honours_pending_and_slow_down() -> None:
    device = _device()
    assert device.interval == 5  # RFC 8628 §3.2 default when the server gives none
    assert "DC" not in repr(device)
    step = device_grant.poll_device(CONFIG, MetadataCache(), device)
    pending = _json(400, {"error": "authorization_pending"})
    slow = _json(400, {"error": "slow_down"})
    ok = _json(200, {"access_token": "AT", "token_type": "Bearer"})
    sent, token = _drive(step, None, pending, None, slow, None, ok)
    waits = [s.seconds for s in sent if isinstance(s, Wait)]
    assert waits == [5, 5, 10]
    posts = [s for s in sent if isinstance(s, HttpRequest)]
    assert len(posts) == 3
    assert dict(parse_qsl(posts[0].body.decode()))["grant_type"] == (
        "urn:ietf:params:oauth:grant-type:device_code"
    )
    assert token.access_token == "AT"


def test_device_polling_ends_on_denial_and_on_expiry() -> None:
    step = device_grant.poll_device(CONFIG, MetadataCache(), _device())
    with pytest.raises(AccessDenied):
        _drive(step, None, _json(400, {"error": "access_denied"}))
    now = [1_700_000_000.0]
    config = dataclasses.replace(CONFIG, clock=lambda: now[0])
    step = device_grant.poll_device(config, MetadataCache(), _device(expires_in=12))
    assert next(step) == Wait(5)
    now[0] += 5
    assert isinstance(step.send(None), HttpRequest)
    assert step.send(_json(400, {"error": "authorization_pending"})) == Wait(5)
    now[0] += 5
    assert isinstance(step.send(None), HttpRequest)
    with pytest.raises(PollingTimeout):  # 10 s gone, the next poll would land past 12 s
        step.send(_json(400, {"error": "authorization_pending"}))
    with pytest.raises(PollingTimeout):
        next(device_grant.poll_device(CONFIG, MetadataCache(), _device(), timeout=1))


def test_refresh_keeps_the_old_refresh_token_when_none_comes_back() -> None:
    from oauthkit.oauth2 import Token

    old = Token("old-at", refresh_token="RT1", scope="a", id_token="id")
    sent, new = _drive(
        grants.refresh(CONFIG, MetadataCache(), old),
        _json(200, {"access_token": "AT2", "token_type": "Bearer", "expires_in": 60}),
    )
    assert dict(parse_qsl(sent[0].body.decode())) == {  # type: ignore[union-attr]
        "grant_type": "refresh_token",
        "refresh_token": "RT1",
    }
    assert new.refresh_token == "RT1" and new.access_token == "AT2" and new.id_token == "id"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (
            'Bearer realm="example", error="invalid_token", error_description="expired"',
            "invalid_token",
        ),
        ('Bearer error=insufficient_scope, scope="a b"', "insufficient_scope"),
        ('Basic realm="x", Bearer error="invalid_token"', "invalid_token"),
        ('Bearer realm="x"', None),
        ("Basic realm=x", None),
        (None, None),
    ],
)
def test_bearer_challenge_error(header: str | None, error: str | None) -> None:
    assert bearer_challenge_error(header) == error


def test_password_grant_sends_the_credentials_form() -> None:
    sent, token = _drive(
        grants.password(CONFIG, MetadataCache(), "alice", "pw d", scope="read"),
        _json(200, {"access_token": "AT", "token_type": "Bearer"}),
    )
    request = sent[0]
    assert isinstance(request, HttpRequest)
    assert dict(parse_qsl(request.body.decode())) == {
        "grant_type": "password",
        "username": "alice",
        "password": "pw d",
        "scope": "read",
    }
    assert (request.header("Authorization") or "").startswith("Basic ")
    assert token.grant == "password"


def test_token_exchange_accepts_n_a_and_requires_issued_token_type() -> None:
    ok = {
        "access_token": "ID",
        "token_type": "N_A",
        "issued_token_type": "urn:ietf:params:oauth:token-type:id_token",
    }
    _, token = _drive(
        grants.token_exchange(CONFIG, MetadataCache(), subject_token="s"), _json(200, ok)
    )
    assert token.token_type == "N_A"
    missing = {"access_token": "AT", "token_type": "Bearer"}
    with pytest.raises(InvalidResponse, match="issued_token_type"):
        _drive(
            grants.token_exchange(CONFIG, MetadataCache(), subject_token="s"), _json(200, missing)
        )
    with pytest.raises(ConfigurationError, match="actor_token"):
        next(grants.token_exchange(CONFIG, MetadataCache(), subject_token="s", actor_token="a"))


def test_client_credentials_needs_an_authenticated_client() -> None:
    public = dataclasses.replace(CONFIG, auth=ClientAuth("cid"))
    with pytest.raises(ConfigurationError, match="authenticated"):
        next(grants.client_credentials(public, MetadataCache()))
