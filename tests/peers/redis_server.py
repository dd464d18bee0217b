"""A real Redis server for the client's token-store tests.

Debian's ``redis-server`` (``apt-get install redis-server``; the package's own system
service is not used and should stay stopped) runs as a subprocess of the test process, one
per :func:`start_redis` call, on a free ``127.0.0.1`` port, with no config file and no
persistence::

    redis-server --save '' --appendonly no --bind 127.0.0.1 --port N --protected-mode yes

Its working directory is a fresh temp dir (removed by :meth:`RedisPeer.stop`), and its log
(stdout and stderr) goes to a file there, readable as :attr:`RedisPeer.output`.  The Python
client is ``redis`` (redis-py, the ``oauthkit[redis]`` extra).

What the tests see is a :class:`RedisPeer`: :attr:`~RedisPeer.url`
(``redis://127.0.0.1:N/0``), :attr:`~RedisPeer.port`, :meth:`~RedisPeer.flushall`,
:meth:`~RedisPeer.client` and :meth:`~RedisPeer.stop`.  Checked by ``test_redis_selfcheck``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

_STARTUP_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


class RedisUnavailable(RuntimeError):
    """``redis-server`` is not on PATH (install Debian's ``redis-server``) or redis-py is
    not installed (``pip install redis``)."""


class RedisStartError(RuntimeError):
    """``redis-server`` did not answer PING in time; the message ends with its output."""


def check_available() -> str:
    """Return the path of ``redis-server``, or raise :class:`RedisUnavailable`."""
    server = shutil.which("redis-server")
    if server is None:
        raise RedisUnavailable(
            "redis-server is not on PATH: install Debian's redis-server "
            "(`apt-get install -y redis-server`; its system service is not needed)"
        )
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        raise RedisUnavailable(
            "the redis Python package is not installed: pip install redis"
        ) from exc
    return server


@dataclass
class RedisPeer:
    """One running ``redis-server`` on ``127.0.0.1``."""

    port: int
    url: str
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _workdir: Path | None = field(default=None, repr=False)

    def client(self, **kwargs: Any) -> redis.Redis:
        """A new redis-py client for database 0 (5 s socket timeouts); close it after use."""
        import redis

        kwargs.setdefault("socket_timeout", 5)
        kwargs.setdefault("socket_connect_timeout", 5)
        return redis.Redis.from_url(self.url, **kwargs)

    def flushall(self) -> None:
        """Delete every key of every database."""
        with self.client() as client:
            client.flushall()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def output(self) -> str:
        """What the server logged so far (its stdout and stderr)."""
        if self._workdir is None:
            return ""
        log = self._workdir / "redis.log"
        return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""

    def stop(self) -> None:
        """SIGTERM the server by its PID, wait, SIGKILL it after 5 s; remove its temp dir.

        Idempotent.  Once it returns the port no longer listens.
        """
        process, self._process = self._process, None
        if process is not None:
            _terminate(process)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=_STOP_TIMEOUT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int, pid: int) -> bool:
    """True when the server on ``127.0.0.1:port`` answers PING and is process ``pid`` (a
    server someone else started on the port after we chose it does not count)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping()) and int(client.info("server")["process_id"]) == pid
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_redis(*, port: int | None = None, startup_timeout: float = _STARTUP_TIMEOUT) -> RedisPeer:
    """Start ``redis-server`` on ``127.0.0.1`` (``port`` or a free one) and return once it
    answers PING.

    Raises :class:`RedisUnavailable` (no ``redis-server`` on PATH, or no redis-py) or
    :class:`RedisStartError` (no PONG within ``startup_timeout``; has the server's output).
    A free port taken by someone else between choosing and binding is retried (3 tries).
    """
    server = check_available()
    attempts = 1 if port is not None else 3
    last_error: RedisStartError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else _free_port()
        try:
            peer = _spawn(server, chosen, startup_timeout)
        except RedisStartError as exc:
            last_error = exc
            if "Address already in use" not in str(exc):
                raise
            continue
        atexit.register(peer.stop)
        return peer
    assert last_error is not None
    raise last_error


def _spawn(server: str, port: int, startup_timeout: float) -> RedisPeer:
    workdir = Path(tempfile.mkdtemp(prefix="oauthkit-redis-"))
    log_path = workdir / "redis.log"
    argv = [
        server,
        "--save",
        "",
        "--appendonly",
        "no",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--protected-mode",
        "yes",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a ^C in the terminal does not reach it
        )
    peer = RedisPeer(port=port, url=f"redis://127.0.0.1:{port}/0")
    peer._process = process
    peer._workdir = workdir
    deadline = time.monotonic() + startup_timeout
    while True:
        if process.poll() is not None:
            failure = f"it exited with code {process.returncode}"
            break
        if _answers(port, process.pid):
            return peer
        if time.monotonic() >= deadline:
            failure = f"no PONG after {startup_timeout:g} s"
            break
        time.sleep(0.05)
    output = peer.output
    peer.stop()
    raise RedisStartError(
        f"redis-server did not start on 127.0.0.1:{port} ({failure}); its output:\n{output}"
    )
