"""The :class:`Sandbox`: one loopback server with the OAuth 2 and OAuth 1.0a providers, its
routes, and the helpers that play the user on its pages."""

from __future__ import annotations

import html
import http.client
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlencode, urlsplit

from ..errors import ConfigurationError, OAuthKitError
from ..protocol.http import FORM_TYPE
from . import oauth1, oauth2, pages
from .clients import SandboxClient, default_clients, with_generated_secret
from .server import (
    LoopbackServer,
    Request,
    Response,
    StartResponse,
    WSGIEnviron,
    check_host,
    finish,
    handling_request,
    read_request,
    silence_oauthlib_debug,
)
from .store import Store

__all__ = ["ApprovalError", "Sandbox", "SandboxError"]

log = logging.getLogger("oauthkit.sandbox")

_CSRF_RE: Final = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]*)">')
_ACTION_RE: Final = re.compile(r'<form method="post" action="([^"]*)">')
_PIN_RE: Final = re.compile(r'<code id="pin">([^<]*)</code>')
_TITLE_RE: Final = re.compile(r"<h1[^>]*>(.*?)</h1>", re.DOTALL)
_TAG_RE: Final = re.compile(r"<[^>]+>")


class SandboxError(OAuthKitError):
    """Something went wrong with the sandbox itself (not started, a page that did not
    answer as expected)."""


