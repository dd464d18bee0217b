"""A minimal keep-alive HTTP server in its own process, for the benchmarks: ``POST /token``
answers a fresh bearer token (and counts), anything else a small JSON body. Running it in
another process keeps its cost out of the client's measurements."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

API_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
    b'Connection: keep-alive\r\n\r\n{"ok":true}'
)


def _token_response(n: int) -> bytes:
    body = json.dumps(
        {
            "access_token": f"bench-{n}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": f"refresh-{n}",
        }
    ).encode()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


class _Handler(asyncio.Protocol):
    tokens: Any = None  # a multiprocessing.Value counting /token requests
    token_delay = 0.0  # seconds before a token answer (a slow provider)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, rest = self.buffer.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            if head.startswith(b"POST /token"):
                with self.tokens.get_lock():
                    self.tokens.value += 1
                    n = self.tokens.value
                answer = _token_response(n)
                if self.token_delay:
                    loop = asyncio.get_running_loop()
                    loop.call_later(self.token_delay, self.transport.write, answer)  # type: ignore[attr-defined]
                else:
                    self.transport.write(answer)  # type: ignore[attr-defined]
            else:
                self.transport.write(API_RESPONSE)  # type: ignore[attr-defined]


def _serve(sock: socket.socket, tokens: Any, token_delay: float) -> None:
    _Handler.tokens = tokens
    _Handler.token_delay = token_delay

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Handler, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


class LoopbackServer:
    """``with LoopbackServer() as server:`` — ``server.url``, ``server.token_requests``;
    ``token_delay`` seconds before each token answer."""

    def __init__(self, token_delay: float = 0.0) -> None:
        self.token_delay = token_delay

    def __enter__(self) -> LoopbackServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._tokens = multiprocessing.get_context("fork").Value("i", 0)
        self._process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(sock, self._tokens, self.token_delay), daemon=True
        )
        self._process.start()
        sock.close()
        return self

    @property
    def token_requests(self) -> int:
        return int(self._tokens.value)

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.join()


def sync_rate(get: Callable[[str], object], url: str, n: int) -> float:
    """Requests per second of ``n`` sequential ``get(url)`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        get(url)
    return n / (time.perf_counter() - start)


async def async_rate(
    get: Callable[[str], Awaitable[object]], url: str, n: int, tasks: int
) -> float:
    """Requests per second of ``n`` calls spread over ``tasks`` concurrent tasks."""

    async def worker() -> None:
        for _ in range(n // tasks):
            await get(url)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return (n // tasks) * tasks / (time.perf_counter() - start)


def report(title: str, best: dict[str, float], bar: float, ours: str) -> bool:
    """Print rates and their ratio to ``bare httpx2``; True when ``ours`` meets ``bar``."""
    bare = best["bare httpx2"]
    print(f"\n{title}")
    for name, rate in best.items():
        print(f"  {name:16} {rate:9.0f} req/s   {rate / bare:5.3f} of bare")
    ok = best[ours] / bare >= bar
    print(f"  {ours} vs bar {bar}: {'ok' if ok else 'BELOW'}")
    return ok
