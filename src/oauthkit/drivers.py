"""Run protocol steps over httpx2: :func:`run` with a ``Client``, :func:`arun` with an
``AsyncClient``.

A driver sends each :class:`~oauthkit.protocol.http.HttpRequest` the step yields, never
following redirects, reads at most :data:`~oauthkit.protocol.http.MAX_BODY` bytes of the
answer, and sends the :class:`~oauthkit.protocol.http.HttpResponse` back into the step until
it returns; a :class:`~oauthkit.protocol.http.Wait` is a sleep (``time.sleep`` or
``anyio.sleep``). Network failures become :class:`~oauthkit.errors.TransportError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import httpx2

from .errors import InvalidResponse, TransportError
from .protocol.http import MAX_BODY, HttpRequest, HttpResponse, Step, Wait

__all__ = ["arun", "run"]

T = TypeVar("T")


def run(step: Step[T], http: httpx2.Client, *, wait: Callable[[float], None] = time.sleep) -> T:
    """Drive ``step`` to its result with the synchronous ``http`` client; ``wait`` does the
    pauses a step asks for (a command line passes one that shows a countdown)."""
    try:
        request = next(step)
        while True:
            if isinstance(request, Wait):
                wait(request.seconds)
                request = step.send(None)
            else:
                request = step.send(_send(http, request))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def arun(step: Step[T], http: httpx2.AsyncClient) -> T:
    """Drive ``step`` to its result with the asynchronous ``http`` client."""
    try:
        request = next(step)
        while True:
            if isinstance(request, Wait):
                await anyio.sleep(request.seconds)
                request = step.send(None)
            else:
                request = step.send(await _asend(http, request))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _to_httpx(http: httpx2.Client | httpx2.AsyncClient, request: HttpRequest) -> httpx2.Request:
    return http.build_request(
        request.method, request.url, headers=list(request.headers), content=request.body
    )


def _response(response: httpx2.Response, body: bytes) -> HttpResponse:
    return HttpResponse.build(
        response.status_code, response.headers.multi_items(), body, str(response.url)
    )


def _too_large(response: httpx2.Response, request: HttpRequest) -> InvalidResponse:
    return InvalidResponse(
        f"{request.method} {request.url.split('?', 1)[0]} answered a body larger than "
        f"{MAX_BODY} bytes (HTTP {response.status_code}); refusing to read it"
    )


#: Failures that happen before a request leaves this machine.
_NOT_SENT = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.UnsupportedProtocol,
)


def _failed(exc: httpx2.HTTPError, request: HttpRequest) -> TransportError:
    where = request.url.split("?", 1)[0]
    return TransportError(
        f"{request.method} {where} failed: {type(exc).__name__}: {exc}",
        sent=not isinstance(exc, _NOT_SENT),
    )


def _send(http: httpx2.Client, request: HttpRequest) -> HttpResponse:
    try:
        response = http.send(_to_httpx(http, request), stream=True, follow_redirects=False)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise _too_large(response, request)
                chunks.append(chunk)
        finally:
            response.close()
    except httpx2.HTTPError as exc:
        raise _failed(exc, request) from exc
    return _response(response, b"".join(chunks))


async def _asend(http: httpx2.AsyncClient, request: HttpRequest) -> HttpResponse:
    try:
        response = await http.send(_to_httpx(http, request), stream=True, follow_redirects=False)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise _too_large(response, request)
                chunks.append(chunk)
        finally:
            await response.aclose()
    except httpx2.HTTPError as exc:
        raise _failed(exc, request) from exc
    return _response(response, b"".join(chunks))
