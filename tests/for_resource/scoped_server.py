"""A small protected resource with two levels of access, for the step-up test (RFC 6750 §3.1,
RFC 9728): ``/read`` needs ``mcp:tools``; ``/admin`` needs ``mcp:admin`` as well and answers
a token without it with 403 ``insufficient_scope`` naming the wider scope. Tokens are checked
by introspection at oidc-provider; its metadata names oidc-provider and only ``mcp:tools``
(the narrow scope a first sign-in asks for). A threaded server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2

READ, ADMIN = "mcp:tools", "mcp:admin"


class ScopedResource:
    def __init__(self, introspect: tuple[str, str]) -> None:
        self.issuer = ""  # set once the authorization server, which needs our URL, runs
        self.introspect = introspect
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _scopes(self, token: str) -> set[str] | None:
        with httpx2.Client() as http:
            info = http.post(
                f"{self.issuer}/token/introspection", data={"token": token}, auth=self.introspect
            ).json()
        if not info.get("active") or info.get("aud") != self.url:
            return None
        return set(str(info.get("scope", "")).split())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        resource = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, challenge: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if challenge:
                    self.send_header("WWW-Authenticate", challenge)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                metadata = "/.well-known/oauth-protected-resource/api"
                if self.path == metadata:
                    self._send(
                        200,
                        {
                            "resource": resource.url,
                            "authorization_servers": [resource.issuer],
                            "scopes_supported": [READ],
                        },
                    )
                    return
                where = resource.url.rsplit("/api", 1)[0] + metadata
                header = self.headers.get("Authorization", "")
                scopes = resource._scopes(header[7:]) if header.startswith("Bearer ") else None
                if scopes is None:
                    self._send(401, {}, f'Bearer resource_metadata="{where}"')
                elif self.path == "/api/admin" and ADMIN not in scopes:
                    self._send(
                        403,
                        {},
                        f'Bearer error="insufficient_scope", scope="{READ} {ADMIN}", '
                        f'resource_metadata="{where}"',
                    )
                else:
                    self._send(200, {"path": self.path, "scopes": sorted(scopes)})

        return Handler
