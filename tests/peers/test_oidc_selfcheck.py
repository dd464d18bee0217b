"""Self-check of the local oidc-provider peer with an independent client.

Every request here is written by hand with ``httpx2`` (PKCE, Basic encoding, client
assertions and DPoP proofs built in this file, JWTs with ``joserfc``): nothing from oauthkit.
The facts asserted are the ones ``peers.oidc_provider`` documents for client tests.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from .oidc_provider import (
    ACCESS_TOKEN_TYPE,
    API_RESOURCE,
    BASIC_SECRET,
    CLIENT_ASSERTION_TYPE,
    DEVICE_CODE_GRANT,
    JWT_BEARER_GRANT,
    POST_SECRET,
    REDIRECT_URI,
    TOKEN_EXCHANGE_GRANT,
    InteractionError,
    OIDCPeer,
    OIDCPeerStartError,
    default_clients,
    generate_signing_jwks,
)

StartOIDC = Callable[..., OIDCPeer]
SCOPE = "openid profile email offline_access"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(follow_redirects=False, timeout=10, trust_env=False) as client:
        yield client


# --------------------------------------------------------------------------- hand-made client


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def basic_auth(client_id: str, secret: str, *, form_encode: bool = True) -> dict[str, str]:
    """Authorization: Basic, the id and secret form-urlencoded first (RFC 6749 §2.3.1)."""
    if form_encode:
        client_id, secret = quote(client_id, safe="*-._"), quote(secret, safe="*-._")
        client_id, secret = client_id.replace("%20", "+"), secret.replace("%20", "+")
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def peer_auth(peer: OIDCPeer, name: str) -> dict[str, str]:
    return basic_auth(peer.client_id(name), peer.client_secret(name))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def auth_url(peer: OIDCPeer, params: dict[str, str]) -> str:
    return peer.authorization_endpoint + "?" + urlencode(params)


def authorize(
    peer: OIDCPeer,
    client: str = "basic",
    redirect_uri: str = REDIRECT_URI,
    scope: str = SCOPE,
    login: str = "alice",
    **extra: str,
) -> tuple[str, str, dict[str, str]]:
    """Run the front channel: return (code, code_verifier, callback query)."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    params = {
        "client_id": peer.client_id(client),
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": "n-" + state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    callback = peer.approve(auth_url(peer, params), login)
    assert callback.startswith(redirect_uri + "?")
    query = query_of(callback)
    assert query["state"] == state
    assert query["iss"] == peer.issuer
    return query["code"], verifier, query


def code_grant(code: str, verifier: str, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
    }


