"""Shared pieces of the local OAuth 1.0a (RFC 5849) providers used by the client's tests.

Two providers live next to this module, each on an independent server-side implementation
(``oauth1_oauthlib`` on oauthlib, ``oauth1_authlib`` on Authlib).  They share:

* :class:`LoopbackWSGIServer`: a threaded stdlib ``wsgiref`` server on ``127.0.0.1`` and a
  free port, served from a daemon thread;
* :class:`RawRequest` / :class:`Response`: the request exactly as received (raw request
  target, raw body) and the answer handed back to ``wsgiref``;
* :class:`ProviderApp`: the WSGI application with the routes, the user's authorization page
  (approve / deny / oob PIN page), the echoing resource and the test switches; a provider
  only fills in the calls into its library;
* :class:`OAuth1Peer`: what the tests see (URLs, credentials, switches, ``approve()``,
  ``reset()``, ``request_log``);
* :func:`rsa_key_pair`: one RSA key pair per process for the ``RSA-*`` client.

Library behaviour a client test should know (oauthlib 4.0.1, Authlib 1.9.10; checked by
``test_peers_selfcheck``):

* Both percent-decode ``oauth_*`` values a second time after parsing them (oauthlib in query
  and body placement, Authlib in all three), so an RFC-correct signature over an
  ``oauth_callback`` containing ``%`` is refused (401).  Use callbacks without ``%``.
* Both re-encode the callback's own query when appending ``oauth_token``/``oauth_verifier``
  (``a%20b`` becomes ``a+b``, ``flag`` becomes ``flag=``); the deny redirect keeps it verbatim.
* oauthlib needs ``oauth_timestamp`` (exactly 10 digits) and ``oauth_nonce`` even with
  PLAINTEXT; Authlib lets PLAINTEXT omit both.
* Authlib drops any parameter named ``realm`` (also from the query or body) from its base
  string; it refuses unencoded ``'`` and ``$`` in the query (here: 400, empty body); both
  refuse unencoded ``[`` ``]``.
* The request-token endpoint: Authlib allows only POST (405), oauthlib any method.
* A failed access-token request deletes the request token in Authlib, not in oauthlib;
  Authlib answers a wrong verifier with 400 ``invalid_request``, oauthlib with 401.
* oauthlib's access-token answer also carries ``oauth_authorized_realms=`` (empty).
"""

from __future__ import annotations

import functools
import html
import http.client
import json
import re
import socketserver
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

SIGNATURE_METHODS: tuple[str, ...] = (
    "HMAC-SHA1",
    "HMAC-SHA256",
    "HMAC-SHA512",
    "RSA-SHA1",
    "RSA-SHA256",
    "RSA-SHA512",
    "PLAINTEXT",
)
HMAC_METHODS = frozenset({"HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512", "PLAINTEXT"})
RSA_METHODS = frozenset({"RSA-SHA1", "RSA-SHA256", "RSA-SHA512"})

HMAC_CONSUMER_KEY = "hmac-client-key-0001"
HMAC_CONSUMER_SECRET = "hmac-client-secret-0001~kp3Vd9"
RSA_CONSUMER_KEY = "rsa-client-key-0001"

REQUEST_TOKEN_PATH = "/oauth/request_token"
AUTHORIZE_PATH = "/oauth/authorize"
ACCESS_TOKEN_PATH = "/oauth/access_token"
RESOURCE_PATH = "/api/echo"

#: Both providers refuse timestamps more than this many seconds away from the server clock.
TIMESTAMP_WINDOW = 600

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def default_extra_access_params() -> dict[str, str]:
    """Extra parameters returned with the access token unless a test changes them."""
    return {"user_id": "42", "screen_name": "alice"}


