"""Fixtures for issue 17: oidc-provider with open registration (RFC 7591/7592) and the MCP
server's URL as a resource (RFC 8707), and the MCP server itself (the ``mcp`` package)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.conftest import chromium  # noqa: F401 - the real-browser user, for these tests too
from peers.mcp_server import MCPServerPeer, reserve_url, start_mcp_server
from peers.oidc_provider import SERVICE_SECRET, OIDCPeer


@dataclass
class Protected:
    """An MCP server (``url``) protected by an authorization server (``peer``)."""

    url: str
    peer: OIDCPeer
    server: MCPServerPeer

    def registrations(self) -> int:
        return sum(
            1 for method, path in self.peer.request_log if (method, path) == ("POST", "/reg")
        )

    def token_requests(self) -> int:
        return sum(
            1 for method, path in self.peer.request_log if (method, path) == ("POST", "/token")
        )


@pytest.fixture
def protected(
    start_oidc: Callable[..., OIDCPeer], tmp_path: Path
) -> Iterator[Callable[..., Protected]]:
    servers: list[MCPServerPeer] = []

    def start(**options: Any) -> Protected:
        url = reserve_url()
        peer = start_oidc(registration=True, resources={url: "mcp:tools"}, **options)
        log = tmp_path / f"mcp-{len(servers)}.log"
        server = start_mcp_server(url, peer.issuer, ("service", SERVICE_SECRET), log)
        servers.append(server)
        return Protected(url, peer, server)

    yield start
    for server in servers:
        server.stop()