def tokens_for(
    peer: OIDCPeer, http: httpx2.Client, client: str = "basic", **extra: str
) -> dict[str, Any]:
    """Authorization code + PKCE for a client_secret_basic client; the token response."""
    code, verifier, _ = authorize(peer, client, **extra)
    resp = http.post(
        peer.token_endpoint, data=code_grant(code, verifier), headers=peer_auth(peer, client)
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def error_of(resp: httpx2.Response) -> str:
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    return str(resp.json()["error"])


def provider_keys(peer: OIDCPeer, http: httpx2.Client) -> KeySet:
    return KeySet.import_key_set(http.get(peer.jwks_uri).json())


def assertion(client_id: str, audience: str, key: Any, alg: str, **claims: Any) -> str:
    """A client authentication / authorization grant JWT (RFC 7523)."""
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    header = {"alg": alg}
    if getattr(key, "kid", None):
        header["kid"] = key.kid
    return jwt.encode(header, body, key, algorithms=[alg])


# --------------------------------------------------------------------------- discovery


def test_discovery_document(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    assert peer.issuer == f"http://127.0.0.1:{peer.port}"
    doc = http.get(peer.discovery_url).json()
    assert doc["issuer"] == peer.issuer
    for name, path in {
        "authorization_endpoint": "/auth",
        "token_endpoint": "/token",
        "userinfo_endpoint": "/me",
        "jwks_uri": "/jwks",
        "device_authorization_endpoint": "/device/auth",
        "revocation_endpoint": "/token/revocation",
        "introspection_endpoint": "/token/introspection",
        "pushed_authorization_request_endpoint": "/request",
        "end_session_endpoint": "/session/end",
    }.items():
        assert doc[name] == peer.issuer + path
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        DEVICE_CODE_GRANT,
        TOKEN_EXCHANGE_GRANT,
        JWT_BEARER_GRANT,
    } <= set(doc["grant_types_supported"])
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    }
    assert set(doc["scopes_supported"]) >= {"openid", "offline_access", "profile", "email"}
    assert set(doc["dpop_signing_alg_values_supported"]) >= {"ES256", "EdDSA"}
    assert "RS256" not in doc["dpop_signing_alg_values_supported"]
    assert set(doc["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert "tls_client_certificate_bound_access_tokens" not in doc
    # the provider's keys are the ones generated in Python
    kids = {k["kid"] for k in http.get(peer.jwks_uri).json()["keys"]}
    assert kids == {k["kid"] for k in peer.signing_jwks["keys"]}


# --------------------------------------------------------------------------- authorization code


def test_code_flow_client_secret_basic(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    code, verifier, query = authorize(peer, "basic")
    assert set(query) == {"code", "state", "iss"}
    resp = http.post(
        peer.token_endpoint, data=code_grant(code, verifier), headers=peer_auth(peer, "basic")
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "id_token",
        "refresh_token",
        "scope",
        "token_type",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    # offline_access is dropped without prompt=consent; the refresh token comes anyway
    assert body["scope"] == "openid profile email"
    id_token = jwt.decode(body["id_token"], provider_keys(peer, http))
    assert id_token.header["alg"] == "RS256"
    claims = id_token.claims
    assert claims["iss"] == peer.issuer
    assert claims["aud"] == "basic"
    assert claims["sub"] == "alice"
    assert claims["nonce"] == "n-" + query["state"]
    # no at_hash, auth_time or sid; profile/email claims come from userinfo only
    assert set(claims) == {"aud", "exp", "iat", "iss", "nonce", "sub"}

    info = http.get(
        peer.userinfo_endpoint, headers={"Authorization": "Bearer " + body["access_token"]}
    )
    assert info.status_code == 200
    assert info.json() == {
        "sub": "alice",
        "name": "Alice Example",
        "given_name": "Alice",
        "family_name": "Example",
        "preferred_username": "alice",
        "email": "alice@example.test",
        "email_verified": True,
    }

    replay = http.post(
        peer.token_endpoint, data=code_grant(code, verifier), headers=peer_auth(peer, "basic")
    )
    assert replay.status_code == 400
    assert error_of(replay) == "invalid_grant"


def test_basic_credentials_are_form_urlencoded(start_oidc: StartOIDC, http: httpx2.Client) -> None:
    """oidc-provider decodes Basic credentials per RFC 6749 §2.3.1."""
    peer = start_oidc(
        clients={
            "plus": {
                "client_secret": "plus+secret-0123456789",
                "grant_types": ["client_credentials"],
                "response_types": [],
            },
            "basic": {
                "client_secret": BASIC_SECRET,
                "grant_types": ["client_credentials"],
                "response_types": [],
            },
        }
    )
    form = {"grant_type": "client_credentials"}
    encoded = http.post(peer.token_endpoint, data=form, headers=basic_auth("basic", BASIC_SECRET))
    assert encoded.status_code == 200, encoded.text
    # "%~" is not a percent escape: the raw secret cannot even be decoded
    raw = http.post(
        peer.token_endpoint, data=form, headers=basic_auth("basic", BASIC_SECRET, form_encode=False)
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "error": "invalid_request",
        "error_description": (
            "client_id and client_secret in the authorization header are not properly encoded"
        ),
    }
    # a raw "+" decodes to a space: wrong secret
    raw_plus = http.post(
        peer.token_endpoint,
        data=form,
        headers=basic_auth("plus", "plus+secret-0123456789", form_encode=False),
    )
    assert raw_plus.status_code == 401
    assert error_of(raw_plus) == "invalid_client"
    encoded_plus = http.post(
        peer.token_endpoint, data=form, headers=basic_auth("plus", "plus+secret-0123456789")
    )
    assert encoded_plus.status_code == 200


def test_code_flow_client_secret_post(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    code, verifier, _ = authorize(peer, "post")
    form = {**code_grant(code, verifier), "client_id": "post", "client_secret": POST_SECRET}
    resp = http.post(peer.token_endpoint, data=form)
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "Bearer"
    # oidc-provider treats client_secret_basic and client_secret_post as one: Basic works too
    code, verifier, _ = authorize(peer, "post")
    basic = http.post(
        peer.token_endpoint,
        data=code_grant(code, verifier),
        headers=basic_auth("post", POST_SECRET),
    )
    assert basic.status_code == 200
    # ... but not both at once
    code, verifier, _ = authorize(peer, "post")
    both = http.post(
        peer.token_endpoint,
        data={**code_grant(code, verifier), "client_secret": POST_SECRET},
        headers=basic_auth("post", POST_SECRET),
    )
    assert both.status_code == 400
    assert both.json() == {
        "error": "invalid_request",
        "error_description": "client authentication must only be provided using one mechanism",
    }
    # a secret client cannot authenticate as a public one (client_id only)
    code, verifier, _ = authorize(peer, "post")
    bare = http.post(peer.token_endpoint, data={**code_grant(code, verifier), "client_id": "post"})
    assert bare.status_code == 401
    assert error_of(bare) == "invalid_client"


def test_public_client_any_loopback_port(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    redirect = "http://127.0.0.1:54321/callback"
    code, verifier, _ = authorize(peer, "public", redirect_uri=redirect)
    form = {**code_grant(code, verifier, redirect), "client_id": "public"}
    resp = http.post(peer.token_endpoint, data=form)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["refresh_token"]
    # a different path is not accepted: the authorization endpoint answers a page, no redirect
    verifier, challenge = pkce_pair()
    params = {
        "client_id": "public",
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:54321/elsewhere",
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = http.get(auth_url(peer, params))
    assert page.status_code == 400
    assert (
        "redirect_uri did not match any of the client&#39;s registered redirect_uris" in page.text
    )


def test_pkce_is_required_and_checked(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    params = {
        "client_id": "basic",
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "st",
    }
    resp = http.get(auth_url(peer, params))
    assert resp.status_code == 303
    query = query_of(resp.headers["location"])
    assert query["error"] == "invalid_request"
    assert query["state"] == "st"
    assert query["iss"] == peer.issuer
    # a wrong code_verifier
    code, _, _ = authorize(peer, "basic")
    wrong = http.post(
        peer.token_endpoint,
        data=code_grant(code, pkce_pair()[0]),
        headers=peer_auth(peer, "basic"),
    )
    assert wrong.status_code == 400
    assert error_of(wrong) == "invalid_grant"


def test_deny_and_refused_consent(oidc_provider: OIDCPeer) -> None:
    peer = oidc_provider
    params = {
        "client_id": "basic",
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "st-deny",
        "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256",
    }
    for callback in (
        peer.deny(auth_url(peer, params)),
        peer.approve(auth_url(peer, params), consent=False),
    ):
        assert query_of(callback) == {
            "error": "access_denied",
            "error_description": "End-User aborted interaction",
            "state": "st-deny",
            "iss": peer.issuer,
        }


def test_browser_keeps_the_session(oidc_provider: OIDCPeer) -> None:
    peer = oidc_provider
    _, challenge = pkce_pair()
    params = {
        "client_id": "basic",
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with peer.browser() as browser:
        assert "code" in query_of(browser.approve(auth_url(peer, params), "bob"))
        peer.reset_log()
        # same user agent, prompt=none: no interaction at all
        again = browser.approve(auth_url(peer, {**params, "prompt": "none"}))
        assert "code" in query_of(again)
        assert peer.request_log == [("GET", "/auth")]
    # a fresh browser with prompt=none: login_required
    fresh = peer.approve(auth_url(peer, {**params, "prompt": "none"}))
    assert query_of(fresh)["error"] == "login_required"


# --------------------------------------------------------------------------- refresh


def test_refresh_rotation_and_reuse(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    first = tokens_for(peer, http)
    resp = http.post(
        peer.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=peer_auth(peer, "basic"),
    )
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["token_type"] == "Bearer"
    assert second["expires_in"] == 3600
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert "id_token" in second
    # reuse of the rotated-out token: invalid_grant, and the whole grant is revoked
    reuse = http.post(
        peer.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=peer_auth(peer, "basic"),
    )
    assert reuse.status_code == 400
    assert error_of(reuse) == "invalid_grant"
    after = http.post(
        peer.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        headers=peer_auth(peer, "basic"),
    )
    assert error_of(after) == "invalid_grant"
    # another client's refresh token is refused too
    other = tokens_for(peer, http, "basic")
    stolen = http.post(
        peer.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": other["refresh_token"],
            "client_id": "post",
            "client_secret": POST_SECRET,
        },
    )
    assert error_of(stolen) == "invalid_grant"


def test_refresh_without_rotation(start_oidc: StartOIDC, http: httpx2.Client) -> None:
    peer = start_oidc(rotate_refresh_token=False)
    first = tokens_for(peer, http)
    for _ in range(2):
        resp = http.post(
            peer.token_endpoint,
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            headers=peer_auth(peer, "basic"),
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["refresh_token"] == first["refresh_token"]


# --------------------------------------------------------------------------- client auth


def test_wrong_secret_is_invalid_client(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    form = {"grant_type": "client_credentials"}
    resp = http.post(peer.token_endpoint, data=form, headers=basic_auth("service", "wrong"))
    assert resp.status_code == 401
    assert resp.json() == {
        "error": "invalid_client",
        "error_description": "client authentication failed",
    }
    assert resp.headers["www-authenticate"].startswith(f'Basic realm="{peer.issuer}"')
    unknown = http.post(peer.token_endpoint, data=form, headers=basic_auth("nobody", "x"))
    assert unknown.status_code == 401
    assert error_of(unknown) == "invalid_client"
    posted = http.post(
        peer.token_endpoint, data={**form, "client_id": "post", "client_secret": "wrong"}
    )
    assert posted.status_code == 401
    assert error_of(posted) == "invalid_client"
    assert "www-authenticate" not in posted.headers  # only when an Authorization header came


@pytest.mark.parametrize("client", ["jwt-key", "jwt-secret"])
def test_jwt_client_authentication(
    oidc_provider: OIDCPeer, http: httpx2.Client, client: str
) -> None:
    peer = oidc_provider
    key: Any
    if client == "jwt-key":
        key, alg = RSAKey.import_key(peer.client_private_jwk(client)), "RS256"
    else:
        key, alg = OctKey.import_key(peer.client_secret(client).encode()), "HS256"

    def token_request(audience: str) -> httpx2.Response:
        code, verifier, _ = authorize(peer, client)
        form = {
            **code_grant(code, verifier),
            "client_id": client,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion(client, audience, key, alg),
        }
        return http.post(peer.token_endpoint, data=form)

    for audience in (peer.issuer, peer.token_endpoint):
        ok = token_request(audience)
        assert ok.status_code == 200, ok.text
        assert ok.json()["token_type"] == "Bearer"
    bad = token_request("https://elsewhere.example.test/")
    assert bad.status_code == 401
    assert error_of(bad) == "invalid_client"


# --------------------------------------------------------------------------- other grants


def test_client_credentials(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    auth = peer_auth(peer, "service")
    resp = http.post(peer.token_endpoint, data={"grant_type": "client_credentials"}, headers=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    scoped = http.post(
        peer.token_endpoint,
        data={"grant_type": "client_credentials", "scope": "api:read unknown"},
        headers=auth,
    ).json()
    assert scoped["scope"] == "api:read"  # unknown scopes are silently dropped
    api = http.post(
        peer.token_endpoint,
        data={"grant_type": "client_credentials", "scope": "api:read", "resource": API_RESOURCE},
        headers=auth,
    ).json()
    assert api["scope"] == "api:read"
    assert api["access_token"].count(".") == 0  # opaque by default
    target = http.post(
        peer.token_endpoint,
        data={"grant_type": "client_credentials", "resource": "https://unknown.example.test/"},
        headers=auth,
    )
    assert target.status_code == 400
    assert error_of(target) == "invalid_target"
    introspection = http.post(
        peer.introspection_endpoint, data={"token": api["access_token"]}, headers=auth
    ).json()
    assert introspection["active"] is True
    assert introspection["client_id"] == "service"
    assert introspection["aud"] == API_RESOURCE
    assert "sub" not in introspection
    not_allowed = http.post(
        peer.token_endpoint,
        data={"grant_type": "client_credentials"},
        headers=peer_auth(peer, "basic"),
    )
    # not RFC 6749's unauthorized_client
    assert not_allowed.status_code == 400
    assert not_allowed.json() == {
        "error": "invalid_request",
        "error_description": "requested grant type is not allowed for this client",
    }


def test_device_flow(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    auth = peer_auth(peer, "device")
    resp = http.post(peer.device_authorization_endpoint, data={"scope": SCOPE}, headers=auth)
    assert resp.status_code == 200, resp.text
    grant = resp.json()
    assert set(grant) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
    }  # no "interval": RFC 8628 says 5 s then
    assert grant["verification_uri"] == peer.issuer + "/device"
    assert grant["verification_uri_complete"] == (
        peer.issuer + "/device?user_code=" + grant["user_code"]
    )
    assert grant["expires_in"] == 600
    poll = {"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"]}
    pending = http.post(peer.token_endpoint, data=poll, headers=auth)
    assert pending.status_code == 400
    assert error_of(pending) == "authorization_pending"
    peer.approve_device(grant["user_code"], "carol")
    done = http.post(peer.token_endpoint, data=poll, headers=auth)
    assert done.status_code == 200, done.text
    tokens = done.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    info = http.get(
        peer.userinfo_endpoint, headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert info.json()["sub"] == "carol"
    again = http.post(peer.token_endpoint, data=poll, headers=auth)
    assert again.status_code == 400
    assert error_of(again) == "invalid_grant"


def test_device_flow_denied(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    auth = peer_auth(peer, "device")
    grant = http.post(
        peer.device_authorization_endpoint, data={"scope": "openid"}, headers=auth
    ).json()
    peer.deny_device(grant["user_code"])
    poll = {"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"]}
    resp = http.post(peer.token_endpoint, data=poll, headers=auth)
    assert resp.status_code == 400
    assert error_of(resp) == "access_denied"
    with pytest.raises(InteractionError):
        peer.approve_device("WXYZ-WXYZ")


def test_token_exchange(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    subject = tokens_for(peer, http)["access_token"]
    auth = peer_auth(peer, "exchange")
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN_TYPE,
    }
    resp = http.post(peer.token_endpoint, data=form, headers=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid profile email"
    assert "refresh_token" not in body
    introspection = http.post(
        peer.introspection_endpoint, data={"token": body["access_token"]}, headers=auth
    ).json()
    assert introspection["active"] is True
    assert introspection["sub"] == "alice"
    assert introspection["client_id"] == "exchange"
    info = http.get(
        peer.userinfo_endpoint, headers={"Authorization": "Bearer " + body["access_token"]}
    )
    assert info.json()["sub"] == "alice"

    narrowed = http.post(peer.token_endpoint, data={**form, "scope": "openid"}, headers=auth)
    assert narrowed.json()["scope"] == "openid"
    api = http.post(
        peer.token_endpoint,
        data={**form, "resource": API_RESOURCE, "scope": "api:read"},
        headers=auth,
    ).json()
    assert api["scope"] == "api:read"
    wider = http.post(peer.token_endpoint, data={**form, "scope": "openid api:write"}, headers=auth)
    assert error_of(wider) == "invalid_scope"
    bogus = http.post(peer.token_endpoint, data={**form, "subject_token": "nope"}, headers=auth)
    assert bogus.status_code == 400
    assert error_of(bogus) == "invalid_request"  # RFC 8693 §2.2.2
    wrong_type = http.post(
        peer.token_endpoint,
        data={**form, "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        headers=auth,
    )
    assert error_of(wrong_type) == "invalid_request"
    not_allowed = http.post(peer.token_endpoint, data=form, headers=peer_auth(peer, "service"))
    assert error_of(not_allowed) == "invalid_request"


def test_jwt_bearer_grant(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    key = ECKey.import_key(peer.client_private_jwk("exchange"))
    auth = peer_auth(peer, "exchange")
    signed = assertion("exchange", peer.issuer, key, "ES256", sub="dave")
    form = {"grant_type": JWT_BEARER_GRANT, "assertion": signed, "scope": "openid email"}
    resp = http.post(peer.token_endpoint, data=form, headers=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["scope"] == "openid email"
    info = http.get(
        peer.userinfo_endpoint, headers={"Authorization": "Bearer " + body["access_token"]}
    )
    assert info.json() == {"sub": "dave", "email": "dave@example.test", "email_verified": True}
    replay = http.post(peer.token_endpoint, data=form, headers=auth)
    assert replay.status_code == 400
    assert error_of(replay) == "invalid_grant"
    stranger = ECKey.generate_key("P-256", private=True)
    forged = assertion("exchange", peer.issuer, stranger, "ES256", sub="dave")
    resp = http.post(peer.token_endpoint, data={**form, "assertion": forged}, headers=auth)
    assert error_of(resp) == "invalid_grant"
    expired = assertion("exchange", peer.token_endpoint, key, "ES256", exp=int(time.time()) - 60)
    resp = http.post(peer.token_endpoint, data={**form, "assertion": expired}, headers=auth)
    assert error_of(resp) == "invalid_grant"
    wrong_iss = assertion("exchange", peer.issuer, key, "ES256", iss="someone")
    resp = http.post(peer.token_endpoint, data={**form, "assertion": wrong_iss}, headers=auth)
    assert error_of(resp) == "invalid_grant"
    missing = http.post(peer.token_endpoint, data={"grant_type": JWT_BEARER_GRANT}, headers=auth)
    assert error_of(missing) == "invalid_request"


# --------------------------------------------------------------------------- revocation etc.


def test_revocation_and_introspection(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    auth = peer_auth(peer, "basic")
    tokens = tokens_for(peer, http)
    active = http.post(
        peer.introspection_endpoint, data={"token": tokens["access_token"]}, headers=auth
    )
    assert active.status_code == 200
    doc = active.json()
    assert doc["active"] is True
    assert doc["sub"] == "alice"
    assert doc["client_id"] == "basic"
    assert doc["iss"] == peer.issuer
    assert doc["token_type"] == "Bearer"
    assert doc["scope"] == "openid profile email"
    refresh = http.post(
        peer.introspection_endpoint,
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        headers=auth,
    ).json()
    assert refresh["active"] is True
    assert "token_type" not in refresh

    revoked = http.post(
        peer.revocation_endpoint,
        data={"token": tokens["access_token"], "token_type_hint": "access_token"},
        headers=auth,
    )
    assert revoked.status_code == 200
    assert revoked.content == b""
    gone = http.post(
        peer.introspection_endpoint, data={"token": tokens["access_token"]}, headers=auth
    )
    assert gone.json() == {"active": False}
    # revoking the access token revoked its grant's refresh token too
    refreshed = http.post(
        peer.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=auth,
    )
    assert error_of(refreshed) == "invalid_grant"
    unknown = http.post(peer.revocation_endpoint, data={"token": "not-a-token"}, headers=auth)
    assert unknown.status_code == 200
    other_client = tokens_for(peer, http)
    foreign = http.post(
        peer.revocation_endpoint,
        data={
            "token": other_client["access_token"],
            "client_id": "post",
            "client_secret": POST_SECRET,
        },
    )
    assert foreign.status_code == 400
    assert error_of(foreign) == "invalid_request"
    bad_auth = http.post(
        peer.introspection_endpoint, data={"token": "x"}, headers=basic_auth("basic", "wrong")
    )
    assert bad_auth.status_code == 401
    assert error_of(bad_auth) == "invalid_client"


def test_dpop_bound_token(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    key = ECKey.generate_key("P-256", private=True)

    def proof(method: str, url: str, access_token: str | None = None) -> str:
        claims: dict[str, Any] = {
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
            "jti": uuid.uuid4().hex,
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": key.as_dict(private=False)}
        return jwt.encode(header, claims, key, algorithms=["ES256"])

    resp = http.post(
        peer.token_endpoint,
        data={"grant_type": "client_credentials"},
        headers={**peer_auth(peer, "service"), "DPoP": proof("POST", peer.token_endpoint)},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "DPoP"
    token = resp.json()["access_token"]
    doc = http.post(
        peer.introspection_endpoint, data={"token": token}, headers=peer_auth(peer, "service")
    ).json()
    assert doc["token_type"] == "DPoP"
    assert doc["cnf"]["jkt"] == key.thumbprint()


# --------------------------------------------------------------------------- the peer itself


def test_request_log_and_reset(oidc_provider: OIDCPeer, http: httpx2.Client) -> None:
    peer = oidc_provider
    assert peer.request_log == []  # cleared before every test by the conftest fixture
    http.get(peer.discovery_url)
    http.post(
        peer.token_endpoint, data={"grant_type": "client_credentials"}, headers=basic_auth("x", "y")
    )
    assert peer.request_log == [
        ("GET", "/.well-known/openid-configuration"),
        ("POST", "/token"),
    ]
    peer.reset_log()
    assert peer.request_log == []
    authorize(peer, "basic")
    log = peer.request_log
    assert log[0] == ("GET", "/auth")
    assert ("POST", "/token") not in log


def test_short_access_token_ttl(start_oidc: StartOIDC, http: httpx2.Client) -> None:
    peer = start_oidc(ttl={"AccessToken": 2, "ClientCredentials": 2})
    tokens = tokens_for(peer, http)
    assert tokens["expires_in"] == 2
    cc = http.post(
        peer.token_endpoint,
        data={"grant_type": "client_credentials"},
        headers=peer_auth(peer, "service"),
    ).json()
    assert cc["expires_in"] == 2
    time.sleep(3)
    info = http.get(
        peer.userinfo_endpoint, headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert info.status_code == 401
    assert info.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in info.headers["www-authenticate"]
    doc = http.post(
        peer.introspection_endpoint,
        data={"token": cc["access_token"]},
        headers=peer_auth(peer, "service"),
    ).json()
    assert doc == {"active": False}
    # the refresh token still works
    refreshed = http.post(
        peer.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=peer_auth(peer, "basic"),
    )
    assert refreshed.status_code == 200


def test_par_required(start_oidc: StartOIDC, http: httpx2.Client) -> None:
    peer = start_oidc(require_par=True)
    assert peer.metadata["require_pushed_authorization_requests"] is True
    verifier, challenge = pkce_pair()
    params = {
        "client_id": "basic",
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "st-par",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    direct = http.get(auth_url(peer, params))
    assert direct.status_code == 303
    assert query_of(direct.headers["location"])["error"] == "invalid_request"
    pushed = http.post(peer.par_endpoint, data=params, headers=peer_auth(peer, "basic"))
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["expires_in"] == 60
    request_uri = pushed.json()["request_uri"]
    no_id = {k: v for k, v in params.items() if k != "client_id"}
    refused = http.post(peer.par_endpoint, data=no_id, headers=peer_auth(peer, "basic"))
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_request",
        "error_description": "missing required parameter 'client_id'",
    }
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    callback = peer.approve(auth_url(peer, {"client_id": "basic", "request_uri": request_uri}))
    query = query_of(callback)
    assert query["state"] == "st-par"
    resp = http.post(
        peer.token_endpoint,
        data=code_grant(query["code"], verifier),
        headers=peer_auth(peer, "basic"),
    )
    assert resp.status_code == 200, resp.text


def test_jwt_access_tokens(start_oidc: StartOIDC, http: httpx2.Client) -> None:
    peer = start_oidc(access_token_format="jwt")
    auth = peer_auth(peer, "service")
    resp = http.post(
        peer.token_endpoint,
        data={"grant_type": "client_credentials", "resource": API_RESOURCE, "scope": "api:write"},
        headers=auth,
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    decoded = jwt.decode(token, provider_keys(peer, http))
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["alg"] == "RS256"
    assert decoded.claims["aud"] == API_RESOURCE
    assert decoded.claims["iss"] == peer.issuer
    assert decoded.claims["client_id"] == "service"
    assert decoded.claims["scope"] == "api:write"
    refused = http.post(peer.introspection_endpoint, data={"token": token}, headers=auth)
    assert refused.status_code == 400
    assert error_of(refused) == "unsupported_token_type"
    # without resource: still opaque
    plain = http.post(peer.token_endpoint, data={"grant_type": "client_credentials"}, headers=auth)
    assert plain.json()["access_token"].count(".") == 0


def test_restart_with_new_keys(start_oidc: StartOIDC, http: httpx2.Client) -> None:
    peer = start_oidc()
    issuer, old = peer.issuer, {k["kid"] for k in http.get(peer.jwks_uri).json()["keys"]}
    new_keys = generate_signing_jwks()
    peer.restart(signing_jwks=new_keys)
    assert peer.issuer == issuer
    kids = {k["kid"] for k in http.get(peer.jwks_uri).json()["keys"]}
    assert kids == {k["kid"] for k in new_keys["keys"]}
    assert not kids & old
    tokens = tokens_for(peer, http)
    new_key_set: Any = new_keys
    jwt.decode(tokens["id_token"], KeySet.import_key_set(new_key_set))


def test_invalid_registration_fails_the_start(start_oidc: StartOIDC) -> None:
    """A client_secret must be VSCHAR: a non-ASCII one cannot be registered."""
    bad = {"client_secret": "sécret", "grant_types": ["client_credentials"], "response_types": []}
    with pytest.raises(OIDCPeerStartError, match="invalid client bad: "):
        start_oidc(clients={"bad": bad})


def test_tls_client_auth(start_oidc: StartOIDC) -> None:
    other = {
        "grant_types": ["client_credentials"],
        "response_types": [],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": "CN=someone-else",
    }
    peer = start_oidc(tls=True, clients={**default_clients(tls=True), "mtls-other": other})
    assert peer.tls is not None
    assert peer.issuer == f"https://127.0.0.1:{peer.port}"
    assert "tls_client_auth" in peer.metadata["token_endpoint_auth_methods_supported"]
    form = {"grant_type": "client_credentials", "client_id": "mtls"}
    with peer.http_client(client_cert=True) as mtls:
        resp = mtls.post(peer.token_endpoint, data=form)
        assert resp.status_code == 200, resp.text
        doc = mtls.post(
            peer.introspection_endpoint,
            data={"token": resp.json()["access_token"], "client_id": "mtls"},
        ).json()
        assert doc["active"] is True
        assert doc["client_id"] == "mtls"
        assert "cnf" not in doc  # certificate-bound access tokens are off
        mismatch = mtls.post(peer.token_endpoint, data={**form, "client_id": "mtls-other"})
        assert mismatch.status_code == 401
        assert error_of(mismatch) == "invalid_client"
    with peer.http_client() as plain:
        refused = plain.post(peer.token_endpoint, data=form)
        assert refused.status_code == 401
        assert error_of(refused) == "invalid_client"
        # the browser helpers work over https too (secure cookies)
        tokens = tokens_for(peer, plain)
        assert tokens["token_type"] == "Bearer"
