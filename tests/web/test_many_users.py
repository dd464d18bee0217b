"""Many users in one app: what an attacker's review found, each against the sandbox provider and
real stores — paths that leave api_base once normalized, relayed answers kept by caches,
a deeply nested ping, anonymous sign-ins without a bound, pending flows readable in the store,
a web app falling back to the command's personal store, and a refused token shown as
connected. (Identities: tests/providers/test_identity.py.)"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oauthkit import OAuth1Client, OAuth2Client, Token
from oauthkit.errors import (
    ConfigurationError,
    InvalidNotification,
    TooManySignIns,
)
from oauthkit.providers.identity import WhoAmI
from oauthkit.sandbox import Sandbox, SandboxClient
from oauthkit.session import refused
from oauthkit.stores import MemoryStore, SQLiteStore
from oauthkit.web import WebFlow, WebProvider
from oauthkit.web.limits import SignInLimit

APP = "http://127.0.0.1:5000"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    clients = [
        SandboxClient("web", redirect_uris=("http://127.0.0.1/callback/web",)),
        SandboxClient("one", kind="oauth1", redirect_uris=("http://127.0.0.1/callback/one",)),
    ]
    with Sandbox(clients=clients) as sb:
        yield sb


def _providers(sb: Sandbox) -> dict[str, WebProvider]:
    web, one = sb.clients["web"], sb.clients["one"]
    oauth2 = OAuth2Client(web.client_id, web.client_secret, issuer=sb.issuer, scope="profile")
    oauth1 = OAuth1Client(
        one.client_id,
        one.client_secret,
        request_token_url=sb.base_url + "/oauth1/request_token",
        authorize_url=sb.base_url + "/oauth1/authorize",
        access_token_url=sb.base_url + "/oauth1/access_token",
    )
    return {
        "web": WebProvider("web", oauth2, sb.base_url + "/api/", WhoAmI("me", "sub")),
        "one": WebProvider("one", oauth1, sb.base_url + "/oauth1/api/", WhoAmI("me", "user")),
    }


@pytest.fixture
def flow(sandbox: Sandbox, tmp_path: Path) -> WebFlow:
    return WebFlow(_providers(sandbox), SQLiteStore(tmp_path / "tokens.sqlite3"))


# ----------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    [
        "a/%2e%2e/%2e%2e/admin",
        "%2E%2E/%2e%2E/admin",
        ".%2e/.%2e/admin",
        "..%2f..%2fadmin",
        "a\\..\\..\\admin",
        "a/%5C..%5C..%5Cadmin",
        "../../admin",
        "//evil.example/x/../../..",
    ],
)
def test_a_path_that_leaves_api_base_once_normalized_is_refused(flow: WebFlow, path: str) -> None:
    with pytest.raises(ConfigurationError, match="outside"):
        flow.api_url("web", path)


def test_paths_under_api_base_are_sent_normalized(flow: WebFlow, sandbox: Sandbox) -> None:
    base = sandbox.base_url + "/api/"
    assert flow.api_url("web", "me") == base + "me"
    assert flow.api_url("web", "a/%2e%2e/me") == base + "me"  # as the server reads it
    assert flow.api_url("web", "projects/group%2Fname") == base + "projects/group%2Fname"


# ----------------------------------------------------------------------------- adapters


def _flask(flow: WebFlow) -> Any:
    from flask import Flask, session

    from oauthkit.web.flask import OAuthKit

    app = Flask(__name__)
    app.secret_key = "test"
    oauth = OAuthKit(app, flow, current_user=lambda: session.get("user"))
    app.add_url_rule("/api/<provider>/<path:path>", "api", oauth.relay)
    return app.test_client()


def _starlette(flow: WebFlow) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from oauthkit.web.starlette import OAuthKitRoutes

    oauth = OAuthKitRoutes(flow, current_user=lambda request: None)

    async def api(request: Any) -> Any:
        params = request.path_params
        return await oauth.relay(request, params["provider"], params["path"])

    app = Starlette(routes=[Route("/api/{provider}/{path:path}", api)])
    oauth.install(app)
    return TestClient(app, client=("203.0.113.9", 1234), follow_redirects=False)


@pytest.mark.parametrize("adapter", [_flask, _starlette])
def test_relayed_answers_are_never_cached(flow: WebFlow, adapter: Any) -> None:
    client = adapter(flow)
    answer = client.get("/api/web/me")
    assert answer.status_code == 401  # nobody signed in to the app
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("adapter", [_flask, _starlette])
def test_a_deeply_nested_ping_is_a_400_not_a_crash(flow: WebFlow, adapter: Any) -> None:
    body = "[" * 200_000 + "]" * 200_000
    with pytest.raises(InvalidNotification):
        flow.backchannel_notification("web", authorization="Bearer x", body=body)
    client, headers = adapter(flow), {"Authorization": "Bearer x"}
    if adapter is _starlette:
        answer = client.post("/backchannel/web", content=body, headers=headers)
    else:
        answer = client.post("/backchannel/web", data=body, headers=headers)
    assert answer.status_code == 400


@pytest.mark.parametrize("adapter", [_flask, _starlette])
def test_anonymous_sign_ins_are_bounded_per_client_address(
    sandbox: Sandbox, tmp_path: Path, adapter: Any
) -> None:
    store = SQLiteStore(tmp_path / "tokens.sqlite3")
    flow = WebFlow(_providers(sandbox), store, signin_limit=SignInLimit(per_minute=1, burst=3))
    client = adapter(flow)
    statuses = [client.get("/signin/web").status_code for _ in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    refused = client.get("/signin/web")
    assert int(refused.headers["Retry-After"]) > 0
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("SELECT count(*) FROM pending").fetchone()[0] == 3
    # the app's signed-in users connecting accounts are not anonymous: not counted
    for _ in range(5):
        flow.begin("web", request_url=APP + "/connect", user="42", client_address="203.0.113.9")
    for _ in range(3):  # another address has its own share
        flow.begin("web", request_url=APP + "/signin", user=None, client_address="198.51.100.1")
    with pytest.raises(TooManySignIns):
        flow.begin("web", request_url=APP + "/signin", user=None, client_address="198.51.100.1")


# ----------------------------------------------------------------------------- the store


def test_pending_flows_hold_nothing_usable_in_the_store(flow: WebFlow, tmp_path: Path) -> None:
    """The request-token secret of an OAuth 1.0a flow, the state, verifier and nonce of an
    OAuth 2 one: none is readable in the store's file."""
    begun = flow.begin("one", request_url=APP + "/connect", user="42")
    token = begun.url.split("oauth_token=")[1].split("&")[0]
    second = flow.begin("web", request_url=APP + "/connect", user="42")
    state = second.url.split("state=")[1].split("&")[0]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("tokens.sqlite3*"))
    for secret in (token, state, begun.cookie.value, second.cookie.value):
        assert secret.encode() not in raw
    for name in (b"token_secret", b"code_verifier", b"nonce", b"redirect_uri"):
        assert name not in raw


