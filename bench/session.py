"""Session costs: bearer requests through ``Session.auth()`` with a fresh token next to bare
httpx2 (sync, and async with 10 tasks), and the time for 50 waiters to get past one refresh.

    python bench/session.py [--quick]

The fast path must take no lock and do no store I/O: the bar is 0.97 of bare sync and 0.95
async. The store is a real SQLite file in a temporary folder. A minimal keep-alive server runs
in its own process on a loopback port and counts token requests.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from _loopback import LoopbackServer, async_rate, report, sync_rate
from oauthkit import AsyncOAuth2Client, OAuth2Client, Session, Token
from oauthkit.stores import SQLiteStore

TASKS = 10
WAITERS = 50


def _fresh() -> Token:
    return Token("fresh", expires_at=datetime.now(UTC) + timedelta(hours=1), refresh_token="r")


def _due() -> Token:
    now = datetime.now(UTC)
    return Token(
        "due",
        issued_at=now - timedelta(hours=1),
        expires_at=now + timedelta(seconds=5),
        refresh_token="r",
    )


def throughput(server: LoopbackServer, folder: Path, n: int, rounds: int) -> bool:
    url, token_url = server.url + "/api", server.url + "/token"
    store = SQLiteStore(folder / "fast.sqlite3")
    store.put("bench", _fresh())
    with OAuth2Client("bench", "secret", token_endpoint=token_url) as oauth:
        made: dict[str, Any] = {
            "bare httpx2": httpx2.Client(),
            "Session.auth()": httpx2.Client(auth=Session(oauth, store, "bench").auth()),
        }
        best = dict.fromkeys(made, 0.0)
        for client in made.values():
            sync_rate(client.get, url, n // 10)
        for _ in range(rounds):
            for name, client in made.items():
                best[name] = max(best[name], sync_rate(client.get, url, n))
        for client in made.values():
            client.close()
    ok = report("sync, one client, fresh token", best, 0.97, "Session.auth()")

    async def run_async() -> bool:
        async with AsyncOAuth2Client("bench", "secret", token_endpoint=token_url) as oauth:
            made = {
                "bare httpx2": httpx2.AsyncClient(),
                "Session.auth()": httpx2.AsyncClient(auth=Session(oauth, store, "bench").auth()),
            }
            best = dict.fromkeys(made, 0.0)
            for client in made.values():
                await async_rate(client.get, url, n // 10, TASKS)
            for _ in range(rounds):
                for name, client in made.items():
                    best[name] = max(best[name], await async_rate(client.get, url, n, TASKS))
            for client in made.values():
                await client.aclose()
        return report(f"async, {TASKS} tasks, fresh token", best, 0.95, "Session.auth()")

    return asyncio.run(run_async()) and ok


def one_refresh_many_waiters(server: LoopbackServer, folder: Path) -> bool:
    url, token_url = server.url + "/api", server.url + "/token"
    print(f"\n{WAITERS} waiters crossing one expiry (SQLite store)")
    ok = True
    with OAuth2Client("bench", "secret", token_endpoint=token_url) as oauth:
        store = SQLiteStore(folder / "threads.sqlite3")
        store.put("bench", _due())
        session = Session(oauth, store, "bench")
        before = server.token_requests
        barrier = threading.Barrier(WAITERS + 1)
        with httpx2.Client(auth=session.auth()) as http:

            def call() -> None:
                barrier.wait()
                http.get(url)

            threads = [threading.Thread(target=call) for _ in range(WAITERS)]
            for thread in threads:
                thread.start()
            barrier.wait()
            start = time.perf_counter()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
        refreshes = server.token_requests - before
        ok &= refreshes == 1
        print(f"  threads: all {WAITERS} done in {elapsed * 1000:.1f} ms, {refreshes} refresh")

    async def tasks() -> tuple[float, int]:
        async with AsyncOAuth2Client("bench", "secret", token_endpoint=token_url) as oauth:
            store = SQLiteStore(folder / "tasks.sqlite3")
            await store.aput("bench", _due())
            session = Session(oauth, store, "bench")
            before = server.token_requests
            async with httpx2.AsyncClient(auth=session.auth()) as http:
                start = time.perf_counter()
                await asyncio.gather(*(http.get(url) for _ in range(WAITERS)))
                return time.perf_counter() - start, server.token_requests - before

    elapsed, refreshes = asyncio.run(tasks())
    ok &= refreshes == 1
    print(f"  tasks:   all {WAITERS} done in {elapsed * 1000:.1f} ms, {refreshes} refresh")
    return ok


def main() -> int:
    n, rounds = (500, 3) if "--quick" in sys.argv else (3000, 7)
    with LoopbackServer() as server, tempfile.TemporaryDirectory() as folder:
        ok = throughput(server, Path(folder), n, rounds)
        ok = one_refresh_many_waiters(server, Path(folder)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
