"""Provider presets: the registry, every preset through the real clients over recorded
response shapes (tests/providers/fixtures, shapes as each provider documents them, values made
up), and one test per quirk hook showing the recorded shape fails without it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from oauthkit import errors
from oauthkit.clients.oauth1 import OAuth1Client
from oauthkit.clients.oauth2 import AsyncOAuth2Client, OAuth2Client
from oauthkit.errors import (
    ConfigurationError,
    IdentityError,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidResponse,
    OAuthServerError,
    TemporarilyUnavailable,
)
from oauthkit.protocol.oauth2.hooks import Hook
from oauthkit.protocol.oauth2.token import Token
from oauthkit.providers import all_presets, get, names
from oauthkit.providers.preset import Preset, WhoAmI
from oauthkit.providers.quirks import REDDIT_AGENT, all_hooks

FIXTURES = Path(__file__).parent / "fixtures"
REDIRECT = "http://127.0.0.1:8765/callback"
OAUTH2 = [p.name for p in all_presets() if p.protocol == "oauth2"]
OAUTH1 = [p.name for p in all_presets() if p.protocol == "oauth1"]
#: Every preset the issue names.
NAMED = {
    "github", "google", "microsoft", "x", "x-oauth1", "dropbox", "slack", "discord", "gitlab",
    "spotify", "linkedin", "reddit", "twitch", "strava", "fitbit", "notion", "atlassian",
    "salesforce", "xero", "intuit", "etsy", "zoom", "box", "trello", "flickr", "tumblr",
    "garmin", "ebay", "facebook", "okta", "auth0", "keycloak", "oidc",
}  # fmt: skip


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def reply(entry: dict[str, Any]) -> httpx2.Response:
    """The recorded answer ``entry`` as an HTTP response."""
    if "json" in entry:
        content = json.dumps(entry["json"]).encode()
        media = "application/json"
    else:
        content = entry["body"].encode()
        media = entry.get("content_type", "application/x-www-form-urlencoded")
    return httpx2.Response(entry["status"], headers={"content-type": media}, content=content)


#: The signing key of the mock providers that have discovery (their ID tokens are checked).
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"}, private=True)


def id_token(issuer: str, nonce: str | None) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": "248289761001", "aud": "cid", "iat": now, "exp": now + 300}
    if nonce is not None:
        claims["nonce"] = nonce
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, KEY)


def form_of(request: httpx2.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


class Provider:
    """A MockTransport handler: discovery from the fixture, other requests answered from a
    queue of recorded answers (or by ``check``, which plays the provider's rules)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fixture = load(name)
        self.queue: list[dict[str, Any]] = []
        self.requests: list[httpx2.Request] = []
        self.check: Callable[[httpx2.Request], httpx2.Response | None] | None = None
        self.nonce: str | None = None

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        discovery = self.fixture.get("discovery")
        if discovery and str(request.url) == discovery.get("jwks_uri"):
            return httpx2.Response(200, json={"keys": [KEY.as_dict(private=False)]})
        if "/.well-known/" in request.url.path:
            return httpx2.Response(200, json=discovery)
        self.requests.append(request)
        if self.check is not None:
            answer = self.check(request)
            if answer is not None:
                return answer
        if not self.queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        entry = self.queue.pop(0)
        if discovery and "id_token" in entry.get("json", {}):
            # The recorded shape, with an ID token signed by this provider's key.
            nonce = self.nonce if "refresh_token" not in form_of(request) else None
            signed = id_token(discovery["issuer"], nonce)
            entry = {**entry, "json": {**entry["json"], "id_token": signed}}
        return reply(entry)

    def http(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))

    def answer(self, *keys: str) -> Provider:
        self.queue += [self.fixture[key] for key in keys]
        return self


def oauth2(provider: Provider, *, secret: str | None = "s3cret", **kwargs: Any) -> OAuth2Client:
    options = {**provider.fixture.get("options", {}), **kwargs}
    return OAuth2Client.from_preset(
        provider.name, "cid", secret, redirect_uri=REDIRECT, http=provider.http(), **options
    )


def without(name: str, hook: str, **options: Any) -> tuple[Hook, ...]:
    """The hooks the preset gives a client, less ``hook``."""
    hooks = get(name).oauth2_arguments(**options)["hooks"]
    assert hook in [h.name for h in hooks], f"{name} does not declare {hook}"
    return tuple(h for h in hooks if h.name != hook)


def sign_in(client: OAuth2Client, **callback: str) -> Token:
    request = client.authorization_request()
    provider = client.http._transport.handler  # type: ignore[attr-defined]
    if isinstance(provider, Provider):
        provider.nonce = request.nonce
    query = urlencode({"code": "c0de", "state": request.state, **callback})
    return client.exchange_code(request, f"{REDIRECT}?{query}")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# ----------------------------------------------------------------------------- registry


