"""A real headless Chromium that plays a person using an example web app: logs in to the
app, goes through a provider's consent page, and reports what it saw. One :class:`Browser`
is one person (one cookie jar); tabs are windows of it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit

from cli.browser_user import CHROMIUM_FLAGS

#: How long one page may take to arrive, and one wait for a page to change.
PAGE_TIMEOUT = 30.0


class Browser:
    """Headless Chromium through chromedriver (Debian's, Selenium Manager off)."""

    def __init__(self, chromium: str, chromedriver: str) -> None:
        os.environ["SE_OFFLINE"] = "true"
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="oauthkit-web-browser-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        service = Service(executable_path=chromedriver, log_output=subprocess.DEVNULL)
        self.driver: Any = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(PAGE_TIMEOUT)
        self.driver.execute_cdp_cmd("Network.enable", {})

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- pages ----------------------------------------------------------------------------

    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    def text(self) -> str:
        return str(
            self.driver.execute_script("return document.body ? document.body.innerText : ''")
        )

    def json(self, url: str) -> Any:
        self.open(url)
        return json.loads(self.text())

    def error_cause(self) -> str | None:
        """The cause an error page of the app names (``id=cause``), or None."""
        found = self.driver.find_elements("css selector", "#cause")
        return str(found[0].text) if found else None

    def wait_for(self, what: str, check: Any, timeout: float = PAGE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):
                if check() and self.driver.execute_script("return document.readyState") == (
                    "complete"
                ):
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {what}; at {self.where()}")
            time.sleep(0.05)

    def where(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def submit(self, css: str) -> None:
        """Press ``css`` and wait until the browser has left the page."""
        marker = self.driver.execute_script(
            "window.__oauthkit_page = Math.random().toString(); return window.__oauthkit_page"
        )
        self.driver.find_element("css selector", css).click()

        def moved() -> bool:
            return self.driver.execute_script("return window.__oauthkit_page") != marker

        self.wait_for("the next page", moved)

    # -- the app --------------------------------------------------------------------------

    def app_login(self, base: str, user: str) -> None:
        self.open(base + "/")
        field = self.driver.find_element("css selector", "input[name=user]")
        field.clear()
        field.send_keys(user)
        self.submit("form[action='/app/login'] button")
        assert self.json(base + "/me")["user"] == user

    def me(self, base: str) -> dict[str, Any]:
        data: dict[str, Any] = self.json(base + "/me")
        return data

    # -- a provider's consent page --------------------------------------------------------

    def consent(self, login: str = "alice", *, deny: bool = False) -> None:
        """On the sandbox's page: type the user name, press Approve (or Deny)."""
        self.wait_for(
            "the consent page", lambda: self.driver.find_elements("css selector", "#user")
        )
        field = self.driver.find_element("css selector", "#user")
        field.clear()
        field.send_keys(login)
        self.submit(f"button[value={'deny' if deny else 'approve'}]")

    def connect(
        self,
        base: str,
        provider: str,
        login: str = "alice",
        path: str = "connect",
        consent: Any = None,
    ) -> None:
        """Begin at the app, consent at the provider (``consent()``, else the sandbox's page
        as ``login``), and arrive back at the app's ``/``."""
        self.open(f"{base}/{path}/{provider}")
        if consent is not None:
            consent()
        else:
            self.consent(login)
        self.wait_for("the app's page", lambda: self.url.startswith(base + "/"))
        assert self.error_cause() is None, self.error_cause()
        assert urlsplit(self.url).path == "/", self.where()

    def oidc_consent(self, base: str, login: str = "alice") -> None:
        """oidc-provider's development pages: log in (any password) and consent, as often as
        it asks, until the browser is back at the app (a remembered session asks nothing)."""
        deadline = time.monotonic() + PAGE_TIMEOUT
        while not self.url.startswith(base + "/"):
            if time.monotonic() > deadline:
                raise AssertionError(f"stuck at {self.where()}")
            prompt = self.driver.find_elements("css selector", "form input[name=prompt]")
            if not prompt:
                time.sleep(0.05)
                continue
            if prompt[0].get_attribute("value") == "login":
                for name, value in (("login", login), ("password", "password")):
                    field = self.driver.find_element("css selector", f"input[name={name}]")
                    field.clear()
                    field.send_keys(value)
            self.submit("form button[type=submit]")

    def oauth1_peer_consent(self) -> None:
        """The OAuth 1.0a test peers' authorization page: approve through its query switch."""
        self.wait_for("the authorization page", lambda: "oauth_token=" in self.url)
        self.open(self.url + "&user_action=approve")

    # -- the network ----------------------------------------------------------------------

    def block(self, *patterns: str) -> None:
        """Make the browser fail requests to URLs matching ``patterns`` (``*`` wildcards)."""
        self.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(patterns)})

    def requested(self, prefix: str) -> list[str]:
        """Every URL starting with ``prefix`` the browser asked for since the last call."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if url.startswith(prefix):
                    urls.append(url)
        return urls

    def stopped_callback(self, base: str, begin: str, login: str = "alice") -> str:
        """Begin at ``begin`` in this browser, then approve the sandbox's consent page from
        outside it (its form posted over HTTP, the redirect not followed): the callback URL,
        still unused, with this browser holding the flow's cookie."""
        import httpx2

        self.open(base + begin)
        self.wait_for(
            "the consent page", lambda: self.driver.find_elements("css selector", "#user")
        )
        action, csrf = self.driver.execute_script(
            "const f = document.querySelector('form');"
            "return [new URL(f.getAttribute('action'), location.href).href,"
            " f.querySelector('[name=csrf_token]').value];"
        )
        answer = httpx2.post(
            action,
            data={"csrf_token": csrf, "user": login, "action": "approve"},
            headers={"Origin": f"{urlsplit(action).scheme}://{urlsplit(action).netloc}"},
        )
        assert answer.status_code in (302, 303), answer.status_code
        location = answer.headers["location"]
        assert location.startswith(base + "/callback/"), location
        return str(location)
