"""Run the code blocks of one documentation page, in order, as a reader would.

    python tests/docs/run_page.py PAGE

Python blocks run in one namespace, compiled under the page's name and line numbers, so a
traceback points into the page; ``sh`` blocks run with ``bash -euo pipefail`` in the current
folder (the test gives each page a fresh one, with its own HOME and XDG folders). What each
block prints is echoed and, where the page shows the output (``<!-- output -->``), compared.
Exit code 0 when every block did what the page says; 1 with the block's location otherwise.
Servers started by ``background`` blocks are stopped at the end.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from blocks import CHECKED, Block, blocks, matches_output

#: "(or open URL)": the address a device-flow prompt gives.
_OPEN = re.compile(r"\(or open (https?://\S+)\)")

_PORT = re.compile(r"\b8600\b")

#: How long a shell block may run, and how long a background server may take to listen.
SHELL_TIMEOUT = 240.0
LISTEN_TIMEOUT = 30.0


class Tee(io.TextIOBase):
    def __init__(self, *targets: Any) -> None:
        self.targets = targets

    def write(self, text: str) -> int:
        for target in self.targets:
            target.write(text)
        return len(text)

    def flush(self) -> None:
        for target in self.targets:
            target.flush()


def run_python(block: Block, namespace: dict[str, Any]) -> str:
    code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
    captured = io.StringIO()
    with redirect_stdout(Tee(sys.stdout, captured)):
        exec(code, namespace)
    return captured.getvalue()


def run_shell(block: Block, groups: list[int]) -> str:
    if block.marker == "background":
        log = Path(f"background-{block.line}.log")
        with log.open("w") as output:
            process = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", block.code],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        groups.append(process.pid)
        _record(process.pid)
        host, _, port = block.value.rpartition(":")
        wait_for_port(host.strip("[]"), int(port), log)
        return ""
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    groups.append(process.pid)
    lines: list[str] = []
    reader = threading.Thread(target=_read, args=(process, lines, block.marker == "user"))
    reader.start()
    reader.join(SHELL_TIMEOUT)
    if reader.is_alive():
        os.killpg(process.pid, signal.SIGKILL)
        reader.join()
        raise AssertionError(f"still running after {SHELL_TIMEOUT:.0f} s")
    if process.wait() != 0:
        raise AssertionError(f"exit status {process.returncode}")
    return "".join(lines)


def _read(process: subprocess.Popen[str], lines: list[str], play_user: bool) -> None:
    """Echo and keep what the block prints; with ``user``, open the first address it asks
    the person to open (``verification_uri_complete``) in the real-browser user."""
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
        found = _OPEN.search(line)
        if play_user and found:
            play_user = False
            subprocess.Popen(
                [os.environ["BROWSER"], found[1]], stdin=subprocess.DEVNULL, close_fds=True
            )


def _record(group: int) -> None:
    """Note a background server's process group, for the test to stop if this runner is
    killed before its own clean-up."""
    with Path("background-groups.txt").open("a") as groups:
        groups.write(f"{group}\n")


def wait_for_port(host: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + LISTEN_TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(
        f"nothing listens on {host}:{port} after {LISTEN_TIMEOUT:.0f} s: {log.read_text()}"
    )


def stop(groups: list[int]) -> None:
    for group in groups:
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            continue
    time.sleep(0.2)
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue


def _moved(block: Block) -> Block:
    """The page's sandbox port (8600, the command's default) replaced by ``$DOCS_SANDBOX_PORT``
    when the test chose a free one, so that runs side by side do not collide."""
    port = os.environ.get("DOCS_SANDBOX_PORT")
    if not port:
        return block
    return dataclasses.replace(
        block,
        code=_PORT.sub(port, block.code),
        value=_PORT.sub(port, block.value),
    )


def main(page: Path) -> int:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    groups: list[int] = []
    last_output: str | None = None
    try:
        for block in map(_moved, blocks(page)):
            if block.marker in ("not run", "excerpt"):
                continue
            if block.language == "text" and block.marker == "output":
                if last_output is None or not matches_output(block.code, last_output):
                    print(f"\n{block.where}: the output differs from the page:")
                    print(f"--- page\n{block.code}--- actual\n{last_output}")
                    return 1
                continue
            if block.language not in CHECKED - {"toml"}:
                continue
            print(f"\n>>> {block.where} ({block.language})", flush=True)
            try:
                if block.language == "python":
                    last_output = run_python(block, namespace)
                else:
                    last_output = run_shell(block, groups)
            except BaseException as exc:
                traceback.print_exc(file=sys.stdout)
                print(f"\n{block.where}: {type(exc).__name__}: {exc}")
                return 1
        return 0
    finally:
        sys.stdout.flush()
        stop(groups)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
