"""Screenshots for the docs, taken in a real browser (issue 15, item 5).

    python tests/docs/screenshots.py OUTDIR

* ``consent.png``: the sandbox's sign-in and consent page for an authorization request, in
  headless Chromium (Debian's, through chromedriver);
* ``device-prompt.png``: what ``oauthkit login NAME --device`` shows in a terminal (run on a
  pseudo-terminal, so it draws the QR code too), drawn as a terminal page in Chromium, after a
  real-browser user approved the code on the sandbox's device page.

``./run docs`` calls it before building; the docs build test does too. Exit code 0 when both
pictures were written.
"""

from __future__ import annotations

import html
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from oauthkit import OAuth2Client  # noqa: E402
from oauthkit.sandbox import Sandbox  # noqa: E402
from web.browser import Browser  # noqa: E402

CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BROWSER_CHROMEDRIVER", "/usr/bin/chromedriver")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_CODE = re.compile(r"enter the code:\s+(\S+)")
TERMINAL_PAGE = """<!doctype html><meta charset="utf-8"><title>oauthkit login --device</title>
<style>body{{margin:0;background:#1e1e1e}}pre{{margin:0;padding:18px 22px;color:#e6e6e6;
font:15px/1.0 "DejaVu Sans Mono","Liberation Mono",monospace}}b{{color:#8ae234}}</style>
<pre><b>$ oauthkit login sandbox --device</b>
{text}</pre>"""


def consent(browser: Browser, sandbox: Sandbox, out: Path) -> None:
    app = sandbox.clients["demo-web"]
    with OAuth2Client(
        app.client_id,
        app.client_secret,
        issuer=sandbox.issuer,
        redirect_uri="http://127.0.0.1:8765/callback",
        scope="profile",
    ) as client:
        request = client.authorization_request()
    browser.driver.set_window_size(900, 760)
    browser.open(request.url)
    browser.wait_for("the consent page", lambda: "Approve" in browser.text())
    browser.driver.save_screenshot(str(out / "consent.png"))


def device_prompt(browser: Browser, sandbox: Sandbox, out: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="oauthkit-docs-shot-"))
    config = work / "config.toml"
    config.write_text(f'[providers.sandbox]\nissuer = "{sandbox.issuer}"\nclient_id = "demo-cli"\n')
    config.chmod(0o600)
    env = {
        **os.environ,
        "OAUTHKIT_CONFIG": str(config),
        "XDG_DATA_HOME": str(work / "data"),
        "COLUMNS": "80",
    }
    command = Path(sys.executable).with_name("oauthkit")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(command), "login", "sandbox", "--device", "--timeout", "120"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    printed = ""
    deadline = time.monotonic() + 60
    approved = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the command ended and closed the terminal
                break
            printed += chunk.decode("utf-8", "replace")
        code = _CODE.search(_ANSI.sub("", printed))
        if code and not approved and "(or open" in printed:
            time.sleep(0.5)  # let it finish drawing
            while select.select([leader], [], [], 0.2)[0]:
                printed += os.read(leader, 65536).decode("utf-8", "replace")
            shown = _as_terminal_shows(_ANSI.sub("", printed))
            approve_in_browser(browser, sandbox, code[1], out)
            approved = True
        if process.poll() is not None:
            break
    if process.wait(timeout=60) != 0 or not approved:
        raise SystemExit(f"oauthkit login --device failed:\n{_ANSI.sub('', printed)}")
    os.close(leader)
    page = work / "terminal.html"
    page.write_text(TERMINAL_PAGE.format(text=html.escape(shown.rstrip())))
    browser.driver.set_window_size(760, 620)
    browser.open(page.as_uri())
    browser.driver.save_screenshot(str(out / "device-prompt.png"))


def _as_terminal_shows(text: str) -> str:
    """Each line as it stands after its carriage returns (the countdown rewrites its line)."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        parts = [part for part in line.split("\r") if part.strip()]
        lines.append(parts[-1] if parts else "")
    return "\n".join(lines)


def approve_in_browser(browser: Browser, sandbox: Sandbox, user_code: str, out: Path) -> None:
    """The person types the code on the sandbox's device page and approves it."""
    browser.driver.set_window_size(900, 760)
    browser.open(f"{sandbox.base_url}/device")
    field = browser.driver.find_element("name", "user_code")
    field.send_keys(user_code)
    browser.submit("button[value=lookup]")
    browser.wait_for("the consent page", lambda: "Approve" in browser.text())
    browser.consent()


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    browser = Browser(CHROMIUM, CHROMEDRIVER)
    try:
        with Sandbox() as sandbox:
            consent(browser, sandbox, out)
            device_prompt(browser, sandbox, out)
    finally:
        browser.quit()
    for name in ("consent.png", "device-prompt.png"):
        if (out / name).stat().st_size < 2000:
            raise SystemExit(f"{name} is suspiciously small")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
