"""The sandbox's HTTP layer: a threaded stdlib ``wsgiref`` server bound to a loopback address,
the request as received and the answer handed back. No web framework.

Also :func:`silence_oauthlib_debug`: oauthlib's ``DEBUG`` records include tokens, codes and
refresh tokens (``"Issuing new token to client id %r (%r), %r."``, ``"Validating refresh token
%s …"``); the sandbox drops the ones logged while it handles a request (DESIGN rule 3).
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from ..errors import ConfigurationError
from ..protocol.http import FORM_TYPE

__all__ = [
    "LOOPBACK_HOSTS",
    "LoopbackServer",
    "Request",
    "Response",
    "check_host",
    "handling_request",
    "silence_oauthlib_debug",
]

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

#: The addresses the sandbox may bind.
LOOPBACK_HOSTS: Final = ("127.0.0.1", "::1")
#: The largest request body read (bigger: 413).
MAX_BODY: Final = 1 << 20


def check_host(host: str) -> str:
    """``host`` as the sandbox binds it (``[::1]`` becomes ``::1``), or a clear error for any
    address that is not loopback: the sandbox hands out tokens to whoever asks, so it must
    never be reachable from another machine."""
    normalized = host.strip()
    if normalized.startswith("[") and normalized.endswith("]"):
        normalized = normalized[1:-1]
    if normalized not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"the sandbox listens on loopback only: host must be '127.0.0.1' or '::1', "
            f"not {host!r} (it issues tokens to anyone who can reach it)"
        )
    return normalized


# --------------------------------------------------------------------------- logging

_state = threading.local()


class _DropWhileHandling(logging.Filter):
    """Drops records below WARNING logged by a thread that is handling a sandbox request."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not getattr(_state, "active", False)


_FILTER: Final = _DropWhileHandling()
_filter_lock = threading.Lock()


def silence_oauthlib_debug() -> None:
    """Attach the filter to every ``oauthlib`` logger that exists (once per logger). A logger's
    filter sees only records created on that logger, hence one per module logger."""
    with _filter_lock:
        names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "oauthlib"]
        for name in ["oauthlib", *names]:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)


class handling_request:
    """Marks the current thread as handling a sandbox request (see
    :func:`silence_oauthlib_debug`)."""

    def __enter__(self) -> None:
        _state.active = True

    def __exit__(self, *exc: object) -> None:
        _state.active = False


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One HTTP request as received."""

    method: str
    url: str  #: ``http://`` + the Host header + the raw request target (query untouched)
    origin: str  #: ``http://`` + the Host header
    path: str  #: decoded path, for routing
    query: str  #: raw query string
    headers: Mapping[str, str]  #: canonical names: ``Authorization``, ``Content-Type``, …
    body: str = field(repr=False)  #: raw body (UTF-8 text)

    @property
    def is_form(self) -> bool:
        """True when the body is ``application/x-www-form-urlencoded``."""
        content_type = self.headers.get("Content-Type", "")
        return content_type.split(";", 1)[0].strip().lower() == FORM_TYPE

    @property
    def form_body(self) -> str:
        """The raw body if it is a form, else ``""``."""
        return self.body if self.is_form else ""

    def form(self) -> dict[str, str]:
        """The form fields (the first of a repeated name wins)."""
        fields: dict[str, str] = {}
        for name, value in parse_qsl(self.form_body, keep_blank_values=True):
            fields.setdefault(name, value)
        return fields

    def query_params(self) -> dict[str, str]:
        """The query parameters (the first of a repeated name wins)."""
        fields: dict[str, str] = {}
        for name, value in parse_qsl(self.query, keep_blank_values=True):
            fields.setdefault(name, value)
        return fields

    def oauthlib_args(self) -> dict[str, Any]:
        """The keyword arguments oauthlib's endpoints take (a non-form body is left out)."""
        return {
            "uri": self.url,
            "http_method": self.method,
            "body": self.form_body,
            "headers": dict(self.headers),
        }


@dataclass
class Response:
    """A WSGI answer."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(
        cls, status: int, document: object, headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        """A JSON answer that no cache keeps."""
        return cls(
            status,
            [
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
                ("Pragma", "no-cache"),
                *headers,
            ],
            json.dumps(document).encode(),
        )

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        """A plain-text answer."""
        return cls(
            status,
            [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
            text.encode(),
        )

    @classmethod
    def from_oauthlib(
        cls, headers: Mapping[str, str] | None, body: str | bytes | None, status: int
    ) -> Response:
        """oauthlib's ``(headers, body, status)``."""
        data = body.encode() if isinstance(body, str) else (body or b"")
        return cls(status, list((headers or {}).items()), data)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        """Replace header ``name``."""
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))


# --------------------------------------------------------------------------- the server


class _Handler(WSGIRequestHandler):
    """Keeps the raw request target, logs nothing, gives up on a silent client."""

    timeout = 30

    def get_environ(self) -> WSGIEnviron:
        environ: WSGIEnviron = dict(super().get_environ())
        environ["oauthkit.raw_target"] = self.path
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: request lines may carry codes and tokens."""


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    #: The listen backlog: the stdlib's 5 drops handshakes when an app's workers connect in
    #: a burst, and a dropped one waits for the kernel's retransmits (seconds).
    request_queue_size = 128

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer.server_bind`` does."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class LoopbackServer:
    """A threaded WSGI server on a loopback address, served from a daemon thread."""

    def __init__(self, host: str, port: int, app: WSGIApp) -> None:
        host = check_host(host)
        server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
        try:
            self._server = server_class((host, port), _Handler)
        except OSError as exc:
            raise ConfigurationError(f"the sandbox cannot listen on {host}:{port}: {exc}") from exc
        self._server.set_app(app)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` or ``http://[::1]:<port>``."""
        literal = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{literal}:{self.port}"

    def start(self) -> None:
        """Serve from a daemon thread (the socket already listens)."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"oauthkit-sandbox-{self.port}",
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


def read_request(environ: WSGIEnviron, default_host: str) -> Request | Response:
    """Build a :class:`Request`, or the error answer for one that cannot be served."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return Response.text(400, "bad Content-Length")
    if length > MAX_BODY:
        return Response.text(413, "request body too large")
    if length > 0:
        headers["Content-Length"] = str(length)
    host = headers.get("Host") or default_host
    target = environ.get("oauthkit.raw_target") or environ.get("PATH_INFO", "/")
    raw_body = environ["wsgi.input"].read(length) if length > 0 else b""
    origin = f"http://{host}"
    return Request(
        method=environ["REQUEST_METHOD"].upper(),
        url=origin + target,
        origin=origin,
        path=environ.get("PATH_INFO", "/"),
        query=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=raw_body.decode("utf-8", "replace"),
    )


def finish(response: Response, start_response: StartResponse) -> list[bytes]:
    """Hand ``response`` to ``wsgiref``."""
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = "Status"
    start_response(f"{response.status} {phrase}", headers)
    return [response.body]
