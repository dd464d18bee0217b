"""JARM (issue 16, item 2) against oidc-provider's ``jwtResponseModes`` feature: a
``response_mode=jwt`` sign-in verified before use, key rotation, and the hostile cases — a
response signed by another key, for another client, expired, from another issuer, and none
at all — each a :class:`JarmError` before any token request. Responses and ID tokens
encrypted to the client (nested JWTs) are decrypted with its ``decryption_key`` first."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from joserfc import jwk, jwt
from joserfc.jwk import RSAKey

from oauthkit import OAuth2Client
from oauthkit.errors import JarmError
from peers.oidc_provider import (
    BASIC_SECRET,
    OIDCPeer,
    default_clients,
    generate_signing_jwks,
    public_jwks,
)

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


# --------------------------------------------------------------------------- encrypted responses

#: The client's encryption key pair (RSA-OAEP-256); its public half is registered.
_ENC_KEY = RSAKey.generate_key(
    2048, parameters={"alg": "RSA-OAEP-256", "use": "enc"}, private=True, auto_kid=True
).as_dict(private=True)


@pytest.fixture(scope="module")
def encrypting(start_oidc_module: Callable[..., OIDCPeer]) -> OIDCPeer:
    """A provider that encrypts the JARM responses and the ID tokens of ``sealed`` to the
    client's key (nested: signed, then encrypted)."""
    sealed = {
        **default_clients()["basic"],
        "jwks": public_jwks({"keys": [_ENC_KEY]}),
        "authorization_encrypted_response_alg": "RSA-OAEP-256",
        "authorization_encrypted_response_enc": "A128CBC-HS256",
        "id_token_encrypted_response_alg": "RSA-OAEP-256",
        "id_token_encrypted_response_enc": "A256GCM",
    }
    return start_oidc_module(clients={"sealed": sealed})


def _sealed(peer: OIDCPeer, **options: Any) -> OAuth2Client:
    return OAuth2Client(
        "sealed",
        BASIC_SECRET,
        issuer=peer.issuer,
        redirect_uri=REDIRECT,
        scope="openid",
        **options,
    )


def test_an_encrypted_response_and_id_token_are_decrypted_then_verified(
    encrypting: OIDCPeer,
) -> None:
    with _sealed(encrypting, decryption_key=_ENC_KEY) as client:
        request, callback = _signed_in(encrypting, client)
        response = parse_qs(urlsplit(callback).query)["response"][0]
        assert response.count(".") == 4  # a JWE
        token = client.exchange_code(request, callback)
    assert token.id_token is not None and token.id_token.count(".") == 4
    assert token.id_claims is not None and token.id_claims["sub"] == "alice"


def test_an_encrypted_response_without_or_with_the_wrong_key_is_refused(
    encrypting: OIDCPeer,
) -> None:
    other = RSAKey.generate_key(2048, private=True).as_dict(private=True)
    with _sealed(encrypting) as plain, _sealed(encrypting, decryption_key=other) as wrong:
        request, callback = _signed_in(encrypting, plain)
        encrypting.reset_log()
        with pytest.raises(JarmError, match="no decryption key: pass decryption_key="):
            plain.exchange_code(request, callback)
        request, callback = _signed_in(encrypting, wrong)
        with pytest.raises(JarmError, match="cannot be decrypted with the client's key"):
            wrong.exchange_code(request, callback)
    assert ("POST", "/token") not in encrypting.request_log


def test_an_encrypted_response_with_no_signature_inside_is_refused(encrypting: OIDCPeer) -> None:
    """A JWE whose plaintext is bare claims: anyone with the client's public key could make
    it, so it proves nothing about the provider."""
    from joserfc import jwe

    with _sealed(encrypting, decryption_key=_ENC_KEY) as client:
        request, _ = _signed_in(encrypting, client)
        claims = {"iss": encrypting.issuer, "aud": "sealed", "code": "x", "state": request.state}
        forged = jwe.encrypt_compact(
            {"alg": "RSA-OAEP-256", "enc": "A128CBC-HS256"},
            json.dumps(claims).encode(),
            RSAKey.import_key(public_jwks({"keys": [_ENC_KEY]})["keys"][0]),
            algorithms=["RSA-OAEP-256", "A128CBC-HS256"],
        )
        with pytest.raises(JarmError, match="no signed JWT inside"):
            client.exchange_code(request, f"{REDIRECT}?{urlencode({'response': forged})}")
