"""Web flows: completed connects per second through each adapter next to Authlib's
integration for the same framework, and an API route with the user's fresh token next to the
same route making the bare request — all in one run, against the same local provider.

    python bench/web.py [--quick]

The provider is the sandbox, in process on a loopback port; the apps run in process through
their frameworks' test clients (Flask's, Starlette's), so what differs between two rows is
the library in the route. A connect is: GET the begin route, approve at the sandbox over HTTP
(the same for both), GET the callback (the code exchange and the token saved). Ours keeps
the pending state and the token in an SQLite file; Authlib keeps its state in the session
cookie and the token is put in a dict.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from oauthkit import OAuth2Client
from oauthkit.providers.preset import WhoAmI
from oauthkit.sandbox import Sandbox, SandboxClient
from oauthkit.stores import SQLiteStore
from oauthkit.web import WebFlow, WebProvider

BASE = "http://127.0.0.1:5000"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _flow(sandbox: Sandbox, folder: Path, name: str) -> WebFlow:
    web = sandbox.clients["web"]
    client = OAuth2Client(web.client_id, web.client_secret, issuer=sandbox.issuer, scope="profile")
    provider = WebProvider("sandbox", client, sandbox.base_url + "/api/", WhoAmI("me", ("sub",)))
    return WebFlow({"sandbox": provider}, SQLiteStore(folder / f"{name}.sqlite3"))


def _authlib_kwargs(sandbox: Sandbox) -> dict[str, Any]:
    web = sandbox.clients["web"]
    return {
        "client_id": web.client_id,
        "client_secret": web.client_secret,
        "server_metadata_url": sandbox.issuer + "/.well-known/oauth-authorization-server",
        "client_kwargs": {"scope": "profile", "code_challenge_method": "S256"},
    }


# -- Flask ------------------------------------------------------------------------------------


def flask_apps(sandbox: Sandbox, folder: Path) -> dict[str, Any]:
    from authlib.integrations.flask_client import OAuth
    from flask import Flask, session

    from oauthkit.web.flask import OAuthKit

    ours = Flask("ours")
    ours.secret_key = "bench"
    flow = _flow(sandbox, folder, "flask")
    oauth = OAuthKit(ours, flow, current_user=lambda: "u1")

    @ours.get("/api/<provider>/<path:path>")
    def api(provider: str, path: str) -> Any:
        return oauth.relay(provider, path)

    @ours.get("/bare")
    def bare() -> Any:
        token = flow.store.get("user:u1:sandbox")
        answer = _http.get(sandbox.base_url + "/api/me", headers=_bearer(token))
        return answer.json()

    theirs = Flask("authlib")
    theirs.secret_key = "bench"
    authlib = OAuth(theirs)
    authlib.register("sandbox", **_authlib_kwargs(sandbox))
    tokens: dict[str, Any] = {}

    @theirs.get("/connect/sandbox")
    def connect() -> Any:
        return authlib.sandbox.authorize_redirect(BASE + "/callback/sandbox")

    @theirs.get("/callback/sandbox")
    def callback() -> Any:
        tokens[session.get("user", "u1")] = authlib.sandbox.authorize_access_token()
        return "", 303, {"Location": "/"}

    return {"oauthkit + Flask": ours.test_client(), "Authlib + Flask": theirs.test_client()}


def _flask_connect(client: Any, sandbox: Sandbox) -> None:
    begin = client.get("/connect/sandbox", base_url=BASE)
    assert begin.status_code == 302, begin.status_code
    callback = sandbox.approve(begin.headers["Location"])
    done = client.get(_path(callback), base_url=BASE)
    assert done.status_code in (302, 303), (done.status_code, done.get_data()[:200])


# -- Starlette --------------------------------------------------------------------------------


def starlette_apps(sandbox: Sandbox, folder: Path) -> dict[str, Any]:
    from authlib.integrations.starlette_client import OAuth
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import RedirectResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from oauthkit.web.starlette import OAuthKitRoutes

    ours = Starlette()
    OAuthKitRoutes(_flow(sandbox, folder, "starlette"), current_user=lambda r: "u1").install(ours)

    authlib = OAuth()
    authlib.register("sandbox", **_authlib_kwargs(sandbox))
    tokens: dict[str, Any] = {}

    async def connect(request: Request) -> Any:
        return await authlib.sandbox.authorize_redirect(request, BASE + "/callback/sandbox")

    async def callback(request: Request) -> Any:
        tokens["u1"] = await authlib.sandbox.authorize_access_token(request)
        return RedirectResponse("/", status_code=303)

    theirs = Starlette(
        routes=[Route("/connect/sandbox", connect), Route("/callback/sandbox", callback)],
        middleware=[Middleware(SessionMiddleware, secret_key="bench")],
    )
    return {
        "oauthkit + Starlette": TestClient(ours, base_url=BASE, follow_redirects=False),
        "Authlib + Starlette": TestClient(theirs, base_url=BASE, follow_redirects=False),
    }


def _starlette_connect(client: Any, sandbox: Sandbox) -> None:
    begin = client.get("/connect/sandbox")
    assert begin.status_code == 302, begin.status_code
    callback = sandbox.approve(begin.headers["location"])
    done = client.get(_path(callback))
    assert done.status_code in (302, 303), (done.status_code, done.text[:200])


# -- measuring --------------------------------------------------------------------------------

_http = httpx2.Client()


def _bearer(token: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.access_token}"}


def _rate(action: Callable[[], None], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        action()
    return n / (time.perf_counter() - started)


def _compare(title: str, rows: dict[str, Callable[[], None]], n: int, rounds: int) -> None:
    best = dict.fromkeys(rows, 0.0)
    for action in rows.values():
        _rate(action, max(2, n // 10))  # warm up (metadata, connections)
    for _ in range(rounds):
        for name, action in rows.items():
            best[name] = max(best[name], _rate(action, n))
    names = list(rows)
    print(f"\n{title}")
    for name in names:
        print(
            f"  {name:24} {best[name]:8.1f} /s   {best[name] / best[names[1]]:5.2f}x of {names[1]}"
        )


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    n, rounds = (10, 1) if quick else (60, 3)
    clients = [SandboxClient("web", redirect_uris=("http://127.0.0.1/callback/sandbox",))]
    with tempfile.TemporaryDirectory() as folder, Sandbox(clients=clients) as sandbox:
        flask = flask_apps(sandbox, Path(folder))
        _compare(
            "Completed connects, Flask",
            {name: (lambda c=c: _flask_connect(c, sandbox)) for name, c in flask.items()},
            n,
            rounds,
        )
        star = starlette_apps(sandbox, Path(folder))
        _compare(
            "Completed connects, Starlette",
            {name: (lambda c=c: _starlette_connect(c, sandbox)) for name, c in star.items()},
            n,
            rounds,
        )
        ours = flask["oauthkit + Flask"]

        def relay() -> None:
            assert ours.get("/api/sandbox/me", base_url=BASE).status_code == 200

        def bare() -> None:
            assert ours.get("/bare", base_url=BASE).status_code == 200

        _compare(
            "An API route with a fresh token (Flask)",
            {"oauthkit relay": relay, "bare request": bare},
            n * 10,
            rounds,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
