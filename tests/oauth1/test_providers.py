"""The whole three-legged flow (RFC 5849 §2) and signed requests (§3) against two local
providers on independent server-side implementations (oauthlib's endpoints, Authlib's
server): every signature method × placement × {callback, oob}, sync and async."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
import requests

from oauthkit import AsyncOAuth1Client, OAuth1Client
from oauthkit.auth.requests import RequestsOAuth1Auth
from oauthkit.errors import (
    AuthorizationDenied,
    CallbackNotConfirmed,
    OAuth1ServerError,
    OAuthServerError,
    TokenMismatch,
)
from oauthkit.oauth1 import SIGNATURE_METHODS, OAuth1Auth, OAuth1Credentials
from peers.oauth1_common import OAuth1Peer

PLACEMENTS = ("header", "query", "body")
# The providers' libraries decode oauth_* values twice (see peers/oauth1_common.py), so the
# callback carries a query without percent-escapes.
CALLBACK = "http://127.0.0.1:8765/callback?app=demo"
QUERY = [("tag", "café"), ("tag", "ünï"), ("tag", "a"), ("q", "a b&c=d+e"), ("empty", "")]
FORM = {"status": "Hello Ladies + Gentlemen, a signed OAuth request!", "n": ["ü", "1"]}
FORM_PAIRS = [
    ["status", "Hello Ladies + Gentlemen, a signed OAuth request!"],
    ["n", "ü"],
    ["n", "1"],
]


def _client_args(peer: OAuth1Peer, signature_method: str, placement: str) -> dict[str, Any]:
    rsa = signature_method.startswith("RSA")
    return {
        "consumer_key": peer.rsa_consumer_key if rsa else peer.consumer_key,
        "consumer_secret": None if rsa else peer.consumer_secret,
        "rsa_key": peer.rsa_private_key_pem if rsa else None,
        "request_token_url": peer.request_token_url,
        "authorize_url": peer.authorize_url,
        "access_token_url": peer.access_token_url,
        "signature_method": signature_method,
        "placement": placement,
    }


def _verifier(client: OAuth1Client | AsyncOAuth1Client, peer: OAuth1Peer, temp: Any) -> str:
    answer = peer.approve(client.authorization_url(temp))
    if temp.callback == "oob":  # the PIN the user reads off the page, as the README says
        return client.parse_callback(temp, f" {answer}\n")
    assert answer.startswith(CALLBACK)
    return client.parse_callback(temp, answer)


def _check_get(response: httpx2.Response, peer: OAuth1Peer, creds: OAuth1Credentials) -> None:
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["peer"] == peer.name
    assert data["token"] == creds.token
    assert [pair for pair in data["query"] if not pair[0].startswith("oauth_")] == [
        list(p) for p in QUERY
    ]


def _check_post(response: httpx2.Response, creds: OAuth1Credentials) -> None:
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["token"] == creds.token
    assert [pair for pair in data["form"] if not pair[0].startswith("oauth_")] == FORM_PAIRS


@pytest.mark.parametrize("callback", [CALLBACK, "oob"], ids=["callback", "oob"])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("signature_method", SIGNATURE_METHODS)
def test_three_legged_flow_sync(
    oauth1_peer: OAuth1Peer, signature_method: str, placement: str, callback: str
) -> None:
    with OAuth1Client(**_client_args(oauth1_peer, signature_method, placement)) as client:
        temp = client.fetch_request_token(callback=callback)
        assert temp.callback == callback
        creds = client.fetch_access_token(temp, _verifier(client, oauth1_peer, temp))
        assert creds.extra["user_id"] == "42"
        assert creds.extra["screen_name"] == "alice"
        # A GET has no body to carry the protocol parameters: body placement signs it in the
        # query instead, through an auth object of the caller's choosing.
        if placement == "body":
            auth = OAuth1Auth(creds, signature_method=signature_method, placement="query")
            got = client.http.get(oauth1_peer.resource_url, params=QUERY, auth=auth)
        else:
            got = client.get(oauth1_peer.resource_url, credentials=creds, params=QUERY)
        _check_get(got, oauth1_peer, creds)
        _check_post(client.post(oauth1_peer.resource_url, credentials=creds, data=FORM), creds)


@pytest.mark.parametrize("callback", [CALLBACK, "oob"], ids=["callback", "oob"])
@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("signature_method", SIGNATURE_METHODS)
async def test_three_legged_flow_async(
    oauth1_peer: OAuth1Peer, signature_method: str, placement: str, callback: str
) -> None:
    args = _client_args(oauth1_peer, signature_method, placement)
    async with AsyncOAuth1Client(**args) as client:
        temp = await client.fetch_request_token(callback=callback)
        creds = await client.fetch_access_token(temp, _verifier(client, oauth1_peer, temp))
        assert creds.extra["screen_name"] == "alice"
        if placement != "body":
            got = await client.get(oauth1_peer.resource_url, credentials=creds, params=QUERY)
            _check_get(got, oauth1_peer, creds)
        posted = await client.post(oauth1_peer.resource_url, credentials=creds, data=FORM)
        _check_post(posted, creds)


pytestmark = pytest.mark.anyio


def _logged_in(peer: OAuth1Peer, **overrides: Any) -> tuple[OAuth1Client, OAuth1Credentials]:
    client = OAuth1Client(**{**_client_args(peer, "HMAC-SHA1", "header"), **overrides})
    temp = client.fetch_request_token(callback=CALLBACK)
    return client, client.fetch_access_token(temp, _verifier(client, peer, temp))


def test_put_patch_delete_are_signed(oauth1_peer: OAuth1Peer) -> None:
    client, creds = _logged_in(oauth1_peer)
    with client:
        for call in (client.put, client.patch):
            response = call(oauth1_peer.resource_url, credentials=creds, data={"a": "1"})
            assert response.status_code == 200, response.text
            assert response.json()["method"] in ("PUT", "PATCH")
        response = client.delete(oauth1_peer.resource_url, credentials=creds, params={"id": "7"})
        assert response.status_code == 200, response.text


def test_json_body_with_body_hash_is_accepted(oauth1_peer: OAuth1Peer) -> None:
    client, creds = _logged_in(oauth1_peer, body_hash=True)
    with client:
        response = client.post(oauth1_peer.resource_url, credentials=creds, json={"x": [1, 2]})
        assert response.status_code == 200, response.text


def test_requests_adapter_signs_for_a_requests_session(oauth1_peer: OAuth1Peer) -> None:
    client, creds = _logged_in(oauth1_peer)
    client.close()
    with requests.Session() as session:
        session.auth = RequestsOAuth1Auth(creds)
        got = session.get(oauth1_peer.resource_url, params=QUERY, timeout=10)
        assert got.status_code == 200, got.text
        assert [p for p in got.json()["query"] if not p[0].startswith("oauth_")] == [
            list(p) for p in QUERY
        ]
        posted = session.post(oauth1_peer.resource_url, data=FORM, timeout=10)
        assert posted.status_code == 200, posted.text
        assert [p for p in posted.json()["form"] if not p[0].startswith("oauth_")] == FORM_PAIRS
        body = RequestsOAuth1Auth(creds, placement="body")
        posted = session.post(oauth1_peer.resource_url, data=FORM, auth=body, timeout=10)
        assert posted.status_code == 200, posted.text


def test_auth_object_on_a_users_own_client(oauth1_peer: OAuth1Peer) -> None:
    client, creds = _logged_in(oauth1_peer)
    with client, httpx2.Client(auth=client.auth(creds)) as mine:
        response = mine.get(oauth1_peer.resource_url, params={"x": "1"})
        assert response.status_code == 200, response.text


# -------------------------------------------------------------------------- negative cases


def test_wrong_consumer_secret_is_a_typed_server_error(oauth1_peer: OAuth1Peer) -> None:
    args = {**_client_args(oauth1_peer, "HMAC-SHA1", "header"), "consumer_secret": "wrong"}
    with OAuth1Client(**args) as client, pytest.raises(OAuth1ServerError) as info:
        client.fetch_request_token(callback=CALLBACK)
    assert info.value.status_code == 401
    assert "temporary-credentials endpoint answered HTTP 401" in str(info.value)
    assert "wrong" not in str(info.value)
    assert isinstance(info.value, OAuthServerError)


def test_wrong_secret_on_a_resource_request_is_refused(oauth1_peer: OAuth1Peer) -> None:
    client, creds = _logged_in(oauth1_peer)
    forged = OAuth1Credentials(
        consumer_key=creds.consumer_key,
        consumer_secret=creds.consumer_secret,
        token=creds.token,
        token_secret="not-the-secret",
    )
    with client:
        assert client.get(oauth1_peer.resource_url, credentials=forged).status_code == 401


def test_denied_authorization_is_typed(oauth1_peer: OAuth1Peer) -> None:
    with OAuth1Client(**_client_args(oauth1_peer, "HMAC-SHA1", "header")) as client:
        temp = client.fetch_request_token(callback=CALLBACK)
        redirect = oauth1_peer.approve(client.authorization_url(temp), deny=True)
        with pytest.raises(AuthorizationDenied):
            client.parse_callback(temp, redirect)


def test_mismatched_oauth_token_on_the_callback_sends_nothing(oauth1_peer: OAuth1Peer) -> None:
    with OAuth1Client(**_client_args(oauth1_peer, "HMAC-SHA1", "header")) as client:
        first = client.fetch_request_token(callback=CALLBACK)
        second = client.fetch_request_token(callback=CALLBACK)
        redirect_for_second = oauth1_peer.approve(client.authorization_url(second))
        before = len(oauth1_peer.request_log)
        with pytest.raises(TokenMismatch):
            client.parse_callback(first, redirect_for_second)
        assert len(oauth1_peer.request_log) == before


def test_missing_callback_confirmation_is_refused(oauth1_peer: OAuth1Peer) -> None:
    oauth1_peer.confirm_callback = False
    args = _client_args(oauth1_peer, "HMAC-SHA1", "header")
    with OAuth1Client(**args) as client, pytest.raises(CallbackNotConfirmed, match="confirmed"):
        client.fetch_request_token(callback=CALLBACK)


def test_replayed_verifier_is_refused(oauth1_peer: OAuth1Peer) -> None:
    with OAuth1Client(**_client_args(oauth1_peer, "HMAC-SHA1", "header")) as client:
        temp = client.fetch_request_token(callback=CALLBACK)
        verifier = _verifier(client, oauth1_peer, temp)
        client.fetch_access_token(temp, verifier)
        with pytest.raises(OAuth1ServerError) as info:
            client.fetch_access_token(temp, verifier)
        assert info.value.status_code in (400, 401)


async def test_async_wrong_secret_is_typed(oauth1_peer: OAuth1Peer) -> None:
    args = {**_client_args(oauth1_peer, "HMAC-SHA1", "query"), "consumer_secret": "wrong"}
    async with AsyncOAuth1Client(**args) as client:
        with pytest.raises(OAuth1ServerError):
            await client.fetch_request_token(callback="oob")


@pytest.mark.parametrize("signature_method", ["RSA-SHA1", "RSA-SHA256"])
def test_rsa_signs_with_the_token_alone(oauth1_peer: OAuth1Peer, signature_method: str) -> None:
    """RSA-* keys the signature with rsa_key only (RFC 5849 §3.4.3): token credentials
    without their secret sign requests the provider accepts."""
    if signature_method not in oauth1_peer.signature_methods:
        pytest.skip(f"{oauth1_peer.name} has no {signature_method}")
    with OAuth1Client(**_client_args(oauth1_peer, signature_method, "header")) as client:
        temp = client.fetch_request_token(callback="oob")
        full = client.fetch_access_token(temp, _verifier(client, oauth1_peer, temp))
        token_only = OAuth1Credentials(
            consumer_key=full.consumer_key, rsa_key=full.rsa_key, token=full.token
        )
        _check_get(
            client.get(oauth1_peer.resource_url, credentials=token_only, params=QUERY),
            oauth1_peer,
            full,
        )
    with pytest.raises(ValueError, match="token_secret"):
        OAuth1Credentials(consumer_key="k", consumer_secret="s", token="t")


def test_stored_credentials_sign_with_the_clients_own_secret(
    oauth1_peer: OAuth1Peer, tmp_path: Any
) -> None:
    """A store keeps the token credentials only; the client that signs supplies its own
    client credentials — so the one configured now is the one used (a rotated secret takes
    effect for every stored user), and a leaked store holds no application secret."""
    from oauthkit.stores import SQLiteStore

    store = SQLiteStore(tmp_path / "tokens.sqlite3")
    with OAuth1Client(**_client_args(oauth1_peer, "HMAC-SHA256", "header")) as client:
        temp = client.fetch_request_token(callback="oob")
        store.put("alice", client.fetch_access_token(temp, _verifier(client, oauth1_peer, temp)))
    assert oauth1_peer.consumer_secret.encode() not in (tmp_path / "tokens.sqlite3").read_bytes()
    stored = store.get("alice", OAuth1Credentials)
    assert stored is not None and stored.consumer_secret is None
    with OAuth1Client(**_client_args(oauth1_peer, "HMAC-SHA256", "header")) as client:
        assert client.get(oauth1_peer.resource_url, credentials=stored).status_code == 200
    other = {**_client_args(oauth1_peer, "HMAC-SHA256", "header"), "consumer_secret": "rotated"}
    with OAuth1Client(**other) as client:
        assert client.get(oauth1_peer.resource_url, credentials=stored).status_code == 401
    with (
        httpx2.Client(auth=OAuth1Auth(stored)) as bare,
        pytest.raises(ValueError, match="OAuth1Client"),  # no client credentials to sign with
    ):
        bare.get(oauth1_peer.resource_url)
    urls = {k: v for k, v in _client_args(oauth1_peer, "HMAC-SHA1", "header").items() if "url" in k}
    with (
        OAuth1Client("another-consumer", "s", **urls) as client,
        pytest.raises(ValueError, match="issued to the consumer key"),
    ):
        client.get(oauth1_peer.resource_url, credentials=stored)