class ApprovalError(SandboxError):
    """:meth:`Sandbox.approve` or :meth:`Sandbox.approve_device` found no consent page to act
    on, or the page refused: ``status`` and ``title`` say what the page said."""

    def __init__(self, message: str, *, status: int, title: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.title = title


def _title(body: str) -> str:
    match = _TITLE_RE.search(body)
    text = html.unescape(_TAG_RE.sub("", match.group(1))) if match else ""
    return " ".join(text.split())[:120]


class Sandbox:
    """A local OAuth 1.0a + OAuth 2 provider for development, tests and ``oauthkit demo``.

    ``host`` is ``127.0.0.1`` or ``::1`` (anything else is refused: the sandbox issues tokens
    to whoever reaches it); ``port=0`` takes a free port. ``clients`` replaces the default
    clients (see :mod:`oauthkit.sandbox`) with these :class:`SandboxClient` objects; secrets
    they lack are generated per instance. ``access_token_ttl`` is the access-token lifetime in
    seconds (``expires_in``); ``rotate_refresh_tokens=False`` keeps a refresh token across
    refreshes instead of rotating it. ``request_log`` receives one line per request —
    method, path (never the query, which may carry codes) and status.

    :meth:`start` serves from a daemon thread and returns the sandbox; ``with Sandbox() as
    sb:`` starts and stops it. Everything is kept in memory and lost at :meth:`stop`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        clients: Iterable[SandboxClient] | Mapping[str, SandboxClient] | None = None,
        access_token_ttl: int = 3600,
        rotate_refresh_tokens: bool = True,
        request_log: Callable[[str], None] | None = None,
    ) -> None:
        self.host = check_host(host)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError("port is an integer from 0 (any free port) to 65535")
        if (
            isinstance(access_token_ttl, bool)
            or not isinstance(access_token_ttl, int)
            or access_token_ttl < 1
        ):
            raise ConfigurationError("access_token_ttl is a whole number of seconds, at least 1")
        self._port = port
        self.access_token_ttl = access_token_ttl
        self.rotate_refresh_tokens = bool(rotate_refresh_tokens)
        self.request_log = request_log
        self._store = Store()
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self._oauth2: oauth2.OAuth2Provider | None = None
        self._oauth1 = oauth1.OAuth1Provider(self._store)
        if isinstance(clients, Mapping):
            clients = clients.values()
        for client in default_clients() if clients is None else clients:
            self.register(client)

    # -- clients ----------------------------------------------------------------------

    @property
    def clients(self) -> dict[str, SandboxClient]:
        """The registered clients by name (a copy), with their secrets."""
        with self._store.lock:
            return {c.name: c for c in self._store.clients.values()}

    def register(self, client: SandboxClient) -> SandboxClient:
        """Add ``client`` (also while running) and return it as registered, with a generated
        secret if it needs one and has none. Names and ids must be new."""
        if not isinstance(client, SandboxClient):
            raise ConfigurationError("register() takes a SandboxClient")
        registered = with_generated_secret(client)
        self._store.add_client(registered)
        return registered

    # -- running ----------------------------------------------------------------------

    def start(self) -> Self:
        """Bind ``host:port`` and serve from a daemon thread; returns the sandbox."""
        with self._lock:
            if self._server is not None:
                return self
            silence_oauthlib_debug()
            server = LoopbackServer(self.host, self._port, self._app)
            self._oauth2 = oauth2.OAuth2Provider(
                self._store,
                server.base_url,
                access_token_ttl=self.access_token_ttl,
                rotate_refresh_tokens=self.rotate_refresh_tokens,
            )
            self._server = server
            server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (safe to call twice)."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self) -> LoopbackServer:
        server = self._server
        if server is None:
            raise SandboxError("the sandbox is not running; call start() first")
        return server

    @property
    def port(self) -> int:
        """The port it listens on (running only)."""
        return self._running().port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (or ``http://[::1]:<port>``), running only."""
        return self._running().base_url

    @property
    def issuer(self) -> str:
        """The OAuth 2 issuer identifier (RFC 8414 §2), the same as :attr:`base_url`."""
        return self.base_url

    @property
    def oauth1_urls(self) -> dict[str, str]:
        """``request_token_url``, ``authorize_url`` and ``access_token_url``, as
        ``OAuth1Client`` takes them (``OAuth1Client(key, secret, **sb.oauth1_urls)``)."""
        base = self.base_url
        return {name: base + path for name, path in oauth1.PATHS.items() if name.endswith("_url")}

    def __repr__(self) -> str:
        where = self._server.base_url if self._server is not None else "not running"
        return f"Sandbox({where}, clients={sorted(self.clients)})"

    # -- playing the user -------------------------------------------------------------

    def approve(self, url: str, user: str = "alice", deny: bool = False) -> str:
        """Play the user on the consent page ``url`` leads to, without a browser.

        OAuth 2 (an authorization URL): returns the redirect URL, with ``code``, ``state``
        and ``iss`` (or ``error=access_denied`` when ``deny``), without requesting it. An
        authorization request the sandbox refuses gives its error redirect the same way.
        OAuth 1.0a (an ``/oauth1/authorize`` URL): returns the callback URL with
        ``oauth_token`` and ``oauth_verifier`` (``denied=`` when ``deny``), or for an ``oob``
        callback the PIN (``""`` when ``deny``). Anything else raises :class:`ApprovalError`.
        """
        target = self._own_target(url)
        status, location, body = self._http("GET", target)
        if status in (302, 303) and location:
            return location
        return self._submit(body, status, user=user, deny=deny)

    def approve_device(self, user_code: str, user: str = "alice", deny: bool = False) -> None:
        """Play the user on the device page (RFC 8628 §3.3): enter ``user_code``, sign in as
        ``user`` and approve (or deny). Raises :class:`ApprovalError` for an unknown or
        expired code."""
        target = oauth2.PATHS["device_page"] + "?" + urlencode([("user_code", user_code)])
        status, _, body = self._http("GET", target)
        self._submit(body, status, user=user, deny=deny)

    def _submit(self, page: str, status: int, *, user: str, deny: bool) -> str:
        csrf, action = _CSRF_RE.search(page), _ACTION_RE.search(page)
        if status != 200 or csrf is None or action is None:
            title = _title(page)
            raise ApprovalError(
                f"no consent page to act on ({status}: {title or 'no title'})",
                status=status,
                title=title,
            )
        form = {
            "csrf_token": html.unescape(csrf.group(1)),
            "user": user,
            "action": "deny" if deny else "approve",
        }
        status, location, body = self._http(
            "POST", html.unescape(action.group(1)), urlencode(form).encode()
        )
        if status in (302, 303) and location:
            return location
        if status == 200:
            if pin := _PIN_RE.search(body):
                return html.unescape(pin.group(1))
            if deny and 'id="denied"' in body:
                return ""
            if not deny and 'id="done"' in body:
                return ""
        title = _title(body)
        raise ApprovalError(
            f"the consent page refused ({status}: {title or 'no title'})",
            status=status,
            title=title,
        )

    def _own_target(self, url: str) -> str:
        """The request target of ``url``, which must point at this sandbox."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if (
            parts.scheme != "http"
            or parts.hostname not in ("127.0.0.1", "::1", "localhost")
            or port != self.port
        ):
            raise ConfigurationError(f"{url.split('?')[0]!r} is not a page of this sandbox")
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _http(self, method: str, target: str, body: bytes | None = None) -> tuple[int, str, str]:
        server = self._running()
        headers = {"Host": server.base_url.split("//", 1)[1]}
        if body is not None:
            headers["Content-Type"] = FORM_TYPE
            headers["Origin"] = server.base_url
            headers["Sec-Fetch-Site"] = "same-origin"
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            return response.status, response.getheader("Location") or "", text
        finally:
            conn.close()

    # -- the WSGI application -----------------------------------------------------------

    def _app(self, environ: WSGIEnviron, start_response: StartResponse) -> list[bytes]:
        with handling_request():
            server = self._server
            if server is None:  # stopping
                return finish(Response.text(503, "the sandbox is stopping"), start_response)
            req = read_request(environ, server.base_url.split("//", 1)[1])
            if isinstance(req, Response):
                return finish(req, start_response)
            try:
                response = self._dispatch(req, server)
            except ValueError:  # oauthlib cannot parse the query, body or a header
                response = Response.text(400, "malformed request")
            except Exception as exc:  # a bug: answer 500, log no request data
                log.warning("sandbox: %s answering %s %s", type(exc).__name__, req.method, req.path)
                response = Response.text(500, "internal error")
            if self.request_log is not None:
                self.request_log(f"{req.method} {req.path} {response.status}")
            return finish(response, start_response)

    def _dispatch(self, req: Request, server: LoopbackServer) -> Response:
        host = req.headers.get("Host")
        allowed = {f"{name}:{server.port}" for name in ("127.0.0.1", "[::1]", "localhost")}
        if host is not None and host.lower() not in allowed:
            # Another name for this address: DNS rebinding, or a misconfigured proxy.
            return Response.text(421, "this sandbox answers only on loopback addresses")
        assert self._oauth2 is not None
        o2, o1 = self._oauth2, self._oauth1
        path, method = req.path, req.method
        pages_get_post = {
            oauth2.PATHS["authorization_endpoint"]: (o2.authorize_page, o2.authorize_decision),
            oauth2.PATHS["device_page"]: (o2.device_page, o2.device_decision),
            oauth1.PATHS["authorize_url"]: (o1.authorize_page, o1.authorize_decision),
        }
        if path in pages_get_post:
            show, decide = pages_get_post[path]
            if method == "GET":
                return show(req)
            if method != "POST":
                return Response(405, [("Allow", "GET, POST")])
            if not _same_origin(req):
                return pages.message_page(
                    403, "Refused", "This form may only be sent from the sandbox's own page."
                )
            return decide(req)
        routes = {
            oauth2.PATHS["metadata"]: o2.metadata,
            oauth2.PATHS["token_endpoint"]: o2.token,
            oauth2.PATHS["device_authorization_endpoint"]: o2.device_authorization,
            oauth2.PATHS["revocation_endpoint"]: o2.revoke,
            oauth2.PATHS["introspection_endpoint"]: o2.introspect,
            oauth2.PATHS["resource"]: o2.me,
            oauth1.PATHS["request_token_url"]: o1.request_token,
            oauth1.PATHS["access_token_url"]: o1.access_token,
            oauth1.PATHS["resource"]: o1.me,
        }
        if path in routes:
            return routes[path](req)
        if path == "/" and method == "GET":
            return _index(server.base_url)
        return Response.json(404, {"error": "not_found"})


def _same_origin(req: Request) -> bool:
    """A form POST from the sandbox's own page. ``Origin`` may be ``null``: with
    ``Referrer-Policy: no-referrer`` browsers send that even for same-origin forms."""
    origin = req.headers.get("Origin")
    if origin is not None and origin != "null" and origin.lower() != req.origin.lower():
        return False
    return req.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def _index(base_url: str) -> Response:
    rows = [
        ("Metadata", oauth2.PATHS["metadata"]),
        ("Authorize", oauth2.PATHS["authorization_endpoint"]),
        ("Token", oauth2.PATHS["token_endpoint"]),
        ("Device authorization", oauth2.PATHS["device_authorization_endpoint"]),
        ("Device sign-in", oauth2.PATHS["device_page"]),
        ("Revoke", oauth2.PATHS["revocation_endpoint"]),
        ("Introspect", oauth2.PATHS["introspection_endpoint"]),
        ("Bearer resource", oauth2.PATHS["resource"]),
        ("OAuth 1 request token", oauth1.PATHS["request_token_url"]),
        ("OAuth 1 authorize", oauth1.PATHS["authorize_url"]),
        ("OAuth 1 access token", oauth1.PATHS["access_token_url"]),
        ("OAuth 1 resource", oauth1.PATHS["resource"]),
    ]
    items = "".join(
        f"<dt>{html.escape(name)}</dt><dd><code>{html.escape(path)}</code></dd>"
        for name, path in rows
    )
    body = (
        "<h1>Local OAuth provider</h1>"
        f"<p>Issuer <code>{html.escape(base_url)}</code>; the paths below are under it.</p>"
        f"<dl>{items}</dl>"
    )
    return pages.page(200, "Local OAuth provider", body)
