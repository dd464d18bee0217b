"""OpenID Connect CIBA (issue 16, item 1) against oidc-provider's ``ciba`` feature: the
backchannel request, poll mode (approved, denied, slow_down, expired), ping mode with the
server's notification (and a forged one refused), sync and async."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from oauthkit import AsyncOAuth2Client, OAuth2Client
from oauthkit.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidBindingMessage,
    PollingTimeout,
)
from oauthkit.protocol.oauth2.ciba import BackchannelAuthentication, check_notification
from peers.oidc_provider import OIDCPeer, default_clients, tls_material

CIBA_GRANT = "urn:openid:params:grant-type:ciba"
SECRET = "ciba-secret-0123456789"


class Notifications:
    """The client's notification endpoint for ping mode (CIBA Core §10.2), on 127.0.0.1:
    keeps what arrived; answers 204 to a notification ``accept`` says is genuine, else 401."""

    def __init__(self) -> None:
        self.arrived: list[tuple[str | None, dict[str, Any]]] = []
        self.accept: Callable[[str | None, dict[str, Any]], bool] = lambda *_: False
        self.event = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                header = self.headers.get("Authorization")
                owner.arrived.append((header, body))
                self.send_response(204 if owner.accept(header, body) else 401)
                self.end_headers()
                if owner.accept(header, body):
                    owner.event.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        material = tls_material()  # CIBA Core §10.2: the endpoint is https
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(material.server_cert), str(material.server_key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/ciba/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def notifications() -> Iterator[Notifications]:
    endpoint = Notifications()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def peer(start_oidc: Callable[..., OIDCPeer], notifications: Notifications) -> OIDCPeer:
    clients = default_clients()
    base = {
        "grant_types": [CIBA_GRANT, "refresh_token"],
        "response_types": [],
        "client_secret": SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid profile offline_access",
    }
    clients["ciba"] = {**base, "backchannel_token_delivery_mode": "poll"}
    clients["ciba-ping"] = {
        **base,
        "backchannel_token_delivery_mode": "ping",
        "backchannel_client_notification_endpoint": notifications.url,
    }
    return start_oidc(ciba=True, clients=clients)


def _client(peer: OIDCPeer, name: str = "ciba") -> OAuth2Client:
    return OAuth2Client(name, SECRET, issuer=peer.issuer, scope="openid profile")


def _decide_when_pending(peer: OIDCPeer, *, approve: bool) -> threading.Thread:
    def decide() -> None:
        for _ in range(200):
            pending = peer.ciba_pending()
            if pending:
                peer.ciba_decide(pending[0]["auth_req_id"], approve=approve)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=decide, daemon=True)
    thread.start()
    return thread


def test_poll_mode_approved(peer: OIDCPeer) -> None:
    with _client(peer) as client:
        request = client.backchannel_authentication(login_hint="alice", binding_message="W4SCT")
        assert "auth_req_id" not in repr(request) and request.auth_req_id not in repr(request)
        assert request.interval == 5  # CIBA Core §7.3: the default when none is given
        (pending,) = peer.ciba_pending()
        assert (pending["account"], pending["binding_message"]) == ("alice", "W4SCT")
        waits: list[float] = []

        def wait(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 2:
                peer.ciba_decide(request.auth_req_id)
            time.sleep(min(seconds, 0.05) if len(waits) < 2 else 0)

        token = client.poll_backchannel(request, timeout=120, wait=wait)
    assert token.id_claims is not None and token.id_claims["sub"] == "alice"
    assert token.refresh_token is None or isinstance(token.refresh_token, str)
    assert waits[0] == 5
    assert waits[1] >= 5  # slow_down, if the server saw us poll too fast, added 5 s
    polls = [p for m, p in peer.request_log if (m, p) == ("POST", "/token")]
    assert len(polls) == len(waits)


def test_poll_mode_denied_is_access_denied(peer: OIDCPeer) -> None:
    with _client(peer) as client:
        request = client.backchannel_authentication(login_hint="alice")
        _decide_when_pending(peer, approve=False).join()
        with pytest.raises(AccessDenied):
            client.poll_backchannel(request, timeout=60, wait=lambda s: None)


def test_poll_mode_gives_up_at_the_timeout(peer: OIDCPeer) -> None:
    clock = [time.time()]

    def wait(seconds: float) -> None:
        clock[0] += seconds  # the client's clock moves; nobody ever decides

    with OAuth2Client(
        "ciba", SECRET, issuer=peer.issuer, scope="openid profile", clock=lambda: clock[0]
    ) as client:
        request = client.backchannel_authentication(login_hint="alice")
        with pytest.raises(PollingTimeout, match="CIBA Core"):
            client.poll_backchannel(request, timeout=12, wait=wait)
    assert clock[0] - time.time() <= 15


def test_bad_requests_are_refused_before_or_by_the_server(peer: OIDCPeer) -> None:
    with _client(peer) as client:
        with pytest.raises(ConfigurationError, match="exactly one"):
            client.backchannel_authentication(login_hint="alice", id_token_hint="x")
        with pytest.raises(ConfigurationError, match="openid"):
            client.backchannel_authentication(login_hint="alice", scope="profile")
        with pytest.raises(InvalidBindingMessage):
            client.backchannel_authentication(
                login_hint="alice", binding_message="no spaces allowed!"
            )


def test_ping_mode_the_notification_then_the_token(
    peer: OIDCPeer, notifications: Notifications
) -> None:
    with _client(peer, "ciba-ping") as client:
        request = client.backchannel_authentication(login_hint="alice", ping=True)
        assert request.client_notification_token is not None
        notifications.accept = lambda header, body: check_notification(request, header, body)
        _decide_when_pending(peer, approve=True).join()
        assert notifications.event.wait(10), notifications.arrived
        token = client.backchannel_token(request)
    assert token.id_claims is not None and token.id_claims["sub"] == "alice"
    ((header, body),) = notifications.arrived
    assert header == f"Bearer {request.client_notification_token}"
    assert body == {"auth_req_id": request.auth_req_id}


def test_a_forged_ping_is_refused() -> None:
    from datetime import UTC, datetime

    request = BackchannelAuthentication(
        "id-1", datetime.now(UTC), 5, client_notification_token="the-real-one"
    )
    assert check_notification(request, "Bearer the-real-one", {"auth_req_id": "id-1"})
    assert not check_notification(request, "Bearer forged", {"auth_req_id": "id-1"})
    assert not check_notification(request, None, {"auth_req_id": "id-1"})
    assert not check_notification(request, "Basic the-real-one", {"auth_req_id": "id-1"})
    assert not check_notification(request, "Bearer the-real-one", {"auth_req_id": "id-2"})
    poll_only = BackchannelAuthentication("id-1", datetime.now(UTC), 5)
    assert not check_notification(poll_only, "Bearer the-real-one", {"auth_req_id": "id-1"})


def test_async_poll_mode(peer: OIDCPeer) -> None:
    async def sign_in() -> str:
        async with AsyncOAuth2Client(
            "ciba", SECRET, issuer=peer.issuer, scope="openid profile"
        ) as client:
            request = await client.backchannel_authentication(login_hint="alice")
            _decide_when_pending(peer, approve=True)

            async def wait(seconds: float) -> None:
                await asyncio.sleep(0.2)

            token = await client.poll_backchannel(request, timeout=60, wait=wait)
            assert token.id_claims is not None
            return str(token.id_claims["sub"])

    assert asyncio.run(sign_in()) == "alice"


def test_the_command_signs_in_with_ciba(peer: OIDCPeer, tmp_path: Any) -> None:
    from cli.harness import make_cli

    cli = make_cli(tmp_path)
    cli.config(
        f'[providers.work]\nissuer = "{peer.issuer}"\nclient_id = "ciba"\n'
        'client_secret_env = "CIBA_SECRET"\nscope = "openid profile"\n'
    )
    cli.env["CIBA_SECRET"] = SECRET
    usage = cli.run("login", "work", "--ciba")
    assert usage.returncode == 2 and "--login-hint" in usage.stderr
    process = cli.start(
        "login", "work", "--ciba", "--login-hint", "alice", "--binding-message", "W4SCT"
    )
    _decide_when_pending(peer, approve=True).join()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "W4SCT" in err and "Signed in to work" in err
    token = cli.run("token", "work")
    assert token.returncode == 0 and token.stdout.strip()
