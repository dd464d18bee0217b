"""A small OAuth 2 token server of our own that counts, for concurrency and crash tests.

A stdlib ``ThreadingHTTPServer`` (HTTP/1.1, one daemon thread per connection) on
``127.0.0.1`` and a free port, served from a daemon thread of the test process, one per
:func:`start_counting_server` call.  All client processes of a multi-process test talk to
the one server the test process started.

Routes:

* ``POST /token`` (``application/x-www-form-urlencoded``).  Client authentication: the one
  client ``counting`` / ``counting-secret`` (:data:`CLIENT_ID`, :data:`CLIENT_SECRET`) by
  ``client_secret_basic`` (id and secret form-urlencoded before base64, RFC 6749 §2.3.1) or
  ``client_secret_post``; none or a wrong one is ``401 invalid_client`` (with
  ``WWW-Authenticate: Basic`` when an Authorization header was sent), both at once
  ``400 invalid_request``.  Grants:

  - ``refresh_token``: with a known, active refresh token of a live family the server
    *first* rotates its state (new access token; with ``rotate`` a new refresh token and the
    presented one is dead), *then* sleeps ``token_delay`` seconds, *then* answers
    ``{"access_token", "token_type": "Bearer", "expires_in", "refresh_token", "scope":
    "api"}``.  A client killed during the sleep has lost a rotation the server already made.
    ``expires_in`` is ``ceil(access_ttl)``; the server-side expiry is exactly ``access_ttl``
    seconds (a float) after the rotation.  Old access tokens stay valid until they expire.
  - an unknown, rotated-out or revoked refresh token: ``400 invalid_grant``.  With
    ``reuse_detection`` a rotated-out one also revokes its whole family (every access and
    refresh token descending from the same initial grant), as RFC 9700 §4.14.2 describes.
  - ``client_credentials``: an access token (its own family) and no refresh token.
  - another grant type: ``400 unsupported_grant_type``; a missing parameter, a repeated
    parameter or another content type: ``400 invalid_request``.

  Token responses and errors carry ``Cache-Control: no-store``.
* ``GET`` / ``POST /api``: ``Authorization: Bearer <access token>``.  An active, unexpired
  token gives ``200 {"ok": true, "family": "<family id>"}``; an unknown, expired or revoked
  one ``401`` with ``WWW-Authenticate: Bearer error="invalid_token"``; no Bearer credentials
  at all ``401`` with a bare ``WWW-Authenticate: Bearer`` (RFC 6750 §3.1: no error code).

Faults (:meth:`CountingServer.fault`): a queue of failures, each taken by the next ``/token``
request (counted as ``"fault"`` besides its grant type): ``reset-before`` (the connection is
reset before the grant is made), ``reset-after`` (the grant is made — a refresh token rotated
— then the connection is reset: the answer is lost), ``503`` / ``500`` (an HTML page, nothing
done), ``429:N`` (``Retry-After: N`` seconds), ``429-date:N`` (``Retry-After`` as the HTTP
date N seconds ahead), ``unavailable`` (``400 {"error": "temporarily_unavailable"}``),
``hang:N`` (N seconds of silence, then the request is served), ``bare-400`` / ``bare-401``
(no body, no challenge), ``invalid_client`` (``401`` with a ``Basic`` challenge).
``api-429:N`` faults wait for the next ``GET /api`` instead, as does ``api-step-up`` (a
``401`` whose challenge says ``insufficient_user_authentication``, RFC 9470).

Counting (under a lock, see :attr:`CountingServer.counts`): every ``/token`` request under
its ``grant_type`` value (``"refresh_token"``, ``"client_credentials"``, any other value, or
``"(none)"``), counted before client authentication, whatever the outcome; plus
``"refresh_ok"`` (refreshes answered with tokens, counted at the rotation, before the
sleep), ``"invalid_grant"``, ``"invalid_client"``, ``"api_ok"`` and ``"api_refused"``.
:meth:`CountingServer.issue` makes an initial grant without counting anything.

Checked by ``test_counting_selfcheck``.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import json
import math
import secrets
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

CLIENT_ID = "counting"
CLIENT_SECRET = "counting-secret"
SCOPE = "api"

_COUNT_KEYS = (
    "refresh_token",
    "client_credentials",
    "refresh_ok",
    "invalid_grant",
    "invalid_client",
    "api_ok",
    "api_refused",
    "fault",
)


class _Unset:
    pass


_UNSET: Any = _Unset()


@dataclass
class _Family:
    """Everything descending from one initial grant."""

    active: bool = True
    access: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)


@dataclass
class _Access:
    family: str
    expires_at: float  # time.monotonic()
    active: bool = True


@dataclass
class _Refresh:
    family: str
    active: bool = True  # False once rotated out or revoked


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or {}


class CountingServer:
    """The server and its state.  Thread-safe; every method may be called from any thread."""

    def __init__(
        self, *, access_ttl: float, token_delay: float, rotate: bool, reuse_detection: bool
    ) -> None:
        self.access_ttl = float(access_ttl)
        self.token_delay = float(token_delay)
        self.rotate = rotate
        self.reuse_detection = reuse_detection
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._counts: dict[str, int] = dict.fromkeys(_COUNT_KEYS, 0)
        self._faults: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # -- URLs ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, ``http://<host>:<port>`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def token_endpoint(self) -> str:
        return self.url + "/token"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- test controls ---------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """A snapshot of the counters (see the module docstring); absent keys are 0."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        """Set every counter to 0 (tokens and families are kept)."""
        with self._lock:
            self._counts = dict.fromkeys(_COUNT_KEYS, 0)

    def set(
        self,
        *,
        token_delay: float = _UNSET,
        access_ttl: float = _UNSET,
        rotate: bool = _UNSET,
        reuse_detection: bool = _UNSET,
    ) -> None:
        """Change behaviour from now on (tokens already issued keep their expiry)."""
        with self._lock:
            if token_delay is not _UNSET:
                self.token_delay = float(token_delay)
            if access_ttl is not _UNSET:
                self.access_ttl = float(access_ttl)
            if rotate is not _UNSET:
                self.rotate = bool(rotate)
            if reuse_detection is not _UNSET:
                self.reuse_detection = bool(reuse_detection)

    def fault(self, *faults: str) -> None:
        """Queue ``faults`` (see the module docstring), each for one request, in order."""
        with self._lock:
            self._faults.extend(faults)

    def _take_fault(self, api: bool) -> str | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.startswith("api-") == api:
                    self._count("fault")
                    return self._faults.pop(index)
            return None

    def issue(self, ttl: float | None = None) -> dict[str, Any]:
        """A fresh family (an initial grant, as if the user had just logged in): the raw
        token response ``{"access_token", "token_type", "expires_in", "refresh_token",
        "scope"}``.  ``ttl`` overrides ``access_ttl`` for this access token.  Not counted."""
        with self._lock:
            family = self._new_family()
            lifetime = self.access_ttl if ttl is None else float(ttl)
            access = self._new_access(family, lifetime)
            refresh = self._new_refresh(family)
        return _token_response(access, lifetime, refresh)

    def family_of(self, token: str) -> str | None:
        """The family id of an access or refresh token this server issued, else ``None``."""
        with self._lock:
            record = self._access.get(token) or self._refresh.get(token)
            return record.family if record is not None else None

    def family_active(self, family_id: str) -> bool:
        """False once the family was revoked (refresh token reuse, :meth:`revoke_family`)."""
        with self._lock:
            family = self._families.get(family_id)
            return family is not None and family.active

    def refreshes_in(self, family_id: str) -> int:
        """How many refreshes of the family were answered with tokens (each rotation adds a
        refresh token to it; without rotation this is 0)."""
        with self._lock:
            family = self._families.get(family_id)
            return len(family.refresh) - 1 if family is not None and family.refresh else 0

    def revoke_family(self, family_id: str) -> None:
        """Revoke every token of the family, as reuse detection would."""
        with self._lock:
            self._revoke(family_id)

    def refresh_token_active(self, token: str) -> bool:
        """True when ``token`` would be accepted by the refresh grant now."""
        with self._lock:
            record = self._refresh.get(token)
            return record is not None and record.active and self._families[record.family].active

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        httpd = _Server((self.host, 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"counting-server-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: close the listening socket and shut down every open connection
        (kept-alive ones, and a refresh sleeping in ``token_delay``, whose answer is then
        lost).  Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> CountingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<CountingServer {self.url} running={self.running}>"

    # -- state (call with the lock held) ---------------------------------------------------

    def _new_family(self) -> str:
        family_id = "fam-" + secrets.token_hex(8)
        self._families[family_id] = _Family()
        return family_id

    def _new_access(self, family_id: str, ttl: float) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        self._access[token] = _Access(family_id, time.monotonic() + ttl)
        self._families[family_id].access.add(token)
        return token

    def _new_refresh(self, family_id: str) -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        self._refresh[token] = _Refresh(family_id)
        self._families[family_id].refresh.add(token)
        return token

    def _revoke(self, family_id: str) -> None:
        family = self._families.get(family_id)
        if family is None:
            return
        family.active = False
        for token in family.access:
            self._access[token].active = False
        for token in family.refresh:
            self._refresh[token].active = False

    def _count(self, key: str) -> None:
        self._counts[key] = self._counts.get(key, 0) + 1

    # -- grants (called from handler threads) ----------------------------------------------

    def _token_request(
        self, form: dict[str, str], authorization: str | None
    ) -> tuple[dict[str, Any], float]:
        """The JSON answer and the delay before sending it; raises :class:`_OAuthError`."""
        grant_type = form.get("grant_type")
        with self._lock:
            self._count(grant_type or "(none)")
        try:
            _authenticate(form, authorization)
        except _OAuthError as exc:
            if exc.error == "invalid_client":
                with self._lock:
                    self._count("invalid_client")
            raise
        if grant_type is None:
            raise _OAuthError(400, "invalid_request")
        if grant_type == "client_credentials":
            with self._lock:
                family = self._new_family()
                lifetime = self.access_ttl
                access = self._new_access(family, lifetime)
            return _token_response(access, lifetime, None), 0.0
        if grant_type != "refresh_token":
            raise _OAuthError(400, "unsupported_grant_type")
        presented = form.get("refresh_token")
        if not presented:
            raise _OAuthError(400, "invalid_request")
        with self._lock:
            record = self._refresh.get(presented)
            if record is None or not record.active or not self._families[record.family].active:
                self._count("invalid_grant")
                if (
                    record is not None
                    and self.reuse_detection
                    and self._families[record.family].active
                ):
                    self._revoke(record.family)  # a rotated-out token came back: RFC 9700
                raise _OAuthError(400, "invalid_grant")
            lifetime = self.access_ttl
            access = self._new_access(record.family, lifetime)
            if self.rotate:
                record.active = False
                refresh = self._new_refresh(record.family)
            else:
                refresh = presented
            self._count("refresh_ok")
            delay = self.token_delay
        return _token_response(access, lifetime, refresh), delay

    def _api_request(self, authorization: str | None) -> tuple[int, dict[str, Any], str | None]:
        """(status, JSON body, WWW-Authenticate or None)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        with self._lock:
            if scheme.lower() != "bearer" or not token:
                self._count("api_refused")
                return 401, {"error": "unauthorized"}, "Bearer"
            record = self._access.get(token)
            if (
                record is None
                or not record.active
                or not self._families[record.family].active
                or time.monotonic() >= record.expires_at
            ):
                self._count("api_refused")
                return 401, {"error": "invalid_token"}, 'Bearer error="invalid_token"'
            self._count("api_ok")
            return 200, {"ok": True, "family": record.family}, None


