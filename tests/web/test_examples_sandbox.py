"""The example apps, each on its production server with 4 workers and the sandbox, used by a
real browser: connect and sign in (OAuth 2 and OAuth 1.0a), several tabs, and every attack
the web flow must stop. With 4 workers, a begin and its callback land on different
processes most of the time, so state kept in a process would fail here. What each framework
translates runs on every example (OAuth 2); the checks the routes make, and OAuth 1.0a, on
one (the same code in every adapter)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2
import pytest

from web.browser import Browser
from web.conftest import EVERY_EXAMPLE, ONE_EXAMPLE, SANDBOX_EXAMPLES, RunningApp, start_example

PROVIDERS = ["sandbox", "sandbox1"]  # OAuth 2, OAuth 1.0a
#: What the sandbox's protected resource calls the user: OAuth 2 ``sub``, OAuth 1.0a ``user``.
WHO = {"sandbox": "sub", "sandbox1": "user"}


def _user() -> str:
    return "u" + secrets.token_hex(4)


@pytest.mark.parametrize(
    ("example", "provider"),
    [*((name, "sandbox") for name in SANDBOX_EXAMPLES), ("flask", "sandbox1")],
    indirect=["example"],
)
def test_connect_and_call_the_api_20_times(
    example: RunningApp, browser: Browser, provider: str
) -> None:
    user = _user()
    browser.app_login(example.base, user)
    for i in range(20):
        login = f"alice{i}"
        browser.connect(example.base, provider, login)
        assert browser.me(example.base) == {"user": user, "connected": [provider]}
        # The API answers as the provider user of the latest connect: the token saved by
        # whichever worker took the callback is the one every worker uses now.
        assert browser.json(f"{example.base}/api/{provider}/me")[WHO[provider]] == login


@pytest.mark.parametrize(
    ("example", "provider"),
    [*((name, "sandbox") for name in SANDBOX_EXAMPLES), ("flask", "sandbox1")],
    indirect=["example"],
)
def test_sign_in_with_the_provider(example: RunningApp, browser: Browser, provider: str) -> None:
    login = "carol" + secrets.token_hex(3)
    browser.connect(example.base, provider, login, path="signin")
    assert browser.me(example.base) == {"user": f"{provider}:{login}", "connected": [provider]}
    assert browser.json(f"{example.base}/api/{provider}/me")[WHO[provider]] == login


@ONE_EXAMPLE
def test_two_tabs_completed_in_reverse_order(example: RunningApp, browser: Browser) -> None:
    browser.app_login(example.base, _user())
    first = browser.driver.current_window_handle
    browser.open(f"{example.base}/connect/sandbox")
    browser.driver.switch_to.new_window("tab")
    second = browser.driver.current_window_handle
    browser.open(f"{example.base}/connect/sandbox1")
    browser.consent("bob")  # the later flow completes first
    browser.wait_for("the app", lambda: urlsplit(browser.url).path == "/")
    assert browser.error_cause() is None
    browser.driver.switch_to.window(first)
    browser.consent("alice")
    browser.wait_for("the app", lambda: urlsplit(browser.url).path == "/")
    assert browser.error_cause() is None, browser.error_cause()
    assert sorted(browser.me(example.base)["connected"]) == ["sandbox", "sandbox1"]
    assert browser.json(f"{example.base}/api/sandbox/me")["sub"] == "alice"
    assert browser.json(f"{example.base}/api/sandbox1/me")["user"] == "bob"
    browser.driver.switch_to.window(second)


@ONE_EXAMPLE
@pytest.mark.parametrize("provider", PROVIDERS)
def test_tampered_replayed_and_unbound_callbacks_are_refused(
    example: RunningApp, browsers: Callable[[], Browser], provider: str
) -> None:
    alice, other = browsers(), browsers()
    alice.app_login(example.base, _user())
    callback = alice.stopped_callback(example.base, f"/connect/{provider}")
    field = "state" if provider == "sandbox" else "oauth_token"

    # The same callback in another browser (no binding cookie): refused, and the flow is used
    # up — its record was taken.
    other.app_login(example.base, _user())
    other.open(callback)
    assert (other.error_cause() or "").startswith("BrowserMismatch"), other.error_cause()
    assert other.me(example.base)["connected"] == []

    # A fresh flow: a tampered state finds nothing, and leaves the genuine flow intact.
    callback = alice.stopped_callback(example.base, f"/connect/{provider}")
    params = dict(parse_qsl(urlsplit(callback).query))
    tampered = {
        **params,
        field: params[field][:-2] + ("AA" if params[field][-2:] != "AA" else "BB"),
    }
    alice.open(callback.split("?")[0] + "?" + urlencode(tampered))
    assert (alice.error_cause() or "").startswith(("FlowNotFound", "TokenMismatch")), (
        alice.error_cause()
    )
    alice.open(callback)
    assert alice.error_cause() is None, alice.error_cause()
    assert alice.me(example.base)["connected"] == [provider]

    # The genuine callback again: a replay finds nothing.
    alice.open(callback)
    assert (alice.error_cause() or "").startswith("FlowNotFound"), alice.error_cause()


@ONE_EXAMPLE
@pytest.mark.parametrize("provider", PROVIDERS)
def test_login_csrf_is_refused(
    example: RunningApp, browsers: Callable[[], Browser], provider: str
) -> None:
    """The attacker signs in at the provider as themself, stops before the callback, and
    gets the victim's browser to open it: refused, and the victim is neither signed in as
    the attacker nor connected to the attacker's account."""
    attacker, victim = browsers(), browsers()
    for begin in (f"/signin/{provider}", f"/connect/{provider}"):
        attacker.app_login(example.base, "mallory")
        trap = attacker.stopped_callback(example.base, begin, login="mallory")
        victim_user = _user()
        victim.app_login(example.base, victim_user)
        victim.open(trap)
        assert (victim.error_cause() or "").startswith("BrowserMismatch"), victim.error_cause()
        assert victim.me(example.base) == {"user": victim_user, "connected": []}


