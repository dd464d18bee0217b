"""A protected resource and authorization server that misbehave one way at a time, on
127.0.0.1, for issue 17's hostile cases: metadata for another resource, an authorization
server on plain http (not loopback), a registration answer without ``client_id``, a challenge
pointing at another host's metadata. ``seen`` lists the paths it was asked for."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAYS = ("other-resource", "http-server", "no-client-id", "foreign-metadata")


class HostileResource:
    def __init__(self, way: str) -> None:
        assert way in WAYS
        self.way = way
        self.seen: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/mcp"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _resource_metadata(self) -> dict[str, Any]:
        if self.way == "other-resource":
            return {"resource": "https://bank.example/mcp", "authorization_servers": [self.base]}
        if self.way == "http-server":
            return {"resource": self.url, "authorization_servers": ["http://auth.example.com"]}
        return {"resource": self.url, "authorization_servers": [self.base]}

    def _answer(self, method: str, path: str) -> tuple[int, Any, str | None]:
        if path == "/.well-known/oauth-protected-resource/mcp":
            return 200, self._resource_metadata(), None
        if path == "/.well-known/openid-configuration":
            return (
                200,
                {
                    "issuer": self.base,
                    "authorization_endpoint": f"{self.base}/authorize",
                    "token_endpoint": f"{self.base}/token",
                    "registration_endpoint": f"{self.base}/reg",
                    "code_challenge_methods_supported": ["S256"],
                },
                None,
            )
        if path == "/reg" and method == "POST":
            return 201, {"client_secret": "s3cret", "redirect_uris": ["http://127.0.0.1/cb"]}, None
        where = (
            "https://evil.example/.well-known/oauth-protected-resource"
            if self.way == "foreign-metadata"
            else f"{self.base}/.well-known/oauth-protected-resource/mcp"
        )
        return 401, {}, f'Bearer resource_metadata="{where}"'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                hostile.seen.append(f"{self.command} {self.path}")
                status, body, challenge = hostile._answer(self.command, self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if challenge:
                    self.send_header("WWW-Authenticate", challenge)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        return Handler
