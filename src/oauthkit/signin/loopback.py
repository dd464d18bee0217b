"""The loopback redirect server of a command-line sign-in (RFC 8252 §7.3).

It binds ``127.0.0.1`` (or ``[::1]``) on a free port — or the provider's fixed one — only for
the duration of one flow, and waits for the one redirect that carries this flow's ``state``.
Anything else (a favicon, another path, a missing or wrong ``state``, a repeated parameter,
a ``Host`` that is not a loopback name with this port — DNS rebinding) gets a 400 and the
wait goes on. The first redirect with the right ``state`` claims the flow: a second one, even
at the same moment, is refused without reaching the check. Idle connections time out, and
every connection is closed and its thread joined before the wait returns.

The redirect itself is checked by the OAuth core; the page the browser then shows loads
nothing external, is not cached, sends no referrer, never echoes the code, and HTML-escapes
whatever the provider said. A timeout ends the flow with a clear error and frees the port.
"""

from __future__ import annotations

import contextlib
import hmac
import html
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit

from .._html import page_headers
from ..errors import CallbackError, ConfigurationError, OAuthKitError

__all__ = ["LoopbackRedirect", "LoopbackTimeout", "page"]

T = TypeVar("T")

#: Seconds a connection may stay silent before the server drops it.
IDLE_TIMEOUT = 10.0

_STYLE = (
    "body{font:16px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;background:#f6f7f9;"
    "color:#1d2430;display:flex;min-height:100vh;margin:0;align-items:center;"
    "justify-content:center}main{background:#fff;border-radius:12px;padding:2rem 2.5rem;"
    "box-shadow:0 2px 16px #0001;max-width:32rem}h1{font-size:1.3rem;margin:0 0 .5rem}"
    ".ok{color:#137333}.bad{color:#b3261e}p{margin:.4rem 0}code{background:#eef1f5;"
    "padding:.1rem .3rem;border-radius:4px}"
)

_HEADERS = page_headers("default-src 'none'; style-src 'unsafe-inline'")


class LoopbackTimeout(OAuthKitError, TimeoutError):
    """No redirect arrived in time; the port is free again."""


