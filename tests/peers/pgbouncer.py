"""Debian's ``pgbouncer`` in front of the tests' PostgreSQL, in transaction pooling mode — the
pooler most production PostgreSQL deployments sit behind, where a server connection is the
client's only for one transaction (so no session state, and no prepared statement, lasts).

:func:`start_pgbouncer` runs it on a free ``127.0.0.1`` port (as the ``postgres`` system user
when the tests run as root: pgbouncer refuses root), with trust authentication for the role
``oauthkit`` and every database of the server behind it. :class:`PgBouncerPeer` has the same
``url`` and ``create_database`` as :class:`~peers.postgres_server.PostgresPeer`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from peers.postgres_server import PostgresPeer, _free_port


class PgBouncerUnavailable(RuntimeError):
    """Debian's pgbouncer is not installed."""


@dataclass
class PgBouncerPeer:
    """pgbouncer on a loopback port, pooling by transaction for ``server``."""

    port: int
    folder: Path
    server: PostgresPeer
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"

    def url(self, driver: str = "psycopg", database: str = "postgres") -> str:
        return f"postgresql+{driver}://oauthkit@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new database on the server behind (made directly: ``CREATE DATABASE`` is not a
        pooled statement); its URL through pgbouncer."""
        self.server.create_database(name)
        return self.url(database=name)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
            if self.process.poll() is None:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_pgbouncer(server: PostgresPeer, host: str = "127.0.0.1") -> PgBouncerPeer:
    """Start pgbouncer for ``server``, listening on ``host`` (loopback unless a benchmark's own
    network needs another local address) and a free port."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise PgBouncerUnavailable("pgbouncer is not installed: apt-get install pgbouncer")
    folder = Path(tempfile.mkdtemp(prefix="oauthkit-pgbouncer-"))
    port = _free_port()
    (folder / "users.txt").write_text('"oauthkit" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={server.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = {host}\n"
        f"listen_port = {port}\n"
        f"unix_socket_dir = {folder}\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 1000\n"
        "default_pool_size = 20\n"
        "server_reset_query =\n"
        # After failing to reach a restarting server, try again within a second (the
        # default, 15 s, fails every query that long).
        "server_login_retry = 1\n"
        "ignore_startup_parameters = extra_float_digits,options,search_path\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    command = [binary, str(folder / "pgbouncer.ini")]
    preexec = None
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (folder, *folder.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)

        def preexec() -> None:
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)

    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=preexec,
        start_new_session=True,
    )
    peer = PgBouncerPeer(port, folder, server, process, host)
    atexit.register(peer.stop)
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
            return peer
        if process.poll() is not None or time.monotonic() > deadline:
            log = folder / "pgbouncer.log"
            text = log.read_text() if log.exists() else ""
            peer.stop()
            raise RuntimeError(f"pgbouncer did not start: {text[-2000:]}")
        time.sleep(0.05)
