#!/bin/sh
"exec" "${OAUTHKIT_TEST_PYTHON:-python3}" "$0" "$@"  # fmt: skip
# The line above is both shell and Python: run as a program, /bin/sh re-executes this file
# with $OAUTHKIT_TEST_PYTHON (the test suite's interpreter, which has selenium); for Python
# it is a harmless string expression.
#
# A real-browser "user" for the CLI's end-to-end tests.
#
#   browser_user.py URL
#
# Starts headless Chromium (Debian's `chromium` + `chromium-driver`, driven by selenium with
# /usr/bin/chromedriver and Selenium Manager off), opens URL and plays the user:
#
# * oidc-provider's devInteractions pages: logs in (any login, any password) and consents,
#   or presses "[ Cancel ]" (the abort link) with BROWSER_USER_ACTION=deny;
# * oidc-provider's device pages (/device): types BROWSER_USER_CODE (or keeps the code that
#   verification_uri_complete filled in), confirms ("[ Abort ]" when denying), then login and
#   consent as above; done at the "Sign-in Success" page (or, denying, at "interrupted").
#   Any other page with a visible `user_code` field (the sandbox's /device) likewise;
# * a generic consent page (the oauthkit sandbox's): types the login into its user name
#   field and presses the button whose text or value is "Approve" (or "Deny"); a page that
#   then says the device is connected / approved / successful (or has id="done") ends it;
# * an OAuth 1.0a page that shows a PIN in <code id="verifier"> or <code id="pin">: writes
#   it to the file BROWSER_PIN_FILE and stops.
#
# An authorization ends when the browser has navigated to a loopback URL (127.0.0.0/8,
# [::1], localhost) on another origin than the pages it acted on (the CLI's redirect
# server), and that page has loaded.  Then Chromium is quit and the exit code is 0.
# Anything unexpected (an error page, an unknown page that does not move on, a loopback
# page that does not load) is exit code 1, after a log line saying what and where.
#
# Environment:
#   BROWSER_USER_LOGIN      login name to type (default "alice"; any password is typed)
#   BROWSER_USER_ACTION     "approve" (default) or "deny"
#   BROWSER_USER_CODE       the device flow's user code, typed at /device
#   BROWSER_PIN_FILE        where to write an OAuth 1.0a PIN (written atomically)
#   BROWSER_LOG             append the step log here too (besides stderr)
#   BROWSER_SCREENSHOT_DIR  a PNG per step here (NN-step.png)
#   BROWSER_CHROMIUM        browser binary (default /usr/bin/chromium)
#   BROWSER_CHROMEDRIVER    driver binary (default /usr/bin/chromedriver)
#   BROWSER_TRUST_SPKI      base64 SHA-256 of a test server certificate's public key: that
#                           certificate is trusted (an https peer signed by the test CA)
#
# The log shows scheme, host, port and path of each page, never a query string or fragment
# (they carry codes and tokens), nor the user code or the PIN.  The whole run is bounded by
# HARD_TIMEOUT seconds.

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

HARD_TIMEOUT = 60
PAGE_TIMEOUT = 20  # one page load, or one navigation after a click
SETTLE_TIMEOUT = 5  # an unknown page gets this long to move on by itself (form_post, refresh)
MAX_STEPS = 30

DEFAULT_CHROMIUM = "/usr/bin/chromium"
DEFAULT_CHROMEDRIVER = "/usr/bin/chromedriver"

#: Headless Chromium as root in a container without a display, D-Bus or network: nothing
#: of its own goes out, and every host name but the loopback ones fails at once (the
#: oidc-provider pages @import a web font from the internet).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--window-size=1024,768",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1 , EXCLUDE ::1",
)

APPROVE_WORDS = ("approve", "allow", "authorize", "authorise", "accept")
DENY_WORDS = ("deny", "decline", "reject", "cancel", "abort")
#: A page that ends a flow without a redirect (oidc-provider: "Sign-in Success"; the
#: sandbox: "Device connected", with ``id="done"``).
DONE_RE = re.compile(
    r"sign-in success|successful|\bapproved\b|\bconnected\b|you can (?:now )?close",
    re.IGNORECASE,
)
#: A page that says something went wrong (oidc-provider: "oops! something went wrong").
ERROR_PAGE_RE = re.compile(
    r"oops|something went wrong|\berror\b|cannot be completed|expired", re.IGNORECASE
)
USER_FIELD_RE = re.compile(r"user|login|name|email", re.IGNORECASE)


class Failure(Exception):
    """The user cannot go on: the message says why (no query strings in it)."""