def page(title: str, lines: list[str], *, ok: bool) -> bytes:
    """A small self-contained HTML page; every text is HTML-escaped."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    mark = "ok" if ok else "bad"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f'<main><h1 class="{mark}">{html.escape(title)}</h1>{body}</main></html>'
    ).encode()


SUCCESS = page(
    "Signed in",
    ["oauthkit received the answer.", "You can close this window and go back to the terminal."],
    ok=True,
)


class LoopbackRedirect(Generic[T]):
    """Wait for one redirect on a loopback address.

    ``check(params)`` receives the redirect's query parameters once their ``state`` matches
    (``state=None``: OAuth 1.0a, which matches ``oauth_token`` instead); it returns the value
    the flow needs or raises — a :class:`CallbackError` or the provider's error — which ends
    the flow with an error page.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/callback",
        state_param: str = "state",
    ) -> None:
        if host not in ("127.0.0.1", "::1", "[::1]", "localhost"):
            raise ConfigurationError(f"the redirect must bind a loopback address, not {host!r}")
        self.host = "::1" if host in ("::1", "[::1]") else "127.0.0.1"
        #: The name in the redirect URI: ``localhost`` when asked for (a provider that
        #: compares redirect URIs exactly, such as Etsy, needs the registered spelling).
        self.name = "localhost" if host == "localhost" else self.host
        self.path = path
        self.state_param = state_param
        self._expected: str | None = None
        self._check: Callable[[dict[str, str]], T] | None = None
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._claim = threading.Lock()
        self._claimed = False
        self._waiting = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._server = self._bind(port)
        self.port = int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        """The URI to register and send: ``http://127.0.0.1:<port>/callback``."""
        host = "[::1]" if self.name == "::1" else self.name
        return f"http://{host}:{self.port}{self.path}"

    def _bind(self, port: int) -> ThreadingHTTPServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            timeout = IDLE_TIMEOUT  # a connection that sends nothing is dropped

            def log_message(self, format: str, *args: Any) -> None:  # quiet: URLs hold codes
                pass

            def setup(self) -> None:
                super().setup()
                with outer._connections_lock:
                    outer._connections.add(self.connection)

            def finish(self) -> None:
                with outer._connections_lock:
                    outer._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_GET(self) -> None:
                if not outer._loopback_host(self.headers.get("Host")):
                    status, body = (
                        400,
                        page(
                            "Not this address", ["oauthkit answers only loopback names."], ok=False
                        ),
                    )
                else:
                    status, body = outer._answer(self.path)
                self.send_response(status)
                for name, value in _HEADERS:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # joined by server_close(): none outlives the flow
            block_on_close = True
            address_family = socket.AF_INET6 if self.host == "::1" else socket.AF_INET
            allow_reuse_address = False

        try:
            return Server((self.host, port), Handler)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {self.host} port {port} for the redirect ({exc.strerror}); "
                "another program holds it — close it, or configure another redirect_port "
                "(if the provider allows one)"
            ) from None

    def offer(self, url: str) -> str | None:
        """A redirect URL the person pasted (the browser ran elsewhere, so the redirect never
        reached this machine): checked exactly like one that arrives here, and it must be
        this redirect URI. ``None`` when it was taken (the wait ends, with the flow's result
        or error), else why not."""
        try:
            parts = urlsplit(url.strip())
            mine = urlsplit(self.redirect_uri)
            same = (parts.scheme, parts.hostname, parts.port, parts.path) == (
                mine.scheme,
                mine.hostname,
                mine.port,
                mine.path,
            )
        except ValueError:
            same = False
        if not same:
            return f"it is not {self.redirect_uri}?…"
        self._waiting.wait(5)  # a paste may come before wait() has begun
        status, _ = self._answer(f"{parts.path}?{parts.query}")
        if status != 400 or self._done.is_set():
            return None
        return "its state is not this sign-in's, or it repeats a parameter"

    def _answer(self, target: str) -> tuple[int, bytes]:
        try:
            parts = urlsplit(target)
        except ValueError:
            return 400, page("Not this address", ["oauthkit waits for another page."], ok=False)
        if parts.path != self.path or self._check is None or self._done.is_set():
            return 400, page("Not this address", ["oauthkit waits for another page."], ok=False)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        names = [name for name, _ in pairs]
        params = dict(pairs)
        state = params.get(self.state_param)
        if (
            len(names) != len(set(names))
            or state is None
            or self._expected is None
            or not hmac.compare_digest(state.encode(), self._expected.encode())
        ):
            return 400, page(
                "Not this sign-in",
                ["This address does not belong to the sign-in under way."],
                ok=False,
            )
        with self._claim:  # the first valid redirect takes the flow; no other reaches check
            claimed, self._claimed = self._claimed, True
        if claimed:
            return 400, page(
                "Already answered", ["This sign-in has had its answer already."], ok=False
            )
        try:
            self._result = self._check(params)
        except (CallbackError, OAuthKitError) as exc:
            self._error = exc
            self._done.set()
            reason = params.get("error_description") or params.get("error") or str(exc)
            return 400, page("Sign-in failed", [reason, "Go back to the terminal."], ok=False)
        self._done.set()
        return 200, SUCCESS

    def _loopback_host(self, host: str | None) -> bool:
        """RFC 8252 §8.3 and DNS rebinding: the Host is a loopback name with our port."""
        if not host:
            return False
        names = ("127.0.0.1", "localhost") if self.host == "127.0.0.1" else ("[::1]", "localhost")
        return host.lower() in {f"{name}:{self.port}" for name in names}

    def wait(self, expected_state: str, check: Callable[[dict[str, str]], T], timeout: float) -> T:
        """Serve until the redirect for ``expected_state`` arrives and ``check`` accepts it;
        then stop listening. Raises what ``check`` raised, or :class:`LoopbackTimeout`."""
        self._expected, self._check = expected_state, check
        self._waiting.set()
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + timeout
            while not self._done.wait(0.1):
                if time.monotonic() >= deadline:
                    raise LoopbackTimeout(
                        f"no redirect arrived within {timeout:.0f} s; the sign-in was abandoned "
                        "(run the command again, or use --device where the provider offers it)"
                    )
        finally:
            self.close()
            thread.join(timeout=5)
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    def close(self) -> None:
        """Stop listening, end every open connection, join their threads, free the port."""
        if self._expected is not None:  # serve_forever is running: stop it first
            self._server.shutdown()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:  # an idle or half-sent request reads EOF now;
            with contextlib.suppress(OSError):  # a page being written is still sent whole
                connection.shutdown(socket.SHUT_RD)
        self._server.server_close()

    def __enter__(self) -> LoopbackRedirect[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
