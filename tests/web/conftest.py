"""Fixtures for the web tests: the example apps on their production servers (gunicorn,
uvicorn) with several workers, and real headless Chromium browsers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from cli.conftest import _find
from peers.oidc_provider import TLSMaterial
from web.browser import Browser

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "examples" / "serve.py"
EXAMPLES = ["flask", "fastapi", "django"]
#: The examples tested on the sandbox: the three, and Django's async views under uvicorn.
SANDBOX_EXAMPLES = [*EXAMPLES, "django-async"]
WORKERS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    """An example app served by ``examples/serve.py`` (its sandbox too, when it made one)."""

    name: str
    base: str
    process: subprocess.Popen[bytes]
    log: Path
    sandbox: str | None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def start_example(
    name: str,
    folder: Path,
    *,
    config: Path | None = None,
    workers: int = WORKERS,
    access_token_ttl: int = 3600,
    port: int | None = None,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    tls: TLSMaterial | None = None,
) -> RunningApp:
    """``./run example NAME`` as the README gives it, on a free port; ready when ``/me``
    answers. With ``tls``, served over https with the test CA's server certificate."""
    port = port or free_port()
    env = {**os.environ, **(env or {})}
    env.pop("OAUTHKIT_CONFIG", None)
    if config is not None:
        env["OAUTHKIT_CONFIG"] = str(config)
    log = folder / f"{name}-{port}.log"
    command = [sys.executable, str(SERVE), name, "--port", str(port), "--workers", str(workers)]
    command += ["--access-token-ttl", str(access_token_ttl), *args]
    if tls is not None:
        command += ["--certfile", str(tls.server_cert), "--keyfile", str(tls.server_key)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    verify: ssl.SSLContext | bool = tls.ssl_context() if tls is not None else True
    app = RunningApp(name, base, process, log, None)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{name} example exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(base + "/me", timeout=2, verify=verify).status_code == 200:
                break
        if time.monotonic() > deadline:
            app.stop()
            raise AssertionError(f"{name} example did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    for line in log.read_text().splitlines():
        if line.startswith("sandbox provider at "):
            app.sandbox = line.split()[3]
    return app


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver, or skip (``CI=true``: fail)."""
    user, problem = _find()
    if user is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"real browser unavailable under CI: {problem}", pytrace=False)
        pytest.skip(f"real browser unavailable: {problem}")
    return user.chromium, user.chromedriver


@pytest.fixture
def browsers(chromium_paths: tuple[str, str]) -> Iterator[Callable[[], Browser]]:
    """Make browsers (each a person with a cookie jar of their own); all quit at the end."""
    made: list[Browser] = []

    def make() -> Browser:
        browser = Browser(*chromium_paths)
        made.append(browser)
        return browser

    yield make
    for browser in made:
        browser.quit()


@pytest.fixture
def browser(browsers: Callable[[], Browser]) -> Browser:
    return browsers()


#: The browser tests of what each framework translates (requests, cookies, redirects, its
#: store and its worker model) run on every example; those of the flow's and the routes' own
#: checks — the same code in every adapter (:mod:`oauthkit.web.routes`), tested in-process in
#: ``test_flow.py`` — on one.
EVERY_EXAMPLE = pytest.mark.parametrize("example", SANDBOX_EXAMPLES, indirect=True)
ONE_EXAMPLE = pytest.mark.parametrize("example", ["flask"], indirect=True)


@pytest.fixture(scope="module")
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """An example (``EVERY_EXAMPLE`` or ``ONE_EXAMPLE``) on its production server with 4
    workers and its own sandbox, exactly as ``./run example NAME`` starts it on a fresh
    machine."""
    app = start_example(request.param, tmp_path_factory.mktemp(f"example-{request.param}"))
    yield app
    app.stop()
