"""OAuth2Auth edge cases on httpx2.MockTransport: renewal when due, one retry after an
invalid_token 401, none after insufficient_scope or with a streamed body, client-credentials
tokens fetched again, one renewal for many threads or tasks, and no Authorization header on a
redirect to another origin or from https to http."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import anyio
import httpx2
import pytest

from oauthkit import AsyncOAuth2Client, OAuth2Client, Token
from oauthkit.errors import ReauthenticationRequired, StepUpRequired

pytestmark = pytest.mark.anyio

TOKEN_URL = "https://as.example/token"
API = "https://api.example/me"


class FakeServer:
    """A token endpoint that rotates access tokens, and an API that accepts the current one."""

    def __init__(self) -> None:
        self.issued = 0
        self.grants: list[str] = []
        self.current = "AT0"
        self.api_headers: list[str | None] = []
        self.challenge = 'Bearer error="invalid_token"'
        self.lock = threading.Lock()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if str(request.url) == TOKEN_URL:
            form = dict(parse_qsl(request.content.decode()))
            with self.lock:
                self.grants.append(form["grant_type"])
                if form.get("refresh_token") == "revoked":
                    return httpx2.Response(400, json={"error": "invalid_grant"})
                self.issued += 1
                self.current = f"AT{self.issued}"
            body = {"access_token": self.current, "token_type": "Bearer", "expires_in": 3600}
            return httpx2.Response(200, json=body)
        self.api_headers.append(request.headers.get("authorization"))
        if request.url.host == "api.example" and request.url.path == "/redirect":
            return httpx2.Response(302, headers={"Location": request.url.params["to"]})
        if request.headers.get("authorization") == f"Bearer {self.current}":
            return httpx2.Response(200, json={"ok": True})
        return httpx2.Response(401, headers={"WWW-Authenticate": self.challenge})


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server: FakeServer) -> Iterator[OAuth2Client]:
    http = httpx2.Client(transport=httpx2.MockTransport(server))
    with OAuth2Client("cid", "sec", token_endpoint=TOKEN_URL, http=http) as c:
        yield c
    http.close()


def _token(access: str = "AT0", *, expires_in: float = 3600, refresh: str | None = "RT") -> Token:
    return Token(
        access, expires_at=datetime.now(UTC) + timedelta(seconds=expires_in), refresh_token=refresh
    )


def test_a_fresh_token_is_sent_without_any_token_request(
    client: OAuth2Client, server: FakeServer
) -> None:
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=client.auth(_token())) as api:
        assert api.get(API).status_code == 200
    assert server.grants == []


def test_a_token_due_within_the_leeway_is_refreshed_first(
    client: OAuth2Client, server: FakeServer
) -> None:
    seen: list[Token] = []
    auth = client.auth(_token(expires_in=30), on_token=seen.append)
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=auth) as api:
        assert api.get(API).status_code == 200
        assert api.get(API).status_code == 200
    assert server.grants == ["refresh_token"]
    assert [t.access_token for t in seen] == ["AT1"]
    assert auth.token.refresh_token == "RT"  # kept: the server sent none
    assert server.api_headers == ["Bearer AT1", "Bearer AT1"]


def test_invalid_token_401_refreshes_once_and_retries_once(
    client: OAuth2Client, server: FakeServer
) -> None:
    server.current = "rotated-elsewhere"
    auth = client.auth(_token())
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=auth) as api:
        response = api.post(API, json={"a": 1})
    assert response.status_code == 200
    assert server.grants == ["refresh_token"]
    assert server.api_headers == ["Bearer AT0", "Bearer AT1"]


def test_a_second_401_is_returned_not_looped(client: OAuth2Client, server: FakeServer) -> None:
    def refuse_all(request: httpx2.Request) -> httpx2.Response:
        if str(request.url) == TOKEN_URL:
            return server(request)
        server.api_headers.append(request.headers.get("authorization"))
        return httpx2.Response(401, headers={"WWW-Authenticate": server.challenge})

    with httpx2.Client(
        transport=httpx2.MockTransport(refuse_all), auth=client.auth(_token())
    ) as api:
        assert api.get(API).status_code == 401
    assert len(server.api_headers) == 2 and server.grants == ["refresh_token"]


def test_insufficient_scope_is_not_a_reason_to_refresh(
    client: OAuth2Client, server: FakeServer
) -> None:
    server.current = "other"
    server.challenge = 'Bearer error="insufficient_scope", scope="admin"'
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=client.auth(_token())) as api:
        assert api.get(API).status_code == 401
    assert server.grants == []


@pytest.mark.parametrize(
    ("challenge", "acr_values", "max_age"),
    [
        (
            'Bearer error="insufficient_user_authentication", acr_values="a b", max_age=5',
            ("a", "b"),
            5,
        ),
        ('Bearer error="insufficient_user_authentication"', None, None),
        ('Bearer error="insufficient_user_authentication", max_age="soon"', None, None),
    ],
    ids=["both", "neither", "unreadable-max-age"],
)
async def test_insufficient_user_authentication_is_step_up_required_not_a_refresh(
    client: OAuth2Client,
    server: FakeServer,
    challenge: str,
    acr_values: tuple[str, ...] | None,
    max_age: int | None,
) -> None:
    """RFC 9470 §3, sync and async alike: no renewal would help, so none is made."""
    server.current = "other"
    server.challenge = challenge
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=client.auth(_token())) as api:
        with pytest.raises(StepUpRequired) as sync:
            api.get(API)
    transport = httpx2.MockTransport(server)
    async with httpx2.AsyncClient(transport=transport, auth=client.auth(_token())) as api:
        with pytest.raises(StepUpRequired) as both:
            await api.get(API)
    for raised in (sync.value, both.value):
        assert (raised.acr_values, raised.max_age) == (acr_values, max_age)
        assert isinstance(raised, ReauthenticationRequired)
    assert server.grants == []
    server.challenge = 'DPoP error="insufficient_user_authentication"'  # not the token's scheme
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=client.auth(_token())) as api:
        assert api.get(API).status_code == 401


def test_a_streamed_body_is_not_replayed(client: OAuth2Client, server: FakeServer) -> None:
    server.current = "other"

    def body() -> Iterator[bytes]:
        yield b"chunk"

    with httpx2.Client(transport=httpx2.MockTransport(server), auth=client.auth(_token())) as api:
        assert api.post(API, content=body()).status_code == 401
    assert server.grants == []


def test_client_credentials_tokens_are_fetched_again(
    client: OAuth2Client, server: FakeServer
) -> None:
    token = client.client_credentials(scope="api")
    assert token.grant == "client_credentials" and token.refresh_token is None
    expired = token.replace(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=client.auth(expired)) as api:
        assert api.get(API).status_code == 200
    assert server.grants == ["client_credentials", "client_credentials"]


def test_an_unrenewable_expired_token_is_sent_as_is(
    client: OAuth2Client, server: FakeServer
) -> None:
    with httpx2.Client(
        transport=httpx2.MockTransport(server),
        auth=client.auth(_token(expires_in=-5, refresh=None)),
    ) as api:
        assert api.get(API).status_code == 200
    assert server.grants == []


def test_a_refused_refresh_asks_for_a_new_sign_in(client: OAuth2Client, server: FakeServer) -> None:
    auth = client.auth(_token(expires_in=-5, refresh="revoked"))
    with (
        httpx2.Client(transport=httpx2.MockTransport(server), auth=auth) as api,
        pytest.raises(ReauthenticationRequired, match="sign in again"),
    ):
        api.get(API)


def test_fifty_threads_meeting_a_due_token_refresh_once(
    client: OAuth2Client, server: FakeServer
) -> None:
    auth = client.auth(_token(expires_in=10))
    results: list[int] = []
    with httpx2.Client(transport=httpx2.MockTransport(server), auth=auth) as api:
        barrier = threading.Barrier(50)

        def call() -> None:
            barrier.wait()
            results.append(api.get(API).status_code)

        threads = [threading.Thread(target=call) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [200] * 50
    assert server.grants == ["refresh_token"]


async def test_fifty_tasks_meeting_a_due_token_refresh_once(server: FakeServer) -> None:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    async with AsyncOAuth2Client("cid", "sec", token_endpoint=TOKEN_URL, http=http) as client:
        auth = client.auth(_token(expires_in=10))
        results: list[int] = []
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(server), auth=auth) as api:

            async def call() -> None:
                results.append((await api.get(API)).status_code)

            async with anyio.create_task_group() as group:
                for _ in range(50):
                    group.start_soon(call)
    await http.aclose()
    assert results == [200] * 50
    assert server.grants == ["refresh_token"]


async def test_a_sync_client_auth_works_in_an_async_client(
    client: OAuth2Client, server: FakeServer
) -> None:
    auth = client.auth(_token(expires_in=10))
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(server), auth=auth) as api:
        assert (await api.get(API)).status_code == 200
    assert server.grants == ["refresh_token"]


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/steal", "http://api.example/me"],
    ids=["other-origin", "https-to-http"],
)
def test_redirects_away_drop_the_authorization_header(
    client: OAuth2Client, server: FakeServer, target: str
) -> None:
    transport = httpx2.MockTransport(server)
    with httpx2.Client(
        transport=transport, auth=client.auth(_token()), follow_redirects=True
    ) as api:
        api.get("https://api.example/redirect", params={"to": target})
    assert server.api_headers == ["Bearer AT0", None]
    assert server.grants == []  # a 401 from elsewhere is no reason to renew


def test_repr_shows_no_token(client: OAuth2Client) -> None:
    auth = client.auth(_token("SECRET-ACCESS"))
    assert "SECRET" not in repr(auth)
    assert json.dumps(repr(client))


def test_requests_adapter_renews_when_due_and_retries_once(server: FakeServer) -> None:
    import requests
    import requests.adapters

    from oauthkit.auth.requests import RequestsOAuth2Auth

    class Adapter(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
            answer = server(
                httpx2.Request(
                    request.method or "GET",
                    request.url or "",
                    headers=dict(request.headers),
                    content=request.body or b"",
                )
            )
            response = requests.Response()
            response.status_code = answer.status_code
            response.headers.update(answer.headers)
            response._content = answer.content
            response.url = request.url or ""
            response.request = request
            response.connection = self
            return response

        def close(self) -> None:
            pass

    http = httpx2.Client(transport=httpx2.MockTransport(server))
    with (
        OAuth2Client("cid", "sec", token_endpoint=TOKEN_URL, http=http) as client,
        requests.Session() as session,
    ):
        session.mount("https://", Adapter())
        session.auth = RequestsOAuth2Auth(client, _token(expires_in=30))
        assert session.get(API).status_code == 200  # due: refreshed first
        server.current = "rotated-elsewhere"
        assert session.post(API, data=b"x").status_code == 200  # 401 invalid_token: retried
        server.challenge = 'Bearer error="insufficient_scope"'
        server.current = "other"
        assert session.get(API).status_code == 401
    assert server.grants == ["refresh_token", "refresh_token"]
    assert server.api_headers == ["Bearer AT1", "Bearer AT1", "Bearer AT2", "Bearer AT2"]


def test_an_async_client_renews_only_through_the_users_async_transport(tmp_path: Path) -> None:
    """The async client's renewals go through the httpx2.AsyncClient the user configured
    (its transport here); from sync code they are refused, never sent through a new client
    without the user's transport, proxies, timeouts or certificate."""
    from oauthkit import Session
    from oauthkit.errors import ConfigurationError
    from oauthkit.stores import SQLiteStore

    seen: list[str] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.path)
        return httpx2.Response(
            200, json={"access_token": f"renewed-{len(seen)}", "token_type": "Bearer"}
        )

    stale = Token("stale-access", refresh_token="refresh-1", expires_at=datetime.now(UTC))

    async def main() -> None:
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
        async with AsyncOAuth2Client(
            "c", "s", token_endpoint="https://id.example/token", http=http
        ) as client:
            session = Session(client, SQLiteStore(tmp_path / "t.sqlite3"), key="k")
            await session.asave(stale)
            assert (await session.atoken()).access_token == "renewed-1"
            await session.asave(stale)
            fresh = Session(client, session.store, key="k")
            with pytest.raises(ConfigurationError, match="await"):
                await anyio.to_thread.run_sync(fresh.token)
            sync_http = httpx2.Client(
                transport=httpx2.MockTransport(lambda r: httpx2.Response(200))
            )
            with sync_http, pytest.raises(ConfigurationError, match="OAuth2Client"):
                await anyio.to_thread.run_sync(
                    lambda: sync_http.get("https://api.example/x", auth=client.auth(stale))
                )
        await http.aclose()

    anyio.run(main)
    assert seen == ["/token"]
