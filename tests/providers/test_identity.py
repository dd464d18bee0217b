"""Who signed in, for every preset: two different accounts that share a display name, a login
or an e-mail address stay two app users. Each preset's sign-in runs through the real web flow
against a loopback server that answers like the provider (its recorded token answer, its
documented who-am-I or userinfo answer from tests/providers/fixtures); only the account id
differs between the two users (for Slack, the workspace)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest

from oauthkit import OAuth1Client, OAuth1Credentials, OAuth2Client, Token
from oauthkit.errors import ConfigurationError, IdentityError
from oauthkit.providers import get
from oauthkit.providers.identity import Identity, WhoAmI, find
from oauthkit.stores import MemoryStore
from oauthkit.web import WebFlow, WebProvider

FIXTURES = Path(__file__).parent / "fixtures"
APP = "http://127.0.0.1:5000"

#: The app user each preset's first account becomes: "{provider}:{immutable id}" — never
#: a login, a display name or an e-mail.
EXPECTED = {
    "atlassian": "112233aa-bb11-cc22-33dd-445566abcabc",
    "auth0": "auth0|507f1f77bcf86cd799439020",
    "box": "33333",
    "discord": "80351110224678912",
    "dropbox": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
    "ebay": "ab1c2d3e4f5",
    "etsy": "456789",
    "facebook": "10224661238123456",
    "fitbit": "2ABC3D",
    "flickr": "21207597@N07",
    "garmin": "4aacafe82427c251df9c9592d0c06768",
    "github": "1",
    "gitlab": "1",
    "google": "110169484474386276334",
    "keycloak": "f3b1c1e2-6d3a-4c1e-9a7b-2b1c3d4e5f60",
    "linkedin": "782bbtaQ",
    "microsoft": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
    "notion": "5389a034-eb5c-47b5-8a9e-f79c99ef166c",
    "oidc": "248289761001",
    "okta": "00uid4BxXw6I6TV4m0g3",
    "reddit": "abc12",
    "salesforce": "https://login.salesforce.com/id/00Dx0000000BV7zEAG/005x00000012Q9PAAU",
    "slack": "E12345678:W12345678",
    "spotify": "wizzler",
    "strava": "1234567890987654321",
    "trello": "5abbe4b7ddc1b351ef961414",
    "tumblr": "t:0aY0xL2Fi1OFJg4YxpmegQ",
    "twitch": "141981764",
    "x": "2244994945",
    "x-oauth1": "6253282",
    "xero": "b0fb51d4aa3c5a8c9d1e2f3a4b5c6d7e",
    "zoom": "q6gBJVO5TzexKYTb_I2rpg:zJKyaiAyTNC-MWjiWC18KQ",  # account, user
}
#: Presets whose identity is OpenID Connect claims (userinfo), and the claim that is the id.
CLAIMS = {"google", "linkedin", "gitlab", "salesforce", "xero", "okta", "auth0", "keycloak", "oidc"}
#: Presets whose OAuth 1.0a access-token answer names the account (no who-am-I request).
OAUTH1_ANSWER = {"x-oauth1": "user_id", "flickr": "user_nsid"}


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _set(document: Any, path: str, value: Any) -> None:
    """Set the value at ``path`` (the syntax of :func:`find`)."""
    *head, last = path.split(".")
    parent = find(document, ".".join(head)) if head else document
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value


def _claims(name: str) -> dict[str, Any]:
    """The userinfo answer of a claims preset (GitLab's from its /user answer)."""
    fixture = load(name)
    if "userinfo" in fixture:
        return dict(fixture["userinfo"]["json"])
    if name == "gitlab":
        user = fixture["whoami"]["json"]
        return {"sub": str(user["id"]), "name": user["name"], "nickname": user["username"],
                "email": user["email"]}  # fmt: skip
    return dict(fixture["whoami"]["json"])


def _answer(name: str, user: str) -> dict[str, Any]:
    """The who-am-I (or userinfo) answer for ``user``: "one" is the recorded answer; "two"
    the same names and e-mail under another account id (Slack: another workspace)."""
    preset = get(name)
    document = copy.deepcopy(_claims(name) if name in CLAIMS else load(name)["whoami"]["json"])
    if user == "two":
        if name in CLAIMS:
            document["sub"] = document["sub"] + "-2"
        elif name == "slack":
            document["enterprise_id"] = "E99999999"
        else:
            assert preset.whoami is not None
            _set(document, preset.whoami.id, f"{find(document, preset.whoami.id)}2")
    return document


class _Provider(ThreadingHTTPServer):
    name: str
    tokens: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: _Provider

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, media: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", f"tracker={self.path.split('?')[0].strip('/')}; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, document: Any) -> None:
        self._send(200, json.dumps(document).encode(), "application/json")

    def do_POST(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        name, path = self.server.name, urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        is_json = self.headers.get("Content-Type", "").startswith("application/json")
        form = json.loads(body) if is_json else dict(parse_qsl(body))
        fixture = load(name)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if path == "/.well-known/openid-configuration":
            endpoints = ("authorization", "token", "userinfo")
            self._json({"issuer": base} | {f"{e}_endpoint": f"{base}/{e}" for e in endpoints})
            return
        if path == "/token":
            user = form["code"]
            answer = copy.deepcopy(fixture["token"])
            self._token_answer(answer, user)
            return
        if path == "/request_token":
            self._send(200, fixture["request_token"]["body"].encode(), "text/plain")
            return
        if path == "/access_token":
            header = self.headers.get("Authorization", "")
            user = next(p.split('"')[1] for p in header.split(",") if "oauth_verifier" in p)
            fields = dict(parse_qsl(fixture["access_token"]["body"]))
            fields["oauth_token"] = f"token-{user}"
            if name in OAUTH1_ANSWER and user == "two":
                fields[OAUTH1_ANSWER[name]] += "2"
            self.server.tokens[f"token-{user}"] = user
            self._send(200, urlencode(fields).encode(), "application/x-www-form-urlencoded")
            return
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("oauth "):
            token = next(p.split('"')[1] for p in header.split(",") if "oauth_token=" in p)
        else:
            token = header.split(" ", 1)[-1]
        user = self.server.tokens.get(token)
        if user is None:
            self._send(401, b'{"error": "invalid_token"}', "application/json")
            return
        self._json(_answer(name, user))

    def _token_answer(self, entry: dict[str, Any], user: str) -> None:
        def rewrite(document: Any) -> None:
            if isinstance(document, dict):
                document.pop("id_token", None)  # identities come from userinfo here
                for key, value in document.items():
                    if key == "access_token":
                        document[key] = f"{value}-{user}"
                        self.server.tokens[document[key]] = user
                    else:
                        rewrite(value)

        if "json" in entry:
            rewrite(entry["json"])
            self._json(entry["json"])
        else:
            fields = {k: v[0] for k, v in parse_qs(entry["body"]).items()}
            rewrite(fields)
            self._send(200, urlencode(fields).encode(), "application/x-www-form-urlencoded")


@pytest.fixture
def mimic(request: pytest.FixtureRequest) -> Iterator[_Provider]:
    server = _Provider(("127.0.0.1", 0), _Handler)
    server.tokens = {}
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _web_provider(name: str, base: str) -> WebProvider:
    """The preset's client and who-am-I, every endpoint moved to the loopback provider."""
    preset = get(name)
    options = load(name).get("options", {})
    if preset.protocol == "oauth1":
        client: Any = OAuth1Client.from_preset(
            name,
            "consumer",
            "consumer-secret",
            request_token_url=f"{base}/request_token",
            authorize_url=f"{base}/authorize",
            access_token_url=f"{base}/access_token",
        )
    else:
        endpoints = {
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
        }
        if name in CLAIMS:
            endpoints["userinfo_endpoint"] = f"{base}/userinfo"
        # No issuer and no openid scope: no ID token to check, so the identity is asked for
        # (ID tokens are the first source, tested against oidc-provider in tests/web).
        scope = " ".join(s for s in (preset.scope or "").split() if s != "openid") or None
        if "issuer" in preset.placeholders():  # the issuer itself is the option: ours
            settings = {**options, "issuer": base, "scope": scope}
        else:
            settings = {**options, "issuer": None, "scope": scope, **endpoints}
        client = OAuth2Client.from_preset(name, "client", "secret", **settings)
    provider = WebProvider.of(name, client)
    whoami = provider.whoami
    if whoami is not None and "://" in whoami.url:
        whoami = replace(whoami, url=f"{base}/whoami")
    return replace(provider, api_base=f"{base}/api/", whoami=whoami)


def _sign_in(flow: WebFlow, name: str, user: str) -> Any:
    begun = flow.begin(name, request_url=APP + "/signin", user=None)
    if get(name).protocol == "oauth1":
        query = parse_qs(urlsplit(begun.url).query)
        params = {"oauth_token": query["oauth_token"][0], "oauth_verifier": user}
    else:
        params = {"code": user, "state": parse_qs(urlsplit(begun.url).query)["state"][0]}
    return flow.complete(
        name,
        request_url=f"{APP}/callback/{name}",
        params=params,
        cookies={begun.cookie.name: begun.cookie.value},
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_two_accounts_with_the_same_name_stay_two_users(name: str, mimic: _Provider) -> None:
    mimic.name = name
    base = f"http://127.0.0.1:{mimic.server_address[1]}"
    store = MemoryStore()
    flow = WebFlow({name: _web_provider(name, base)}, store)
    one = _sign_in(flow, name, "one")
    two = _sign_in(flow, name, "two")
    assert one.user == f"{name}:{EXPECTED[name]}"
    assert two.user != one.user
    assert isinstance(one.identity, Identity) and one.identity.id == EXPECTED[name]
    # both tokens kept, each under its own user: the second did not overwrite the first
    first, second = store.get(one.key), store.get(two.key)
    assert first is not None and second is not None and first != second
    # what is shown is the same for both (that is the point): names and e-mails never key
    assert (one.identity.name, one.identity.email) == (two.identity.name, two.identity.email)  # type: ignore[union-attr]


def test_the_provider_clients_keep_no_cookies(mimic: _Provider) -> None:
    """The provider sets a cookie on every answer (as a load balancer or a CDN does): none
    is kept, so none travels with the next user's token request or API call (CWE-488)."""
    mimic.name = "github"
    base = f"http://127.0.0.1:{mimic.server_address[1]}"
    provider = _web_provider("github", base)
    flow = WebFlow({"github": provider}, MemoryStore())
    _sign_in(flow, "github", "one")
    _sign_in(flow, "github", "two")
    assert len(provider.client.http.cookies) == 0
    assert flow.api("github", "github:1", "user").status_code == 200
    assert flow._http is not None and len(flow._http.cookies) == 0


def test_an_answer_without_its_id_is_refused_not_named(mimic: _Provider) -> None:
    whoami = WhoAmI("user", "id", name=("name", "login"), email="email")
    with pytest.raises(IdentityError, match="immutable account id"):
        whoami.identity({"login": "octocat", "name": "The Octocat", "email": "o@example.com"})
    with pytest.raises(IdentityError):
        Identity.from_claims({"email": "o@example.com", "name": "O"})
    with pytest.raises(IdentityError, match="scope"):
        get("slack").whoami.identity({"user_id": "U1", "user": "bob"})  # type: ignore[union-attr]
    with pytest.raises(IdentityError, match="too long"):
        whoami.identity({"id": "x" * 300})


def test_an_unverified_email_is_not_offered_for_linking() -> None:
    github = get("github").whoami
    assert github is not None
    shown = github.identity({"id": 1, "login": "octocat", "email": "o@example.com"})
    assert (shown.email, shown.email_verified, shown.verified_email) == (
        "o@example.com",
        False,
        None,
    )
    google = Identity.from_claims({"sub": "1", "email": "a@example.com", "email_verified": True})
    assert google.verified_email == "a@example.com"
    unverified = Identity.from_claims(
        {"sub": "1", "email": "a@example.com", "email_verified": False}
    )
    assert unverified.verified_email is None


def test_a_provider_that_cannot_say_who_signed_in_is_a_configuration_error(
    mimic: _Provider,
) -> None:
    mimic.name = "github"
    base = f"http://127.0.0.1:{mimic.server_address[1]}"
    provider = replace(_web_provider("github", base), whoami=None)
    flow = WebFlow({"github": provider}, MemoryStore())
    with pytest.raises(ConfigurationError, match="immutable account id"):
        _sign_in(flow, "github", "one")


def test_connecting_needs_no_identity_request(mimic: _Provider) -> None:
    """A connect flow (the app knows its user) asks the provider nothing more."""
    mimic.name = "github"
    base = f"http://127.0.0.1:{mimic.server_address[1]}"
    flow = WebFlow({"github": _web_provider("github", base)}, MemoryStore())
    begun = flow.begin("github", request_url=APP + "/connect", user="42")
    state = parse_qs(urlsplit(begun.url).query)["state"][0]
    done = flow.complete(
        "github",
        request_url=f"{APP}/callback/github",
        params={"code": "one", "state": state},
        cookies={begun.cookie.name: begun.cookie.value},
    )
    assert (done.user, done.identity) == ("42", None)
    assert isinstance(done.token, Token | OAuth1Credentials)
