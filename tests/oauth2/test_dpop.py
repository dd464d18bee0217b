"""DPoP (RFC 9449) proofs and the nonce dance, at the token endpoint and at a resource server,
on httpx2.MockTransport (the real server is in test_oidc_provider.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
from joserfc import jwt
from joserfc.jwk import ECKey

from oauthkit import OAuth2Client
from oauthkit.protocol.oauth2.dpop import access_token_hash, htu, make_key, make_proof

TOKEN_URL = "https://as.example/token"
API = "https://rs.example/me?x=1"


def _verify(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
    key = ECKey.import_key(header["jwk"])
    decoded = jwt.decode(proof, key, algorithms=["ES256"])
    return dict(decoded.header), dict(decoded.claims)


def test_a_proof_is_self_contained_and_bound() -> None:
    key = make_key()
    header, claims = _verify(make_proof(key, "get", API, now=1000, access_token="AT", nonce="n"))
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert "d" not in header["jwk"]  # only the public half is sent
    assert claims["htm"] == "GET"
    assert claims["htu"] == "https://rs.example/me" == htu(API)
    assert claims["iat"] == 1000
    assert claims["ath"] == access_token_hash("AT")
    assert claims["nonce"] == "n"
    assert len(claims["jti"]) >= 32
    _, again = _verify(make_proof(key, "GET", API, now=1000))
    assert again["jti"] != claims["jti"]
    assert "ath" not in again


def test_nonces_are_retried_once_at_both_ends() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        _, claims = _verify(request.headers["dpop"])
        seen.append({"url": str(request.url), **claims})
        if str(request.url) == TOKEN_URL:
            if claims.get("nonce") != "as-nonce":
                return httpx2.Response(
                    400, headers={"DPoP-Nonce": "as-nonce"}, json={"error": "use_dpop_nonce"}
                )
            return httpx2.Response(
                200, json={"access_token": "AT", "token_type": "DPoP", "expires_in": 300}
            )
        assert request.headers["authorization"] == "DPoP AT"
        if claims.get("nonce") != "rs-nonce":
            return httpx2.Response(
                401,
                headers={
                    "DPoP-Nonce": "rs-nonce",
                    "WWW-Authenticate": 'DPoP error="use_dpop_nonce", error_description="fresh"',
                },
            )
        return httpx2.Response(200, json={"ok": True})

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    with OAuth2Client("cid", "sec", token_endpoint=TOKEN_URL, http=http, dpop=True) as client:
        token = client.client_credentials()
        assert token.token_type == "DPoP"
        assert [s.get("nonce") for s in seen] == [None, "as-nonce"]
        with httpx2.Client(transport=httpx2.MockTransport(handler), auth=client.auth(token)) as api:
            assert api.get(API).status_code == 200
            assert api.get(API).status_code == 200  # the nonce is remembered: no 401 now
    resource = [s for s in seen if s["url"] != TOKEN_URL]
    assert [s.get("nonce") for s in resource] == [None, "rs-nonce", "rs-nonce"]
    assert all(s["ath"] == access_token_hash("AT") for s in resource)


def test_a_server_without_dpop_gives_a_plain_bearer_token() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"access_token": "AT", "token_type": "Bearer"})

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    with OAuth2Client("cid", "sec", token_endpoint=TOKEN_URL, http=http, dpop=True) as client:
        token = client.client_credentials()
    assert token.token_type == "Bearer"
    assert token.dpop_key is None
