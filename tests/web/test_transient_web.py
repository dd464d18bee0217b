"""A provider that cannot answer now, as a web app's users meet it (Flask and Starlette, in
process, against our token server with scripted faults): a callback whose code exchange
got a 503 is a "try again" page, its code sent once; the API relay passes a provider's 429
and Retry-After through, and a renewal that cannot be made now is a 503 with Retry-After."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from oauthkit import OAuth2Client, Retry, Token
from oauthkit.stores import SQLiteStore
from oauthkit.web import WebFlow, WebProvider
from peers.counting_server import CLIENT_ID, CLIENT_SECRET, CountingServer

USER = "u1"


def _flow(server: CountingServer, tmp_path: Path, **retry: Any) -> WebFlow:
    client = OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        authorization_endpoint=f"{server.url}/authorize",  # never fetched: the browser's
        token_endpoint=server.token_endpoint,
        retry=Retry(backoff=0.01, **retry),
    )
    provider = WebProvider("work", client, api_base=server.url + "/")
    return WebFlow({"work": provider}, SQLiteStore(tmp_path / "tokens.sqlite3"))


def _flask(flow: WebFlow) -> Any:
    from flask import Flask

    from oauthkit.web.flask import OAuthKit

    app = Flask(__name__)
    oauth = OAuthKit(app, flow, current_user=lambda: USER)
    app.add_url_rule("/api/<provider>/<path:path>", "api", oauth.relay)
    return app.test_client()


def _starlette(flow: WebFlow) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from oauthkit.web.starlette import OAuthKitRoutes

    oauth = OAuthKitRoutes(flow, current_user=lambda request: USER)

    async def api(request: Any) -> Any:
        params = request.path_params
        return await oauth.relay(request, params["provider"], params["path"])

    app = Starlette(routes=[Route("/api/{provider}/{path:path}", api)])
    oauth.install(app)
    return TestClient(app, base_url="http://127.0.0.1:5000", follow_redirects=False)


ADAPTERS = [_flask, _starlette]


def _signed_in(server: CountingServer, flow: WebFlow, seconds_left: float) -> None:
    now = datetime.now(UTC)
    token = Token.from_dict(server.issue(ttl=max(seconds_left, 1))).replace(
        issued_at=now - timedelta(hours=1), expires_at=now + timedelta(seconds=seconds_left)
    )
    flow.store.put(flow.key_for("work", USER), token)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_code_exchange_that_got_a_503_is_a_try_again_page_and_sent_once(
    counting_server: CountingServer, tmp_path: Path, adapter: Any
) -> None:
    client = adapter(_flow(counting_server, tmp_path))
    begun = client.get("http://127.0.0.1:5000/connect/work")
    assert begun.status_code == 302
    state = dict(parse_qsl(urlsplit(begun.headers["location"]).query))["state"]
    counting_server.reset_counts()
    counting_server.fault("503", "503", "503")
    done = client.get(f"http://127.0.0.1:5000/callback/work?code=one-use&state={state}")
    assert done.status_code == 503
    assert "try again" in done.text and "TemporarilyUnavailable" in done.text
    assert done.headers["Cache-Control"] == "no-store"
    assert counting_server.counts["authorization_code"] == 1  # never sent twice


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_relay_passes_a_429_and_its_retry_after_through(
    counting_server: CountingServer, tmp_path: Path, adapter: Any
) -> None:
    flow = _flow(counting_server, tmp_path)
    _signed_in(counting_server, flow, seconds_left=3600)
    counting_server.fault("api-429:7")
    answer = adapter(flow).get("/api/work/api")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert json.loads(answer.text) == {"error": "rate_limited"}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_renewal_that_cannot_be_made_now_is_a_503_with_retry_after(
    counting_server: CountingServer, tmp_path: Path, adapter: Any
) -> None:
    """The user's token expired and the token endpoint asks for 9 s more than the client
    waits: 503, Retry-After 9, and the refresh token kept for the next request."""
    flow = _flow(counting_server, tmp_path, max_wait=1)
    _signed_in(counting_server, flow, seconds_left=1)
    stored = flow.store.get(flow.key_for("work", USER))
    counting_server.fault("429:9")
    answer = adapter(flow).get("/api/work/api")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "9"
    assert json.loads(answer.text)["error"] == "temporarily_unavailable"
    assert flow.store.get(flow.key_for("work", USER)) == stored
    assert adapter(flow).get("/api/work/api").status_code == 200  # the same refresh token
