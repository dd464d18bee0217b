"""The plan loops, and protocol steps run over httpx2.

:func:`drive` and :func:`adrive` are the one plan loop of each colour: a plan (a generator)
yields operations, a handler answers each, and the answer goes back in. Every plan of oauthkit
runs through them — a protocol step (:func:`run` with a ``Client``, :func:`arun` with an
``AsyncClient``), a renewal under a store's lease, a web flow, a store's transaction.

A driver sends each :class:`~oauthkit.protocol.http.HttpRequest` the step yields, never
following redirects, reads at most :data:`~oauthkit.protocol.http.MAX_BODY` bytes of the
answer, and sends the :class:`~oauthkit.protocol.http.HttpResponse` back into the step until
it returns; a :class:`~oauthkit.protocol.http.Wait` is a sleep (``time.sleep`` or
``anyio.sleep``). Network failures become :class:`~oauthkit.errors.TransportError`, thrown
back into the step (which may try again: :mod:`oauthkit.protocol.retry`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx2

from . import telemetry
from .errors import InvalidResponse, TransportError
from .protocol.http import MAX_BODY, HttpRequest, HttpResponse, Step, Wait

__all__ = [
    "ABeforeSend",
    "BeforeSend",
    "adrive",
    "arun",
    "asend",
    "drive",
    "run",
    "send",
    "transport_error",
]

#: Each exchange at DEBUG: method, URL without its query (which may carry codes), status and
#: duration; never a header or a body.
log = logging.getLogger("oauthkit.http")

T = TypeVar("T")
#: What runs before a request leaves (see :func:`run`), and its ``await`` twin.
BeforeSend = Callable[[HttpRequest], None]
ABeforeSend = Callable[[HttpRequest], Awaitable[None]]


def drive(
    plan: Generator[Any, Any, T],
    handle: Callable[[Any], Any],
    *,
    failures: tuple[type[BaseException], ...] = (),
) -> T:
    """The one synchronous plan loop: each operation ``plan`` yields goes to ``handle``, and
    its answer back into the plan, until the plan returns its result. An exception of
    ``failures`` that ``handle`` raises is thrown into the plan (which may catch it); any
    other ends the plan. A protocol step's operations are requests and waits (:func:`run`);
    a renewal's, a web flow's and a store's are their own."""
    answer: Any = None
    failure: BaseException | None = None
    while True:
        try:
            op = plan.throw(failure) if failure is not None else plan.send(answer)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        answer, failure = None, None
        try:
            answer = handle(op)
        except failures as exc:
            failure = exc


async def adrive(
    plan: Generator[Any, Any, T],
    handle: Callable[[Any], Awaitable[Any]],
    *,
    failures: tuple[type[BaseException], ...] = (),
) -> T:
    """The ``await`` twin of :func:`drive`: ``handle`` is awaited."""
    answer: Any = None
    failure: BaseException | None = None
    while True:
        try:
            op = plan.throw(failure) if failure is not None else plan.send(answer)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        answer, failure = None, None
        try:
            answer = await handle(op)
        except failures as exc:
            failure = exc


def run(
    step: Step[T],
    http: httpx2.Client,
    *,
    wait: Callable[[float], None] = time.sleep,
    before_send: BeforeSend | None = None,
) -> T:
    """Drive ``step`` to its result with the synchronous ``http`` client; ``wait`` does the
    pauses a step asks for (a command line passes one that shows a countdown);
    ``before_send`` runs before each request leaves (a renewal extends its lease there) and
    may raise to stop the step before it sends anything more."""

    def handle(op: HttpRequest | Wait) -> HttpResponse | None:
        if isinstance(op, Wait):
            wait(op.seconds)
            return None
        if before_send is not None:
            before_send(op)
        return send(http, op)

    return drive(step, handle, failures=(TransportError,))


async def arun(
    step: Step[T],
    http: httpx2.AsyncClient,
    *,
    wait: Callable[[float], Awaitable[None]] = anyio.sleep,
    before_send: ABeforeSend | None = None,
) -> T:
    """Drive ``step`` to its result with the asynchronous ``http`` client; ``wait`` awaits
    the pauses a step asks for, ``before_send`` runs before each request (see :func:`run`)."""

    async def handle(op: HttpRequest | Wait) -> HttpResponse | None:
        if isinstance(op, Wait):
            await wait(op.seconds)
            return None
        if before_send is not None:
            await before_send(op)
        return await asend(http, op)

    return await adrive(step, handle, failures=(TransportError,))


def _to_httpx(http: httpx2.Client | httpx2.AsyncClient, request: HttpRequest) -> httpx2.Request:
    headers = list(request.headers)
    if not any(name.lower() == "accept-encoding" for name, _ in headers):
        headers.append(("Accept-Encoding", "identity"))  # protocol answers are small
    return http.build_request(request.method, request.url, headers=headers, content=request.body)


