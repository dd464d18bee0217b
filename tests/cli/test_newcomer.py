"""What a newcomer tripped over at the command, each run as a separate process against the
sandbox provider: ``python -m oauthkit``, the cli extra named in one line whatever else is
installed, Ctrl-C, a wrong client secret (said in the browser and naming where the secret came
from), a refused refresh in one line naming the command to run, and the demo's hints run as
printed."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from cli.harness import Cli, read_url
from oauthkit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def _sandbox_config(cli: Cli, sandbox: Sandbox, secret_env: str = "SANDBOX_SECRET") -> None:
    client = sandbox.clients["demo-web"]
    cli.config(
        f'[providers.work]\nissuer = "{sandbox.issuer}"\nclient_id = "{client.client_id}"\n'
        f'client_secret_env = "{secret_env}"\nscope = "profile"\n'
    )


def test_python_m_oauthkit_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oauthkit", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "login" in done.stdout and "token" in done.stdout


@pytest.mark.parametrize("absent", ["oauthlib", "rich", "segno"])
@pytest.mark.parametrize("command", ["demo", "sandbox"])
def test_a_missing_cli_extra_is_one_line_whatever_else_is_installed(
    absent: str, command: str
) -> None:
    """Flask brings click; the rest of the cli extra missing must still be one line, not a
    traceback from the middle of the command."""
    probe = (
        f"import sys; sys.modules[{absent!r}] = None\n"
        f"from oauthkit.cli import main\nsys.exit(main([{command!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"oauthkit: the command needs the cli extra ({absent} is not installed): "
        "pip install 'oauthkit[cli]'"
    ]


def test_ctrl_c_exits_130(cli: Cli, sandbox: Sandbox) -> None:
    _sandbox_config(cli, sandbox)
    cli.env["SANDBOX_SECRET"] = sandbox.clients["demo-web"].client_secret or ""
    process = cli.start("login", "work", "--no-browser")
    read_url(process)  # waiting for the redirect now
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err


def test_a_wrong_client_secret_fails_in_the_browser_and_names_its_source(
    cli: Cli, sandbox: Sandbox
) -> None:
    """The browser's page waits for the code exchange: it says the sign-in failed (not
    "Signed in"), and the terminal says where the refused secret came from."""
    _sandbox_config(cli, sandbox)
    cli.env["SANDBOX_SECRET"] = "not-the-secret"
    process = cli.start("login", "work", "--no-browser")
    url, _ = read_url(process)
    redirect = sandbox.approve(url)  # the user consents; the browser follows the redirect:
    page = httpx2.get(redirect, timeout=30)
    assert page.status_code == 400
    assert "Sign-in failed" in page.text and "Signed in" not in page.text
    _, err = process.communicate(timeout=30)
    assert process.returncode == 5, err
    assert "invalid_client" in err and "$SANDBOX_SECRET" in err and "config.toml" in err


def test_a_refused_refresh_is_one_line_naming_the_command_to_run(
    cli: Cli, sandbox: Sandbox
) -> None:
    _sandbox_config(cli, sandbox)
    cli.env["SANDBOX_SECRET"] = sandbox.clients["demo-web"].client_secret or ""
    process = cli.start("login", "work", "--no-browser")
    url, _ = read_url(process)
    httpx2.get(sandbox.approve(url), timeout=30)
    assert process.wait(30) == 0
    from oauthkit import Token
    from oauthkit.stores import SQLiteStore

    store = SQLiteStore(cli.home / "data" / "oauthkit" / "tokens.sqlite3")
    token = store.get("work", Token)
    assert token is not None
    store.put("work", token.replace(refresh_token="revoked-elsewhere", expires_at=token.issued_at))
    done = cli.run("token", "work")
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith("run  oauthkit login work"), lines


@pytest.mark.slow
def test_the_demos_hints_run_as_printed(tmp_path: Path) -> None:
    """``./run demo`` runs .venv/bin/oauthkit, which is not on PATH: the closing hints must
    name what does run."""
    program = Path(sys.executable).with_name("oauthkit")
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": "/usr/bin:/bin",  # no oauthkit on it
    }
    env.pop("OAUTHKIT_CONFIG", None)
    done = subprocess.run(
        [str(program), "demo"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    hints = [line.split(":  ", 1)[1] for line in done.stdout.splitlines() if ":  " in line]
    hints += [line.split(":  ", 1)[1] for line in done.stderr.splitlines() if ":  " in line]
    assert hints, done.stdout + done.stderr
    for hint in hints:
        for command in hint.split(" && "):
            ran = subprocess.run(
                shlex.split(command), capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
            )
            assert ran.returncode == 0, (command, ran.stderr)
