"""Running the ``oauthkit`` command as a separate process with its own config and data
folders, for the CLI's end-to-end tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from peers.oidc_provider import OIDCPeer

URL = re.compile(r"^\s+(https?://\S+)$", re.MULTILINE)


@dataclass
class Cli:
    home: Path
    env: dict[str, str]

    def config(self, text: str) -> None:
        path = self.home / "config" / "oauthkit" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "oauthkit.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "oauthkit.cli", *args],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def make_cli(tmp_path: Path) -> Cli:
    """A command runner whose config and data live under ``tmp_path``."""
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "BROWSER": "/bin/false",
    }
    env.pop("CI", None)
    env.pop("OAUTHKIT_CONFIG", None)
    return Cli(tmp_path, env)


def read_url(process: subprocess.Popen[str], timeout: float = 20) -> tuple[str, list[str]]:
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = URL.match(line)
        if match:
            return match.group(1), lines
    raise AssertionError("the command printed no URL: " + "".join(lines))


def oidc_config(peer: OIDCPeer, name: str = "work") -> str:
    return f"""
[providers.{name}]
issuer = "{peer.issuer}"
client_id = "public"
scope = "openid profile email offline_access"
api_base = "{peer.issuer}/"
"""


def login_over_http(
    cli: Cli, peer: OIDCPeer, name: str = "work"
) -> subprocess.CompletedProcess[str]:
    process = cli.start("login", name, "--no-browser")
    url, printed = read_url(process)
    redirect = peer.approve(url)  # the user consents; the provider redirects to our loopback
    with httpx2.Client() as http:
        page = http.get(redirect)
    assert page.status_code == 200
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(
        process.args, process.returncode, out, "".join(printed) + err
    )
