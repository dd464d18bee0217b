"""oauthkit.sandbox, driven by oauthkit's own clients: discovery, the code flow with PKCE
(confidential and public, any loopback port), refresh rotation and reuse detection, client
credentials, the device flow, revocation and introspection, the bearer resource, OAuth 1.0a
with a callback and out of band, every deny path, and the pages' security properties."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from oauthkit import AsyncOAuth2Client, OAuth1Client, OAuth2Client, Token
from oauthkit.errors import (
    AccessDenied,
    AuthorizationDenied,
    AuthorizationResponseError,
    ConfigurationError,
    InvalidClient,
    InvalidGrant,
    OAuth1ServerError,
    OAuthServerError,
    UnauthorizedClient,
)
from oauthkit.sandbox import ApprovalError, Sandbox, SandboxClient, SandboxError
from oauthkit.sandbox.clients import redirect_uri_matches

REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def web_client(sb: Sandbox, **kwargs: Any) -> OAuth2Client:
    web = sb.clients["demo-web"]
    kwargs.setdefault("redirect_uri", REDIRECT)
    kwargs.setdefault("scope", "profile")
    return OAuth2Client(web.client_id, web.client_secret, issuer=sb.issuer, **kwargs)


def cli_client(sb: Sandbox, **kwargs: Any) -> OAuth2Client:
    kwargs.setdefault("scope", "profile")
    return OAuth2Client("demo-cli", issuer=sb.issuer, **kwargs)


def login(sb: Sandbox, client: OAuth2Client, *, user: str = "alice") -> Token:
    request = client.authorization_request()
    return client.exchange_code(request, sb.approve(request.url, user=user))


def me(sb: Sandbox, token: Token | str) -> httpx2.Response:
    value = token.access_token if isinstance(token, Token) else token
    return httpx2.get(f"{sb.base_url}/api/me", headers={"Authorization": f"Bearer {value}"})


def oauth1_client(sb: Sandbox, **kwargs: Any) -> OAuth1Client:
    consumer = sb.clients["demo-oauth1"]
    return OAuth1Client(consumer.consumer_key, consumer.consumer_secret, **sb.oauth1_urls, **kwargs)


def page(sb: Sandbox, path: str) -> httpx2.Response:
    return httpx2.get(sb.base_url + path)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# ----------------------------------------------------------------------------- discovery


def test_discovery_is_rfc8414_only(sb: Sandbox) -> None:
    with web_client(sb) as client:
        metadata = client.metadata()
    assert metadata.issuer == sb.issuer == sb.base_url
    assert metadata.authorization_response_iss_parameter_supported is True
    doc = metadata.raw
    for name, path in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("device_authorization_endpoint", "/oauth2/device"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("introspection_endpoint", "/oauth2/introspect"),
    ]:
        assert doc[name] == sb.base_url + path
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    }
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert doc["response_types_supported"] == ["code"]
    # Not an OpenID provider: no OIDC discovery document.
    assert page(sb, "/.well-known/openid-configuration").status_code == 404


# ----------------------------------------------------------------------------- code + PKCE


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8765/callback",
        "http://127.0.0.1:49152/callback",
        "http://[::1]:1234/callback",
        "http://127.0.0.1/callback",
    ],
)
def test_code_flow_confidential_any_loopback_port(sb: Sandbox, redirect_uri: str) -> None:
    with web_client(sb, redirect_uri=redirect_uri) as client:
        request = client.authorization_request()
        callback = sb.approve(request.url, user="bob")
        assert callback.startswith(redirect_uri + "?")
        params = parse_qs(urlsplit(callback).query)
        assert params["state"] == [request.state]
        assert params["iss"] == [sb.issuer]
        token = client.exchange_code(request, callback)
        assert token.refresh_token and token.scope == "profile"
        assert token.expires_at is not None
        with httpx2.Client(auth=client.auth(token)) as http:
            response = http.get(f"{sb.base_url}/api/me")
    assert response.status_code == 200
    assert response.json() == {"sub": "bob", "client_id": "demo-web", "scope": "profile"}


def test_code_flow_public_client(sb: Sandbox) -> None:
    with cli_client(sb, redirect_uri="http://[::1]:51000/callback", scope="profile email") as c:
        token = login(sb, c)
    assert token.scope == "profile email"
    assert me(sb, token).json() == {
        "sub": "alice",
        "client_id": "demo-cli",
        "scope": "profile email",
    }


@pytest.mark.anyio
async def test_code_flow_async(sb: Sandbox) -> None:
    web = sb.clients["demo-web"]
    async with AsyncOAuth2Client(
        web.client_id, web.client_secret, issuer=sb.issuer, redirect_uri=REDIRECT, scope="read"
    ) as client:
        request = await client.authorization_request()
        token = await client.exchange_code(request, sb.approve(request.url))
        renewed = await client.refresh(token)
        async with httpx2.AsyncClient(auth=client.auth(renewed)) as http:
            response = await http.get(f"{sb.base_url}/api/me")
    assert response.json()["scope"] == "read"


def test_default_scope_when_none_requested(sb: Sandbox) -> None:
    with web_client(sb, scope=None) as client:
        token = login(sb, client)
    assert token.scope == "profile"


def test_login_hint_prefills_the_user(sb: Sandbox) -> None:
    with web_client(sb) as client:
        request = client.authorization_request(login_hint="carol")
    body = page(sb, urlsplit(request.url).path + "?" + urlsplit(request.url).query).text
    assert 'name="user" value="carol"' in body


def test_pkce_is_required_and_s256_only(sb: Sandbox) -> None:
    with web_client(sb, insecure_no_pkce=True) as client:
        request = client.authorization_request()
        callback = sb.approve(request.url)
        assert parse_qs(urlsplit(callback).query)["iss"] == [sb.issuer]
        with pytest.raises(AuthorizationResponseError) as missing:
            client.exchange_code(request, callback)
    assert missing.value.error == "invalid_request"
    with web_client(sb, pkce="plain") as client:
        request = client.authorization_request()
        with pytest.raises(AuthorizationResponseError) as plain:
            client.exchange_code(request, sb.approve(request.url))
    assert plain.value.error == "invalid_request"


def test_wrong_code_verifier_is_refused(sb: Sandbox) -> None:
    with web_client(sb) as client:
        request = client.authorization_request()
        callback = sb.approve(request.url)
        request.code_verifier = "x" * 43  # not the verifier of the challenge sent
        with pytest.raises(InvalidGrant):
            client.exchange_code(request, callback)


def test_unknown_scope_is_redirected_as_invalid_scope(sb: Sandbox) -> None:
    with web_client(sb, scope="profile admin") as client:
        request = client.authorization_request()
        with pytest.raises(AuthorizationResponseError) as error:
            client.exchange_code(request, sb.approve(request.url))
    assert error.value.error == "invalid_scope"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8765/other",  # another path
        "http://localhost:8765/callback",  # localhost is not a loopback IP literal (RFC 8252 §8.3)
        "http://127.0.0.1:8765/callback?x=1",  # another query
        "https://127.0.0.1:8765/callback",  # another scheme
        "http://127.0.0.2:8765/callback",  # another address
    ],
)
def test_unregistered_redirect_uri_is_never_redirected_to(sb: Sandbox, redirect_uri: str) -> None:
    with web_client(sb, redirect_uri=redirect_uri) as client:
        request = client.authorization_request()
    response = httpx2.get(request.url)
    assert response.status_code == 400
    assert "Location" not in response.headers
    with pytest.raises(ApprovalError) as error:
        sb.approve(request.url)
    assert error.value.status == 400


def test_unknown_client_is_shown_an_error_page(sb: Sandbox) -> None:
    with OAuth2Client("nobody", issuer=sb.issuer, redirect_uri=REDIRECT) as client:
        request = client.authorization_request()
    response = httpx2.get(request.url)
    assert response.status_code == 400 and "invalid_request" in response.text


def test_user_denies_the_code_request(sb: Sandbox) -> None:
    with web_client(sb) as client:
        request = client.authorization_request()
        callback = sb.approve(request.url, deny=True)
        params = parse_qs(urlsplit(callback).query)
        assert params["error"] == ["access_denied"]
        assert params["state"] == [request.state] and params["iss"] == [sb.issuer]
        assert "code" not in params
        with pytest.raises(AuthorizationDenied):
            client.exchange_code(request, callback)


def test_code_is_single_use_and_reuse_revokes_its_tokens(sb: Sandbox) -> None:
    web = sb.clients["demo-web"]
    with web_client(sb) as client:
        request = client.authorization_request()
        callback = sb.approve(request.url)
        token = client.exchange_code(request, callback)
        assert me(sb, token).status_code == 200
        replay = httpx2.post(
            f"{sb.base_url}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": parse_qs(urlsplit(callback).query)["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": request.code_verifier,
            },
            auth=(web.client_id, web.client_secret or ""),
        )
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert client.introspect(token) == {"active": False}
        assert me(sb, token).status_code == 401
        with pytest.raises(InvalidGrant):
            client.refresh(token)


# ----------------------------------------------------------------------------- refresh


def test_refresh_rotates_and_reuse_revokes_the_family(sb: Sandbox) -> None:
    with web_client(sb) as client:
        first = login(sb, client)
        second = client.refresh(first)
        assert second.refresh_token and second.refresh_token != first.refresh_token
        assert second.access_token != first.access_token
        third = client.refresh(second)
        assert me(sb, third).status_code == 200
        # The rotated refresh token comes back: a leak. Everything from that login dies.
        with pytest.raises(InvalidGrant):
            client.refresh(first)
        with pytest.raises(InvalidGrant):
            client.refresh(third)
        assert client.introspect(third) == {"active": False}
        assert me(sb, third).status_code == 401
        # Another login is not affected.
        other = login(sb, client)
        assert me(sb, client.refresh(other)).status_code == 200


def test_concurrent_refreshes_only_one_wins() -> None:
    with Sandbox() as sandbox, web_client(sandbox) as client:
        token = login(sandbox, client)
        outcomes: list[str] = []
        winners: list[Token] = []

        def refresh() -> None:
            try:
                winners.append(client.refresh(token))
                outcomes.append("ok")
            except InvalidGrant:
                outcomes.append("invalid_grant")

        threads = [threading.Thread(target=refresh) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # One refresh wins; the others present a rotated refresh token, which looks like a
        # leak (RFC 9700 §4.14.2) and revokes the grant, the winner's new tokens included.
        assert outcomes.count("ok") == 1 and len(outcomes) == 8
        assert client.introspect(winners[0]) == {"active": False}


def test_refresh_without_rotation() -> None:
    with Sandbox(rotate_refresh_tokens=False) as sandbox, web_client(sandbox) as client:
        token = login(sandbox, client)
        again = client.refresh(token)
        assert again.refresh_token == token.refresh_token
        assert me(sandbox, client.refresh(token)).status_code == 200


def test_refresh_cannot_widen_scope(sb: Sandbox) -> None:
    with web_client(sb) as client:
        token = login(sb, client)
        with pytest.raises(OAuthServerError) as error:
            client.refresh(token, scope="profile write")
    assert error.value.error == "invalid_scope"


# ----------------------------------------------------------------------------- client credentials


def test_client_credentials(sb: Sandbox) -> None:
    service = sb.clients["demo-service"]
    with OAuth2Client(
        service.client_id, service.client_secret, issuer=sb.issuer, scope="read"
    ) as client:
        token = client.client_credentials()
        assert token.refresh_token is None and token.scope == "read"
        assert me(sb, token).json() == {
            "sub": "demo-service",
            "client_id": "demo-service",
            "scope": "read",
        }
        info = client.introspect(token)
    assert info["active"] is True and info["client_id"] == "demo-service"
    assert "username" not in info


def test_grant_not_registered_is_unauthorized_client(sb: Sandbox) -> None:
    with web_client(sb) as client, pytest.raises(UnauthorizedClient):
        client.client_credentials()
    service = sb.clients["demo-service"]
    with OAuth2Client(
        service.client_id, service.client_secret, issuer=sb.issuer, redirect_uri=REDIRECT
    ) as client:
        request = client.authorization_request()
        # demo-service has no redirect URI at all: the page shows the error.
        with pytest.raises(ApprovalError):
            sb.approve(request.url)
    machine = sb.register(
        SandboxClient("machine", redirect_uris=(REDIRECT,), grant_types=("client_credentials",))
    )
    with OAuth2Client(
        machine.client_id, machine.client_secret, issuer=sb.issuer, redirect_uri=REDIRECT
    ) as client:
        request = client.authorization_request()
        with pytest.raises(AuthorizationResponseError) as error:
            client.exchange_code(request, sb.approve(request.url))
    assert error.value.error == "unauthorized_client"


def test_wrong_secret_is_invalid_client_with_basic_challenge(sb: Sandbox) -> None:
    with OAuth2Client("demo-service", "wrong", issuer=sb.issuer) as client:
        with pytest.raises(InvalidClient) as error:
            client.client_credentials()
    assert error.value.status_code == 401
    raw = httpx2.post(
        f"{sb.base_url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-service", "wrong"),
    )
    assert raw.status_code == 401
    assert raw.headers["WWW-Authenticate"].startswith("Basic ")


def test_client_secret_post_only_when_registered(sb: Sandbox) -> None:
    service = sb.clients["demo-service"]
    with OAuth2Client(
        service.client_id,
        service.client_secret,
        issuer=sb.issuer,
        auth_method="client_secret_post",
    ) as client:
        with pytest.raises(InvalidClient):
            client.client_credentials()
    registered = sb.register(
        SandboxClient(
            "post-service",
            grant_types=("client_credentials",),
            token_endpoint_auth_method="client_secret_post",
        )
    )
    for method in ("client_secret_post", "client_secret_basic"):
        with OAuth2Client(
            registered.client_id, registered.client_secret, issuer=sb.issuer, auth_method=method
        ) as client:
            assert client.client_credentials().scope == "profile"


def test_public_client_cannot_use_a_secret_or_client_credentials(sb: Sandbox) -> None:
    with OAuth2Client("demo-cli", "invented", issuer=sb.issuer) as client:
        with pytest.raises(InvalidClient):
            client.client_credentials()


# ----------------------------------------------------------------------------- device flow


@pytest.mark.slow
def test_device_flow(sb: Sandbox) -> None:
    with cli_client(sb, scope="profile read") as client:
        device = client.device_authorization()
        assert re.fullmatch(r"[B-Z]{4}-[B-Z]{4}", device.user_code)
        assert device.verification_uri == f"{sb.base_url}/device"
        assert device.verification_uri_complete == (
            f"{sb.base_url}/device?user_code={device.user_code}"
        )
        assert device.interval == 5
        approver = threading.Timer(0.3, sb.approve_device, (device.user_code.lower(), "dave"))
        approver.start()
        token = client.poll_device(dataclasses.replace(device, interval=1), timeout=30)
        approver.join()
        assert token.scope == "profile read" and token.refresh_token
        assert me(sb, token).json()["sub"] == "dave"
        assert me(sb, client.refresh(token)).json()["sub"] == "dave"
        # The device code is used up.
        with pytest.raises(InvalidGrant):
            client.poll_device(dataclasses.replace(device, interval=1), timeout=5)


@pytest.mark.slow
def test_device_flow_confidential_client(sb: Sandbox) -> None:
    tv = sb.register(SandboxClient("tv-app", grant_types=("device_code",)))
    with OAuth2Client(tv.client_id, tv.client_secret, issuer=sb.issuer) as client:
        device = client.device_authorization(scope="email")
        approver = threading.Timer(0.2, sb.approve_device, (device.user_code,))
        approver.start()
        token = client.poll_device(dataclasses.replace(device, interval=1), timeout=30)
        approver.join()
    assert token.refresh_token is None  # not registered for refresh_token
    assert me(sb, token).json() == {"sub": "alice", "client_id": "tv-app", "scope": "email"}


@pytest.mark.slow
def test_device_flow_denied(sb: Sandbox) -> None:
    with cli_client(sb) as client:
        device = client.device_authorization()
        sb.approve_device(device.user_code, deny=True)
        with pytest.raises(AccessDenied):
            client.poll_device(dataclasses.replace(device, interval=1), timeout=10)


def test_device_entry_page_by_hand(sb: Sandbox) -> None:
    with cli_client(sb) as client:
        device = client.device_authorization()
    with httpx2.Client(base_url=sb.base_url) as http:
        entry = http.get("/device")
        assert entry.status_code == 200 and 'name="user_code"' in entry.text
        csrf = CSRF.search(entry.text)
        assert csrf
        wrong = http.post(
            "/device",
            data={"csrf_token": csrf.group(1), "user_code": "BBBB-BBBB", "action": "lookup"},
        )
        assert wrong.status_code == 400 and 'id="error"' in wrong.text
        csrf = CSRF.search(wrong.text)
        assert csrf
        consent = http.post(
            "/device",
            data={"csrf_token": csrf.group(1), "user_code": device.user_code, "action": "lookup"},
        )
        assert consent.status_code == 200 and device.user_code in consent.text


def test_device_unknown_code_and_unregistered_client(sb: Sandbox) -> None:
    with pytest.raises(ApprovalError) as error:
        sb.approve_device("BBBB-CCCC")
    assert error.value.status == 400
    with web_client(sb) as client, pytest.raises(UnauthorizedClient):
        client.device_authorization()


# ----------------------------------------------------------------------------- revoke + introspect


def test_revoke_access_token(sb: Sandbox) -> None:
    with web_client(sb) as client:
        token = login(sb, client)
        info = client.introspect(token)
        assert info["active"] is True
        assert info["sub"] == info["username"] == "alice"
        assert info["client_id"] == "demo-web" and info["scope"] == "profile"
        assert info["token_type"] == "Bearer" and info["iss"] == sb.issuer
        assert info["exp"] > time.time()
        client.revoke(token.access_token, hint="access_token")
        assert client.introspect(token) == {"active": False}
        assert me(sb, token).status_code == 401
        # The refresh token still works: only the access token was revoked.
        assert me(sb, client.refresh(token)).status_code == 200


def test_revoke_refresh_token_ends_the_grant(sb: Sandbox) -> None:
    with web_client(sb) as client:
        token = login(sb, client)
        assert client.introspect(token.refresh_token or "", hint="refresh_token")["active"]
        client.revoke(token)  # the refresh token, which takes its access tokens along
        assert client.introspect(token) == {"active": False}
        with pytest.raises(InvalidGrant):
            client.refresh(token)
        client.revoke("never-issued")  # RFC 7009 §2.2: fine


def test_clients_cannot_see_or_revoke_each_others_tokens(sb: Sandbox) -> None:
    with web_client(sb) as web, cli_client(sb, redirect_uri=REDIRECT) as cli:
        token = login(sb, web)
        assert cli.introspect(token) == {"active": False}
        with pytest.raises(InvalidGrant):
            cli.revoke(token)
        assert web.introspect(token)["active"] is True


# ----------------------------------------------------------------------------- the resource


def test_api_me_challenges(sb: Sandbox) -> None:
    anonymous = page(sb, "/api/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "error=" not in anonymous.headers["WWW-Authenticate"]  # RFC 6750 §3.1
    bad = me(sb, "not-a-token")
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    in_query = httpx2.get(f"{sb.base_url}/api/me", params={"access_token": "x"})
    assert in_query.status_code == 401


@pytest.mark.slow
def test_expired_token_is_invalid_and_auth_renews_it() -> None:
    with Sandbox(access_token_ttl=1) as sandbox, web_client(sandbox) as client:
        token = login(sandbox, client)
        assert token.expires_at is not None
        time.sleep(1.2)
        expired = me(sandbox, token)
        assert expired.status_code == 401
        assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
        renewed: list[Token] = []
        with httpx2.Client(auth=client.auth(token, on_token=renewed.append)) as http:
            assert http.get(f"{sandbox.base_url}/api/me").status_code == 200
        assert len(renewed) == 1


# ----------------------------------------------------------------------------- OAuth 1.0a


@pytest.mark.parametrize("placement", ["header", "query", "body"])
@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512", "PLAINTEXT"])
def test_oauth1_callback_flow(sb: Sandbox, placement: Any, method: str) -> None:
    with oauth1_client(sb, placement=placement, signature_method=method) as client:
        temporary = client.fetch_request_token(callback="http://127.0.0.1:9999/callback")
        callback = sb.approve(client.authorization_url(temporary), user="erin")
        assert callback.startswith("http://127.0.0.1:9999/callback?")
        verifier = client.parse_callback(temporary, callback)
        credentials = client.fetch_access_token(temporary, verifier)
        resource = f"{sb.base_url}/oauth1/api/me"
        if placement == "body":  # a form body to carry the protocol parameters
            response = client.post(resource, credentials=credentials, data={"q": "1"})
        else:
            response = client.get(resource, credentials=credentials, params={"q": "é"})
    assert response.status_code == 200
    assert response.json() == {"user": "erin", "consumer_key": "demo-oauth1"}


def test_oauth1_oob_pin(sb: Sandbox) -> None:
    with oauth1_client(sb) as client:
        temporary = client.fetch_request_token(callback="oob")
        url = client.authorization_url(temporary)
        body = page(sb, url.removeprefix(sb.base_url)).text
        assert "a code shown here" in body
        pin = sb.approve(url)
        assert re.fullmatch(r"[A-Za-z0-9]+", pin)
        credentials = client.fetch_access_token(temporary, pin)
        assert client.get(f"{sb.base_url}/oauth1/api/me", credentials=credentials).json() == {
            "user": "alice",
            "consumer_key": "demo-oauth1",
        }
        # The request token is used up.
        with pytest.raises(OAuth1ServerError):
            client.fetch_access_token(temporary, pin)


def test_oauth1_deny(sb: Sandbox) -> None:
    with oauth1_client(sb) as client:
        temporary = client.fetch_request_token(callback="http://[::1]:9999/callback")
        callback = sb.approve(client.authorization_url(temporary), deny=True)
        assert parse_qs(urlsplit(callback).query)["denied"] == [temporary.token]
        with pytest.raises(AuthorizationDenied):
            client.parse_callback(temporary, callback)
        with pytest.raises(OAuth1ServerError):
            client.fetch_access_token(temporary, "guess")
        oob = client.fetch_request_token(callback="oob")
        assert sb.approve(client.authorization_url(oob), deny=True) == ""


def test_oauth1_refusals(sb: Sandbox) -> None:
    with oauth1_client(sb) as client:
        with pytest.raises(OAuth1ServerError) as unregistered:
            client.fetch_request_token(callback="http://127.0.0.1:9999/elsewhere")
        assert unregistered.value.status_code == 401
        temporary = client.fetch_request_token(callback="oob")
        with pytest.raises(OAuth1ServerError):  # not approved yet: no verifier
            client.fetch_access_token(temporary, "123")
        credentials = client.fetch_access_token(
            temporary, sb.approve(client.authorization_url(temporary))
        )
    forged = credentials.with_token(credentials.token or "", "not-the-secret")
    with OAuth1Client("demo-oauth1", "not-the-secret") as wrong:
        assert wrong.get(f"{sb.base_url}/oauth1/api/me", credentials=forged).status_code == 401
    with pytest.raises(ApprovalError):
        sb.approve(f"{sb.base_url}/oauth1/authorize?oauth_token=unknown")


def test_oauth1_rsa_consumer() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    consumer = SandboxClient(
        "rsa-app",
        kind="oauth1",
        rsa_public_key=public.decode(),
        redirect_uris=("oob",),
    )
    with Sandbox(clients=[consumer]) as sandbox:
        registered = sandbox.clients["rsa-app"]
        assert registered.consumer_secret is None  # RSA only: no secret generated
        with OAuth1Client(
            "rsa-app", rsa_key=key, signature_method="RSA-SHA256", **sandbox.oauth1_urls
        ) as client:
            temporary = client.fetch_request_token()
            pin = sandbox.approve(client.authorization_url(temporary))
            credentials = client.fetch_access_token(temporary, pin)
            response = client.get(f"{sandbox.base_url}/oauth1/api/me", credentials=credentials)
        assert response.json()["consumer_key"] == "rsa-app"
        with (
            OAuth1Client(
                "rsa-app", "no-secret", signature_method="HMAC-SHA1", **sandbox.oauth1_urls
            ) as hmac_client,
            pytest.raises(OAuth1ServerError),
        ):
            hmac_client.fetch_request_token()


# ----------------------------------------------------------------------------- pages


def _consent_url(sb: Sandbox) -> str:
    with web_client(sb) as client:
        return client.authorization_request().url


@pytest.mark.slow
def test_consent_page_is_self_contained_and_hardened(sb: Sandbox) -> None:
    response = httpx2.get(_consent_url(sb))
    assert response.status_code == 200
    headers = response.headers
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    body = response.text
    # Nothing external: no URL in any attribute, no script, no @import or url().
    assert re.search(r'(?:src|href|action)="(?:https?:)?//', body) is None
    assert "<script" not in body and "@import" not in body and "url(" not in body
    assert 'action="/oauth2/authorize"' in body
    assert 'value="alice"' in body and "Approve" in body and "Deny" in body
    renderings = [CSRF.search(httpx2.get(_consent_url(sb)).text) for _ in range(3)]
    assert len({match.group(1) for match in renderings if match}) == 3  # one per rendering


def test_pages_escape_what_they_echo() -> None:
    evil = SandboxClient(
        '<script>alert("x")</script>',
        client_id="evil-app",
        redirect_uris=("http://127.0.0.1/callback",),
        token_endpoint_auth_method="none",
    )
    with Sandbox(clients=[evil]) as sandbox:
        with OAuth2Client("evil-app", issuer=sandbox.issuer, redirect_uri=REDIRECT) as client:
            request = client.authorization_request(login_hint='"><img src=x onerror=alert(1)>')
        body = httpx2.get(request.url).text
        assert "<script>alert" not in body and "<img" not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
        entry = httpx2.get(sandbox.base_url + "/device", params={"user_code": "<b>hi</b>"}).text
        assert "<b>hi</b>" not in entry and "&lt;b&gt;hi&lt;/b&gt;" in entry


@pytest.mark.slow
def test_csrf_token_is_required_single_use_and_same_origin(sb: Sandbox) -> None:
    url = _consent_url(sb)
    csrf = CSRF.search(httpx2.get(url).text)
    assert csrf
    post = f"{sb.base_url}/oauth2/authorize"
    form = {"user": "mallory", "action": "approve"}
    assert httpx2.post(post, data={**form, "csrf_token": "forged"}).status_code == 400
    assert httpx2.post(post, data=form).status_code == 400
    cross = httpx2.post(
        post, data={**form, "csrf_token": csrf.group(1)}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status_code == 403
    site = httpx2.post(
        post, data={**form, "csrf_token": csrf.group(1)}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert site.status_code == 403
    ok = httpx2.post(post, data={**form, "csrf_token": csrf.group(1)}, headers={"Origin": "null"})
    assert ok.status_code == 302 and "code=" in ok.headers["Location"]
    assert ok.headers["Referrer-Policy"] == "no-referrer"
    replay = httpx2.post(post, data={**form, "csrf_token": csrf.group(1)})
    assert replay.status_code == 400


def test_foreign_host_header_is_refused(sb: Sandbox) -> None:
    response = httpx2.get(
        f"{sb.base_url}/.well-known/oauth-authorization-server",
        headers={"Host": "attacker.example"},
    )
    assert response.status_code == 421
    local = httpx2.get(
        f"http://localhost:{sb.port}/.well-known/oauth-authorization-server",
    )
    assert local.status_code == 200


def test_index_page(sb: Sandbox) -> None:
    response = page(sb, "/")
    assert response.status_code == 200 and "/oauth2/token" in response.text


# ----------------------------------------------------------------------------- the object


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "localhost", "192.168.1.10", "example.com", ""])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match="loopback"):
        Sandbox(host=host)


def test_ipv6_loopback() -> None:
    try:
        sandbox = Sandbox(host="[::1]").start()
    except ConfigurationError as exc:  # no IPv6 on this machine
        pytest.skip(str(exc))
    try:
        assert sandbox.base_url == f"http://[::1]:{sandbox.port}"
        with web_client(sandbox, redirect_uri="http://[::1]:4321/callback") as client:
            assert me(sandbox, login(sandbox, client)).status_code == 200
    finally:
        sandbox.stop()


def test_defaults_secrets_and_repr() -> None:
    with Sandbox() as one, Sandbox() as two:
        assert set(one.clients) == {"demo-web", "demo-cli", "demo-service", "demo-oauth1"}
        web = one.clients["demo-web"]
        assert web.client_id == "demo-web" and web.kind == "oauth2"
        assert web.token_endpoint_auth_method == "client_secret_basic"
        assert web.grant_types == ("authorization_code", "refresh_token")
        assert one.clients["demo-cli"].client_secret is None
        assert one.clients["demo-cli"].is_public
        oauth1 = one.clients["demo-oauth1"]
        assert oauth1.kind == "oauth1" and "oob" in oauth1.redirect_uris
        assert oauth1.consumer_key == "demo-oauth1" and oauth1.consumer_secret
        for name in ("demo-web", "demo-service", "demo-oauth1"):
            secret = one.clients[name].client_secret
            assert secret and secret != two.clients[name].client_secret
            assert secret not in repr(one.clients[name]) and secret not in repr(one)
    with pytest.raises(SandboxError):
        _ = one.base_url  # stopped


def test_register_and_validate_clients(sb: Sandbox) -> None:
    registered = sb.register(
        SandboxClient("tool", redirect_uris=("http://127.0.0.1/cb",), grant_types=("device_code",))
    )
    assert registered.grant_types == ("urn:ietf:params:oauth:grant-type:device_code",)
    assert registered.client_secret and sb.clients["tool"] == registered
    with pytest.raises(ConfigurationError):
        sb.register(SandboxClient("tool"))
    with pytest.raises(ConfigurationError):
        SandboxClient("x", client_secret="s", token_endpoint_auth_method="none")
    with pytest.raises(ConfigurationError):
        SandboxClient("x", grant_types=("password",))
    with pytest.raises(ConfigurationError):
        SandboxClient("x", token_endpoint_auth_method="none", grant_types=("client_credentials",))
    with pytest.raises(ConfigurationError):
        SandboxClient("x", redirect_uris=("http://127.0.0.1/cb#frag",))
    with pytest.raises(ConfigurationError):
        SandboxClient("x", kind="oauth1", grant_types=("authorization_code",))
    with pytest.raises(ConfigurationError):
        Sandbox(access_token_ttl=0)


def test_given_clients_replace_the_defaults() -> None:
    only = SandboxClient("only", client_secret="fixed", redirect_uris=(REDIRECT,))
    with Sandbox(clients={"only": only}) as sandbox:
        assert list(sandbox.clients) == ["only"]
        assert sandbox.clients["only"].client_secret == "fixed"
        with OAuth2Client("only", "fixed", issuer=sandbox.issuer, redirect_uri=REDIRECT) as c:
            assert me(sandbox, login(sandbox, c)).status_code == 200


def test_approve_only_pages_of_this_sandbox(sb: Sandbox) -> None:
    with pytest.raises(ConfigurationError):
        sb.approve("http://127.0.0.1:1/oauth2/authorize?client_id=demo-web")
    with pytest.raises(ConfigurationError):
        sb.approve(f"https://example.com/oauth2/authorize?{urlencode({'x': 1})}")


def test_oauthlib_debug_records_are_dropped(sb: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="oauthlib"), web_client(sb) as client:
        token = login(sb, client)
        client.refresh(token)
    leaked = [r for r in caplog.records if r.name.startswith("oauthlib")]
    assert leaked == []


@pytest.mark.parametrize(
    ("registered", "requested", "expected"),
    [
        ("http://127.0.0.1/callback", "http://127.0.0.1:5000/callback", True),
        ("http://127.0.0.1:80/callback", "http://127.0.0.1:5000/callback", True),
        ("http://[::1]/callback", "http://[::1]:5000/callback", True),
        ("http://127.0.0.1/callback", "http://127.0.0.1/callback", True),
        ("http://127.0.0.1/callback", "http://127.0.0.1:5000/callback/", False),
        ("http://127.0.0.1/callback", "http://user@127.0.0.1:5000/callback", False),
        ("http://127.0.0.1/callback", "http://127.0.0.1:5000/callback#x", False),
        ("http://127.0.0.1/callback", "http://[::1]:5000/callback", False),
        ("http://localhost/callback", "http://localhost:5000/callback", False),
        ("https://app.example/cb", "https://app.example/cb", True),
        ("https://app.example/cb", "https://app.example:444/cb", False),
    ],
)
def test_redirect_uri_matching(registered: str, requested: str, expected: bool) -> None:
    assert redirect_uri_matches(registered, requested) is expected
