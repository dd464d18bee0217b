"""A count, not just a time (issue 17, item 7): how many HTTP requests a program makes from its
first call to an MCP server to its first authorized call — cold (nothing stored) and warm (a
restarted program with its store) — with ``oauthkit.for_resource`` and with the ``mcp``
package's own ``OAuthClientProvider``, in the same run, against the same servers: an MCP
server built with the ``mcp`` package, protected by oidc-provider with open registration.

    python bench/resource.py

Counted: every request the program's HTTP clients send (the MCP call itself, metadata,
registration, the token exchange). Not counted: the person's browser at the consent page
(played here over HTTP by the oidc-provider helper of the tests). Each client keeps its own
store between the cold and the warm run, as a restarted program would.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from mcp.client.auth import OAuthClientProvider  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.auth import (  # noqa: E402
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from oauthkit import for_resource  # noqa: E402
from oauthkit.stores import SQLiteStore  # noqa: E402
from peers.mcp_server import reserve_url, start_mcp_server  # noqa: E402
from peers.oidc_provider import SERVICE_SECRET, start_oidc_provider  # noqa: E402

Sent = list[tuple[str, str, int]]  # (method, path, status) in the order sent


class Counting(httpx2.AsyncHTTPTransport):
    """An async transport that records what it sends and what came back."""

    def __init__(self, sent: Sent | None = None) -> None:
        super().__init__()
        self.sent: Sent = [] if sent is None else sent

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await super().handle_async_request(request)
        self.sent.append((request.method, request.url.path, response.status_code))
        return response


class CountingSync(httpx2.HTTPTransport):
    """The sync twin, for oauthkit's discovery and token requests."""

    def __init__(self, sent: Sent) -> None:
        super().__init__()
        self.sent = sent

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = super().handle_request(request)
        self.sent.append((request.method, request.url.path, response.status_code))
        return response


async def first_call(url: str, http: httpx2.AsyncClient) -> str:
    async with (
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool("whoami", {})
        return str(result.content[0].text)  # type: ignore[union-attr]


def until_authorized(sent: Sent, url: str) -> int:
    """How many requests were sent up to and including the first MCP call that was not
    refused with a 401."""
    path = urlsplit(url).path
    for index, (_, where, status) in enumerate(sent):
        if where == path and status != 401:
            return index + 1
    raise AssertionError("no authorized call")


async def oauthkit_run(url: str, peer: Any, store: Path) -> tuple[Sent, float]:
    transport = Counting()
    sent = transport.sent

    def sign_in(begin: Any) -> str:
        return str(peer.approve(begin("http://127.0.0.1:53682/callback").url))

    auth = for_resource(
        url,
        store=SQLiteStore(store),
        client_name="bench",
        sign_in=sign_in,
        http=httpx2.Client(transport=CountingSync(sent)),
    )
    started = time.perf_counter()
    async with httpx2.AsyncClient(auth=auth, transport=transport) as http:
        assert await first_call(url, http) == "alice"
    return sent, time.perf_counter() - started


class MemoryStorage:
    """The mcp package's TokenStorage, kept across the two runs like a file would be."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def mcp_run(url: str, peer: Any, storage: MemoryStorage) -> tuple[Sent, float]:
    transport = Counting()
    landed: dict[str, str] = {}

    async def redirect(authorization_url: str) -> None:
        callback = await asyncio.to_thread(peer.approve, authorization_url)
        landed.update({k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()})

    async def callback() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(
            code=landed["code"], state=landed.get("state"), iss=landed.get("iss")
        )

    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="bench-mcp",
            redirect_uris=["http://127.0.0.1:53682/callback"],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect,
        callback_handler=callback,
    )
    started = time.perf_counter()
    async with httpx2.AsyncClient(auth=provider, transport=transport) as http:
        assert await first_call(url, http) == "alice"
    return transport.sent, time.perf_counter() - started


def main() -> int:
    url = reserve_url()
    peer = start_oidc_provider(registration=True, resources={url: "mcp:tools"})
    folder = Path(tempfile.mkdtemp(prefix="oauthkit-bench-resource-"))
    server = start_mcp_server(url, peer.issuer, ("service", SERVICE_SECRET), folder / "mcp.log")
    rows = []
    try:
        storage = MemoryStorage()
        for name, run in (
            ("oauthkit.for_resource", lambda: oauthkit_run(url, peer, folder / "t.sqlite3")),
            ("mcp OAuthClientProvider", lambda: mcp_run(url, peer, storage)),
        ):
            for phase in ("cold", "warm"):
                sent, seconds = asyncio.run(run())
                rows.append((name, phase, until_authorized(sent, url), seconds, sent))
    finally:
        server.stop()
        peer.stop()
    print(f"{'client':<26}{'run':<6}{'requests to 1st authorized call':>33}{'time':>9}")
    for name, phase, count, seconds, _ in rows:
        print(f"{name:<26}{phase:<6}{count:>33}{seconds * 1000:>7.0f}ms")
    for name, phase, count, _, sent in rows:
        detail = ", ".join(f"{method} {path} {status}" for method, path, status in sent[:count])
        print(f"  {name} {phase}: {detail}")
    ours = {phase: count for name, phase, count, _, _ in rows if name.startswith("oauthkit")}
    theirs = {phase: count for name, phase, count, _, _ in rows if name.startswith("mcp")}
    for phase in ("cold", "warm"):
        print(f"{phase}: oauthkit {ours[phase]} requests, mcp {theirs[phase]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