def _response(response: httpx2.Response, body: bytes) -> HttpResponse:
    return HttpResponse.build(
        response.status_code, response.headers.multi_items(), body, str(response.url)
    )


#: How long a whole answer may take (seconds), from sending the request to the last byte of
#: the body, headers included, however slowly it trickles. Past it the step fails with
#: :class:`~oauthkit.errors.TransportError` (``sent``: the server may have acted).
READ_DEADLINE = 30.0


class _Body:
    """Collects a raw (still encoded) body with every bound a hostile server could push:
    at most :data:`MAX_BODY` bytes on the wire and after decoding (a gzip bomb stops at the
    limit, never expanding in memory), an encoding from a short list, and a deadline for the
    whole answer (an endless stream)."""

    def __init__(self, response: httpx2.Response, request: HttpRequest) -> None:
        self._where = f"{request.method} {request.url.split('?', 1)[0]}"
        self._status = response.status_code
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._decoder: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif encoding in ("identity", ""):
            self._decoder = None
        else:
            raise InvalidResponse(
                f"{self._where} answered with content-encoding {encoding!r}, which oauthkit "
                "does not decode for protocol answers"
            )
        self._chunks: list[bytes] = []
        self._size = 0
        self._raw = 0
        self._deadline = time.monotonic() + READ_DEADLINE

    def feed(self, raw: bytes) -> None:
        self._raw += len(raw)
        if self._raw > MAX_BODY:
            raise self._too_large()
        if time.monotonic() > self._deadline:
            raise TransportError(
                f"{self._where} did not finish its answer within {READ_DEADLINE:.0f} s",
                sent=True,
            )
        data = raw
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(raw, MAX_BODY - self._size + 1)
            except zlib.error as exc:
                raise InvalidResponse(
                    f"{self._where} sent a corrupt compressed body: {exc}"
                ) from None
            if self._decoder.unconsumed_tail:
                raise self._too_large()
        self._size += len(data)
        if self._size > MAX_BODY:
            raise self._too_large()
        self._chunks.append(data)

    def _too_large(self) -> InvalidResponse:
        return InvalidResponse(
            f"{self._where} answered a body larger than {MAX_BODY} bytes (HTTP "
            f"{self._status}); refusing to read it"
        )

    def value(self) -> bytes:
        return b"".join(self._chunks)

    @classmethod
    def read(cls, response: httpx2.Response, request: HttpRequest) -> _Body:
        """A body the transport already holds decoded (only the size bound applies)."""
        body = cls.__new__(cls)
        body._where = f"{request.method} {request.url.split('?', 1)[0]}"
        body._status = response.status_code
        body._chunks, body._size = [response.content], len(response.content)
        if body._size > MAX_BODY:
            raise body._too_large()
        return body


#: Failures that happen before a request leaves this machine.
_NOT_SENT = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.UnsupportedProtocol,
)


def transport_error(exc: httpx2.HTTPError, method: str, url: str) -> TransportError:
    """The :class:`~oauthkit.errors.TransportError` for an httpx2 failure of ``method url``
    (raise it ``from exc`` to keep the cause); the message shows no query string."""
    where = url.split("?", 1)[0]
    return TransportError(
        f"{method} {where} failed: {type(exc).__name__}: {str(exc).split('?', 1)[0]}",
        sent=not isinstance(exc, _NOT_SENT),
    )


def _failed(exc: httpx2.HTTPError, request: HttpRequest) -> TransportError:
    return transport_error(exc, request.method, request.url)


class _Watchdog:
    """The deadline of one synchronous exchange, headers included.

    httpx2's timeouts bound each socket operation, not the whole answer: a server that sends
    one header line every few seconds never trips them. The watchdog learns the connection's
    socket from httpcore's ``trace`` extension (the socket of the HTTP/1.1 or HTTP/2
    connection that sends the request headers) and, when :data:`READ_DEADLINE` passes, shuts
    it down: the blocked read returns at once, the exchange fails, and the pool drops the
    connection. A transport without sockets (a mock) keeps the per-chunk deadline of
    :class:`_Body`.
    """

    def __init__(self) -> None:
        self.expired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(READ_DEADLINE, self._expire)
        self._timer.daemon = True

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        found: object = None
        if event.endswith(".send_request_headers.started"):
            found = _connection_socket()
        elif event.endswith(("connect_tcp.complete", "start_tls.complete")):
            stream = info.get("return_value")
            found = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(found, socket.socket):
            with self._lock:
                self._socket = found

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            target = self._socket
        if target is not None:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _connection_socket() -> socket.socket | None:
    """The socket of the httpcore connection whose ``handle_request`` is running in this
    thread (the trace callback runs inside it): the nearest caller frame whose ``self`` has a
    network stream. ``None`` when there is none (another transport)."""
    frame = sys._getframe(1)
    for _ in range(8):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return None
        stream = getattr(frame.f_locals.get("self"), "_network_stream", None)
        if stream is not None:
            found = stream.get_extra_info("socket")
            return found if isinstance(found, socket.socket) else None
    return None


