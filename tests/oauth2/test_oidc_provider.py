"""OAuth 2.x against a certified authorization server: panva's oidc-provider 9.13.3, started
on a free loopback port (tests/peers/oidc_provider.py). Every grant and client authentication
method, sync and async, and each refused callback sends zero token requests."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwk, jwt

from oauthkit import AsyncOAuth2Client, OAuth2Client, Token
from oauthkit.errors import (
    AuthorizationDenied,
    ConfigurationError,
    DuplicateParameter,
    InvalidClient,
    InvalidGrant,
    IssuerMismatch,
    OAuthServerError,
    ReauthenticationRequired,
    StateMismatch,
    UnexpectedParameter,
)
from peers.oidc_provider import (
    ACCESS_TOKEN_TYPE,
    API_RESOURCE,
    BASIC_SECRET,
    DEVICE_SECRET,
    EXCHANGE_SECRET,
    JWT_SECRET,
    POST_SECRET,
    REDIRECT_URI,
    SERVICE_SECRET,
    OIDCPeer,
)

pytestmark = pytest.mark.anyio

SCOPE = "openid profile email offline_access"


def _client(peer: OIDCPeer, name: str, cls: type[Any] = OAuth2Client, **kwargs: Any) -> Any:
    secrets = {
        "basic": BASIC_SECRET,
        "post": POST_SECRET,
        "jwt-secret": JWT_SECRET,
        "device": DEVICE_SECRET,
        "service": SERVICE_SECRET,
        "exchange": EXCHANGE_SECRET,
    }
    args: dict[str, Any] = {
        "issuer": peer.issuer,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
    }
    if name in secrets:
        args["client_secret"] = secrets[name]
    args.update(kwargs)
    return cls(name, **args)


def _token_requests(peer: OIDCPeer) -> list[tuple[str, str]]:
    return [entry for entry in peer.request_log if entry[1].startswith("/token")]


def _login(client: OAuth2Client, peer: OIDCPeer, **extra: Any) -> Token:
    request = client.authorization_request(**extra)
    return client.exchange_code(request, peer.approve(request.url))


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("basic", "client_secret_basic"),
        ("post", "client_secret_post"),
        ("jwt-secret", "client_secret_jwt"),
        ("jwt-key", "private_key_jwt"),
    ],
)
def test_code_flow_with_pkce_for_every_client_authentication(
    oidc_provider: OIDCPeer, name: str, method: str
) -> None:
    extra = {"private_key": oidc_provider.client_private_jwk(name)} if name == "jwt-key" else {}
    with _client(oidc_provider, name, auth_method=method, **extra) as client:
        request = client.authorization_request()
        query = parse_qs(urlsplit(request.url).query)
        assert query["code_challenge_method"] == ["S256"]
        callback = oidc_provider.approve(request.url)
        assert "iss=" in callback  # RFC 9207 from this server
        token = client.exchange_code(request, callback)
    assert token.token_type == "Bearer"
    assert token.refresh_token
    assert token.id_token
    assert token.expires_at is not None
    assert token.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert token.scope is not None
    assert "openid" in token.scopes
    assert token.grant == "authorization_code"
    assert token.id_claims is not None  # validated: signature, iss, aud, exp, iat, nonce
    assert token.id_claims["sub"] == "alice"
    assert token.id_claims["aud"] == name
    assert token.id_claims["nonce"] == request.nonce


def test_basic_secret_with_reserved_characters_is_form_encoded(oidc_provider: OIDCPeer) -> None:
    """The ``basic`` secret has ``: +/=&%~?#``: it works only when encoded per §2.3.1, and
    the raw form is refused by the same server."""
    with _client(oidc_provider, "basic") as client:
        assert _login(client, oidc_provider).access_token
    with (
        _client(oidc_provider, "basic", basic_encoding="raw") as raw,
        pytest.raises(OAuthServerError),
    ):
        _login(raw, oidc_provider)


@pytest.mark.parametrize("asked", [{"max_age": 600}, {"prompt": "login consent"}])
def test_max_age_and_prompt_login_get_a_checked_auth_time(
    oidc_provider: OIDCPeer, asked: dict[str, Any]
) -> None:
    """OIDC Core §3.1.2.1: asked for, the ID token carries auth_time, which is checked; a
    refreshed ID token keeps it (§12.2)."""
    with _client(oidc_provider, "basic") as client:
        request = client.authorization_request(**asked)
        assert request.authentication is not None
        started = time.time()
        token = client.exchange_code(request, oidc_provider.approve(request.url))
        assert token.id_claims is not None
        auth_time = token.id_claims["auth_time"]
        assert started - 60 <= auth_time <= time.time() + 1
        refreshed = client.refresh(token)
        assert refreshed.id_claims is not None
        assert refreshed.id_claims.get("auth_time", auth_time) == auth_time


def test_public_client_on_an_arbitrary_loopback_port(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "public", redirect_uri="http://127.0.0.1:54321/callback") as client:
        assert client.config.auth.method == "none"
        token = _login(client, oidc_provider)
    assert token.refresh_token


def test_refresh_rotates_and_a_rotated_token_is_refused(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "basic") as client:
        first = _login(client, oidc_provider)
        second = client.refresh(first)
        assert second.access_token != first.access_token
        assert second.refresh_token != first.refresh_token
        assert second.grant == "authorization_code"
        with pytest.raises(InvalidGrant) as info:
            client.refresh(first)
        assert info.value.status_code == 400
        # reuse detection revoked the whole grant (RFC 9700 §4.14.2)
        with pytest.raises(InvalidGrant):
            client.refresh(second)


def test_refresh_without_rotation_keeps_the_refresh_token(start_oidc: Any) -> None:
    peer = start_oidc(rotate_refresh_token=False)
    with _client(peer, "basic") as client:
        first = _login(client, peer)
        again = client.refresh(first)
    assert again.refresh_token == first.refresh_token


def test_client_credentials(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "service", scope=None) as client:
        token = client.client_credentials()
    assert token.grant == "client_credentials"
    assert token.refresh_token is None
    assert token.expires_at is not None


def test_wrong_secret_is_invalid_client(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "service", client_secret="wrong-secret") as client:
        with pytest.raises(InvalidClient) as info:
            client.client_credentials()
    assert info.value.status_code == 401
    assert "wrong-secret" not in str(info.value)


def test_device_flow_pending_then_approved(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "device", scope="openid offline_access") as client:
        device = client.device_authorization()
        assert device.interval == 5  # oidc-provider sends none: RFC 8628's default
        assert device.verification_uri.startswith(oidc_provider.issuer)
        fast = dataclasses.replace(device, interval=1)
        approved = threading.Event()

        def user() -> None:
            deadline = time.monotonic() + 20
            while not _token_requests(oidc_provider) and time.monotonic() < deadline:
                time.sleep(0.05)  # wait for the first (pending) poll
            oidc_provider.approve_device(device.user_code)
            approved.set()

        thread = threading.Thread(target=user)
        thread.start()
        token = client.poll_device(fast, timeout=30)
        thread.join()
    assert approved.is_set()
    assert len(_token_requests(oidc_provider)) >= 2  # at least one pending, then success
    assert token.refresh_token
    assert token.grant == "urn:ietf:params:oauth:grant-type:device_code"


def test_device_flow_denied(oidc_provider: OIDCPeer) -> None:
    from oauthkit.errors import AccessDenied

    with _client(oidc_provider, "device", scope="openid") as client:
        device = client.device_authorization()
        oidc_provider.deny_device(device.user_code)
        with pytest.raises(AccessDenied):
            client.poll_device(dataclasses.replace(device, interval=1), timeout=10)


def test_revocation_and_introspection(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "basic") as client:
        token = _login(client, oidc_provider)
        info = client.introspect(token)
        assert info["active"] is True
        assert info["client_id"] == "basic"
        client.revoke(token)  # the refresh token: the grant ends
        assert client.introspect(token)["active"] is False
        with pytest.raises(InvalidGrant):
            client.refresh(token)
        client.revoke("never-issued-token")  # RFC 7009 §2.2: 200 for unknown tokens


def test_token_exchange(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "basic") as user_client:
        subject = _login(user_client, oidc_provider)
    with _client(oidc_provider, "exchange", scope=None) as client:
        token = client.token_exchange(
            subject_token=subject.access_token,
            subject_token_type=ACCESS_TOKEN_TYPE,
            resource=API_RESOURCE,
        )
    assert token.extra["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert token.access_token != subject.access_token


def test_jwt_bearer_grant(oidc_provider: OIDCPeer) -> None:
    key = jwk.import_key(oidc_provider.client_private_jwk("exchange"), "EC")
    now = int(time.time())
    assertion = jwt.encode(
        {"alg": "ES256", "kid": key.kid} if key.kid else {"alg": "ES256"},
        {
            "iss": "exchange",
            "sub": "alice",
            "aud": oidc_provider.issuer,
            "iat": now,
            "exp": now + 60,
            "jti": f"jti-{now}-{time.monotonic_ns()}",
        },
        key,
        algorithms=["ES256"],
    )
    with _client(oidc_provider, "exchange", scope=None) as client:
        token = client.jwt_bearer(assertion)
        assert client.introspect(token)["active"] is True
        with pytest.raises(InvalidGrant):
            client.jwt_bearer(assertion)  # jti replay


def test_tls_client_auth(start_oidc: Any) -> None:
    peer = start_oidc(tls=True)
    http = peer.http_client(client_cert=True)
    with OAuth2Client(
        "mtls", issuer=peer.issuer, auth_method="tls_client_auth", http=http
    ) as client:
        token = client.client_credentials()
    assert token.access_token
    plain = peer.http_client()
    with OAuth2Client(
        "mtls", issuer=peer.issuer, auth_method="tls_client_auth", http=plain
    ) as client:
        with pytest.raises(InvalidClient):
            client.client_credentials()
    http.close()
    plain.close()


# ---------------------------------------------------------------- hostile callbacks: no request


def _forge(callback: str, **changes: str | None) -> str:
    parts = urlsplit(callback)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return parts._replace(query=urlencode(params)).geturl()


@pytest.mark.parametrize(
    ("forge", "error"),
    [
        (lambda cb: _forge(cb, state="forged-state"), StateMismatch),
        (lambda cb: _forge(cb, state=None), StateMismatch),
        (lambda cb: _forge(cb, iss="https://evil.example"), IssuerMismatch),
        (lambda cb: cb + "&code=second", DuplicateParameter),
        (lambda cb: cb + "&access_token=injected", UnexpectedParameter),
    ],
    ids=["forged-state", "no-state", "forged-iss", "duplicated-code", "token-in-callback"],
)
def test_hostile_callbacks_are_refused_with_zero_token_requests(
    oidc_provider: OIDCPeer, forge: Any, error: type[Exception]
) -> None:
    with _client(oidc_provider, "basic") as client:
        request = client.authorization_request()
        callback = oidc_provider.approve(request.url)
        oidc_provider.reset_log()
        with pytest.raises(error):
            client.exchange_code(request, forge(callback))
        assert _token_requests(oidc_provider) == []
        # the refused callback left the request usable: the genuine one still works
        assert client.exchange_code(request, callback).access_token
        assert len(_token_requests(oidc_provider)) == 1


def test_an_error_callback_is_typed_with_zero_token_requests(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "basic") as client:
        request = client.authorization_request()
        callback = oidc_provider.deny(request.url)
        oidc_provider.reset_log()
        with pytest.raises(AuthorizationDenied) as info:
            client.exchange_code(request, callback)
    assert info.value.error == "access_denied"
    assert _token_requests(oidc_provider) == []


def test_a_replayed_callback_is_refused_before_any_request(oidc_provider: OIDCPeer) -> None:
    from oauthkit.errors import RequestAlreadyUsed

    with _client(oidc_provider, "basic") as client:
        request = client.authorization_request()
        callback = oidc_provider.approve(request.url)
        client.exchange_code(request, callback)
        oidc_provider.reset_log()
        with pytest.raises(RequestAlreadyUsed):
            client.exchange_code(request, callback)
    assert _token_requests(oidc_provider) == []


def test_explicit_endpoints_without_issuer_make_no_discovery_request(
    oidc_provider: OIDCPeer,
) -> None:
    client = OAuth2Client("service", SERVICE_SECRET, token_endpoint=oidc_provider.token_endpoint)
    with client:
        client.client_credentials()
    assert [path for _, path in oidc_provider.request_log if "well-known" in path] == []


def test_discovery_is_cached_per_client(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "service", scope=None) as client:
        client.client_credentials()
        client.client_credentials()
    assert len([p for _, p in oidc_provider.request_log if "well-known" in p]) == 1


def test_discovery_refuses_a_mismatched_issuer(oidc_provider: OIDCPeer) -> None:
    from oauthkit.errors import InvalidResponse

    with OAuth2Client("service", SERVICE_SECRET, issuer=oidc_provider.issuer + "/") as client:
        with pytest.raises(InvalidResponse, match="8414"):
            client.client_credentials()


def test_missing_endpoint_is_a_clear_configuration_error(oidc_provider: OIDCPeer) -> None:
    with OAuth2Client("service", SERVICE_SECRET, token_endpoint=oidc_provider.token_endpoint) as c:
        with pytest.raises(ConfigurationError, match="device_authorization_endpoint"):
            c.device_authorization()


# ---------------------------------------------------------------------- OAuth2Auth, for real


def test_auth_refreshes_an_expired_token_at_userinfo(start_oidc: Any) -> None:
    peer = start_oidc(ttl={"AccessToken": 2})
    seen: list[Token] = []
    with _client(peer, "basic") as client:
        token = _login(client, peer)
        auth = client.auth(token, leeway=0, on_token=seen.append)
        with httpx2.Client(auth=auth) as api:
            assert api.get(peer.userinfo_endpoint).status_code == 200
            time.sleep(2.2)
            response = api.get(peer.userinfo_endpoint)
    assert response.status_code == 200
    assert response.json()["sub"] == "alice"
    assert len(seen) == 1
    assert seen[0].refresh_token != token.refresh_token  # rotated and handed over


def test_auth_retries_once_after_invalid_token(start_oidc: Any) -> None:
    """The server expired the token although the client believes it valid (clock skew): the
    401 ``invalid_token`` triggers one refresh and one retry."""
    peer = start_oidc(ttl={"AccessToken": 1})
    with _client(peer, "basic") as client:
        token = _login(client, peer)
        believed = token.replace(expires_at=datetime.now(UTC) + timedelta(hours=1))
        time.sleep(1.5)
        with httpx2.Client(auth=client.auth(believed)) as api:
            response = api.get(peer.userinfo_endpoint)
    assert response.status_code == 200


def test_auth_with_a_revoked_grant_asks_for_a_new_sign_in(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "basic") as client:
        token = _login(client, oidc_provider)
        client.revoke(token)
        expired = token.replace(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        with (
            httpx2.Client(auth=client.auth(expired)) as api,
            pytest.raises(ReauthenticationRequired),
        ):
            api.get(oidc_provider.userinfo_endpoint)


def test_requests_adapter_at_userinfo(oidc_provider: OIDCPeer) -> None:
    import requests

    from oauthkit.auth.requests import RequestsOAuth2Auth

    with _client(oidc_provider, "basic") as client, requests.Session() as session:
        session.auth = RequestsOAuth2Auth(client, _login(client, oidc_provider))
        response = session.get(oidc_provider.userinfo_endpoint, timeout=10)
    assert response.status_code == 200
    assert response.json()["sub"] == "alice"


# --------------------------------------------------------------------------- the async twins


async def test_async_code_flow_refresh_revoke(oidc_provider: OIDCPeer) -> None:
    async with _client(oidc_provider, "basic", AsyncOAuth2Client) as client:
        request = await client.authorization_request()
        token = await client.exchange_code(request, oidc_provider.approve(request.url))
        fresh = await client.refresh(token)
        assert fresh.access_token != token.access_token
        assert (await client.introspect(fresh))["active"] is True
        async with httpx2.AsyncClient(auth=client.auth(fresh)) as api:
            assert (await api.get(oidc_provider.userinfo_endpoint)).status_code == 200
        await client.revoke(fresh)
        assert (await client.introspect(fresh))["active"] is False
        with pytest.raises(InvalidGrant):
            await client.refresh(fresh)


async def test_async_client_credentials_and_device(oidc_provider: OIDCPeer) -> None:
    async with _client(oidc_provider, "service", AsyncOAuth2Client, scope=None) as client:
        assert (await client.client_credentials()).access_token
    async with _client(oidc_provider, "device", AsyncOAuth2Client, scope="openid") as client:
        device = await client.device_authorization()
        oidc_provider.approve_device(device.user_code)
        token = await client.poll_device(dataclasses.replace(device, interval=1), timeout=10)
    assert token.access_token


async def test_async_hostile_callback_sends_nothing(oidc_provider: OIDCPeer) -> None:
    async with _client(oidc_provider, "basic", AsyncOAuth2Client) as client:
        request = await client.authorization_request()
        callback = oidc_provider.approve(request.url)
        oidc_provider.reset_log()
        with pytest.raises(StateMismatch):
            await client.exchange_code(request, _forge(callback, state="x"))
    assert _token_requests(oidc_provider) == []


def test_userinfo_checks_sub_against_the_id_token(oidc_provider: OIDCPeer) -> None:
    from oauthkit.errors import InvalidResponse

    with _client(oidc_provider, "basic") as client:
        token = _login(client, oidc_provider)
        assert client.userinfo(token)["sub"] == "alice"
        assert token.id_claims is not None
        someone_else = token.replace(id_claims={**token.id_claims, "sub": "mallory"})
        with pytest.raises(InvalidResponse, match="another user"):
            client.userinfo(someone_else)


@pytest.mark.parametrize("name", ["basic", "post", "jwt-key"])
def test_pushed_authorization_request_then_code_exchange(
    oidc_provider: OIDCPeer, name: str
) -> None:
    extra = {"private_key": oidc_provider.client_private_jwk(name)} if name == "jwt-key" else {}
    with _client(oidc_provider, name, **extra) as client:
        request = client.authorization_request(par=True)
        query = parse_qs(urlsplit(request.url).query)
        assert set(query) == {"client_id", "request_uri"}  # the rest went by PAR
        assert query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:")
        token = client.exchange_code(request, oidc_provider.approve(request.url))
    assert token.id_claims is not None
    assert token.id_claims["nonce"] == request.nonce


def test_par_is_automatic_when_the_server_requires_it(start_oidc: Any) -> None:
    peer = start_oidc(require_par=True)
    with _client(peer, "basic") as client:
        request = client.authorization_request()
        assert "request_uri=" in request.url
        assert client.exchange_code(request, peer.approve(request.url)).access_token


def test_dpop_bound_tokens_at_userinfo_refresh_and_refusal_as_bearer(
    oidc_provider: OIDCPeer,
) -> None:
    """RFC 9449 against oidc-provider: the token is DPoP-bound, works at userinfo with a proof,
    refreshes with the same key (also after a store round trip), and is refused as Bearer."""
    from oauthkit.stores import MemoryStore

    with _client(oidc_provider, "public", dpop=True) as client:
        token = _login(client, oidc_provider)
        assert token.token_type == "DPoP"
        assert token.dpop_key is not None
        assert "d" in token.dpop_key  # the private key travels with the token
        assert "dpop_key" not in repr(token)
        with httpx2.Client(auth=client.auth(token)) as api:
            me = api.get(oidc_provider.userinfo_endpoint)
        assert me.status_code == 200, me.text
        assert me.json()["sub"] == "alice"
        with httpx2.Client() as plain:
            bearer = plain.get(
                oidc_provider.userinfo_endpoint,
                headers={"Authorization": f"Bearer {token.access_token}"},
            )
        assert bearer.status_code == 401
        store = MemoryStore()
        store.put("k", token)
        restored = store.get("k")
        assert isinstance(restored, Token)
        refreshed = client.refresh(restored)
        assert refreshed.token_type == "DPoP"
        assert refreshed.dpop_key == token.dpop_key
        with httpx2.Client(auth=client.auth(refreshed)) as api:
            assert api.get(oidc_provider.userinfo_endpoint).status_code == 200


async def test_dpop_async(oidc_provider: OIDCPeer) -> None:
    async with _client(oidc_provider, "public", AsyncOAuth2Client, dpop=True) as client:
        request = await client.authorization_request()
        token = await client.exchange_code(request, oidc_provider.approve(request.url))
        assert token.token_type == "DPoP"
        async with httpx2.AsyncClient(auth=client.auth(token)) as api:
            assert (await api.get(oidc_provider.userinfo_endpoint)).status_code == 200


@pytest.mark.parametrize("par", [False, True], ids=["by-value", "pushed"])
def test_signed_request_object(oidc_provider: OIDCPeer, par: bool) -> None:
    """RFC 9101: the parameters travel in a JWT signed with the private_key_jwt client's key;
    oidc-provider verifies it against the client's registered JWKS."""
    key = oidc_provider.client_private_jwk("jwt-key")
    with _client(oidc_provider, "jwt-key", private_key=key) as client:
        request = client.authorization_request(jar=True, par=par)
        query = parse_qs(urlsplit(request.url).query)
        assert "request_uri" in query if par else "request" in query
        assert "code_challenge" not in query and "state" not in query
        token = client.exchange_code(request, oidc_provider.approve(request.url))
    assert token.id_claims is not None
    assert token.id_claims["nonce"] == request.nonce