def test_at_least_25_presets_and_every_named_one() -> None:
    assert len(names()) >= 25
    assert set(names()) >= NAMED
    assert [p.name for p in all_presets()] == names()


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("twitter", "x"),
        ("Twitter", "x"),
        ("entra", "microsoft"),
        ("GitHub", "github"),
        ("quickbooks", "intuit"),
        ("twitter-oauth1", "x-oauth1"),
        (" jira ", "atlassian"),
    ],
)
def test_names_are_case_insensitive_with_aliases(alias: str, name: str) -> None:
    assert get(alias).name == name


def test_an_unknown_name_lists_close_names() -> None:
    with pytest.raises(ConfigurationError, match=r"did you mean 'github'") as caught:
        get("githb")
    assert "known presets: atlassian" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_importing_the_registry_loads_no_table_and_no_http_library() -> None:
    code = (
        "import sys, oauthkit.providers as p\n"
        "loaded = [m for m in ('oauthkit.providers.presets', 'oauthkit.providers.quirks', "
        "'httpx2', 'cryptography') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "p.get('github')\n"
        "assert 'oauthkit.providers.presets' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_presets_are_data_and_from_preset_adds_the_callers_arguments() -> None:
    """A preset returns only its own arguments; the client's keyword arguments win, the
    preset's options fill its templates, anything else is a clear error."""
    assert "redirect_uri" not in get("microsoft").oauth2_arguments(tenant="contoso")
    with pytest.raises(ConfigurationError, match="its own options: tenant"):
        get("microsoft").oauth2_arguments(redirect_uri="http://127.0.0.1/cb")
    with OAuth2Client.from_preset(
        "microsoft", "cid", tenant="contoso", scope="openid", redirect_uri=REDIRECT
    ) as client:
        assert client.config.scope == "openid"
        assert "contoso" in client.config.endpoints["token_endpoint"]
    with pytest.raises(ConfigurationError, match="any keyword argument of OAuth2Client"):
        OAuth2Client.from_preset("github", "cid", tenant="x")
    with pytest.raises(ConfigurationError, match="any keyword argument of OAuth1Client"):
        OAuth1Client.from_preset("x-oauth1", "ck", "cs", scope="x")
    import ast
    import inspect

    import oauthkit.providers.preset as module

    imported = {
        node.module
        for node in ast.walk(ast.parse(inspect.getsource(module)))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not any("clients" in name for name in imported)  # no cycle back to the clients


@pytest.mark.parametrize("name", names())
def test_every_preset_says_where_its_facts_come_from_and_what_to_register(name: str) -> None:
    preset = get(name)
    assert preset.docs.startswith("https://")
    assert len(preset.register) > 40
    assert (FIXTURES / f"{name}.json").exists()
    assert load(name)["source"].startswith("https://")
    assert preset.features()
    if preset.protocol == "oauth1":
        assert "OAuth 1.0a" in preset.features()
    if preset.issuer is None:
        assert preset.whoami is not None or name == "intuit"


# ----------------------------------------------------------------------------- options


def test_placeholders_are_filled_from_options_and_defaults() -> None:
    microsoft = get("microsoft")
    assert microsoft.oauth2_arguments()["token_endpoint"] == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    )
    assert "/contoso/" in microsoft.oauth2_arguments(tenant="contoso")["authorization_endpoint"]
    gitlab = get("gitlab").oauth2_arguments(base="https://git.example.com/")
    assert gitlab["token_endpoint"] == "https://git.example.com/oauth/token"
    assert get("gitlab").api_base_url(base="https://git.example.com") == (
        "https://git.example.com/api/v4/"
    )
    keycloak = get("keycloak").oauth2_arguments(base="https://sso.example", realm="r1")
    assert keycloak["issuer"] == "https://sso.example/realms/r1"


@pytest.mark.parametrize("name", ["okta", "auth0", "keycloak", "oidc"])
def test_a_missing_issuer_option_is_a_clear_error(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"the {name} preset needs the option"):
        OAuth2Client.from_preset(name, "cid")


def test_unknown_options_are_refused_and_client_arguments_win() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option.*tennant.*tenant"):
        get("microsoft").oauth2_arguments(tennant="x")
    with OAuth2Client.from_preset(
        "github", "cid", "s", scope="repo", token_endpoint="https://gh.example/t"
    ) as client:  # the client's own arguments win over the preset's
        assert client.config.scope == "repo"
        assert client.config.endpoints["token_endpoint"] == "https://gh.example/t"
    with pytest.raises(ConfigurationError, match=r"OAuth 1\.0a preset"):
        get("trello").oauth2_arguments()
    with pytest.raises(ConfigurationError, match="OAuth 2 preset"):
        get("github").oauth1_arguments()


def test_a_known_secret_picks_the_documented_client_authentication() -> None:
    assert get("github").oauth2_arguments(client_secret="s")["auth_method"] == (
        "client_secret_post"
    )
    assert get("github").oauth2_arguments(client_secret=None)["auth_method"] == "none"
    assert get("spotify").oauth2_arguments(client_secret="s")["auth_method"] == (
        "client_secret_basic"
    )


def test_whoami_requests() -> None:
    assert get("github").whoami_url() == "https://api.github.com/user"
    assert get("gitlab").whoami_url(base="https://g.example") == "https://g.example/api/v4/user"
    assert get("salesforce").whoami_url() == "https://login.salesforce.com/services/oauth2/userinfo"
    x = get("x").whoami
    assert x is not None
    assert x.identity({"data": {"id": "12", "username": "jack"}}).id == "12"
    twitch = get("twitch").whoami
    assert twitch is not None
    assert twitch.identity({"data": [{"id": "5", "login": "ninja"}]}).name == "ninja"
    assert twitch.request_headers("cid") == {"Client-Id": "cid"}
    assert WhoAmI("me", "a.id").identity({"a": {"id": 7}}).id == "7"
    with pytest.raises(IdentityError):
        WhoAmI("me", "id").identity({"id": True})  # a flag is not an id
    assert get("okta").whoami_url() is None


# ----------------------------------------------------------------------------- OAuth 2 presets


def _expected_endpoint(provider: Provider, preset: Preset) -> str:
    if "discovery" in provider.fixture:
        return str(provider.fixture["discovery"]["authorization_endpoint"])
    arguments = preset.oauth2_arguments(**provider.fixture.get("options", {}))
    return str(arguments["authorization_endpoint"])


@pytest.mark.parametrize("name", OAUTH2)
def test_the_authorization_url(name: str) -> None:
    provider = Provider(name)
    preset = get(name)
    with oauth2(provider) as client:
        request = client.authorization_request()
    endpoint = _expected_endpoint(provider, preset)
    assert request.url.split("?", 1)[0] == endpoint.split("?", 1)[0]
    query = query_of(request.url)
    assert query["client_id"] == ["cid"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [REDIRECT]
    assert query["state"] == [request.state]
    assert query["code_challenge_method"] == ["S256"]
    scope_param = provider.fixture.get("scope_param", "scope")
    if preset.scope is None:
        assert "scope" not in query
    else:
        assert query[scope_param] == [preset.scope]
    for key, value in provider.fixture.get("authorize_params", {}).items():
        assert query[key] == [value], key


@pytest.mark.parametrize("name", OAUTH2)
def test_token_error_and_refresh_on_recorded_shapes(name: str) -> None:
    provider = Provider(name)
    fixture = provider.fixture
    expect = fixture["expect"]
    with oauth2(provider) as client:
        token = sign_in(client) if provider.answer("token") else None
        assert token is not None
        assert name == "slack" or token.access_token == fixture["token"]["json"]["access_token"]
        assert token.token_type == expect["token_type"]
        if "scope" in expect:
            assert token.scope == expect["scope"]
        assert (token.refresh_token is not None) is expect["refresh"]
        assert (token.expires_at is not None) is expect["expires"]
        for key, value in expect.get("extra", {}).items():
            assert token.extra[key] == value
        exchange = provider.requests[-1]
        assert exchange.method == "POST"
        assert form_of(exchange).get("grant_type") or json.loads(exchange.content)["grant_type"]

        provider.answer("error")
        with pytest.raises(getattr(errors, fixture["error"]["raises"])) as caught:
            sign_in(client)
        assert isinstance(caught.value, OAuthServerError)

        if "refresh" in fixture:
            if token.refresh_token is None:
                token = token.replace(refresh_token=fixture.get("refresh_seed", "seed"))
            provider.answer("refresh")
            fresh = client.refresh(token)
            assert fresh.access_token == fixture["refresh"]["json"].get(
                "access_token", fresh.access_token
            )
            assert fresh.token_type == expect["token_type"]
            assert fresh.refresh_token is not None
            body = provider.requests[-1].content.decode()
            assert "refresh_token" in body


@pytest.mark.parametrize("name", OAUTH2)
def test_client_authentication_follows_the_preset(name: str) -> None:
    provider = Provider(name).answer("token")
    with oauth2(provider) as client:
        sign_in(client)
    request = provider.requests[-1]
    header = request.headers.get("authorization", "")
    body = request.content.decode()
    method = get(name).auth_method or "client_secret_basic"
    if method == "client_secret_post":
        assert not header
        assert "client_secret=s3cret" in body
    elif method == "client_secret_basic":
        assert header == "Basic " + base64.b64encode(b"cid:s3cret").decode()
        assert "s3cret" not in body
    else:
        assert not header
        assert "s3cret" not in body
        assert "client_id=cid" in body


@pytest.mark.parametrize("name", ["github", "microsoft", "spotify", "gitlab", "x", "fitbit"])
def test_a_public_client_sends_no_secret(name: str) -> None:
    provider = Provider(name).answer("token")
    with oauth2(provider, secret=None) as client:
        sign_in(client)
    request = provider.requests[-1]
    assert "authorization" not in request.headers
    assert form_of(request)["client_id"] == "cid"
    assert "client_secret" not in form_of(request)
    assert form_of(request)["code_verifier"]


def test_from_preset_with_only_a_client_id_as_in_the_issue() -> None:
    client = OAuth2Client.from_preset("github", client_id="Iv1.abc")
    assert client.client_id == "Iv1.abc"
    assert (
        client.config.endpoints["token_endpoint"] == "https://github.com/login/oauth/access_token"
    )
    assert [h.name for h in client.config.hooks][:3] == [
        "GITHUB_FORM_RESPONSE",
        "ERROR_WITH_200",
        "GITHUB_ERROR_CODES",
    ]
    client.close()


def test_intuit_realm_id_survives_the_callback() -> None:
    """Intuit sends the company id as realmId on the callback; the core keeps unknown callback
    parameters in AuthorizationCode.extra, so no hook is needed."""
    provider = Provider("intuit").answer("token")
    with oauth2(provider) as client:
        request = client.authorization_request()
        query = urlencode({"code": "c0de", "state": request.state, "realmId": "193514507456789"})
        code = client.validate_callback(request, f"{REDIRECT}?{query}")
        assert code.extra["realmId"] == "193514507456789"
        token = client.exchange_code(code)
    assert token.token_type == "Bearer"


def test_salesforce_instance_url_is_kept_for_the_api_base() -> None:
    provider = Provider("salesforce").answer("token")
    with oauth2(provider) as client:
        token = sign_in(client)
    preset = get("salesforce")
    assert preset.api_base_from == "instance_url"
    assert token.extra[preset.api_base_from] == "https://yourInstance.salesforce.com"


# ----------------------------------------------------------------------------- OAuth 1.0a


@pytest.mark.parametrize("name", OAUTH1)
def test_oauth1_presets_run_the_three_legged_flow(name: str) -> None:
    provider = Provider(name).answer("request_token", "access_token")
    preset = get(name)
    client = OAuth1Client.from_preset(name, "ck", "cs", http=provider.http())
    with client:
        temporary = client.fetch_request_token(callback=REDIRECT)
        url = client.authorization_url(temporary)
        credentials = client.fetch_access_token(temporary, "v3rifier")
    first, second = provider.requests
    assert str(first.url).split("?")[0] == preset.request_token_url
    assert 'oauth_signature_method="HMAC-SHA1"' in first.headers["authorization"]
    assert str(second.url).split("?")[0] == preset.access_token_url
    assert 'oauth_verifier="v3rifier"' in second.headers["authorization"]
    assert url.split("?")[0] == (preset.authorize_url or "").split("?")[0]
    query = query_of(url)
    assert query["oauth_token"] == [temporary.token]
    for key, value in provider.fixture.get("authorize_params", {}).items():
        assert query[key] == [value]
    expected = dict(parse_qsl(provider.fixture["access_token"]["body"]))
    assert credentials.token == expected["oauth_token"]
    assert credentials.token_secret == expected["oauth_token_secret"]


@pytest.mark.parametrize("name", OAUTH1)
def test_oauth1_presets_raise_the_typed_error(name: str) -> None:
    provider = Provider(name).answer("error")
    fixture = provider.fixture["error"]
    with OAuth1Client.from_preset(name, "ck", "cs", http=provider.http()) as client:
        with pytest.raises(getattr(errors, fixture["raises"])) as caught:
            client.fetch_request_token(callback="oob")
    assert caught.value.status_code == 401
    if "problem" in fixture:
        assert caught.value.error == fixture["problem"]


def test_x_oauth1_pin_flow() -> None:
    provider = Provider("x-oauth1").answer("request_token", "access_token")
    with OAuth1Client.from_preset("twitter-oauth1", "ck", "cs", http=provider.http()) as client:
        temporary = client.fetch_request_token()
        credentials = client.fetch_access_token(temporary, "0123456")
    assert 'oauth_callback="oob"' in provider.requests[0].headers["authorization"]
    assert credentials.token is not None and credentials.token.startswith("6253282-")
    assert "PIN" in get("x-oauth1").features()


# ----------------------------------------------------------------------------- quirks
#
# Each quirk: the recorded shape (or the provider's rule, played by the mock) fails without
# its hook and works with it. QUIRK_TESTS ties every hook to its test.

QUIRK_TESTS: dict[str, str] = {}


def quirk(*hooks: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(test: Callable[..., None]) -> Callable[..., None]:
        for hook in hooks:
            QUIRK_TESTS[hook] = test.__name__
        return test

    return register


@quirk("GITHUB_FORM_RESPONSE")
def test_github_form_encoded_token_answer() -> None:
    provider = Provider("github").answer("token_form")
    with oauth2(provider, hooks=without("github", "GITHUB_FORM_RESPONSE")) as client:
        with pytest.raises(InvalidResponse, match="not JSON"):
            sign_in(client)
    with oauth2(provider.answer("token_form")) as client:
        token = sign_in(client)
    assert token.access_token == "gho_16C7e42F292c6912E7710c838347Ae178B4a"
    assert token.scope == "repo,gist"
    assert token.token_type == "Bearer"


@quirk("ERROR_WITH_200")
def test_github_error_with_http_200() -> None:
    provider = Provider("github").answer("error")
    with oauth2(provider, hooks=without("github", "ERROR_WITH_200")) as client:
        with pytest.raises(InvalidResponse, match="no access_token"):
            sign_in(client)
    with oauth2(provider.answer("error")) as client:
        with pytest.raises(InvalidGrant) as caught:
            sign_in(client)
    assert caught.value.status_code == 400


@quirk("ERROR_WITH_200")
def test_github_device_flow_polls_through_errors_sent_with_200() -> None:
    provider = Provider("github")
    provider.answer("device", "pending")
    with oauth2(provider, secret=None, hooks=without("github", "ERROR_WITH_200")) as client:
        device = client.device_authorization()
        with pytest.raises(InvalidResponse):
            client.poll_device(device, wait=lambda seconds: None)
    provider.answer("device", "pending", "slow_down", "token")
    waits: list[float] = []
    with oauth2(provider, secret=None) as client:
        device = client.device_authorization()
        assert device.user_code == "WDJB-MJHT"
        token = client.poll_device(device, wait=waits.append)
    assert token.access_token.startswith("gho_")
    assert waits == [5, 5, 10]
    assert all("client_secret" not in form_of(r) for r in provider.requests)


@quirk("GITHUB_ERROR_CODES")
def test_github_error_codes_map_to_rfc_errors() -> None:
    provider = Provider("github").answer("error")
    with oauth2(provider, hooks=without("github", "GITHUB_ERROR_CODES")) as client:
        with pytest.raises(OAuthServerError) as caught:
            sign_in(client)
    assert type(caught.value) is OAuthServerError
    assert caught.value.error == "bad_verification_code"
    with oauth2(provider.answer("error")) as client:
        with pytest.raises(InvalidGrant) as mapped:
            sign_in(client)
    assert "bad_verification_code" in (mapped.value.error_description or "")


@quirk("SLACK_OK_FALSE")
def test_slack_ok_false_with_http_200() -> None:
    provider = Provider("slack").answer("error")
    with oauth2(provider, hooks=without("slack", "SLACK_OK_FALSE")) as client:
        with pytest.raises(InvalidResponse):
            sign_in(client)
    with oauth2(provider.answer("error")) as client:
        with pytest.raises(InvalidGrant, match="invalid_code"):
            sign_in(client)


@quirk("SLACK_AUTHED_USER")
def test_slack_user_token_nested_in_authed_user() -> None:
    provider = Provider("slack").answer("token")
    with oauth2(provider, hooks=without("slack", "SLACK_AUTHED_USER")) as client:
        with pytest.raises(InvalidResponse, match="no access_token"):
            sign_in(client)
    with oauth2(provider.answer("token")) as client:
        token = sign_in(client)
    assert token.access_token == "xoxp-1234"
    assert token.refresh_token == "xoxe-1-user-refresh"
    assert token.extra["authed_user"]["id"] == "U1234"
    assert token.extra["slack_token_type"] == "user"


@quirk("SLACK_TOKEN_TYPE")
def test_slack_token_types_bot_and_user() -> None:
    provider = Provider("slack").answer("bot_and_user")
    with oauth2(provider, hooks=without("slack", "SLACK_TOKEN_TYPE")) as client:
        with pytest.raises(InvalidResponse, match="token_type 'bot'"):
            sign_in(client)
    with oauth2(provider.answer("bot_and_user")) as client:
        token = sign_in(client)
    assert token.access_token.startswith("xoxb-")
    assert token.token_type == "Bearer"
    assert token.extra["slack_token_type"] == "bot"


@quirk("SLACK_USER_SCOPE")
def test_slack_scopes_are_user_scopes() -> None:
    provider = Provider("slack")
    with oauth2(provider, hooks=without("slack", "SLACK_USER_SCOPE")) as client:
        assert query_of(client.authorization_request().url)["scope"] == ["users:read"]
    with oauth2(provider) as client:
        query = query_of(client.authorization_request().url)
    assert query["user_scope"] == ["users:read"]
    assert "scope" not in query


def _authorization_param_test(name: str, hook: str, params: dict[str, str]) -> None:
    provider = Provider(name)
    with oauth2(provider, hooks=without(name, hook, **provider.fixture.get("options", {}))) as c:
        bare = query_of(c.authorization_request().url)
    for key in params:
        assert key not in bare
    with oauth2(provider) as client:
        query = query_of(client.authorization_request().url)
        mine = query_of(client.authorization_request(**{next(iter(params)): "mine"}).url)
    for key, value in params.items():
        assert query[key] == [value]
    assert mine[next(iter(params))] == ["mine"]  # the caller's value wins


@quirk("GOOGLE_OFFLINE")
def test_google_offline_access_parameters() -> None:
    _authorization_param_test("google", "GOOGLE_OFFLINE", {"access_type": "offline"})
    _authorization_param_test("google", "GOOGLE_OFFLINE", {"prompt": "consent"})


@quirk("DROPBOX_OFFLINE")
def test_dropbox_token_access_type_offline() -> None:
    _authorization_param_test("dropbox", "DROPBOX_OFFLINE", {"token_access_type": "offline"})


@quirk("REDDIT_PERMANENT")
def test_reddit_duration_permanent() -> None:
    _authorization_param_test("reddit", "REDDIT_PERMANENT", {"duration": "permanent"})


@quirk("ATLASSIAN_AUDIENCE")
def test_atlassian_audience_and_consent() -> None:
    _authorization_param_test("atlassian", "ATLASSIAN_AUDIENCE", {"audience": "api.atlassian.com"})
    _authorization_param_test("atlassian", "ATLASSIAN_AUDIENCE", {"prompt": "consent"})


@quirk("NOTION_OWNER_USER")
def test_notion_owner_user() -> None:
    _authorization_param_test("notion", "NOTION_OWNER_USER", {"owner": "user"})


@quirk("GOOGLE_DEVICE_VERIFICATION_URL")
def test_google_device_verification_url() -> None:
    provider = Provider("google").answer("device")
    with oauth2(provider, hooks=without("google", "GOOGLE_DEVICE_VERIFICATION_URL")) as client:
        with pytest.raises(InvalidResponse, match="without verification_uri"):
            client.device_authorization()
    with oauth2(provider.answer("device")) as client:
        device = client.device_authorization()
    assert device.verification_uri == "https://www.google.com/device"
    assert device.user_code == "GQVQ-JKEC"


@quirk("MICROSOFT_OFFLINE_ACCESS")
def test_microsoft_offline_access_is_always_asked() -> None:
    provider = Provider("microsoft")
    hooks = without("microsoft", "MICROSOFT_OFFLINE_ACCESS")
    with oauth2(provider, hooks=hooks) as client:
        assert query_of(client.authorization_request("User.Read").url)["scope"] == ["User.Read"]
    with oauth2(provider) as client:
        query = query_of(client.authorization_request("User.Read Mail.Read").url)
        default = query_of(client.authorization_request().url)
    assert query["scope"] == ["User.Read Mail.Read offline_access"]
    assert default["scope"] == ["openid profile offline_access User.Read"]


@quirk("REDDIT_USER_AGENT")
def test_reddit_user_agent() -> None:
    provider = Provider("reddit")

    def throttle(request: httpx2.Request) -> httpx2.Response | None:
        if request.headers["user-agent"].startswith("python-httpx"):
            return httpx2.Response(429, html="<html><body>Too Many Requests</body></html>")
        return None

    provider.check = throttle
    with oauth2(provider.answer("token"), hooks=without("reddit", "REDDIT_USER_AGENT")) as c:
        with pytest.raises(TemporarilyUnavailable, match="HTTP 429"):
            sign_in(c)
    provider.queue.clear()
    with oauth2(provider.answer("token")) as client:
        token = sign_in(client)
    assert token.access_token == "J1qK1c18UUGJFAzz9xnH56584l4"
    assert provider.requests[-1].headers["user-agent"] == REDDIT_AGENT


@quirk("REDDIT_INSTALLED_APP")
def test_reddit_installed_app_basic_with_empty_password() -> None:
    provider = Provider("reddit")

    def basic_only(request: httpx2.Request) -> httpx2.Response | None:
        if not request.headers.get("authorization", "").startswith("Basic "):
            return httpx2.Response(401, json={"message": "Unauthorized", "error": 401})
        return None

    provider.check = basic_only
    hooks = without("reddit", "REDDIT_INSTALLED_APP")
    with oauth2(provider.answer("token"), secret=None, hooks=hooks) as client:
        with pytest.raises(InvalidResponse, match="401"):
            sign_in(client)
    provider.queue.clear()
    with oauth2(provider.answer("token"), secret=None) as client:
        sign_in(client)
    request = provider.requests[-1]
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"cid:").decode()
    assert "client_id" not in form_of(request)


@quirk("TWITCH_SCOPE_LIST")
def test_twitch_scope_array() -> None:
    provider = Provider("twitch").answer("token")
    with oauth2(provider, hooks=without("twitch", "TWITCH_SCOPE_LIST")) as client:
        with pytest.raises(InvalidResponse, match="scope must be"):
            sign_in(client)
    with oauth2(provider.answer("token")) as client:
        token = sign_in(client)
    assert token.scope == "channel:moderate chat:edit chat:read"


@quirk("TWITCH_ERRORS")
def test_twitch_errors() -> None:
    provider = Provider("twitch").answer("error")
    with oauth2(provider, hooks=without("twitch", "TWITCH_ERRORS")) as client:
        with pytest.raises(InvalidResponse, match="without an OAuth error"):
            sign_in(client)
    with oauth2(provider.answer("token", "refresh_error")) as client:
        token = sign_in(client)
        with pytest.raises(InvalidGrant, match="Invalid refresh token"):
            client.refresh(token)
    provider.answer("device", "pending", "token")
    with oauth2(provider, secret=None) as client:
        device = client.device_authorization()
        assert client.poll_device(device, wait=lambda s: None).access_token


@quirk("TWITCH_DEVICE_SCOPES")
def test_twitch_device_scopes_parameter() -> None:
    provider = Provider("twitch")

    def needs_scopes(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path == "/oauth2/device" and "scopes" not in form_of(request):
            return httpx2.Response(400, json={"status": 400, "message": "missing scopes"})
        return None

    provider.check = needs_scopes
    with oauth2(provider, secret=None, hooks=without("twitch", "TWITCH_DEVICE_SCOPES")) as c:
        with pytest.raises(InvalidRequest, match="missing scopes"):
            c.device_authorization()
    with oauth2(provider.answer("device"), secret=None) as client:
        device = client.device_authorization()
    assert device.user_code == "ABCDEFGH"
    assert form_of(provider.requests[-1]) == {"client_id": "cid", "scopes": "user:read:email"}
    with oauth2(provider.answer("token"), secret=None) as client:  # the poll, as Twitch's CLI
        client.poll_device(device, wait=lambda s: None)
    poll = form_of(provider.requests[-1])
    assert poll["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert poll["scopes"] == "user:read:email"
    assert "scope" not in poll


@quirk("STRAVA_EXPIRES_AT")
def test_strava_expires_at() -> None:
    provider = Provider("strava")
    expires_at = int(time.time()) + 3600
    provider.fixture["refresh_without_expires_in"]["json"]["expires_at"] = expires_at
    seed = Token("old", refresh_token="r0")
    with oauth2(provider, hooks=without("strava", "STRAVA_EXPIRES_AT")) as client:
        provider.answer("refresh_without_expires_in")
        assert client.refresh(seed).expires_at is None  # never refreshed in time
    with oauth2(provider.answer("refresh_without_expires_in")) as client:
        fresh = client.refresh(seed)
    assert fresh.expires_at is not None
    assert abs(fresh.expires_at.timestamp() - expires_at) < 5
    assert fresh.extra["expires_at"] == expires_at


@quirk("STRAVA_FAULT")
def test_strava_fault_errors() -> None:
    provider = Provider("strava").answer("error")
    with oauth2(provider, hooks=without("strava", "STRAVA_FAULT")) as client:
        with pytest.raises(InvalidResponse, match="without an OAuth error"):
            sign_in(client)
    with oauth2(provider.answer("error")) as client:
        with pytest.raises(InvalidGrant, match="AuthorizationCode code invalid"):
            sign_in(client)


def test_client_secret_post_for_providers_without_basic() -> None:
    """The preset chooses client_secret_post for providers that accept no HTTP Basic
    credentials (the client then sends them in the body)."""
    provider = Provider("strava")
    fault = {
        "message": "Authorization Error",
        "errors": [{"resource": "Application", "field": "client_id", "code": "invalid"}],
    }

    def body_credentials(request: httpx2.Request) -> httpx2.Response | None:
        if "client_secret" not in form_of(request):
            return httpx2.Response(401, json=fault)
        return None

    provider.check = body_credentials
    with oauth2(provider, auth_method="client_secret_basic") as client:
        with pytest.raises(InvalidClient):
            sign_in(client)  # what a client that ignored the preset would get
    with oauth2(provider.answer("token")) as client:
        assert sign_in(client).access_token == "a4b945687g"
    request = provider.requests[-1]
    assert "authorization" not in request.headers
    assert form_of(request)["client_id"] == "cid"
    assert form_of(request)["client_secret"] == "s3cret"


@quirk("EBAY_TOKEN_TYPE")
def test_ebay_token_type() -> None:
    provider = Provider("ebay").answer("token")
    with oauth2(provider, hooks=without("ebay", "EBAY_TOKEN_TYPE")) as client:
        with pytest.raises(InvalidResponse, match="User Access Token"):
            sign_in(client)
    with oauth2(provider.answer("token")) as client:
        token = sign_in(client)
    assert token.token_type == "Bearer"
    assert token.extra["ebay_token_type"] == "User Access Token"


@quirk("FACEBOOK_ERROR_OBJECT")
def test_facebook_error_object() -> None:
    provider = Provider("facebook").answer("error")
    with oauth2(provider, hooks=without("facebook", "FACEBOOK_ERROR_OBJECT")) as client:
        with pytest.raises(InvalidResponse):
            sign_in(client)
    with oauth2(provider.answer("error")) as client:
        with pytest.raises(InvalidGrant, match="authorization code has been used") as caught:
            sign_in(client)
    assert caught.value.response is not None


@quirk("FITBIT_ERRORS")
def test_fitbit_errors_list() -> None:
    provider = Provider("fitbit").answer("error")
    with oauth2(provider, hooks=without("fitbit", "FITBIT_ERRORS")) as client:
        with pytest.raises(InvalidResponse, match="without an OAuth error"):
            sign_in(client)
    with oauth2(provider.answer("error")) as client:
        with pytest.raises(InvalidGrant, match="Authorization code invalid"):
            sign_in(client)


@quirk("NOTION_JSON_BODY")
def test_notion_json_body() -> None:
    provider = Provider("notion")

    def json_only(request: httpx2.Request) -> httpx2.Response | None:
        if request.headers.get("content-type") != "application/json":
            return httpx2.Response(
                400, json={"error": "invalid_request", "error_description": "body failed"}
            )
        return None

    provider.check = json_only
    with oauth2(provider, hooks=without("notion", "NOTION_JSON_BODY")) as client:
        with pytest.raises(InvalidRequest):
            sign_in(client)
    with oauth2(provider.answer("token")) as client:
        token = sign_in(client)
    assert token.extra["workspace_name"] == "Acme"
    request = provider.requests[-1]
    body = json.loads(request.content)
    assert body["grant_type"] == "authorization_code"
    assert body["code"] == "c0de"
    assert request.headers["authorization"].startswith("Basic ")


@quirk("BEARER_WHEN_MISSING")
@pytest.mark.parametrize("name", ["linkedin", "atlassian"])
def test_token_type_missing(name: str) -> None:
    provider = Provider(name).answer("token")
    with oauth2(provider, hooks=without(name, "BEARER_WHEN_MISSING")) as client:
        with pytest.raises(InvalidResponse, match="without a token_type"):
            sign_in(client)
    with oauth2(provider.answer("token")) as client:
        assert sign_in(client).token_type == "Bearer"


@pytest.mark.anyio
async def test_async_clients_run_the_same_hooks() -> None:
    provider = Provider("twitch").answer("token", "error")
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(provider))
    async with AsyncOAuth2Client.from_preset(
        "twitch", "cid", "s3cret", redirect_uri=REDIRECT, http=http
    ) as client:
        request = await client.authorization_request()
        token = await client.exchange_code(request, f"{REDIRECT}?code=c&state={request.state}")
        assert token.scope == "channel:moderate chat:edit chat:read"
        request = await client.authorization_request()
        with pytest.raises(InvalidGrant):
            await client.exchange_code(request, f"{REDIRECT}?code=c&state={request.state}")
    await http.aclose()


def test_every_quirk_hook_has_its_own_test() -> None:
    hooks = all_hooks()
    assert set(hooks) == set(QUIRK_TESTS)
    for name, hook in hooks.items():
        assert hook.name == name
        assert hook.doc
        assert callable(globals()[QUIRK_TESTS[name]])
    used = {h.name for p in all_presets() for h in p.hooks}
    assert used == set(hooks)


def test_the_config_readers_index_says_what_the_presets_say() -> None:
    """``oauthkit.providers.index`` (read by the configuration, on the command's fast path)
    is plain data kept in step with the presets by this test."""
    from oauthkit.providers import _index
    from oauthkit.providers.index import INDEX

    derived = {
        key: (preset.name, preset.protocol, tuple(preset.placeholders()))
        for key, preset in _index().items()
    }
    assert derived == INDEX
