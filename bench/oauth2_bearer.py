"""Throughput of bearer-authenticated requests: oauthkit's OAuth2Auth next to bare httpx2 and
Authlib's httpx2 clients, in one run.

    python bench/oauth2_bearer.py [--quick]

A minimal keep-alive HTTP server runs in its own process on a loopback port (so the client
process measures only client-side cost). Sync: one client, sequential requests. Async: one
client, 10 concurrent tasks. Each configuration runs in alternating rounds; the best round
counts. Prints requests per second and the ratio to bare httpx2 (the bar: 0.97 sync, 0.95
async with 10 tasks).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client as AuthlibAsyncClient
from authlib.integrations.httpx_client import OAuth2Client as AuthlibClient

from oauthkit import AsyncOAuth2Client, OAuth2Client, Token

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
    b'Connection: keep-alive\r\n\r\n{"ok":true}'
)
TASKS = 10


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


def _serve(sock: socket.socket) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Echo, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


def _token() -> Token:
    return Token("bench-access-token", expires_at=datetime.now(UTC) + timedelta(hours=1))


def _authlib_token() -> dict[str, object]:
    return {
        "access_token": "bench-access-token",
        "token_type": "Bearer",
        "expires_at": int(time.time()) + 3600,
    }


def sync_round(client: httpx2.Client | AuthlibClient, url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.get(url)
    return n / (time.perf_counter() - start)


async def async_round(client: httpx2.AsyncClient | AuthlibAsyncClient, url: str, n: int) -> float:
    async def worker() -> None:
        for _ in range(n // TASKS):
            await client.get(url)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(TASKS)))
    return (n // TASKS) * TASKS / (time.perf_counter() - start)


def main() -> int:
    quick = "--quick" in sys.argv
    n, rounds = (500, 3) if quick else (3000, 7)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(sock,), daemon=True)
    server.start()
    try:
        ok = run_sync(url, n, rounds) & asyncio.run(run_async(url, n, rounds))
    finally:
        server.kill()
    return 0 if ok else 1


def _report(title: str, best: dict[str, float], bar: float) -> bool:
    bare = best["bare httpx2"]
    ours = best["oauthkit"] / bare
    print(f"\n{title}")
    for name, rate in best.items():
        print(f"  {name:14} {rate:9.0f} req/s   {rate / bare:5.3f} of bare")
    verdict = "ok" if ours >= bar else "BELOW"
    print(
        f"  oauthkit vs bar {bar}: {verdict};  "
        f"vs Authlib: {best['oauthkit'] / best['Authlib']:.2f}×"
    )
    return ours >= bar


def run_sync(url: str, n: int, rounds: int) -> bool:
    with OAuth2Client("bench", "secret", token_endpoint="https://as.example/token") as oauth:
        clients: dict[str, Callable[[], httpx2.Client | AuthlibClient]] = {
            "bare httpx2": lambda: httpx2.Client(),
            "oauthkit": lambda: httpx2.Client(auth=oauth.auth(_token())),
            "Authlib": lambda: AuthlibClient(client_id="bench", token=_authlib_token()),
        }
        made = {name: make() for name, make in clients.items()}
        best = dict.fromkeys(made, 0.0)
        for client in made.values():
            sync_round(client, url, n // 10)  # warm the connection pool
        for _ in range(rounds):
            for name, client in made.items():
                best[name] = max(best[name], sync_round(client, url, n))
        for client in made.values():
            client.close()
    return _report("sync, one client, sequential requests", best, 0.97)


async def run_async(url: str, n: int, rounds: int) -> bool:
    async with AsyncOAuth2Client(
        "bench", "secret", token_endpoint="https://as.example/token"
    ) as oauth:
        made: dict[str, httpx2.AsyncClient | AuthlibAsyncClient] = {
            "bare httpx2": httpx2.AsyncClient(),
            "oauthkit": httpx2.AsyncClient(auth=oauth.auth(_token())),
            "Authlib": AuthlibAsyncClient(client_id="bench", token=_authlib_token()),
        }
        best = dict.fromkeys(made, 0.0)
        for client in made.values():
            await async_round(client, url, n // 10)
        for _ in range(rounds):
            for name, client in made.items():
                best[name] = max(best[name], await async_round(client, url, n))
        for client in made.values():
            await client.aclose()
    return _report(f"async, one client, {TASKS} concurrent tasks", best, 0.95)


if __name__ == "__main__":
    sys.exit(main())
