"""The framework-neutral web flow against the sandbox (a real provider over HTTP), driven the
way an adapter drives it: the checks of every callback, both pending-state modes, the cookie
attributes, sync and async."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from oauthkit import AsyncOAuth2Client, OAuth1Client, OAuth2Client, Token
from oauthkit.errors import (
    AuthorizationDenied,
    BrowserMismatch,
    ConfigurationError,
    FlowExpired,
    FlowNotFound,
    IssuerMismatch,
    ProviderMismatch,
    RedirectMismatch,
    StateMismatch,
    UnsafeReturnPath,
)
from oauthkit.providers.preset import WhoAmI
from oauthkit.sandbox import Sandbox, SandboxClient
from oauthkit.stores import MemoryStore, SQLiteStore
from oauthkit.web import WebFlow, WebProvider

APP = "http://127.0.0.1:5000"
APP_TLS = "https://app.example:8443"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    clients = [
        SandboxClient("web-a", redirect_uris=("http://127.0.0.1/callback/a",)),
        SandboxClient("web-b", redirect_uris=("http://127.0.0.1/callback/b",)),
        SandboxClient("web-tls", redirect_uris=(f"{APP_TLS}/callback/a",)),
        SandboxClient("one", kind="oauth1", redirect_uris=("http://127.0.0.1/callback/one",)),
    ]
    with Sandbox(clients=clients) as sb:
        yield sb


def _oauth2(sb: Sandbox, name: str, cls: Any = OAuth2Client) -> Any:
    client = sb.clients[name]
    return cls(client.client_id, client.client_secret, issuer=sb.issuer, scope="profile")


def _providers(sb: Sandbox, cls: Any = OAuth2Client) -> dict[str, WebProvider]:
    one = sb.clients["one"]
    oauth1 = OAuth1Client(
        one.client_id,
        one.client_secret,
        request_token_url=sb.base_url + "/oauth1/request_token",
        authorize_url=sb.base_url + "/oauth1/authorize",
        access_token_url=sb.base_url + "/oauth1/access_token",
    )
    whoami = WhoAmI("me", "sub")
    return {
        "a": WebProvider("a", _oauth2(sb, "web-a", cls), sb.base_url + "/api/", whoami),
        "b": WebProvider("b", _oauth2(sb, "web-b", cls), sb.base_url + "/api/", whoami),
        "one": WebProvider("one", oauth1, sb.base_url + "/oauth1/api/", WhoAmI("me", "user")),
    }


@pytest.fixture
def flow(sandbox: Sandbox, tmp_path: Path) -> WebFlow:
    return WebFlow(_providers(sandbox), SQLiteStore(tmp_path / "tokens.sqlite3"))


def _query(url: str) -> str:
    return urlsplit(url).query


def _finish(flow: WebFlow, sb: Sandbox, provider: str, user: str | None = "42", **kw: Any) -> Any:
    begun = flow.begin(provider, request_url=APP + "/connect", user=user, **kw)
    callback = sb.approve(begun.url, user="alice")
    return flow.complete(
        provider,
        request_url=APP + f"/callback/{provider}",
        params=_query(callback),
        cookies={begun.cookie.name: begun.cookie.value},
    )


def test_connect_saves_the_token_under_the_users_key(flow: WebFlow, sandbox: Sandbox) -> None:
    seen: list[str] = []
    flow.on_token = lambda key, token: seen.append(key)
    done = _finish(flow, sandbox, "a", return_to="/settings?tab=1")
    assert (done.user, done.key, done.return_to, done.sign_in) == (
        "42",
        "user:42:a",
        "/settings?tab=1",
        False,
    )
    assert flow.store.get("user:42:a", Token) == done.token
    assert seen == ["user:42:a"]
    assert done.cookie.max_age == 0  # clears the flow's cookie
    assert flow.session("a", "42").token() == done.token
    assert flow.connected("42") == ["a"]


def test_the_cookie_binds_the_flow_and_is_scoped_to_the_callback(
    flow: WebFlow, sandbox: Sandbox
) -> None:
    begun = flow.begin("a", request_url=APP + "/connect", user="42")
    cookie = begun.cookie
    assert cookie.name.startswith("oauthkit-flow-") and len(cookie.value) >= 40
    assert cookie.header().endswith("; Path=/callback/a; Max-Age=600; HttpOnly; SameSite=Lax"), (
        cookie.header()
    )
    assert cookie.value not in repr(cookie)
    # Nothing the browser carries is a secret of the flow: the state is in the URL, the
    # cookie is a random binding; the PKCE verifier stays on the server — encrypted under
    # the state and the cookie, so that the store alone holds nothing usable.
    state = dict(parse_qsl(_query(begun.url)))["state"]
    record = flow.store.take_pending(  # type: ignore[attr-defined]
        __import__("hashlib").sha256(("oauth2:" + state).encode()).hexdigest()
    )
    assert record is not None
    assert cookie.value not in record and state not in record and "verifier" not in record


def test_https_cookies_are_host_prefixed_and_secure(sandbox: Sandbox, tmp_path: Path) -> None:
    providers = {"a": WebProvider("a", _oauth2(sandbox, "web-tls"))}
    flow = WebFlow(providers, MemoryStore())
    cookie = flow.begin("a", request_url=APP_TLS + "/x", user="1").cookie
    assert cookie.name.startswith("__Host-oauthkit-flow-")
    assert cookie.header().endswith("; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax")
    posted = {"a": WebProvider("a", _oauth2(sandbox, "web-tls"), response_mode="form_post")}
    post = WebFlow(posted, MemoryStore())
    begun = post.begin("a", request_url=APP_TLS + "/x", user="1")
    assert "response_mode=form_post" in begun.url
    assert begun.cookie.same_site == "None"  # a cross-site POST carries no Lax cookie


def test_a_form_post_body_completes_like_a_query(flow: WebFlow, sandbox: Sandbox) -> None:
    begun = flow.begin("a", request_url=APP + "/connect", user="42")
    callback = sandbox.approve(begun.url)
    form = {name: [value] for name, value in parse_qsl(_query(callback))}
    done = flow.complete(
        "a",
        request_url=APP + "/callback/a",
        params=form,
        cookies={begun.cookie.name: begun.cookie.value},
    )
    assert done.key == "user:42:a"


def test_sign_in_names_the_provider_user(flow: WebFlow, sandbox: Sandbox) -> None:
    done = _finish(flow, sandbox, "a", user=None)
    assert (done.user, done.sign_in) == ("a:alice", True)
    assert done.identity is not None and done.identity.id == "alice"
    done = _finish(flow, sandbox, "one", user=None)
    assert (done.user, done.key) == ("one:alice", "user:one:alice:one")


@pytest.mark.parametrize("provider", ["a", "one"])
def test_replayed_unbound_and_foreign_callbacks(
    flow: WebFlow, sandbox: Sandbox, provider: str
) -> None:
    begun = flow.begin(provider, request_url=APP + "/c", user="42")
    callback = _query(sandbox.approve(begun.url))
    here = APP + f"/callback/{provider}"
    cookies = {begun.cookie.name: begun.cookie.value}
    with pytest.raises(BrowserMismatch, match="missing"):
        flow.complete(provider, request_url=here, params=callback, cookies={})
    # The unbound attempt used the flow up: the right browser now finds nothing either.
    with pytest.raises(FlowNotFound):
        flow.complete(provider, request_url=here, params=callback, cookies=cookies)

    begun = flow.begin(provider, request_url=APP + "/c", user="42")
    callback = _query(sandbox.approve(begun.url))
    with pytest.raises(BrowserMismatch, match="different"):
        flow.complete(
            provider, request_url=here, params=callback, cookies={begun.cookie.name: "x" * 43}
        )
    assert flow.store.get(f"user:42:{provider}") is None


def test_mix_up_and_redirect_checks(flow: WebFlow, sandbox: Sandbox) -> None:
    begun = flow.begin("a", request_url=APP + "/c", user="42")
    callback = _query(sandbox.approve(begun.url))
    cookies = {begun.cookie.name: begun.cookie.value}
    with pytest.raises(ProviderMismatch, match="'a', not 'b'"):
        flow.complete("b", request_url=APP + "/callback/b", params=callback, cookies=cookies)
    begun = flow.begin("a", request_url=APP + "/c", user="42")
    callback = _query(sandbox.approve(begun.url))
    cookies = {begun.cookie.name: begun.cookie.value}
    with pytest.raises(RedirectMismatch):
        flow.complete(
            "a", request_url="http://localhost:5000/callback/a", params=callback, cookies=cookies
        )


def test_a_wrong_iss_is_refused_before_the_exchange(flow: WebFlow, sandbox: Sandbox) -> None:
    begun = flow.begin("a", request_url=APP + "/c", user="42")
    params = dict(parse_qsl(_query(sandbox.approve(begun.url))))
    params["iss"] = "https://attacker.example"
    with pytest.raises(IssuerMismatch):
        flow.complete(
            "a",
            request_url=APP + "/callback/a",
            params=urlencode(params),
            cookies={begun.cookie.name: begun.cookie.value},
        )


def test_a_callback_without_state(flow: WebFlow) -> None:
    with pytest.raises(StateMismatch):
        flow.complete("a", request_url=APP + "/callback/a", params="code=x", cookies={})


def test_an_error_callback_uses_the_flow_up(flow: WebFlow, sandbox: Sandbox) -> None:
    begun = flow.begin("a", request_url=APP + "/c", user="42")
    callback = _query(sandbox.approve(begun.url, deny=True))
    cookies = {begun.cookie.name: begun.cookie.value}
    with pytest.raises(AuthorizationDenied):
        flow.complete("a", request_url=APP + "/callback/a", params=callback, cookies=cookies)
    with pytest.raises(FlowNotFound):
        flow.complete("a", request_url=APP + "/callback/a", params=callback, cookies=cookies)


@pytest.mark.slow
def test_an_expired_flow(sandbox: Sandbox) -> None:
    flow = WebFlow(_providers(sandbox), MemoryStore(), pending_seconds=1)
    begun = flow.begin("a", request_url=APP + "/c", user="42")
    callback = _query(sandbox.approve(begun.url))
    time.sleep(1.2)
    with pytest.raises(FlowNotFound):  # the store dropped it (FlowExpired is its kind)
        flow.complete(
            "a",
            request_url=APP + "/callback/a",
            params=callback,
            cookies={begun.cookie.name: begun.cookie.value},
        )


@pytest.mark.slow
def test_an_expired_sealed_flow(sandbox: Sandbox) -> None:
    flow = WebFlow(_providers(sandbox), MemoryStore(), pending_seconds=1, cookie_key=b"k" * 32)
    begun = flow.begin("a", request_url=APP + "/c", user="42")
    callback = _query(sandbox.approve(begun.url))
    time.sleep(1.2)  # a browser would have dropped the cookie (Max-Age); this one kept it
    with pytest.raises(FlowExpired):
        flow.complete(
            "a",
            request_url=APP + "/callback/a",
            params=callback,
            cookies={begun.cookie.name: begun.cookie.value},
        )


@pytest.mark.parametrize(
    "path", ["//evil.example/", "/\\evil.example", "https://evil.example/", "evil", "/a\nb", "/a b"]
)
def test_return_paths_stay_on_the_site(flow: WebFlow, path: str) -> None:
    with pytest.raises(UnsafeReturnPath):
        flow.begin("a", request_url=APP + "/c", user="1", return_to=path)


def test_sealed_cookie_mode_binds_without_a_store(sandbox: Sandbox) -> None:
    store = MemoryStore()
    flow = WebFlow(_providers(sandbox), store, cookie_key="k" * 32)
    begun = flow.begin("a", request_url=APP + "/c", user="42")
    assert store._pending == {}  # nothing kept on the server
    callback = _query(sandbox.approve(begun.url))
    here = APP + "/callback/a"
    with pytest.raises(BrowserMismatch):
        flow.complete("a", request_url=here, params=callback, cookies={})
    tampered = begun.cookie.value[:-4] + (
        "AAAA" if not begun.cookie.value.endswith("AAAA") else "BBBB"
    )
    with pytest.raises(BrowserMismatch):
        flow.complete("a", request_url=here, params=callback, cookies={begun.cookie.name: tampered})
    done = flow.complete(
        "a", request_url=here, params=callback, cookies={begun.cookie.name: begun.cookie.value}
    )
    assert done.key == "user:42:a"
    # The cookie of one flow opens no other flow.
    other = flow.begin("a", request_url=APP + "/c", user="42")
    other_callback = _query(sandbox.approve(other.url))
    with pytest.raises(BrowserMismatch):
        flow.complete(
            "a",
            request_url=here,
            params=other_callback,
            cookies={other.cookie.name: begun.cookie.value},
        )
    with pytest.raises(ConfigurationError):
        WebFlow({}, store, cookie_key="short")


def test_a_store_without_pending_flows_says_so(sandbox: Sandbox, tmp_path: Path) -> None:
    from oauthkit.stores import KeyringStore
    from stores.test_contract import file_keyring

    store = KeyringStore(backend=file_keyring(tmp_path), lock_dir=tmp_path / "locks")
    flow = WebFlow(_providers(sandbox), store)
    with pytest.raises(ConfigurationError, match="cannot keep pending web flows"):
        flow.begin("a", request_url=APP + "/c", user="1")


def test_the_api_stays_under_api_base(flow: WebFlow) -> None:
    assert flow.api_url("a", "me").endswith("/api/me")
    # A path that looks like another host stays a path under the base (as in the command).
    assert flow.api_url("a", "//evil.example/x").endswith("/api/evil.example/x")
    for path in ("../oauth2/token", "../../x", "http://evil.example/"):
        with pytest.raises(ConfigurationError, match="outside"):
            flow.api_url("a", path)


@pytest.mark.slow
def test_disconnect_revokes_then_forgets(flow: WebFlow, sandbox: Sandbox) -> None:
    done = _finish(flow, sandbox, "a")
    token = done.token
    assert flow.api("a", "42", "me").status_code == 200
    flow.disconnect("a", "42")
    assert flow.connected("42") == []
    import httpx2

    answer = httpx2.get(
        sandbox.base_url + "/api/me", headers={"Authorization": f"Bearer {token.access_token}"}
    )
    assert answer.status_code == 401  # revoked at the provider, not only forgotten


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("cls", [OAuth2Client, AsyncOAuth2Client])
async def test_the_await_twins(sandbox: Sandbox, tmp_path: Path, cls: Any) -> None:
    flow = WebFlow(_providers(sandbox, cls), SQLiteStore(tmp_path / "t.sqlite3"))
    for provider in ("a", "one"):
        begun = await flow.abegin(provider, request_url=APP + "/c", user=None)
        import anyio.to_thread

        callback = await anyio.to_thread.run_sync(sandbox.approve, begun.url)
        done = await flow.acomplete(
            provider,
            request_url=APP + f"/callback/{provider}",
            params=_query(callback),
            cookies={begun.cookie.name: begun.cookie.value},
        )
        assert done.identity is not None and done.identity.id == "alice"
        answer = await flow.aapi(provider, done.user, "me")
        assert answer.status_code == 200
        assert await flow.aconnected(done.user) == [provider]
        await flow.adisconnect(provider, done.user)
        assert await flow.aconnected(done.user) == []


def test_flow_expired_is_a_flow_not_found() -> None:
    assert issubclass(FlowExpired, FlowNotFound)


# -- on oidc-provider: OpenID Connect sign-in, PAR, JAR, DPoP -----------------------------

OIDC_APP = "http://127.0.0.1:8765"  # the peer's clients are registered for /callback there


def _oidc_flow(peer: Any, name: str, **client_options: Any) -> OAuth2Client:
    from peers.oidc_provider import BASIC_SECRET

    secret = None if name in ("public", "jwt-key") else BASIC_SECRET
    client = OAuth2Client(name, secret, issuer=peer.issuer, scope="openid", **client_options)
    return client


@pytest.mark.parametrize(
    ("name", "options", "par", "jar"),
    [
        ("basic", {}, True, False),
        ("jwt-key", {"private_key": "jwt-key"}, True, True),
        ("public", {"dpop": True}, None, False),
    ],
    ids=["pushed", "pushed-and-signed", "dpop"],
)
def test_an_openid_sign_in_with_par_jar_and_dpop(
    oidc_provider: Any, tmp_path: Path, name: str, options: dict[str, Any], par: Any, jar: bool
) -> None:
    if "private_key" in options:
        options = {**options, "private_key": oidc_provider.client_private_jwk(name)}
    client = _oidc_flow(oidc_provider, name, **options)
    provider = WebProvider("op", client, oidc_provider.issuer + "/", par=par, jar=jar)
    flow = WebFlow({"op": provider}, SQLiteStore(tmp_path / "t.sqlite3"), callback_path="/callback")
    begun = flow.begin("op", request_url=OIDC_APP + "/signin", user=None)
    query = dict(parse_qsl(_query(begun.url)))
    assert ("request_uri" in query) == bool(par)
    assert ("request" in query) == (jar and not par)
    callback = oidc_provider.approve(begun.url, "hana")
    done = flow.complete(
        "op",
        request_url=OIDC_APP + "/callback",
        params=_query(callback),
        cookies={begun.cookie.name: begun.cookie.value},
    )
    assert done.user == "op:hana"  # the ID token's sub
    assert done.identity is not None and done.identity.issuer == oidc_provider.issuer
    token = flow.store.get(done.key, Token)
    assert token is not None
    assert token.token_type == ("DPoP" if options.get("dpop") else "Bearer")
    answer = flow.api("op", done.user, "me")  # userinfo, with a DPoP proof when bound
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] == "hana"


def test_from_config_reads_the_providers_store_and_web_table(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    web = sandbox.clients["web-a"]
    config = tmp_path / "oauthkit.toml"
    config.write_text(
        f'store = "{tmp_path / "t.sqlite3"}"\n\n[web]\npending_seconds = 5\n'
        f'base_url = "{APP}"\n\n[providers.a]\nissuer = "{sandbox.issuer}"\n'
        f'client_id = "web-a"\nclient_secret = "{web.client_secret}"\n'
        f'api_base = "{sandbox.base_url}/api/"\nwhoami_url = "me"\n'
    )
    config.chmod(0o600)
    flow = WebFlow.from_config(str(config))
    assert (flow.settings.pending_seconds, flow.settings.base_url) == (5, APP)
    assert isinstance(flow.store, SQLiteStore)
    begun = flow.begin("a", request_url="http://ignored.example/x", user=None)
    assert begun.cookie.max_age == 5
    done = flow.complete(
        "a",
        request_url="http://ignored.example/callback/a",
        params=_query(sandbox.approve(begun.url)),
        cookies={begun.cookie.name: begun.cookie.value},
    )
    assert done.user == "a:alice"
    config.write_text("[web]\npending = 5\n")
    with pytest.raises(ConfigurationError, match=r"\[web\] takes"):
        WebFlow.from_config(str(config))


def test_a_jwt_secured_response_is_verified_by_the_web_flow(
    oidc_provider: Any, tmp_path: Path
) -> None:
    from oauthkit.errors import JarmError

    client = _oidc_flow(oidc_provider, "basic")
    provider = WebProvider("op", client, oidc_provider.issuer + "/", response_mode="jwt")
    flow = WebFlow({"op": provider}, SQLiteStore(tmp_path / "t.sqlite3"), callback_path="/callback")
    begun = flow.begin("op", request_url=OIDC_APP + "/signin", user=None)
    assert dict(parse_qsl(_query(begun.url)))["response_mode"] == "jwt"
    callback = oidc_provider.approve(begun.url, "hana")
    assert [name for name, _ in parse_qsl(_query(callback))] == ["response"]
    done = flow.complete(
        "op",
        request_url=OIDC_APP + "/callback",
        params=_query(callback),
        cookies={begun.cookie.name: begun.cookie.value},
    )
    assert done.user == "op:hana"
    again = flow.begin("op", request_url=OIDC_APP + "/signin", user=None)
    state = dict(parse_qsl(_query(again.url)))["state"]
    with pytest.raises(JarmError, match="no response JWT"):
        flow.complete(
            "op",
            request_url=OIDC_APP + "/callback",
            params={"code": "forged", "state": state, "iss": oidc_provider.issuer},
            cookies={again.cookie.name: again.cookie.value},
        )


def test_an_encrypted_jwt_response_is_found_opened_and_verified_by_the_web_flow(
    start_oidc: Any, tmp_path: Path
) -> None:
    """The pending flow is found by the state inside the JWE, opened with the client's
    decryption key (JARM §2.3); the same callback for a client without the key is refused."""
    from joserfc.jwk import RSAKey

    from oauthkit.errors import JarmError
    from peers.oidc_provider import BASIC_SECRET, default_clients, public_jwks

    key = RSAKey.generate_key(
        2048, parameters={"alg": "RSA-OAEP-256", "use": "enc"}, private=True, auto_kid=True
    ).as_dict(private=True)
    sealed = {
        **default_clients()["basic"],
        "jwks": public_jwks({"keys": [key]}),
        "authorization_encrypted_response_alg": "RSA-OAEP-256",
    }
    peer = start_oidc(clients={"sealed": sealed})
    client = OAuth2Client(
        "sealed", BASIC_SECRET, issuer=peer.issuer, scope="openid", decryption_key=key
    )
    provider = WebProvider("op", client, peer.issuer + "/", response_mode="jwt")
    flow = WebFlow({"op": provider}, SQLiteStore(tmp_path / "t.sqlite3"), callback_path="/callback")
    begun = flow.begin("op", request_url=OIDC_APP + "/signin", user=None)
    callback = peer.approve(begun.url, "hana")
    (response,) = dict(parse_qsl(_query(callback))).values()
    assert response.count(".") == 4
    keyless = OAuth2Client("sealed", BASIC_SECRET, issuer=peer.issuer, scope="openid")
    blind = WebFlow(
        {"op": WebProvider("op", keyless, peer.issuer + "/", response_mode="jwt")},
        SQLiteStore(tmp_path / "t.sqlite3"),
        callback_path="/callback",
    )
    cookies = {begun.cookie.name: begun.cookie.value}
    with pytest.raises(JarmError, match="no decryption key"):
        blind.complete(
            "op", request_url=OIDC_APP + "/callback", params=_query(callback), cookies=cookies
        )
    done = flow.complete(
        "op", request_url=OIDC_APP + "/callback", params=_query(callback), cookies=cookies
    )
    assert done.user == "op:hana"