def _token_response(access: str, ttl: float, refresh: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": math.ceil(ttl),
    }
    if refresh is not None:
        body["refresh_token"] = refresh
    body["scope"] = SCOPE
    return body


def _authenticate(form: dict[str, str], authorization: str | None) -> None:
    """Accept ``counting`` by client_secret_basic or client_secret_post, exactly one."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    has_basic = scheme.lower() == "basic"
    has_post = "client_secret" in form
    if has_basic and has_post:
        raise _OAuthError(400, "invalid_request")
    if has_basic:
        challenge = {"WWW-Authenticate": 'Basic realm="counting"'}
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _OAuthError(401, "invalid_client", challenge) from exc
        raw_id, sep, raw_secret = decoded.partition(":")
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if not sep or client_id != CLIENT_ID or secret != CLIENT_SECRET:
            raise _OAuthError(401, "invalid_client", challenge)
        if form.get("client_id", CLIENT_ID) != CLIENT_ID:
            raise _OAuthError(400, "invalid_request")
        return
    if has_post:
        if form.get("client_id") != CLIENT_ID or form["client_secret"] != CLIENT_SECRET:
            raise _OAuthError(401, "invalid_client")
        return
    raise _OAuthError(401, "invalid_client")


class _Server(ThreadingHTTPServer):
    """Answers each connection in a daemon thread and keeps track of the open ones."""

    daemon_threads = True
    # 50 clients connect at once: the stdlib's listen backlog of 5 drops handshakes under
    # load, and a dropped one waits for the kernel's retransmits (seconds, then a timeout).
    request_queue_size = 128
    owner: CountingServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed mid-refresh) is expected: stay quiet about it."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        owner = self.server.owner
        fault = owner._take_fault(api=path == "/api") if path in ("/api", "/token") else None
        if fault == "reset-before":
            with owner._lock:  # still a request to /token, counted as one
                owner._count("(none)")
            self._reset()
            return
        if fault is not None and fault.startswith("hang:"):
            time.sleep(float(fault.split(":", 1)[1]))
            fault = None
        body = self._read_body()
        if path == "/api":
            if fault is not None and fault.startswith("api-429:"):
                wait = fault.split(":", 1)[1]
                self._send_json(429, {"error": "rate_limited"}, {"Retry-After": wait})
                return
            if fault == "api-step-up":
                challenge = (
                    'Bearer error="insufficient_user_authentication", acr_values="urn:mfa", '
                    "max_age=300"
                )
                self._send_json(401, {}, {"WWW-Authenticate": challenge})
                return
            status, payload, challenge = owner._api_request(self.headers.get("Authorization"))
            headers = {"WWW-Authenticate": challenge} if challenge else {}
            self._send_json(status, payload, headers)
            return
        if path != "/token":
            self._send_json(404, {"error": "not_found"})
            return
        if method != "POST":
            self._send_json(405, {"error": "invalid_request"}, {"Allow": "POST"})
            return
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            form = _parse_form(self.headers.get("Content-Type"), body)
        except _OAuthError as exc:
            with owner._lock:  # still a request to /token, of no readable grant type
                owner._count("(none)")
            self._send_json(exc.status, {"error": exc.error}, {**no_store, **exc.headers})
            return
        if fault is not None and fault != "reset-after":
            with owner._lock:
                owner._count(form.get("grant_type") or "(none)")
            self._send_fault(fault, no_store)
            return
        try:
            payload, delay = owner._token_request(form, self.headers.get("Authorization"))
        except _OAuthError as exc:
            self._send_json(exc.status, {"error": exc.error}, {**no_store, **exc.headers})
            return
        if fault == "reset-after":
            self._reset()  # the grant is made (a refresh token rotated); its answer is lost
            return
        if delay > 0:
            time.sleep(delay)  # the rotation is already done: this answer may be lost
        self._send_json(200, payload, no_store)

    def _send_fault(self, fault: str, headers: dict[str, str]) -> None:
        kind, _, arg = fault.partition(":")
        if kind in ("503", "500"):
            self._send_raw(int(kind), b"<html><body>Service Unavailable</body></html>", headers)
        elif kind == "429":
            self._send_raw(429, b"slow down", {**headers, "Retry-After": arg})
        elif kind == "429-date":
            when = formatdate(time.time() + float(arg), usegmt=True)
            self._send_raw(429, b"slow down", {**headers, "Retry-After": when})
        elif kind == "unavailable":
            self._send_json(400, {"error": "temporarily_unavailable"}, headers)
        elif kind in ("bare-400", "bare-401"):
            self._send_raw(int(kind[-3:]), b"", headers)
        elif kind == "invalid_client":
            challenge = {"WWW-Authenticate": 'Basic realm="counting"'}
            self._send_json(401, {"error": "invalid_client"}, {**headers, **challenge})
        else:
            raise AssertionError(f"unknown fault {fault!r}")

    def _reset(self) -> None:
        """Close the connection with a TCP reset, answering nothing."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _send_raw(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        with contextlib.suppress(ConnectionError):
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        with contextlib.suppress(ConnectionError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)