@functools.cache
def rsa_key_pair() -> tuple[str, str]:
    """Return ``(private_pem, public_pem)`` of one 2048-bit RSA key, made once per process.

    The private key is PKCS#8, unencrypted; the public key is SubjectPublicKeyInfo.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


# --------------------------------------------------------------------------- HTTP server


class _QuietHandler(WSGIRequestHandler):
    """``wsgiref`` handler that keeps the raw request target and does not log each request."""

    def get_environ(self) -> WSGIEnviron:
        environ: WSGIEnviron = dict(super().get_environ())
        environ["oauthkit.raw_target"] = self.path  # e.g. "/api/echo?q=%C3%BC&q=2"
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log."""


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """``WSGIServer`` answering each connection in its own daemon thread."""

    daemon_threads = True
    request_queue_size = 128  # not the stdlib's 5: bursts of connections are not dropped

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer.server_bind`` does."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


class LoopbackWSGIServer:
    """A threaded WSGI server bound to ``127.0.0.1`` on a free port (bound at construction)."""

    def __init__(self, app: WSGIApp | None = None) -> None:
        self._server = _ThreadingWSGIServer(("127.0.0.1", 0), _QuietHandler)
        if app is not None:
            self._server.set_app(app)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def set_app(self, app: WSGIApp) -> None:
        """Set the WSGI application (before :meth:`start`)."""
        self._server.set_app(app)

    def start(self) -> None:
        """Serve from a daemon thread; the socket already listens, so no wait is needed."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth1-peer-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class RawRequest:
    """One HTTP request as received, in the shape both libraries want."""

    method: str
    uri: str  #: absolute URI: ``http://`` + Host header + raw request target (query untouched)
    path: str  #: decoded path, for routing
    query: str  #: raw query string, as sent
    headers: dict[str, str]  #: canonical names: ``Authorization``, ``Content-Type``, ``Host``
    body: str  #: raw body (UTF-8 text)

    @classmethod
    def from_environ(cls, environ: WSGIEnviron) -> RawRequest:
        """Build from a ``wsgiref`` environ (with the raw target our handler adds)."""
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").title()] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["Content-Length"] = environ["CONTENT_LENGTH"]
        host = headers.get("Host") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        target = environ.get("oauthkit.raw_target") or environ.get("PATH_INFO", "/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw_body = environ["wsgi.input"].read(length) if length > 0 else b""
        return cls(
            method=environ["REQUEST_METHOD"].upper(),
            uri=f"http://{host}{target}",
            path=environ.get("PATH_INFO", "/"),
            query=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=raw_body.decode("utf-8", "replace"),
        )

    @property
    def is_form(self) -> bool:
        """True when the body is ``application/x-www-form-urlencoded``."""
        content_type = self.headers.get("Content-Type", "")
        return content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE

    @property
    def form_body(self) -> str:
        """The raw body if it is a form (RFC 5849 §3.4.1.3.1 signs only forms), else ``""``."""
        return self.body if self.is_form else ""


@dataclass
class Response:
    """A WSGI answer."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        """A tiny HTML page."""
        page = f"<!doctype html><html><body>{text}</body></html>".encode()
        return cls(status, [("Content-Type", "text/html; charset=utf-8")], page)

    @classmethod
    def redirect(cls, location: str) -> Response:
        """A ``302 Found``."""
        return cls(302, [("Location", location)])


def verifier_page(verifier: str) -> Response:
    """The out-of-band page: the PIN inside ``<code id="verifier">``."""
    return Response.html(
        200,
        "<p>Enter this PIN in the application:</p>"
        f'<code id="verifier">{html.escape(verifier)}</code>',
    )


def append_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """Append form-encoded ``params`` to ``url``, keeping its own query as it is."""
    base, sep, fragment = url.partition("#")
    joiner = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
    return base + joiner + urlencode(list(params)) + sep + fragment


# --------------------------------------------------------------------------- the application


class ProviderApp(ABC):
    """WSGI application of one provider; subclasses call into their library.

    Routes: ``POST /oauth/request_token``, ``GET /oauth/authorize`` (``user_action=approve``
    or ``deny``; without it a tiny page), ``POST /oauth/access_token``, ``GET|POST /api/echo``.
    A library failure is answered with the library's own status, headers and body.  A
    ``ValueError`` escaping a library (input it cannot parse, e.g. a malformed
    ``Authorization`` header or characters outside its form-encoding alphabet) becomes
    ``400`` with an empty body.
    """

    def __init__(self, peer: OAuth1Peer) -> None:
        self.peer = peer

    # -- library hooks --------------------------------------------------------------------

    @abstractmethod
    def issue_request_token(self, req: RawRequest) -> Response:
        """Run the library's temporary-credential endpoint."""

    @abstractmethod
    def approve(self, req: RawRequest) -> Response:
        """The user approved: library answer (302 to the callback) or :func:`verifier_page`."""

    @abstractmethod
    def deny(self, token: str) -> str | None:
        """The user denied: forget the request token, return its callback (None: unknown)."""

    @abstractmethod
    def issue_access_token(self, req: RawRequest) -> Response:
        """Run the library's token-credential endpoint."""

    @abstractmethod
    def verify_resource_request(self, req: RawRequest) -> tuple[str, str] | Response:
        """Run the library's resource check: ``(consumer_key, token)`` or the failure."""

    # -- WSGI -----------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> list[bytes]:
        req = RawRequest.from_environ(environ)
        self.peer.record_request(req.method, req.path)
        try:
            resp = self.dispatch(req)
        except ValueError:
            resp = Response(400)
        headers = [*resp.headers, ("Content-Length", str(len(resp.body)))]
        start_response(f"{resp.status} {HTTPStatus(resp.status).phrase}", headers)
        return [resp.body]

    def dispatch(self, req: RawRequest) -> Response:
        """Route one request."""
        if req.path == REQUEST_TOKEN_PATH:
            return self._confirm_switch(self.issue_request_token(req))
        if req.path == ACCESS_TOKEN_PATH:
            return self._with_extra_params(self.issue_access_token(req))
        if req.path == AUTHORIZE_PATH:
            if req.method != "GET":
                return Response(405, [("Allow", "GET")])
            return self._authorize(req)
        if req.path == RESOURCE_PATH:
            if req.method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                return Response(405, [("Allow", "GET, POST, PUT, PATCH, DELETE")])
            return self._echo(req)
        return Response(404)

    def _authorize(self, req: RawRequest) -> Response:
        params = dict(reversed(parse_qsl(req.query, keep_blank_values=True)))  # first wins
        token = params.get("oauth_token", "")
        action = params.get("user_action")
        if action == "approve":
            return self.approve(req)
        if action == "deny":
            callback = self.deny(token)
            if callback is None:
                return Response(401)
            if callback == "oob":
                return Response.html(403, "<p>Access denied.</p>")
            return Response.redirect(append_query(callback, [("denied", token)]))
        if action is not None:
            return Response(400)
        return Response.html(
            200,
            f"<p>Authorize the application? (request token "
            f"<code>{html.escape(token)}</code>)</p>"
            "<p>Add <code>user_action=approve</code> or <code>user_action=deny</code>.</p>",
        )

    def _echo(self, req: RawRequest) -> Response:
        outcome = self.verify_resource_request(req)
        if isinstance(outcome, Response):
            return outcome
        consumer_key, token = outcome
        document = {
            "peer": self.peer.name,
            "method": req.method,
            "consumer_key": consumer_key,
            "token": token,
            "query": [list(p) for p in parse_qsl(req.query, keep_blank_values=True)],
            "form": [list(p) for p in parse_qsl(req.form_body, keep_blank_values=True)],
        }
        body = json.dumps(document, ensure_ascii=False).encode()
        return Response(200, [("Content-Type", "application/json; charset=utf-8")], body)

    def _confirm_switch(self, resp: Response) -> Response:
        """``confirm_callback = False``: drop ``oauth_callback_confirmed`` from a 200 answer."""
        if resp.status != 200 or self.peer.confirm_callback:
            return resp
        pairs = resp.body.split(b"&")
        kept = [p for p in pairs if not p.startswith(b"oauth_callback_confirmed=")]
        resp.body = b"&".join(kept)
        return resp

    def _with_extra_params(self, resp: Response) -> Response:
        """Append ``peer.extra_access_params`` to a successful access-token answer."""
        extra = self.peer.extra_access_params
        if resp.status == 200 and extra:
            resp.body += b"&" + urlencode(list(extra.items())).encode()
        return resp


