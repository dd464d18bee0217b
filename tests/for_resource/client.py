"""A program that calls the MCP server's ``whoami`` tool through the ``mcp`` package's own
client (streamable HTTP over an ``httpx2.AsyncClient``) with ``oauthkit.for_resource``'s auth:
what issue 17's tests run as separate processes, to see what a restart keeps.

    python client.py URL STORE [--pipe] [--calls N]

Sign-in: the default (the loopback redirect and ``$BROWSER``), or with ``--pipe`` the
authorization URL is printed as ``AUTHORIZE <url>`` and the callback URL read from stdin (the
test plays the user). Prints one JSON line: the tool's answers and the auth object's count of
discovery and registration requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Mapping

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from oauthkit import for_resource
from oauthkit.protocol.oauth2.authorization import AuthorizationRequest
from oauthkit.stores import SQLiteStore


def piped(begin: Callable[[str], AuthorizationRequest]) -> str | Mapping[str, str]:
    request = begin("http://127.0.0.1:53682/callback")
    print(f"AUTHORIZE {request.url}", flush=True)
    return sys.stdin.readline().strip()


async def calls(url: str, auth: httpx2.Auth, count: int) -> list[str]:
    answers = []
    async with httpx2.AsyncClient(auth=auth) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for _ in range(count):
                    result = await session.call_tool("whoami", {})
                    answers.append(result.content[0].text)  # type: ignore[union-attr]
    return answers


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("store")
    parser.add_argument("--pipe", action="store_true")
    parser.add_argument("--calls", type=int, default=1)
    args = parser.parse_args()
    auth = for_resource(
        args.url,
        store=SQLiteStore(args.store),
        client_name="oauthkit tests",
        sign_in=piped if args.pipe else None,
    )
    answers = asyncio.run(calls(args.url, auth, args.calls))
    print(json.dumps({"answers": answers, "requests": auth.requests}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
