"""A small protected resource with two levels of access, for the step-up test (RFC 6750 §3.1,
RFC 9728): ``/read`` needs ``mcp:tools``; ``/admin`` needs ``mcp:admin`` as well and answers
a token without it with 403 ``insufficient_scope`` naming the wider scope. Tokens are checked
by introspection at oidc-provider; its metadata names oidc-provider and only ``mcp:tools``
(the narrow scope a first sign-in asks for). ``/strong`` wants a sign-in made after it was
first asked for (RFC 9470): a token presented before then answers 401
``insufficient_user_authentication`` with ``acr_values`` and ``max_age=0``; ``/never``
answers that to every token. A threaded server on 127.0.0.1."""

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
        #: Every token presented; those presented up to the first /strong are not enough.
        self.seen: set[str] = set()
        self.weak: set[str] | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _introspect(self, token: str) -> dict[str, Any] | None:
        with httpx2.Client() as http:
            info = http.post(
                f"{self.issuer}/token/introspection", data={"token": token}, auth=self.introspect
            ).json()
        if not info.get("active") or info.get("aud") != self.url:
            return None
        return dict(info)

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
                info = resource._introspect(header[7:]) if header.startswith("Bearer ") else None
                scopes = set(str(info.get("scope", "")).split()) if info else None
                presented = header[7:]
                resource.seen.add(presented)
                if self.path == "/api/strong" and resource.weak is None:
                    resource.weak = set(resource.seen)
                weak = self.path == "/api/never" or (
                    self.path == "/api/strong" and presented in (resource.weak or set())
                )
                if scopes is None:
                    self._send(401, {}, f'Bearer resource_metadata="{where}"')
                elif weak:
                    self._send(
                        401,
                        {},
                        'Bearer error="insufficient_user_authentication", '
                        'acr_values="urn:mfa urn:strong", max_age=0',
                    )
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
