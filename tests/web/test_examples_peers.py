"""The example apps with 4 workers on a configuration of real providers — oidc-provider
(OpenID Connect, rotation and reuse detection), the sandbox, and both OAuth 1.0a peers
(oauthlib and Authlib) — used by a real browser; and 50 concurrent API calls across the
workers on a token that is due: exactly one refresh, no failed call."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from oauthkit.sandbox import Sandbox, SandboxClient
from peers.oauth1_common import OAuth1Peer
from peers.oidc_provider import OIDCPeer, OIDCPeerUnavailable, start_oidc_provider
from web.browser import Browser
from web.conftest import EXAMPLES, RunningApp, free_port, start_example

#: oidc-provider's access tokens live this long here, so that one falls due during a test
#: (a token living under twice the 60 s leeway is renewed halfway through its life).
ACCESS_TOKEN_TTL = 8


@dataclass
class Setup:
    app: RunningApp
    oidc: OIDCPeer
    sandbox: Sandbox
    oauthlib: OAuth1Peer
    authlib: OAuth1Peer


def _start_oidc(**options: object) -> OIDCPeer:
    try:
        return start_oidc_provider(**options)  # type: ignore[arg-type]
    except OIDCPeerUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"oidc-provider unavailable under CI: {exc}", pytrace=False)
        pytest.skip(f"oidc-provider unavailable: {exc}")


def _oauth1_table(name: str, peer: OAuth1Peer) -> str:
    return (
        f'[providers.{name}]\ntype = "oauth1"\n'
        f'request_token_url = "{peer.request_token_url}"\n'
        f'authorize_url = "{peer.authorize_url}"\n'
        f'access_token_url = "{peer.access_token_url}"\n'
        f'consumer_key = "{peer.consumer_key}"\nconsumer_secret = "{peer.consumer_secret}"\n'
        f'api_base = "{peer.base_url}/api/"\n\n'
    )


#: Where each framework differs (the callback's POST, its store, its workers) the tests run
#: on every example; the rest on one.
EVERY_EXAMPLE = pytest.mark.parametrize("setup", EXAMPLES, indirect=True)
ONE_EXAMPLE = pytest.mark.parametrize("setup", ["flask"], indirect=True)


@pytest.fixture(scope="module")
def setup(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    oauthlib_peer: OAuth1Peer,
    authlib_peer: OAuth1Peer,
) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp(f"peers-{request.param}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(24)
    oidc = _start_oidc(
        clients={
            "web": {
                "client_secret": secret,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "redirect_uris": [f"{base}/callback/oidc", f"{base}/callback/oidc-post"],
                "token_endpoint_auth_method": "client_secret_basic",
                "scope": "openid profile email offline_access",
            }
        },
        ttl={"AccessToken": ACCESS_TOKEN_TTL},
    )
    sandbox = Sandbox(
        clients=[SandboxClient("web", redirect_uris=("http://127.0.0.1/callback/sandbox",))]
    ).start()
    web = sandbox.clients["web"]
    oidc_table = (
        f'issuer = "{oidc.issuer}"\nclient_id = "web"\nclient_secret = "{secret}"\n'
        f'scope = "openid profile"\napi_base = "{oidc.issuer}/"\n'
    )
    config = folder / "oauthkit.toml"
    config.write_text(
        f'store = "{_store(request, folder)}"\n\n'
        f"[providers.oidc]\n{oidc_table}\n"
        f'[providers.oidc-post]\n{oidc_table}response_mode = "form_post"\n\n'
        f'[providers.sandbox]\nissuer = "{sandbox.issuer}"\nclient_id = "web"\n'
        f'client_secret = "{web.client_secret}"\nscope = "profile"\n'
        f'api_base = "{sandbox.base_url}/api/"\n\n'
        + _oauth1_table("oauthlib", oauthlib_peer)
        + _oauth1_table("authlib", authlib_peer)
    )
    config.chmod(0o600)
    env = {}
    if STORES[request.param] == "django-postgres":
        peer = request.getfixturevalue("postgres")
        url = peer.create_database("django_" + secrets.token_hex(4))
        env["OAUTHKIT_EXAMPLE_DATABASE"] = url.replace("postgresql+psycopg://", "postgresql://")
    app = start_example(request.param, folder, config=config, port=port, env=env)
    yield Setup(app, oidc, sandbox, oauthlib_peer, authlib_peer)
    app.stop()
    sandbox.stop()
    oidc.stop()


#: Where each example keeps its users' tokens here: Flask in PostgreSQL through
#: SQLAlchemyStore, FastAPI in an SQLite file, Django in its own database (PostgreSQL here)
#: through DjangoStore.
STORES = {"flask": "postgres", "fastapi": "sqlite", "django": "django-postgres"}


def _store(request: pytest.FixtureRequest, folder: Path) -> str:
    if STORES[request.param] == "postgres":
        peer = request.getfixturevalue("postgres")
        return str(peer.create_database("web_" + secrets.token_hex(4)))
    return str(folder / "tokens.sqlite3")


def _user() -> str:
    return "u" + secrets.token_hex(4)


@EVERY_EXAMPLE
def test_connect_to_an_openid_provider_20_times(setup: Setup, browser: Browser) -> None:
    base, user = setup.app.base, _user()
    browser.app_login(base, user)
    for _ in range(20):
        browser.connect(base, "oidc", consent=lambda: browser.oidc_consent(base, "dora"))
        assert browser.me(base) == {"user": user, "connected": ["oidc"]}
        assert browser.json(f"{base}/api/oidc/me")["sub"] == "dora"  # the userinfo endpoint


@EVERY_EXAMPLE
def test_sign_in_with_an_openid_provider(setup: Setup, browser: Browser) -> None:
    base = setup.app.base
    browser.connect(base, "oidc", path="signin", consent=lambda: browser.oidc_consent(base, "erin"))
    assert browser.me(base) == {"user": "oidc:erin", "connected": ["oidc"]}  # the ID token's sub


@EVERY_EXAMPLE
def test_form_post_response_mode(setup: Setup, browser: Browser) -> None:
    base = setup.app.base
    browser.app_login(base, _user())
    browser.requested("")
    browser.connect(base, "oidc-post", consent=lambda: browser.oidc_consent(base, "finn"))
    assert browser.me(base)["connected"] == ["oidc-post"]
    assert browser.json(f"{base}/api/oidc-post/me")["sub"] == "finn"


@ONE_EXAMPLE
@pytest.mark.parametrize("peer", ["oauthlib", "authlib"])
def test_connect_to_the_oauth1_peers(setup: Setup, browser: Browser, peer: str) -> None:
    base = setup.app.base
    browser.app_login(base, _user())
    for _ in range(3):
        browser.connect(base, peer, consent=browser.oauth1_peer_consent)
        echo = browser.json(f"{base}/api/{peer}/echo")
        assert (echo["peer"], echo["consumer_key"]) == (peer, getattr(setup, peer).consumer_key)


@ONE_EXAMPLE
def test_a_mix_up_is_refused(setup: Setup, browsers: Callable[[], Browser]) -> None:
    """A callback of the sandbox's flow delivered to the OpenID provider's route."""
    browser = browsers()
    base = setup.app.base
    browser.app_login(base, _user())
    callback = browser.stopped_callback(base, "/connect/sandbox")
    browser.open(f"{base}/callback/oidc?{urlsplit(callback).query}")
    assert (browser.error_cause() or "").startswith("ProviderMismatch"), browser.error_cause()
    assert browser.me(base)["connected"] == []


def _token_requests(oidc: OIDCPeer) -> int:
    return sum(1 for method, path in oidc.request_log if method == "POST" and path == "/token")


@EVERY_EXAMPLE
def test_50_concurrent_calls_across_workers_refresh_once(setup: Setup, browser: Browser) -> None:
    base = setup.app.base
    browser.app_login(base, _user())
    for round_ in range(2):
        browser.connect(base, "oidc", consent=lambda: browser.oidc_consent(base, "gus"))
        connected_at = time.monotonic()
        cookies = {c["name"]: c["value"] for c in browser.driver.get_cookies()}
        # Due once half its life has passed (issued a moment before connected_at).
        time.sleep(max(0.0, ACCESS_TOKEN_TTL / 2 + 0.5 - (time.monotonic() - connected_at)))
        setup.oidc.reset_log()
        statuses: list[int] = []
        reasons: list[str] = []
        start = threading.Barrier(50)

        def call(
            statuses: list[int] = statuses,
            reasons: list[str] = reasons,
            start: threading.Barrier = start,
            cookies: dict[str, str] = cookies,
        ) -> None:
            with httpx2.Client(base_url=base, cookies=cookies, timeout=60) as http:
                start.wait()
                answer = http.get("/api/oidc/me")
                statuses.append(answer.status_code)
                if answer.status_code != 200:
                    reasons.append(answer.text[:300])

        threads = [threading.Thread(target=call) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 50, (round_, sorted(statuses), sorted(set(reasons)))
        assert _token_requests(setup.oidc) == 1, (round_, setup.oidc.request_log)