def test_key_rotation_between_two_logins(start_oidc: Any) -> None:
    """The provider restarts with new signing keys; the client's cached JWKS does not know
    the new kid, fetches the keys once more, and validates the new ID token."""
    from peers.oidc_provider import generate_signing_jwks

    peer = start_oidc()
    with _client(peer, "basic") as client:
        first = _login(client, peer)
        assert first.id_claims is not None
        peer.restart(signing_jwks=generate_signing_jwks())
        peer.reset_log()
        second = _login(client, peer)
    assert second.id_claims is not None
    assert second.id_claims["sub"] == "alice"
    assert [p for _, p in peer.request_log if "jwks" in p]  # fetched again for the new kid


def test_jwt_access_tokens_for_a_resource(start_oidc: Any) -> None:
    """With JWT access tokens (RFC 9068) for a resource (RFC 8707), the client still treats
    the token as opaque: it stores, sends and renews it like any other."""
    peer = start_oidc(access_token_format="jwt")
    with _client(peer, "service", scope=None) as client:
        token = client.client_credentials(resource=API_RESOURCE)
    assert token.access_token.count(".") == 2  # a JWS
    header = json.loads(base64.urlsafe_b64decode(token.access_token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"


def test_dpop_with_ed25519(oidc_provider: OIDCPeer) -> None:
    with _client(oidc_provider, "public", dpop="EdDSA") as client:
        token = _login(client, oidc_provider)
        assert token.token_type == "DPoP"
        assert token.dpop_key is not None
        assert token.dpop_key["kty"] == "OKP"
        with httpx2.Client(auth=client.auth(token)) as api:
            assert api.get(oidc_provider.userinfo_endpoint).status_code == 200
        assert client.refresh(token).token_type == "DPoP"


def test_exchange_code_takes_a_request_and_its_callback_or_a_validated_code(
    oidc_provider: OIDCPeer,
) -> None:
    """One name for the code exchange: with the callback (validated first) or with the
    AuthorizationCode that validate_callback returned; the wrong mix is a clear error."""
    from oauthkit.errors import ConfigurationError

    with _client(oidc_provider, "basic") as client:
        request = client.authorization_request()
        code = client.validate_callback(request, oidc_provider.approve(request.url))
        with pytest.raises(ConfigurationError, match="pass no callback"):
            client.exchange_code(code, "http://127.0.0.1:8765/callback?code=x")
        assert client.exchange_code(code).access_token
        again = client.authorization_request()
        with pytest.raises(ConfigurationError, match="callback is missing"):
            client.exchange_code(again)
        assert client.exchange_code(again, oidc_provider.approve(again.url)).access_token
