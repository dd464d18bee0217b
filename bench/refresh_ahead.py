"""Request latency across a token's renewal with a slow token endpoint (3 s): oauthkit's
refresh ahead next to a renewal every caller waits for, and Authlib's auto-refreshing
client, in one run.

    python bench/refresh_ahead.py [--quick]

20 threads make requests through one auth object while the token becomes due. With refresh
ahead (the token due but not expired) one request waits for the provider and every other is
served at once: the p99 stays that of a plain request. When the token has expired, every
caller waits the 3 s — what a renewal at expiry costs, and what oauthkit did for a due token
before refresh ahead. Authlib refreshes a token due within its leeway in the requesting
thread. The server is a keep-alive loopback server in its own process.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
from authlib.integrations.httpx_client import OAuth2Client as AuthlibClient

from _loopback import LoopbackServer
from oauthkit import OAuth2Client, Session, Token
from oauthkit.stores import SQLiteStore

THREADS = 20
TOKEN_DELAY = 3.0


def _token(seconds_left: float) -> Token:
    now = datetime.now(UTC)
    return Token(
        "old",
        issued_at=now - timedelta(hours=1),
        expires_at=now + timedelta(seconds=seconds_left),
        refresh_token="r",
    )


def _latencies(get: Callable[[], object], calls: int) -> list[float]:
    """Every thread makes ``calls`` requests; each one's duration."""
    found: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def work() -> None:
        mine = []
        barrier.wait()
        for _ in range(calls):
            started = time.perf_counter()
            get()
            mine.append(time.perf_counter() - started)
        with lock:
            found.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def _oauthkit(server: LoopbackServer, folder: Path, seconds_left: float, calls: int) -> list[float]:
    store = SQLiteStore(folder / f"ahead-{seconds_left}.sqlite3")
    store.put("bench", _token(seconds_left))
    client = OAuth2Client("bench", "secret", token_endpoint=server.url + "/token")
    with client, httpx2.Client(auth=Session(client, store, "bench").auth()) as http:
        return _latencies(lambda: http.get(server.url + "/api"), calls)


def _authlib(server: LoopbackServer, seconds_left: float, calls: int) -> list[float]:
    token = _token(seconds_left)
    client = AuthlibClient(
        "bench",
        "secret",
        token={
            "access_token": token.access_token,
            "token_type": "Bearer",
            "refresh_token": "r",
            "expires_at": int(token.expires_at.timestamp()) if token.expires_at else None,
        },
        token_endpoint=server.url + "/token",
        leeway=60,
        timeout=30,
    )
    with client:
        return _latencies(lambda: client.get(server.url + "/api"), calls)


def _row(name: str, latencies: list[float], refreshes: int, ours: float) -> None:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"  {name:38} p50 {statistics.median(ordered) * 1000:7.1f} ms   p99 "
        f"{p99 * 1000:7.1f} ms   max {ordered[-1] * 1000:7.0f} ms   "
        f"{refreshes} refresh{'es' if refreshes != 1 else ''}   p99 ×{p99 / ours:6.1f}"
    )


def main() -> int:
    calls = 40 if "--quick" in sys.argv else 150
    print(
        f"{THREADS} threads × {calls} requests across a renewal; the token endpoint answers "
        f"after {TOKEN_DELAY:.0f} s"
    )
    with LoopbackServer(token_delay=TOKEN_DELAY) as server, tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        runs: list[tuple[str, list[float], int]] = []
        for name, run in (
            (
                "oauthkit, refresh ahead (due, 30 s left)",
                lambda: _oauthkit(server, folder, 30, calls),
            ),
            ("oauthkit, at expiry (2 s left)", lambda: _oauthkit(server, folder, 2, calls)),
            ("Authlib, auto refresh (due, 30 s left)", lambda: _authlib(server, 30, calls)),
        ):
            before = server.token_requests
            latencies = run()
            runs.append((name, latencies, server.token_requests - before))
    ordered = sorted(runs[0][1])
    ours = ordered[int(len(ordered) * 0.99) - 1]
    for name, latencies, refreshes in runs:
        _row(name, latencies, refreshes, ours)
    ahead_waited = sum(1 for value in runs[0][1] if value >= TOKEN_DELAY * 0.9)
    print(f"  refresh ahead: {ahead_waited} request(s) waited for the provider")
    return 0 if ahead_waited <= 1 and runs[0][2] == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