def _parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The form parameters; a wrong content type or a repeated parameter is invalid_request."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise _OAuthError(400, "invalid_request")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise _OAuthError(400, "invalid_request") from exc
    if any(len(values) > 1 for values in parsed.values()):
        raise _OAuthError(400, "invalid_request")
    return {name: values[0] for name, values in parsed.items()}


def start_counting_server(
    *,
    access_ttl: float = 60,
    token_delay: float = 0.0,
    rotate: bool = True,
    reuse_detection: bool = True,
    host: str = "127.0.0.1",
) -> CountingServer:
    """Start a :class:`CountingServer` on ``host`` (loopback unless a benchmark's own network
    needs another local address) and a free port; it answers at once.

    * ``access_ttl``: seconds an access token lives (float; ``expires_in`` is its ceiling).
    * ``token_delay``: seconds a successful refresh sleeps after rotating, before answering.
    * ``rotate``: a new refresh token on every refresh (the presented one dies).
    * ``reuse_detection``: a rotated-out refresh token revokes its whole family.

    All four can be changed later with :meth:`CountingServer.set`.
    """
    server = CountingServer(
        access_ttl=access_ttl,
        token_delay=token_delay,
        rotate=rotate,
        reuse_detection=reuse_detection,
    )
    server.host = host
    server.start()
    atexit.register(server.stop)
    return server