@ONE_EXAMPLE
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_denied_authorization_is_shown_and_used_up(
    example: RunningApp, browser: Browser, provider: str
) -> None:
    browser.app_login(example.base, _user())
    browser.requested("")
    browser.open(f"{example.base}/connect/{provider}")
    browser.consent(deny=True)
    browser.wait_for("the app", lambda: browser.url.startswith(example.base))
    assert (browser.error_cause() or "").startswith("AuthorizationDenied"), browser.error_cause()
    (callback,) = browser.requested(example.base + "/callback/")
    browser.open(callback)
    assert (browser.error_cause() or "").startswith("FlowNotFound"), browser.error_cause()
    assert browser.me(example.base)["connected"] == []


@EVERY_EXAMPLE
def test_disconnect_forgets_and_an_unsafe_return_path_is_refused(
    example: RunningApp, browser: Browser
) -> None:
    browser.app_login(example.base, _user())
    browser.connect(example.base, "sandbox")
    browser.open(f"{example.base}/connect/sandbox?next=//evil.example/")
    assert (browser.error_cause() or "").startswith("UnsafeReturnPath"), browser.error_cause()
    browser.open(example.base + "/")
    browser.driver.execute_script(
        "const f = document.createElement('form'); f.method = 'post';"
        "f.action = '/disconnect/sandbox'; document.body.appendChild(f); f.submit();"
    )
    browser.wait_for("the app", lambda: browser.url == example.base + "/")
    assert browser.me(example.base)["connected"] == []
    status = browser.json(f"{example.base}/api/sandbox/me")
    assert status["error"] == "sign_in_required"


def _approve_over_http(page_url: str, login: str = "alice") -> str:
    """The sandbox's consent form, posted without a browser: the callback URL."""
    import html
    import re

    page = httpx2.get(page_url)
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    action = re.search(r'<form method="post" action="([^"]*)"', page.text)
    assert csrf and action, page.text[:300]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page_url))
    answer = httpx2.post(
        origin + html.unescape(action.group(1)),
        data={"csrf_token": html.unescape(csrf.group(1)), "user": login, "action": "approve"},
        headers={"Origin": origin},
    )
    return str(answer.headers["location"])


@EVERY_EXAMPLE
def test_callback_responses_are_neither_cached_nor_referred(example: RunningApp) -> None:
    with httpx2.Client(base_url=example.base) as http:
        http.post("/app/login", data={"user": _user()})
        begin = http.get("/connect/sandbox")
        assert begin.status_code == 302
        assert "HttpOnly" in begin.headers["set-cookie"]
        callback = _approve_over_http(begin.headers["location"])
        done = http.get(callback)
        assert done.status_code == 303
        refused = http.get(callback)  # replayed
        assert refused.status_code == 400
        assert "FlowNotFound" in refused.text
        for answer in (begin, done, refused):
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in refused.headers["content-security-policy"]
        assert http.get("/me").json()["connected"] == ["sandbox"]


@pytest.mark.parametrize("name", ["fastapi"])
def test_an_expired_sign_in_is_refused(
    name: str, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Sign-ins that wait 2 s here ([web] pending_seconds in the configuration): a callback
    after that finds nothing, in a browser that still holds the flow's cookie or not."""
    app = start_example(
        name, tmp_path_factory.mktemp(f"expiry-{name}"), args=("--pending-seconds", "2")
    )
    try:
        browser.app_login(app.base, _user())
        callback = browser.stopped_callback(app.base, "/connect/sandbox")
        time.sleep(2.5)
        browser.open(callback)
        assert (browser.error_cause() or "").startswith(("FlowNotFound", "FlowExpired")), (
            browser.error_cause()
        )
        assert browser.me(app.base)["connected"] == []
        browser.connect(app.base, "sandbox")  # a prompt sign-in still works
        assert browser.me(app.base)["connected"] == ["sandbox"]
    finally:
        app.stop()
