"""Throughput of bearer-authenticated requests: oauthkit's OAuth2Auth next to bare httpx2 and
Authlib's httpx2 clients, in one run.

    python bench/oauth2_bearer.py [--quick]

A minimal keep-alive HTTP server runs in its own process on a loopback port (so the client
process measures only client-side cost). Sync: one client, sequential requests. Async: one
client, 10 concurrent tasks. Configurations run in alternating rounds; the best round
counts. Prints requests per second and the ratio to bare httpx2 (the bar: 0.97 sync, 0.95
async with 10 tasks).
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client as AuthlibAsyncClient
from authlib.integrations.httpx_client import OAuth2Client as AuthlibClient

from _loopback import LoopbackServer, async_rate, report, sync_rate
from oauthkit import AsyncOAuth2Client, OAuth2Client, Token

TASKS = 10


def _token() -> Token:
    return Token("bench-access-token", expires_at=datetime.now(UTC) + timedelta(hours=1))


def _authlib_token() -> dict[str, object]:
    return {
        "access_token": "bench-access-token",
        "token_type": "Bearer",
        "expires_at": int(time.time()) + 3600,
    }


def run_sync(url: str, token_url: str, n: int, rounds: int) -> bool:
    with OAuth2Client("bench", "secret", token_endpoint=token_url) as oauth:
        made: dict[str, Any] = {
            "bare httpx2": httpx2.Client(),
            "oauthkit": httpx2.Client(auth=oauth.auth(_token())),
            "Authlib": AuthlibClient(client_id="bench", token=_authlib_token()),
        }
        best = dict.fromkeys(made, 0.0)
        for client in made.values():
            sync_rate(client.get, url, n // 10)  # warm the connection pool
        for _ in range(rounds):
            for name, client in made.items():
                best[name] = max(best[name], sync_rate(client.get, url, n))
        for client in made.values():
            client.close()
    return report("sync, one client, sequential requests", best, 0.97, "oauthkit")


async def run_async(url: str, token_url: str, n: int, rounds: int) -> bool:
    async with AsyncOAuth2Client("bench", "secret", token_endpoint=token_url) as oauth:
        made: dict[str, Any] = {
            "bare httpx2": httpx2.AsyncClient(),
            "oauthkit": httpx2.AsyncClient(auth=oauth.auth(_token())),
            "Authlib": AuthlibAsyncClient(client_id="bench", token=_authlib_token()),
        }
        best = dict.fromkeys(made, 0.0)
        for client in made.values():
            await async_rate(client.get, url, n // 10, TASKS)
        for _ in range(rounds):
            for name, client in made.items():
                best[name] = max(best[name], await async_rate(client.get, url, n, TASKS))
        for client in made.values():
            await client.aclose()
    return report(f"async, one client, {TASKS} concurrent tasks", best, 0.95, "oauthkit")


def main() -> int:
    n, rounds = (500, 3) if "--quick" in sys.argv else (3000, 7)
    with LoopbackServer() as server:
        url, token_url = server.url + "/api", server.url + "/token"
        ok = run_sync(url, token_url, n, rounds)
        ok = asyncio.run(run_async(url, token_url, n, rounds)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