def _deadline_passed(request: HttpRequest) -> TransportError:
    """An answer that did not come in time: sent, and lost (the server may have acted)."""
    return TransportError(
        f"{request.method} {request.url.split('?', 1)[0]} did not finish its answer within "
        f"{READ_DEADLINE:.0f} s (headers included)",
        sent=True,
    )


def _logged(request: HttpRequest, started: float, outcome: str) -> None:
    if log.isEnabledFor(logging.DEBUG):
        elapsed = (time.monotonic() - started) * 1000
        where = request.url.split("?", 1)[0]
        what = request.operation or "request"
        if request.grant_type:
            what += f" ({request.grant_type})"
        if request.attempt > 1:
            what += f", send {request.attempt}"
        log.debug("%s %s %s -> %s (%.0f ms)", what, request.method, where, outcome, elapsed)


def send(http: httpx2.Client, request: HttpRequest) -> HttpResponse:
    """One request over ``http``, read with every bound (see the module docstring), in a
    span of its own (:mod:`oauthkit.telemetry`)."""
    started = time.monotonic()
    with telemetry.span(*_span_of(request)) as span:
        try:
            response = _send_once(http, request)
        except Exception as exc:
            _finished(request, started, span, None, exc)
            raise
        _finished(request, started, span, response, None)
    return response


async def asend(http: httpx2.AsyncClient, request: HttpRequest) -> HttpResponse:
    """The ``await`` twin of :func:`send`."""
    started = time.monotonic()
    with telemetry.span(*_span_of(request)) as span:
        try:
            response = await _asend_once(http, request)
        except Exception as exc:
            _finished(request, started, span, None, exc)
            raise
        _finished(request, started, span, response, None)
    return response


def _span_of(request: HttpRequest) -> tuple[str, dict[str, str | int]]:
    """The span of a request: its operation, and what the protocol says of it (the URL's
    host and path, never its query; no header, no body)."""
    parts = urlsplit(request.url)
    attributes: dict[str, str | int] = {
        "http.request.method": request.method,
        "server.address": parts.hostname or "",
        "url.path": parts.path,
        "oauthkit.attempt": request.attempt,
    }
    if request.grant_type:
        attributes["oauthkit.grant_type"] = request.grant_type
    if request.attempt > 1:
        telemetry.count("oauthkit.retries", {"oauthkit.operation": request.operation})
    return f"oauthkit {request.operation or 'request'}", attributes


def _finished(
    request: HttpRequest,
    started: float,
    span: telemetry.Span,
    response: HttpResponse | None,
    failure: BaseException | None,
) -> None:
    """Log the exchange (DEBUG) and close its span: status and outcome."""
    if response is not None:
        status = response.status_code
        span.set_attribute("http.response.status_code", status)
        outcome = (
            "ok" if status < 400 else "unavailable" if status == 429 or status >= 500 else "refused"
        )
    elif isinstance(failure, TransportError):
        outcome = "lost" if failure.sent else "unreachable"
    else:
        outcome = "invalid"
    span.set_attribute("oauthkit.outcome", outcome)
    _logged(request, started, str(response.status_code) if response else type(failure).__name__)


def _send_once(http: httpx2.Client, request: HttpRequest) -> HttpResponse:
    with _Watchdog() as watchdog:
        try:
            outgoing = _to_httpx(http, request)
            outgoing.extensions["trace"] = watchdog.trace
            response = http.send(outgoing, stream=True, follow_redirects=False)
            try:
                body = _Body(response, request)
                try:
                    for chunk in response.iter_raw():
                        body.feed(chunk)
                except httpx2.StreamConsumed:  # a transport that read it already (a mock)
                    body = _Body.read(response, request)
            finally:
                response.close()
        except httpx2.HTTPError as exc:
            if watchdog.expired:
                raise _deadline_passed(request) from None
            raise _failed(exc, request) from exc
    return _response(response, body.value())


async def _asend_once(http: httpx2.AsyncClient, request: HttpRequest) -> HttpResponse:
    try:
        with anyio.fail_after(READ_DEADLINE):
            response = await http.send(
                _to_httpx(http, request), stream=True, follow_redirects=False
            )
            try:
                body = _Body(response, request)
                try:
                    async for chunk in response.aiter_raw():
                        body.feed(chunk)
                except httpx2.StreamConsumed:  # a transport that read it already (a mock)
                    body = _Body.read(response, request)
            finally:
                await response.aclose()
    except TimeoutError:
        raise _deadline_passed(request) from None
    except httpx2.HTTPError as exc:
        raise _failed(exc, request) from exc
    return _response(response, body.value())