class HardTimeout(BaseException):
    """HARD_TIMEOUT elapsed, or SIGTERM/SIGINT came (a BaseException, so no library
    swallows it): stop Chromium without talking to the driver."""


def where(url: str) -> str:
    """``scheme://host:port/path`` of ``url``: never its query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else parts.path


def scrub(text: str) -> str:
    """``text`` on one line, with anything that looks like a query string or fragment cut."""
    return re.sub(r"[?#][^\s'\"]*", "?...", " ".join(text.split()))


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, parts.hostname or "", parts.port)


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


#: chromedriver's words for "that element or script belonged to a document that is gone".
NAVIGATED_AWAY_RE = re.compile(
    r"does not belong to the document|document unloaded|stale element|node is detached"
    r"|execution context was destroyed",
    re.IGNORECASE,
)


def navigated_away(exc: BaseException) -> bool:
    """Whether a selenium error only says the document changed under the command."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    if isinstance(exc, StaleElementReferenceException):
        return True
    return isinstance(exc, WebDriverException) and bool(NAVIGATED_AWAY_RE.search(str(exc)))


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class Log:
    """Step lines on stderr and, if BROWSER_LOG is set (and is not stderr already), there."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.path = os.environ.get("BROWSER_LOG") or None
        self.copy = self.path is not None and not _same_file(2, self.path)
        self.shots = os.environ.get("BROWSER_SCREENSHOT_DIR") or None
        self.count = 0

    def __call__(self, message: str) -> None:
        line = f"browser_user[{os.getpid()}] +{time.monotonic() - self.started:5.2f}s {message}"
        with contextlib.suppress(OSError, ValueError):
            print(line, file=sys.stderr, flush=True)
        if self.copy and self.path:
            with contextlib.suppress(OSError), open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def screenshot(self, driver: Any, step: str) -> None:
        if not self.shots:
            return
        self.count += 1
        name = f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        try:
            Path(self.shots).mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(Path(self.shots) / name))
        except Exception as exc:
            self(f"screenshot {name} failed: {type(exc).__name__}")


class User:
    """Plays the user in one Chromium until the flow ends; :meth:`run` returns the exit code."""

    def __init__(self, url: str, log: Log) -> None:
        self.url = url
        self.log = log
        self.login = os.environ.get("BROWSER_USER_LOGIN") or "alice"
        self.password = "password"
        action = (os.environ.get("BROWSER_USER_ACTION") or "approve").strip().lower()
        if action not in ("approve", "deny"):
            raise Failure(f"BROWSER_USER_ACTION must be approve or deny, not {action!r}")
        self.deny = action == "deny"
        self.user_code = os.environ.get("BROWSER_USER_CODE") or None
        self.pin_file = os.environ.get("BROWSER_PIN_FILE") or None
        self.driver: Any = None
        self.profile: str | None = None
        self.acted_on: set[tuple[str, str, int | None]] = {origin(url)}
        self.denied = False  # pressed a deny/abort control
        self.code_submitted = False
        self.finished: int | None = None  # set by a handler that recognised the end

    # -- the browser -----------------------------------------------------------------------

    def start(self) -> None:
        os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium = os.environ.get("BROWSER_CHROMIUM") or DEFAULT_CHROMIUM
        chromedriver = os.environ.get("BROWSER_CHROMEDRIVER") or DEFAULT_CHROMEDRIVER
        self.profile = tempfile.mkdtemp(prefix="oauthkit-browser-user-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        if os.environ.get("BROWSER_TRUST_SPKI"):
            spki = os.environ["BROWSER_TRUST_SPKI"]
            options.add_argument(f"--ignore-certificate-errors-spki-list={spki}")
        options.page_load_strategy = "normal"
        # An explicit driver path is what keeps Selenium Manager from running at all.
        service = Service(executable_path=chromedriver, log_output=subprocess.DEVNULL)
        started = time.monotonic()
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(PAGE_TIMEOUT)
        self.driver.set_script_timeout(PAGE_TIMEOUT)
        self.log(f"chromium started in {time.monotonic() - started:.2f}s ({chromium})")

    def quit(self) -> None:
        driver, self.driver = self.driver, None
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.quit()
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def abandon(self) -> None:
        """Stop chromedriver and Chromium without asking the driver (it may be stuck in a
        command): SIGTERM to our own process group, this process excepted."""
        driver, self.driver = self.driver, None
        process = getattr(getattr(driver, "service", None), "process", None)
        if os.getpgrp() == os.getpid():
            previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
            with contextlib.suppress(OSError):
                os.killpg(os.getpgrp(), signal.SIGTERM)
            signal.signal(signal.SIGTERM, previous)
        elif process is not None:
            process.terminate()
        if process is not None:
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
        if self.profile is not None:
            time.sleep(0.5)  # let Chromium's children go before their profile does
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # -- page helpers ----------------------------------------------------------------------

    def find(self, css: str, within: Any = None) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list((within or self.driver).find_elements(By.CSS_SELECTOR, css))

    def first(self, css: str, within: Any = None) -> Any:
        found = [e for e in self.find(css, within) if e.is_displayed()] or self.find(css, within)
        return found[0] if found else None

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def poll(self, timeout: float, what: str, check: Any) -> None:
        """Call ``check()`` every 50 ms until it is true, for at most ``timeout`` seconds.

        While a navigation is under way, chromedriver answers a script or element command
        with transient errors ("Node with given id does not belong to the document",
        "document unloaded while waiting for result", a stale element): they mean "not yet",
        never "failed", so they are retried until the deadline."""
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                if check():
                    return
            except WebDriverException as exc:
                last = f" (last: {type(exc).__name__})"
            if time.monotonic() >= deadline:
                raise Failure(f"{what}: not within {timeout:g}s{last}")
            time.sleep(0.05)

    def wait_loaded(self) -> None:
        self.poll(
            PAGE_TIMEOUT,
            "page load",
            lambda: self.js("return document.readyState") == "complete",
        )

    def mark_document(self) -> str:
        """Plant a random marker in the current document; :meth:`wait_new_document` knows
        the next document by its absence (element staleness is not reliable mid-navigation)."""
        marker = secrets.token_hex(8)
        self.js("window.__oauthkitUser = arguments[0];", marker)
        return marker

    def wait_new_document(self, marker: str, timeout: float, what: str) -> None:
        self.poll(
            timeout,
            f"{what}: the page did not change",
            lambda: self.js("return window.__oauthkitUser || null;") != marker,
        )

    def act(self, element: Any, step: str) -> None:
        """Click ``element`` (a submit button or a link) and wait for the next document."""
        here = self.driver.current_url
        self.acted_on.add(origin(here))
        marker = self.mark_document()
        self.log(f"{step} at {where(here)}")
        self.log.screenshot(self.driver, step)
        element.click()
        self.wait_new_document(marker, PAGE_TIMEOUT, step)

    def page_text(self) -> str:
        return str(self.js("return document.body ? document.body.innerText : ''") or "")

    def headline(self) -> str:
        h1 = self.first("h1")
        text = h1.text if h1 is not None else ""
        return scrub(f"{self.driver.title} | {text}")[:120]

    # -- the flow --------------------------------------------------------------------------

    def run(self) -> int:
        self.start()
        self.log(f"open {where(self.url)}")
        self.open(self.url)
        for _ in range(MAX_STEPS):
            self.wait_loaded()
            try:
                done = self.step(self.driver.current_url)
            except Exception as exc:
                if not navigated_away(exc):
                    raise
                # The page moved on by itself while it was being read (a self-submitting
                # form, a redirect by script): read the new one from the start.
                self.log(f"the page changed while it was read ({type(exc).__name__}); again")
                continue
            if done is not None:
                return done
        raise Failure(f"gave up after {MAX_STEPS} pages")

    def open(self, url: str) -> None:
        """``driver.get``; a navigation that ends on Chromium's error page raises (it
        does not when a click starts it): make that the same :class:`Failure`."""
        from selenium.common.exceptions import WebDriverException

        try:
            self.driver.get(url)
        except WebDriverException as exc:
            error = re.search(r"net::(ERR_\w+)", str(exc))
            if error is None:
                raise
            current = self.driver.current_url
            if is_loopback(current) and origin(current) not in self.acted_on:
                raise Failure(
                    f"the loopback redirect {where(current)} did not load ({error.group(1)})"
                ) from None
            raise Failure(f"{where(current)} did not load ({error.group(1)})") from None

    def load_error(self) -> str:
        """Chromium's error code (``ERR_CONNECTION_REFUSED``...) on its error page."""
        code = self.js("var e = document.querySelector('.error-code'); return e && e.textContent")
        return str(code or "error page").strip()

    def step(self, current: str) -> int | None:
        """Handle the page on screen: an exit code when the flow is over, else None."""
        document_url = str(self.js("return document.URL") or "")
        failed_load = document_url.startswith("chrome-error:")
        if is_loopback(current) and origin(current) not in self.acted_on:
            if failed_load:
                raise Failure(
                    f"the loopback redirect {where(current)} did not load ({self.load_error()})"
                )
            self.log(f"redirected to {where(current)}: loaded ({self.headline()!r})")
            self.log.screenshot(self.driver, "redirected")
            return 0
        if failed_load:
            raise Failure(f"{where(current)} did not load ({self.load_error()})")

        pin = self.first("code#verifier, code#pin")
        if pin is not None:
            return self.write_pin(pin.text.strip(), current)

        for handler in (
            self.oidc_interaction,
            self.device_confirm,
            self.device_input,
            self.approve_or_deny_buttons,
        ):
            if handler():
                return None
            if self.finished is not None:
                self.log.screenshot(self.driver, "done")
                return self.finished

        if self.denied:
            self.log(f"denied; ended at {where(current)} ({self.headline()!r})")
            self.log.screenshot(self.driver, "denied")
            return 0
        headline = self.headline()
        failed = self.first("h1.error, #error, .error")
        if failed is not None or ERROR_PAGE_RE.search(headline):
            detail = scrub(self.page_text())[:300]
            raise Failure(f"error page at {where(current)}: {detail!r}")
        if self.first("#done") is not None or DONE_RE.search(headline):
            self.log(f"done at {where(current)} ({headline!r})")
            self.log.screenshot(self.driver, "done")
            return 0
        # Perhaps a page that moves on by itself (oidc-provider's form_post for
        # verification_uri_complete, a meta refresh): give it a moment.
        self.log(f"waiting at {where(current)} ({headline!r})")
        self.wait_new_document(self.mark_document(), SETTLE_TIMEOUT, f"unknown page {headline!r}")
        return None

    def write_pin(self, pin: str, current: str) -> int:
        if not pin:
            raise Failure(f"empty PIN at {where(current)}")
        if not self.pin_file:
            raise Failure(f"a PIN is shown at {where(current)} but BROWSER_PIN_FILE is not set")
        target = Path(self.pin_file)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_text(pin + "\n", encoding="utf-8")
        partial.replace(target)
        self.log(f"PIN shown at {where(current)}: written to {target}")
        self.log.screenshot(self.driver, "pin")
        return 0

    # -- page handlers: True when they acted -------------------------------------------------

    def oidc_interaction(self) -> bool:
        """oidc-provider devInteractions: ``<input type=hidden name=prompt value=login|consent>``
        in the form, ``<a href=".../abort">[ Cancel ]</a>`` below it."""
        prompt = self.first("form input[type=hidden][name=prompt]")
        if prompt is None:
            return False
        kind = prompt.get_attribute("value")
        form = self.first("form")
        if self.deny:
            cancel = self.first("a[href$='/abort']")
            if cancel is None:
                raise Failure(f"no Cancel link on the {kind} page")
            self.denied = True
            self.act(cancel, f"cancel at the {kind} prompt")
            return True
        if kind == "login":
            login = self.first("input[name=login]", form)
            password = self.first("input[name=password]", form)
            if login is None or password is None:
                raise Failure("login page without login and password fields")
            login.clear()
            login.send_keys(self.login)
            password.clear()
            password.send_keys(self.password)
            self.act(self.submit_button(form), f"login as {self.login!r}")
            return True
        if kind == "consent":
            self.act(self.submit_button(form), "consent")
            return True
        raise Failure(f"unknown oidc-provider prompt {kind!r}")

    def submit_button(self, form: Any) -> Any:
        button = self.first("button[type=submit], input[type=submit]", form)
        if button is None:
            raise Failure("a form without a submit button")
        return button

    def device_confirm(self) -> bool:
        """``<form id="op.deviceConfirmForm">`` (hidden xsrf, user_code, confirm=yes) with
        the buttons outside it: ``<button form="op.deviceConfirmForm">Continue</button>`` and
        ``<button form=... name="abort" value="yes">[ Abort ]</button>``."""
        if self.first("form[id='op.deviceConfirmForm']") is None:
            return False
        if self.deny:
            button = self.first("button[form='op.deviceConfirmForm'][name=abort]")
            self.denied = True
            step = "abort the device confirmation"
        else:
            button = self.first("button[form='op.deviceConfirmForm']:not([name=abort])")
            step = "confirm the device"
        if button is None:
            raise Failure("device confirmation page without its buttons")
        self.act(button, step)
        return True

    def device_input(self) -> bool:
        """A visible ``input[name=user_code]``.  oidc-provider: in ``<form
        id="op.deviceInputForm">`` with the button ``<button form="op.deviceInputForm">
        Continue</button>`` outside the form, a refusal ("incorrect", "interrupted") in
        ``p.red``; the sandbox: ``<input id="user_code">`` and a submit button in its form,
        a refusal in ``p.error#error``."""
        field = self.first("input[name=user_code]:not([type=hidden])")
        if field is None:
            return False
        message = self.first("p.red, .error, #error")
        text = scrub(message.text) if message is not None else ""
        if self.code_submitted or self.denied:
            if self.denied and "interrupted" in text.lower():
                self.log(f"device sign-in aborted ({text!r})")
                self.finished = 0
                return False
            raise Failure(f"device page again after the code was entered: {text!r}")
        if self.user_code:
            field.clear()
            field.send_keys(self.user_code)
            step = "type the user code"
        elif field.get_attribute("value"):
            step = "keep the pre-filled user code"
        else:
            raise Failure("the device page asks for a user code: set BROWSER_USER_CODE")
        form = self.js("return arguments[0].form", field)
        form_id = form.get_attribute("id") if form is not None else None
        outside = self.first(f"button[form='{form_id}']") if form_id else None
        button = outside or (self.submit_button(form) if form is not None else None)
        if button is None:
            raise Failure("the device page has no button to send the code")
        self.act(button, step)
        self.code_submitted = True
        return True

    def approve_or_deny_buttons(self) -> bool:
        """A generic consent form (the oauthkit sandbox's): buttons or submit inputs whose
        text or value is "Approve" / "Deny" (or a synonym); empty text fields in the same form
        (a user name) get the login, password fields a password."""
        words = DENY_WORDS if self.deny else APPROVE_WORDS
        button = self.control(words)
        if button is None:
            return False
        form = self.js("return arguments[0].form || arguments[0].closest('form')", button)
        self.fill_fields(form)
        if self.deny:
            self.denied = True
        label = (button.text or button.get_attribute("value") or "").strip()
        self.act(button, f"press {label!r}")
        return True

    def control(self, words: tuple[str, ...]) -> Any:
        candidates = self.find("button, input[type=submit], input[type=button], a[href]")
        ranked: list[tuple[int, Any]] = []
        for element in candidates:
            if not element.is_displayed():
                continue
            label = element.text or element.get_attribute("value") or ""
            label = re.sub(r"[^a-z]+", " ", label.lower()).strip()
            if label in words:
                ranked.append((words.index(label), element))
        ranked.sort(key=lambda pair: pair[0])
        return ranked[0][1] if ranked else None

    def fill_fields(self, form: Any) -> None:
        """A user name field (name, id or autocomplete saying user/login/name/email) gets
        the login even when pre-filled; any other empty text field gets it too, an empty
        password field a password."""
        scope = form if form is not None else self.driver
        fields = self.find(
            "input:not([type]), input[type=text], input[type=email], input[type=password]",
            scope,
        )
        for field in fields:
            if not field.is_displayed() or not field.is_enabled():
                continue
            if field.get_attribute("readonly") is not None:
                continue
            secret = field.get_attribute("type") == "password"
            hints = " ".join(
                field.get_attribute(attr) or "" for attr in ("name", "id", "autocomplete")
            )
            user_field = not secret and USER_FIELD_RE.search(hints) is not None
            if field.get_attribute("value") and not user_field:
                continue
            field.clear()
            field.send_keys(self.password if secret else self.login)
            name = field.get_attribute("name") or field.get_attribute("id") or "(unnamed)"
            self.log(f"typed {'a password' if secret else repr(self.login)} into {name!r}")


