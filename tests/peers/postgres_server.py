"""A real PostgreSQL server for the database store's tests.

Debian's ``postgresql`` (``apt-get install postgresql``; its own cluster and service are not
used) runs as a subprocess of the tests, one per :func:`start_postgres` call: ``initdb`` makes
a cluster in a fresh temporary folder (as the ``postgres`` system user when the tests run as
root, since ``initdb`` refuses root) with trust authentication for the role ``oauthkit``, and
``pg_ctl`` starts it on a free ``127.0.0.1`` port with its socket in that folder. Ready in
about a second; :meth:`PostgresPeer.stop` stops it (``-m fast``) and removes the folder.

What the tests see is a :class:`PostgresPeer`: :meth:`~PostgresPeer.url` for a driver
(``postgresql+psycopg://oauthkit@127.0.0.1:N/postgres``, ``asyncpg`` too),
:meth:`~PostgresPeer.create_database` for a database of a test's own, and
:meth:`~PostgresPeer.stop`.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_STARTUP_TIMEOUT = 30.0


class PostgresUnavailable(RuntimeError):
    """Debian's postgresql server binaries are not installed."""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL is not installed: apt-get install --no-install-recommends postgresql"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresPeer:
    """A running PostgreSQL cluster on a loopback port."""

    port: int
    folder: Path
    bindir: Path
    as_user: str | None

    def url(self, driver: str = "psycopg", database: str = "postgres") -> str:
        return f"postgresql+{driver}://oauthkit@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database ``name`` (its psycopg URL)."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=oauthkit dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(database=name)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        if self.as_user is not None:
            line = " ".join(f"'{part}'" for part in command)
            command = ("su", self.as_user, "-s", "/bin/sh", "-c", line)
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, the data kept; back within
        about a second."""
        done = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
            "-l", str(self.folder / "log"), "-w", "restart",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {done.stdout}{done.stderr}")

    def stop(self) -> None:
        if (self.folder / "data" / "postmaster.pid").exists():
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresPeer:
    """Make a cluster in a temporary folder and start it; see the module docstring."""
    bindir = _bindir()
    folder = Path(tempfile.mkdtemp(prefix="oauthkit-postgres-"))
    as_user = None
    if os.geteuid() == 0:
        as_user = "postgres"
        entry = pwd.getpwnam(as_user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    peer = PostgresPeer(_free_port(), folder, bindir, as_user)
    data = str(folder / "data")
    done = peer._run(
        str(bindir / "initdb"), "-D", data, "-A", "trust", "-U", "oauthkit", "-E", "UTF8"
    )
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
    options = f"-h 127.0.0.1 -p {peer.port} -k {folder} -c fsync=on -c max_connections=300"
    done = peer._run(
        str(bindir / "pg_ctl"),
        "-D",
        data,
        "-o",
        options,
        "-l",
        str(folder / "log"),
        "-w",
        "-t",
        str(int(_STARTUP_TIMEOUT)),
        "start",
    )
    if done.returncode != 0:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        peer.stop()
        raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log}")
    atexit.register(peer.stop)
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", peer.port), 1):
            return peer
        if time.monotonic() > deadline:
            peer.stop()
            raise RuntimeError("PostgreSQL did not accept connections")
        time.sleep(0.05)
