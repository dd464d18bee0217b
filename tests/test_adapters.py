"""Every way a user sends a request — an httpx2 client, an httpx (0.27/0.28) client through
``HttpxAuth``, a requests session — with every kind of auth object — ``client.auth(token)``,
``Session.auth()`` (``session.requests_auth()`` for requests), OAuth 1.0a — against the real
peers: a Bearer and a DPoP-bound token at oidc-provider's userinfo, renewal when due, one
retry after ``invalid_token``; OAuth 1.0a signatures in each placement."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import requests

from oauthkit import OAuth1Client, OAuth2Client, Session, Token
from oauthkit.auth.httpx import HttpxAuth
from oauthkit.auth.requests import RequestsOAuth1Auth, RequestsOAuth2Auth
from oauthkit.stores import SQLiteStore
from peers.oauth1_common import OAuth1Peer
from peers.oidc_provider import REDIRECT_URI, OIDCPeer

SCOPE = "openid profile email offline_access"
ADAPTERS = ["httpx2", "httpx2-async", "httpx", "httpx-async", "requests"]


def _get(adapter: str, auth: Any, url: str, **kwargs: Any) -> tuple[int, Any]:
    """GET ``url`` with ``auth`` through ``adapter``; (status, JSON body or text)."""
    if adapter == "requests":
        with requests.Session() as s:
            s.auth = auth
            r = s.get(url, timeout=10, **kwargs)
            return r.status_code, r.json() if r.ok else r.text
    if adapter.startswith("httpx2"):
        module: Any = httpx2
    else:
        module = httpx
        auth = HttpxAuth(auth)
    if adapter.endswith("async"):

        async def main() -> tuple[int, Any]:
            async with module.AsyncClient(auth=auth) as http:
                r = await http.get(url, **kwargs)
                return r.status_code, r.json() if r.status_code == 200 else r.text

        return anyio.run(main)
    with module.Client(auth=auth) as http:
        r = http.get(url, **kwargs)
        return r.status_code, r.json() if r.status_code == 200 else r.text


def _sign_in(peer: OIDCPeer, **options: Any) -> tuple[OAuth2Client, Token]:
    client = OAuth2Client(
        "public", issuer=peer.issuer, redirect_uri=REDIRECT_URI, scope=SCOPE, **options
    )
    request = client.authorization_request()
    return client, client.exchange_code(request, peer.approve(request.url))


def _auth_of(kind: str, adapter: str, client: OAuth2Client, token: Token, tmp: Path) -> Any:
    if kind == "client":
        if adapter == "requests":
            return RequestsOAuth2Auth(client, token)
        return client.auth(token)
    session = Session(client, SQLiteStore(tmp / "tokens.sqlite3"), key="k")
    session.save(token)
    return session.requests_auth() if adapter == "requests" else session.auth()


@pytest.mark.parametrize("dpop", [False, True], ids=["bearer", "dpop"])
@pytest.mark.parametrize("kind", ["client", "session"])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_oauth2_through_every_adapter(
    oidc_provider: OIDCPeer, tmp_path: Path, adapter: str, kind: str, dpop: bool
) -> None:
    client, token = _sign_in(oidc_provider, dpop=dpop)
    with client:
        assert token.token_type == ("DPoP" if dpop else "Bearer")
        # 1. as it is
        auth = _auth_of(kind, adapter, client, token, tmp_path)
        assert _get(adapter, auth, oidc_provider.userinfo_endpoint) == (
            200,
            _me(client, token),
        )
        # 2. due: renewed before it is sent
        due = dataclasses.replace(token, expires_at=token.issued_at)
        auth = _auth_of(kind, adapter, client, due, tmp_path / "due")
        status, body = _get(adapter, auth, oidc_provider.userinfo_endpoint)
        assert status == 200 and body["sub"] == "alice"
        assert auth.token.access_token != token.access_token
        # 3. refused as invalid_token: renewed once and sent again
        unknown = dataclasses.replace(auth.token, access_token="unknown-access-token-0123456789")
        auth = _auth_of(kind, adapter, client, unknown, tmp_path / "unknown")
        status, body = _get(adapter, auth, oidc_provider.userinfo_endpoint)
        assert status == 200 and body["sub"] == "alice"
        assert auth.token.access_token != unknown.access_token


def _me(client: OAuth2Client, token: Token) -> dict[str, Any]:
    return client.userinfo(token)


@pytest.mark.parametrize("placement", ["header", "query", "body"])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_oauth1_through_every_adapter(
    oauthlib_peer: OAuth1Peer, adapter: str, placement: str
) -> None:
    peer = oauthlib_peer
    with OAuth1Client(
        peer.consumer_key,
        peer.consumer_secret,
        request_token_url=peer.request_token_url,
        authorize_url=peer.authorize_url,
        access_token_url=peer.access_token_url,
        placement=placement,
    ) as client:
        temp = client.fetch_request_token(callback="oob")
        creds = client.fetch_access_token(temp, peer.approve(client.authorization_url(temp)))
        auth: Any = (
            RequestsOAuth1Auth(creds, signer=client.signer)
            if adapter == "requests"
            else client.auth(creds)
        )
        if placement == "body":  # a form body carries the protocol parameters
            status, body = _post(adapter, auth, peer.resource_url, {"status": "héllo + more"})
            assert status == 200, body
            assert ["status", "héllo + more"] in body["form"]
        else:
            status, body = _get(adapter, auth, peer.resource_url, params={"q": "a b&c"})
            assert status == 200, body
            assert ["q", "a b&c"] in body["query"]
        assert body["token"] == creds.token


def _post(adapter: str, auth: Any, url: str, data: dict[str, str]) -> tuple[int, Any]:
    if adapter == "requests":
        r = requests.post(url, data=data, auth=auth, timeout=10)
        return r.status_code, r.json() if r.ok else r.text
    module: Any = httpx2 if adapter.startswith("httpx2") else httpx
    wrapped = auth if module is httpx2 else HttpxAuth(auth)
    if adapter.endswith("async"):

        async def main() -> tuple[int, Any]:
            async with module.AsyncClient(auth=wrapped) as http:
                r = await http.post(url, data=data)
                return r.status_code, r.json() if r.status_code == 200 else r.text

        return anyio.run(main)
    with module.Client(auth=wrapped) as http:
        r = http.post(url, data=data)
        return r.status_code, r.json() if r.status_code == 200 else r.text


def test_httpx_auth_wraps_only_oauthkit_auth_objects() -> None:
    with pytest.raises(TypeError, match=r"httpx2\.Auth"):
        HttpxAuth(object())  # type: ignore[arg-type]