def test_a_web_flow_never_falls_back_to_the_commands_personal_store(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="store="):
        WebFlow(_providers(sandbox))
    config = tmp_path / "oauthkit.toml"
    config.write_text(
        f'[providers.web]\nissuer = "{sandbox.issuer}"\nclient_id = "{sandbox.clients["web"].client_id}"\n'
    )
    config.chmod(0o600)
    with pytest.raises(ConfigurationError, match="names no store"):
        WebFlow.from_config(str(config))


def test_from_config_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHKIT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        WebFlow.from_config()
    empty = tmp_path / "empty.toml"
    empty.write_text('store = "tokens.sqlite3"\n')
    empty.chmod(0o600)
    with pytest.raises(ConfigurationError, match=r"no \[providers.NAME\]"):
        WebFlow.from_config(str(empty))
    flow = WebFlow.from_config(str(empty), require_providers=False)
    assert flow.providers == {}


@pytest.mark.slow
def test_a_relative_store_is_beside_the_configuration_not_the_working_folder(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A server started from another folder (gunicorn --chdir, systemd) opens the same store
    as the command run next to the file."""
    folder = tmp_path / "conf"
    folder.mkdir()
    config = folder / "oauthkit.toml"
    config.write_text(
        'store = "tokens.sqlite3"\n\n[providers.web]\n'
        f'issuer = "{sandbox.issuer}"\nclient_id = "{sandbox.clients["web"].client_id}"\n'
    )
    config.chmod(0o600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "from oauthkit.web import WebFlow; import sys; "
        f"print(WebFlow.from_config({str(config)!r}).store.path)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=elsewhere, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(folder / "tokens.sqlite3")


def test_a_refused_token_needs_reconnecting_not_connected(flow: WebFlow) -> None:
    flow.store.put(flow.key_for("web", "7"), Token("a", refresh_token="r"))
    flow.store.put(flow.key_for("one", "7"), flow.providers["one"].client.credentials("t", "s"))  # type: ignore[union-attr]
    assert flow.connections("7") == {"web": "connected", "one": "connected"}
    flow.store.put(flow.key_for("web", "7"), refused(Token("a", refresh_token="r")))
    assert flow.connections("7") == {"web": "reconnect", "one": "connected"}
    assert flow.connected("7") == ["one"]


def test_no_cookie_of_one_user_travels_with_anothers_call(sandbox: Sandbox) -> None:
    """The sandbox's consent pages set cookies; the clients the web flow holds keep none."""
    flow = WebFlow(_providers(sandbox), MemoryStore())
    for user in ("alice", "bob"):
        begun = flow.begin("web", request_url=APP + "/signin", user=None)
        callback = sandbox.approve(begun.url, user=user)
        flow.complete(
            "web",
            request_url=APP + "/callback/web",
            params=callback.split("?", 1)[1],
            cookies={begun.cookie.name: begun.cookie.value},
        )
        assert flow.api("web", f"web:{user}", "me").json()["sub"] == user
    assert len(flow.providers["web"].client.http.cookies) == 0
    assert flow._http is not None and len(flow._http.cookies) == 0


def test_identity_asks_who_the_stored_credentials_belong_to(
    flow: WebFlow, sandbox: Sandbox
) -> None:
    """For a migration from names to ids, or linking a connected account: the provider's
    immutable id of whoever authorized the stored credentials."""
    for provider in ("web", "one"):
        begun = flow.begin(provider, request_url=APP + "/connect", user="42")
        callback = sandbox.approve(begun.url, user="grace")
        flow.complete(
            provider,
            request_url=APP + f"/callback/{provider}",
            params=callback.split("?", 1)[1],
            cookies={begun.cookie.name: begun.cookie.value},
        )
        assert flow.identity(provider, "42").id == "grace"
