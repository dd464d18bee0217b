"""The ``oauthkit`` logger: every flow run at DEBUG against the real peers — sign-in with
PKCE, refresh, DPoP with its nonce, a Session renewal through a store, a retry after
``invalid_token``, the device flow, client credentials, revocation, OAuth 1.0a — and then
every record is searched for every secret those flows handled. The records also say what a
user needs to see: each exchange, each renewal and its outcome, each retry."""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from oauthkit import OAuth1Client, OAuth2Client, Session, Token
from oauthkit.stores import SQLiteStore
from peers.oauth1_common import OAuth1Peer
from peers.oidc_provider import (
    BASIC_SECRET,
    DEVICE_SECRET,
    REDIRECT_URI,
    SERVICE_SECRET,
    OIDCPeer,
)

SCOPE = "openid profile email offline_access"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        lines = []
        for record in self.records:
            lines.append(f"{record.name} {record.levelname} {record.getMessage()}")
            if record.exc_info:
                lines.append("".join(traceback.format_exception(*record.exc_info)))
        return "\n".join(lines)


@pytest.fixture
def records() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger("oauthkit")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def _secrets_of(*values: Any) -> set[str]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, Token):
            found |= {v for v in (value.access_token, value.refresh_token, value.id_token) if v}
            if value.dpop_key:
                found.add(str(value.dpop_key.get("d")))
        elif isinstance(value, str) and value:
            found.add(value)
        elif value is not None and hasattr(value, "token_secret"):
            found |= {v for v in (value.token, value.token_secret) if v}
    return found


def test_no_flow_logs_a_secret(
    records: _Records, oidc_provider: OIDCPeer, oauthlib_peer: OAuth1Peer, tmp_path: Path
) -> None:
    secrets: set[str] = {BASIC_SECRET, DEVICE_SECRET, SERVICE_SECRET}
    with OAuth2Client(
        "basic", BASIC_SECRET, issuer=oidc_provider.issuer, redirect_uri=REDIRECT_URI, scope=SCOPE
    ) as client:
        request = client.authorization_request()
        callback = oidc_provider.approve(request.url)
        secrets |= _secrets_of(request.code_verifier, request.state, request.nonce)
        secrets |= {v for k, v in httpx2.URL(callback).params.items() if k == "code"}
        token = client.exchange_code(request, callback)
        secrets |= _secrets_of(token)
        # A Session renewal through a real store, then a retry after invalid_token.
        session = Session(client, SQLiteStore(tmp_path / "t.sqlite3"), key="work:alice")
        session.save(dataclasses.replace(token, expires_at=token.issued_at))
        renewed = session.token()
        secrets |= _secrets_of(renewed)
        # An access token the server does not know (revoking one would end the whole grant
        # at oidc-provider): 401 invalid_token, one renewal, one retry.
        session.save(dataclasses.replace(renewed, access_token="unknown-access-token-0123"))
        with httpx2.Client(auth=session.auth()) as api:
            answer = api.get(oidc_provider.userinfo_endpoint)
        assert answer.status_code == 200
        secrets |= _secrets_of(session.token())
    with OAuth2Client(
        "public", issuer=oidc_provider.issuer, redirect_uri=REDIRECT_URI, scope=SCOPE, dpop=True
    ) as client:
        request = client.authorization_request()
        dpop = client.exchange_code(request, oidc_provider.approve(request.url))
        with httpx2.Client(auth=client.auth(dpop)) as api:
            assert api.get(oidc_provider.userinfo_endpoint).status_code == 200
        secrets |= _secrets_of(dpop, request.code_verifier)
    with OAuth2Client("device", DEVICE_SECRET, issuer=oidc_provider.issuer, scope=SCOPE) as client:
        device = client.device_authorization()
        oidc_provider.approve_device(device.user_code)
        secrets |= _secrets_of(device.device_code, device.user_code)
        secrets |= _secrets_of(client.poll_device(dataclasses.replace(device, interval=1)))
    with OAuth2Client("service", SERVICE_SECRET, issuer=oidc_provider.issuer) as client:
        secrets |= _secrets_of(client.client_credentials())
    peer = oauthlib_peer
    with OAuth1Client(
        peer.consumer_key,
        peer.consumer_secret,
        request_token_url=peer.request_token_url,
        authorize_url=peer.authorize_url,
        access_token_url=peer.access_token_url,
    ) as client:
        temporary = client.fetch_request_token(callback="oob")
        verifier = peer.approve(client.authorization_url(temporary))
        credentials = client.fetch_access_token(temporary, verifier)
        secrets |= _secrets_of(temporary, credentials, verifier, peer.consumer_secret)

    text = records.text()
    for secret in sorted(secrets):
        assert secret not in text, f"a secret ({len(secret)} characters) is in the log"
    # …and the log says what happened.
    assert "GET " in text and "/.well-known/openid-configuration -> 200" in text
    assert "POST " in text and "/token -> 200" in text
    assert "'work:alice' renewed and stored" in text
    assert "answered 401 invalid_token: renewing the token and retrying once" in text
    assert "took the store's lock on 'work:alice'" in text
    assert "the token was refreshed in" in text
    assert "/oauth/request_token -> 200" in text or "request_token -> 200" in text
