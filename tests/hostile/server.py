"""A loopback authorization server that misbehaves in one chosen way at a time.

``HostileServer.mode`` names the misbehaviour; everything else is a correct OpenID provider
(discovery, JWKS, token endpoint). Modes act on the token response (its body, its encoding,
its framing), on the ID token inside it, or on the discovery document.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "hostile-client"
CLIENT_SECRET = "client-secret-never-shown-0123456789"
ACCESS = "at-secret-never-shown"
REFRESH = "rt-secret-never-shown"

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"}, private=True)
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"}, private=True)


def _bomb(size: int = 64 * 1024 * 1024) -> bytes:
    """``size`` bytes of JSON whitespace, gzip-compressed (about 64 KiB), made in slices so
    that making it costs no memory to speak of."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b"{")]
    slab = b" " * (1024 * 1024)
    parts += [packer.compress(slab) for _ in range(size // len(slab))]
    parts.append(packer.compress(b"}") + packer.flush())
    return b"".join(parts)


BOMB = _bomb()


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


class _QuietServer(ThreadingHTTPServer):
    """A client that gives up on an answer (as the client under test does with an endless
    or oversized body) resets the connection; that is expected here, not worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class Seen:
    """A request as the server got it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HostileServer:
    """Start with :meth:`start`; set :attr:`mode` and :attr:`nonce` per test."""

    def __init__(self) -> None:
        self.mode = "ok"
        #: When set, the token endpoint's (and /api's) answer is this function's result for
        #: the request it got: (status, headers, body). ``Seen`` carries what was sent.
        self.answer: Callable[[Seen], tuple[int, dict[str, str], bytes]] | None = None
        #: Claims merged into the next ID tokens (a test's own hostile values).
        self.claims: dict[str, Any] = {}
        self.nonce: str | None = None
        self.rotated = False
        self.requests: list[str] = []
        server = _QuietServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self._server = server
        self.issuer = f"http://127.0.0.1:{server.server_address[1]}"

    def start(self) -> HostileServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ----------------------------------------------------------------- what it answers

    def metadata(self) -> dict[str, Any]:
        issuer = self.issuer
        document = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "revocation_endpoint": f"{issuer}/revoke",
            "introspection_endpoint": f"{issuer}/introspect",
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": True,
        }
        if self.mode == "discovery_issuer":
            document["issuer"] = "https://evil.example"
        if self.mode == "discovery_http":
            document["token_endpoint"] = "http://id.example.com/token"
        return document

    def id_token(self) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": self.nonce,
        }
        header: dict[str, Any] = {"alg": "RS256", "kid": "k1"}
        key = KEY
        mode = self.mode
        changes: dict[str, Any] = {
            "idt_iss": {"iss": "https://evil.example"},
            "idt_aud": {"aud": "someone-else"},
            "idt_azp": {"aud": [CLIENT_ID, "someone-else"]},
            "idt_expired": {"exp": now - 3600},
            "idt_nonce": {"nonce": "replayed-nonce"},
        }
        claims.update(changes.get(mode, {}))
        claims.update(self.claims)
        for name in ("iat", "sub", "nonce"):
            if mode == f"idt_no_{name}":
                claims.pop(name)
        if mode == "idt_none":
            return f"{_b64({'alg': 'none'})}.{_b64(claims)}."
        if mode == "idt_hs256_public":
            import hashlib
            import hmac

            signing = f"{_b64({'alg': 'HS256', 'kid': 'k1'})}.{_b64(claims)}"
            mac = hmac.new(KEY.as_pem(private=False), signing.encode(), hashlib.sha256).digest()
            return f"{signing}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        if mode == "idt_crit":
            return f"{_b64({'alg': 'RS256', 'kid': 'k1', 'crit': ['b64'], 'b64': False})}.{_b64(claims)}.x"
        if mode in ("idt_rotated", "idt_unknown_kid"):
            header["kid"], key = "k2", ROTATED
        token = jwt.encode(header, claims, key, algorithms=["RS256"])
        if mode == "idt_bad_signature":
            head, _, sig = token.split(".")
            token = f"{head}.{_b64({**claims, 'sub': 'mallory'})}.{sig}"
        return token

    def token_body(self) -> tuple[int, dict[str, str], bytes]:
        good: dict[str, Any] = {
            "access_token": ACCESS,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": REFRESH,
            "id_token": self.id_token(),
            "scope": "openid",
        }
        json_type = {"Content-Type": "application/json"}
        mode = self.mode
        if mode == "html":
            return 200, {"Content-Type": "text/html"}, b"<html><body>Sign in</body></html>"
        if mode == "array":
            return 200, json_type, json.dumps([good]).encode()
        if mode == "missing_access_token":
            good.pop("access_token")
        if mode == "non_string_access_token":
            good["access_token"] = 12345
        if mode == "unknown_token_type":
            good["token_type"] = "mac"
        if mode.startswith("expires_in="):
            good["expires_in"] = json.loads(mode.split("=", 1)[1])
        if mode == "redirect":
            return 307, {"Location": "http://evil.example/token"}, b""
        if mode == "huge":
            return 200, json_type, b'{"access_token": "' + b"x" * (5 * 1024 * 1024) + b'"}'
        if mode == "gzip_bomb":
            return 200, {**json_type, "Content-Encoding": "gzip"}, BOMB
        return 200, json_type, json.dumps(good).encode()

    # ----------------------------------------------------------------- HTTP plumbing

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                outer.requests.append(f"GET {self.path}")
                if self.path.startswith("/.well-known/"):
                    body = json.dumps(outer.metadata()).encode()
                    self._send(200, {"Content-Type": "application/json"}, body)
                elif self.path == "/jwks":
                    keys = [KEY.as_dict(private=False)]
                    if outer.mode == "idt_rotated":
                        keys.append(ROTATED.as_dict(private=False))
                    self._send(
                        200,
                        {"Content-Type": "application/json"},
                        json.dumps({"keys": keys}).encode(),
                    )
                elif not self._answer(b""):
                    self._send(404, {}, b"")

            def _answer(self, body: bytes) -> bool:
                if outer.answer is None:
                    return False
                seen = Seen(self.command, self.path, dict(self.headers.items()), body)
                status, headers, content = outer.answer(seen)
                if headers.pop("X-Slow-Headers", None):
                    self._slow(status, headers, content)
                else:
                    self._send(status, headers, content)
                return True

            def _slow(self, status: int, headers: dict[str, str], body: bytes) -> None:
                """One header line every second, for a minute, then the answer."""
                try:
                    self.wfile.write(f"HTTP/1.1 {status} OK\r\n".encode())
                    self.wfile.flush()
                    for i in range(60):
                        time.sleep(1)
                        self.wfile.write(f"X-Slow-{i}: x\r\n".encode())
                        self.wfile.flush()
                    for name, value in {**headers, "Content-Length": str(len(body))}.items():
                        self.wfile.write(f"{name}: {value}\r\n".encode())
                    self.wfile.write(b"\r\n" + body)
                    self.wfile.flush()
                except OSError:
                    return
                self.close_connection = True

            def do_POST(self) -> None:
                outer.requests.append(f"POST {self.path}")
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self._answer(body):
                    return
                if outer.mode == "endless":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b"400\r\n" + b" " * 1024 + b"\r\n")
                            self.wfile.flush()
                    except OSError:
                        return
                self._send(*outer.token_body())

        return Handler
