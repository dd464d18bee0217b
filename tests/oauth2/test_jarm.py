"""JARM (issue 16, item 2) against oidc-provider's ``jwtResponseModes`` feature: a
``response_mode=jwt`` sign-in verified before use, key rotation, and the hostile cases — a
response signed by another key, for another client, expired, from another issuer, and none
at all — each a :class:`JarmError` before any token request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwk, jwt

from oauthkit import OAuth2Client
from oauthkit.errors import JarmError
from peers.oidc_provider import BASIC_SECRET, OIDCPeer, generate_signing_jwks

REDIRECT = "http://127.0.0.1:8765/callback"


def _client(peer: OIDCPeer) -> OAuth2Client:
    return OAuth2Client(
        "basic", BASIC_SECRET, issuer=peer.issuer, redirect_uri=REDIRECT, scope="openid"
    )


def _signed_in(peer: OIDCPeer, client: OAuth2Client, mode: str = "jwt") -> tuple[Any, str]:
    request = client.authorization_request(response_mode=mode)
    return request, peer.approve(request.url)


#: The provider's signing keys, which the tests give it: ``private`` (its RSA key, to forge
#: responses it would have signed) and ``set`` (to read a genuine response).
_KEYS: dict[str, Any] = {}


def _claims(callback: str) -> dict[str, Any]:
    response = parse_qs(urlsplit(callback).query)["response"][0]
    return dict(jwt.decode(response, _KEYS["set"]).claims)


def _forge(callback: str, key: dict[str, Any], **changes: Any) -> str:
    """The callback with its response JWT re-signed by ``key`` after ``changes``."""
    claims = {**_claims(callback), **changes}
    signed = jwt.encode({"alg": "RS256", "kid": key.get("kid")}, claims, jwk.import_key(key))
    return f"{REDIRECT}?{urlencode({'response': signed})}"


@pytest.fixture
def peer(start_oidc: Callable[..., OIDCPeer]) -> OIDCPeer:
    keys = generate_signing_jwks()
    _KEYS["private"] = next(k for k in keys["keys"] if k.get("kty") == "RSA")
    _KEYS["set"] = jwk.KeySet.import_key_set(keys)
    return start_oidc(signing_jwks=keys)


def test_a_jwt_response_is_verified_then_exchanged(peer: OIDCPeer) -> None:
    with _client(peer) as client:
        request, callback = _signed_in(peer, client)
        query = parse_qs(urlsplit(callback).query)
        assert list(query) == ["response"]  # everything is inside the JWT
        claims = _claims(callback)
        assert claims["iss"] == peer.issuer and claims["aud"] == "basic"
        token = client.exchange_code(request, callback)
    assert token.id_claims is not None and token.id_claims["sub"] == "alice"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"aud": "another-client"}, "aud does not name this client"),
        ({"exp": int(time.time()) - 3600}, "has expired"),
        ({"iss": "https://evil.example"}, "is not"),
    ],
)
def test_a_tampered_response_signed_with_the_real_key_is_refused(
    peer: OIDCPeer, change: dict[str, Any], words: str
) -> None:
    with _client(peer) as client:
        request, callback = _signed_in(peer, client)
        forged = _forge(callback, _KEYS["private"], **change)
        peer.reset_log()
        with pytest.raises(JarmError, match=words):
            client.exchange_code(request, forged)
        assert ("POST", "/token") not in peer.request_log
        token = client.exchange_code(request, callback)  # the real one still works
    assert token.access_token


def test_a_response_signed_by_another_key_is_refused(peer: OIDCPeer) -> None:
    other = next(k for k in generate_signing_jwks()["keys"] if k.get("kty") == "RSA")
    with _client(peer) as client:
        request, callback = _signed_in(peer, client)
        with pytest.raises(JarmError, match=r"no key of the provider's JWKS|does not verify"):
            client.exchange_code(request, _forge(callback, other))
        same_kid = {**other, "kid": _KEYS["private"].get("kid")}
        with pytest.raises(JarmError, match="does not verify"):
            client.exchange_code(request, _forge(callback, same_kid))


def test_a_plain_callback_where_a_jwt_was_asked_is_refused(peer: OIDCPeer) -> None:
    with _client(peer) as client:
        request, callback = _signed_in(peer, client)
        claims = _claims(callback)
        plain = f"{REDIRECT}?{urlencode({k: claims[k] for k in ('code', 'state', 'iss')})}"
        with pytest.raises(JarmError, match="no response JWT"):
            client.exchange_code(request, plain)
