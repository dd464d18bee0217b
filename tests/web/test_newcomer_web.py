"""What a newcomer tripped over writing a web app: the sandbox as the app's provider out of the
box, a refused redirect URI that names itself and the fix, ``login_url=`` for a connect before
logging in to the app, and SQLAlchemyStore the same in code as in configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from oauthkit import OAuth2Client, Token
from oauthkit.errors import StoreError
from oauthkit.providers.identity import WhoAmI
from oauthkit.sandbox import Sandbox
from oauthkit.stores import MemoryStore
from oauthkit.web import WebFlow, WebProvider

APP = "http://127.0.0.1:5000"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:  # its default clients, as `oauthkit sandbox` starts it
        yield sb


def test_the_sandboxs_default_web_client_serves_a_web_apps_callbacks(sandbox: Sandbox) -> None:
    client = sandbox.clients["demo-web"]
    oauth2 = OAuth2Client(client.client_id, client.client_secret, issuer=sandbox.issuer)
    provider = WebProvider("sandbox", oauth2, sandbox.base_url + "/api/", WhoAmI("me", "sub"))
    flow = WebFlow({"sandbox": provider}, MemoryStore())
    begun = flow.begin("sandbox", request_url=APP + "/signin/sandbox", user=None)
    callback = sandbox.approve(begun.url, user="ada")
    assert callback.startswith(APP + "/callback/sandbox?")
    done = flow.complete(
        "sandbox",
        request_url=APP + "/callback/sandbox",
        params=urlsplit(callback).query,
        cookies={begun.cookie.name: begun.cookie.value},
    )
    assert done.user == "sandbox:ada"


def test_a_refused_redirect_uri_is_named_with_the_fix(sandbox: Sandbox) -> None:
    client = sandbox.clients["demo-web"]
    oauth2 = OAuth2Client(
        client.client_id,
        client.client_secret,
        issuer=sandbox.issuer,
        redirect_uri="http://127.0.0.1:5000/oauth/return/here",
    )
    page = httpx2.get(oauth2.authorization_request().url)
    assert page.status_code == 400
    assert "http://127.0.0.1:5000/oauth/return/here" in page.text
    assert "--redirect-uri" in page.text


def _flask(flow: WebFlow, login_url: str | None) -> Any:
    from flask import Flask

    from oauthkit.web.flask import OAuthKit

    app = Flask(__name__)
    OAuthKit(app, flow, current_user=lambda: None, login_url=login_url)
    return app.test_client()


def _starlette(flow: WebFlow, login_url: str | None) -> Any:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from oauthkit.web.starlette import OAuthKitRoutes

    app = Starlette()
    OAuthKitRoutes(flow, current_user=lambda request: None, login_url=login_url).install(app)
    return TestClient(app, follow_redirects=False)


@pytest.mark.parametrize("adapter", [_flask, _starlette])
def test_connect_before_logging_in_goes_to_the_apps_login(sandbox: Sandbox, adapter: Any) -> None:
    client = sandbox.clients["demo-web"]
    oauth2 = OAuth2Client(client.client_id, client.client_secret, issuer=sandbox.issuer)
    flow = WebFlow({"sandbox": oauth2}, MemoryStore())
    plain = adapter(flow, None).get("/connect/sandbox")
    assert plain.status_code == 401
    sent = adapter(flow, "/login").get("/connect/sandbox?next=/profile")
    assert sent.status_code == 302
    target = urlsplit(sent.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/connect/sandbox?next=/profile"]


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_sqlalchemy_store_makes_its_table_on_first_use(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    """As the configuration's store does: no create_table() call needed."""
    from oauthkit.stores import SQLAlchemyStore

    url = (
        f"sqlite:///{tmp_path / 'app.sqlite3'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres").url()
    )
    store = SQLAlchemyStore(url, table_name="first_use_" + database)
    store.put("k", Token("a"))
    assert store.get("k", Token) == Token("a")
    store.dispose()


async def test_sqlalchemy_store_makes_its_table_on_first_use_async(tmp_path: Path) -> None:
    from oauthkit.stores import SQLAlchemyStore

    store = SQLAlchemyStore(f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}")
    await store.aput("k", Token("a"))
    assert await store.aget("k", Token) == Token("a")
    await store.adispose()


@pytest.mark.slow
def test_a_team_that_owns_its_schema_gets_the_instruction(tmp_path: Path) -> None:
    from oauthkit.stores import SQLAlchemyStore

    store = SQLAlchemyStore(f"sqlite:///{tmp_path / 'app.sqlite3'}", create_missing=False)
    with pytest.raises(StoreError, match=r"await store\.acreate_table\(\)"):
        store.get("k")


pytestmark = pytest.mark.anyio
