"""An MCP server built with the official ``mcp`` package (PyPI, 2.x), protected by
oidc-provider: the resource of issue 17's tests.

Run under uvicorn on 127.0.0.1 (:func:`start_mcp_server`), it serves streamable HTTP at
``/mcp`` with one tool, ``whoami``, answers an unauthenticated request with 401 and
``WWW-Authenticate: Bearer … resource_metadata="…"`` and serves its protected resource
metadata (RFC 9728) naming the oidc-provider issuer — all the package's own doing. Tokens are
checked by introspection at oidc-provider (RFC 7662) with the ``service`` client; a token must
be active, for this server's URL (RFC 8707 ``aud``) and carry ``mcp:tools``.

Environment of the server process: ``MCP_ISSUER``, ``MCP_URL`` (its own ``…/mcp`` URL),
``MCP_INTROSPECT_ID`` / ``MCP_INTROSPECT_SECRET``, ``MCP_SCOPE`` (default ``mcp:tools``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCOPE = "mcp:tools"


def _app() -> Any:
    import httpx2
    from mcp.server import MCPServer
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings

    issuer, url = os.environ["MCP_ISSUER"], os.environ["MCP_URL"]
    scope = os.environ.get("MCP_SCOPE", SCOPE)
    client = (os.environ["MCP_INTROSPECT_ID"], os.environ["MCP_INTROSPECT_SECRET"])

    class Introspecting:
        async def verify_token(self, token: str) -> AccessToken | None:
            async with httpx2.AsyncClient() as http:
                answer = await http.post(
                    f"{issuer}/token/introspection", data={"token": token}, auth=client
                )
            info = answer.json() if answer.status_code == 200 else {}
            audience = info.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if not info.get("active") or url not in audiences:
                return None
            return AccessToken(
                token=token,
                client_id=str(info.get("client_id", "")),
                scopes=str(info.get("scope", "")).split(),
                expires_at=info.get("exp"),
                resource=url,
                subject=info.get("sub"),
            )

    server = MCPServer(
        "oauthkit-test",
        token_verifier=Introspecting(),
        auth=AuthSettings(
            issuer_url=issuer,
            resource_server_url=url,
            required_scopes=[scope],
            validate_token_resource=True,
        ),
    )

    @server.tool()
    def whoami() -> str:
        """The signed-in user (from the token), to prove the call was authorized."""
        from mcp.server.auth.middleware.auth_context import get_access_token

        token = get_access_token()
        return token.subject or "" if token else ""

    return server.streamable_http_app(host="127.0.0.1")


@dataclass
class MCPServerPeer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def reserve_url() -> str:
    """``http://127.0.0.1:<a free port>/mcp``: the URL to give oidc-provider as a resource
    before the server starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/mcp"


def start_mcp_server(
    url: str, issuer: str, introspect: tuple[str, str], log: Path, scope: str = SCOPE
) -> MCPServerPeer:
    """uvicorn with this module's app at ``url`` (from :func:`reserve_url`); returns once it
    answers."""
    port = int(url.split(":")[2].split("/")[0])
    env = {
        **os.environ,
        "MCP_ISSUER": issuer,
        "MCP_URL": url,
        "MCP_SCOPE": scope,
        "MCP_INTROSPECT_ID": introspect[0],
        "MCP_INTROSPECT_SECRET": introspect[1],
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "peers.mcp_server:_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    peer = MCPServerPeer(url, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the MCP server exited: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return peer
        except OSError:
            time.sleep(0.1)
    peer.stop()
    raise RuntimeError(f"the MCP server did not listen within 30 s: {log.read_text()}")