# --------------------------------------------------------------------------- the peer


class ApprovalError(RuntimeError):
    """``approve()`` got an answer that is neither a redirect, a PIN page nor an oob denial."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"authorization page answered {status}: {body[:200]!r}")
        self.status = status
        self.body = body


_VERIFIER_RE = re.compile(r'<code id="verifier">(.*?)</code>', re.DOTALL)


@dataclass(eq=False)
class OAuth1Peer:
    """A running local OAuth 1.0a provider, as the client's tests see it."""

    name: str
    base_url: str
    request_token_url: str
    authorize_url: str
    access_token_url: str
    resource_url: str
    consumer_key: str
    consumer_secret: str
    rsa_consumer_key: str
    rsa_private_key_pem: str
    signature_methods: tuple[str, ...] = SIGNATURE_METHODS
    confirm_callback: bool = True
    extra_access_params: dict[str, str] = field(default_factory=default_extra_access_params)
    _server: LoopbackWSGIServer | None = field(default=None, repr=False)
    _log: list[tuple[str, str]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received since start or the last :meth:`reset`."""
        with self._lock:
            return list(self._log)

    def record_request(self, method: str, path: str) -> None:
        """Called by the application for every request."""
        with self._lock:
            self._log.append((method, path))

    def reset(self) -> None:
        """Restore the switches and clear the request log (issued credentials are kept)."""
        self.confirm_callback = True
        self.extra_access_params = default_extra_access_params()
        with self._lock:
            self._log.clear()

    def approve(self, authorization_url: str, *, deny: bool = False) -> str:
        """Play the user on the authorization page the client sent them to.

        GETs ``authorization_url`` plus ``user_action=approve|deny``.  Returns the redirect
        ``Location`` (approve or deny with a callback), the PIN (approve with ``oob``) or
        ``""`` (deny with ``oob``).  Anything else raises :class:`ApprovalError`.
        """
        url = authorization_url.partition("#")[0]
        url += ("&" if "?" in url else "?") + "user_action=" + ("deny" if deny else "approve")
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            conn.request("GET", target)
            resp = conn.getresponse()
            status, location = resp.status, resp.getheader("Location")
            body = resp.read().decode("utf-8", "replace")
        finally:
            conn.close()
        if status == 302 and location:
            return location
        if status == 200 and not deny and (match := _VERIFIER_RE.search(body)):
            return html.unescape(match.group(1))
        if status == 403 and deny:
            return ""
        raise ApprovalError(status, body)

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()


def start_peer(name: str, make_app: Callable[[OAuth1Peer], ProviderApp]) -> OAuth1Peer:
    """Bind a loopback server, build the peer and its application, and start serving."""
    server = LoopbackWSGIServer()
    base = server.base_url
    peer = OAuth1Peer(
        name=name,
        base_url=base,
        request_token_url=base + REQUEST_TOKEN_PATH,
        authorize_url=base + AUTHORIZE_PATH,
        access_token_url=base + ACCESS_TOKEN_PATH,
        resource_url=base + RESOURCE_PATH,
        consumer_key=HMAC_CONSUMER_KEY,
        consumer_secret=HMAC_CONSUMER_SECRET,
        rsa_consumer_key=RSA_CONSUMER_KEY,
        rsa_private_key_pem=rsa_key_pair()[0],
        _server=server,
    )
    server.set_app(make_app(peer))
    server.start()
    return peer