# --------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    log = Log()
    if len(argv) != 2 or not argv[1]:
        log(f"usage: {Path(argv[0]).name} URL")
        return 2
    with contextlib.suppress(OSError):
        os.setsid()  # our own process group: the last-resort kill below takes only ours

    phase = {"cleanup": False}

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if not phase["cleanup"]:
            raise HardTimeout(f"hard timeout of {HARD_TIMEOUT}s")
        log(f"cleanup overran: killing process group {os.getpgrp()}")
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(1)

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        if not phase["cleanup"]:
            raise HardTimeout(f"stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, on_terminate)
    signal.alarm(HARD_TIMEOUT)
    user: User | None = None
    code = 1
    try:
        user = User(argv[1], log)
        code = user.run()
    except HardTimeout as exc:
        log(f"FAILED: {exc}")
        phase["cleanup"] = True
        signal.alarm(15)
        if user is not None:
            user.abandon()  # the driver may be busy: no screenshot, no polite quit
    except Failure as exc:
        log(f"FAILED: {exc}")
    except Exception as exc:  # selenium and friends: name it, without page contents
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log(f"FAILED: {type(exc).__name__}: {scrub(first_line)[:200]}")
    finally:
        phase["cleanup"] = True
        signal.alarm(15)
        if user is not None:
            if code != 0 and user.driver is not None:
                with contextlib.suppress(Exception):
                    log.screenshot(user.driver, "failure")
            user.quit()
        signal.alarm(0)
    log(f"exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
