"""Fixtures for the CLI's end-to-end tests: a real headless Chromium that plays the user."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.harness import Cli, make_cli

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ChromiumUser:
    """Where the real-browser user's parts are.

    ``browser_user`` is the program to put in ``BROWSER`` (a shell wrapper that starts
    ``script`` detached and returns at once); ``chromium`` and ``chromedriver`` are the
    binaries it drives (Debian's ``chromium`` and ``chromium-driver``).
    """

    chromium: str
    chromedriver: str
    browser_user: str
    script: str


def _binary(env: str, default: str, name: str) -> str | None:
    path = os.environ.get(env) or (default if os.path.isfile(default) else shutil.which(name))
    return path if path and os.access(path, os.X_OK) else None


def _major(command: list[str]) -> str | None:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\b(\d+)\.\d+\.\d+\.\d+\b", out)
    return match.group(1) if match else None


def _find() -> tuple[ChromiumUser | None, str]:
    chromium = _binary("BROWSER_CHROMIUM", "/usr/bin/chromium", "chromium")
    chromedriver = _binary("BROWSER_CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")
    missing = []
    if chromium is None:
        missing.append("chromium (apt-get install --no-install-recommends chromium)")
    if chromedriver is None:
        missing.append("chromedriver (apt-get install --no-install-recommends chromium-driver)")
    if importlib.util.find_spec("selenium") is None:
        missing.append(f"selenium in {sys.executable} (pip install selenium)")
    if missing or chromium is None or chromedriver is None:
        return None, "missing " + "; ".join(missing)
    browser, driver = _major([chromium, "--version"]), _major([chromedriver, "--version"])
    if browser is None or browser != driver:
        return None, (
            f"chromium ({chromium}: {browser}) and chromedriver ({chromedriver}: {driver}) "
            "must be the same major version: install both from the same Debian release"
        )
    user = ChromiumUser(
        chromium=chromium,
        chromedriver=chromedriver,
        browser_user=str(HERE / "browser_user.sh"),
        script=str(HERE / "browser_user.py"),
    )
    return user, ""


@pytest.fixture(scope="session")
def chromium() -> Iterator[ChromiumUser]:
    """Headless Chromium, chromedriver and selenium, or skip (``CI=true``: fail).

    Sets ``OAUTHKIT_TEST_PYTHON`` (this interpreter, which has selenium),
    ``BROWSER_CHROMIUM`` and ``BROWSER_CHROMEDRIVER`` in ``os.environ`` for the session, so
    subprocesses started with the inherited environment (the CLI, and through its
    ``BROWSER=<browser_user>`` the user script) find them; restored afterwards.
    """
    user, problem = _find()
    if user is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"real-browser user unavailable under CI: {problem}", pytrace=False)
        pytest.skip(f"real-browser user unavailable: {problem}")
    settings = {
        "OAUTHKIT_TEST_PYTHON": sys.executable,
        "BROWSER_CHROMIUM": user.chromium,
        "BROWSER_CHROMEDRIVER": user.chromedriver,
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    yield user
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The ``oauthkit`` command, run as a new process with config and data under tmp_path."""
    return make_cli(tmp_path)
