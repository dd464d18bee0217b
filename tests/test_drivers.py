"""The drivers: redirects are not followed, bodies are capped, network failures are typed.
Edge cases on httpx2.MockTransport; the unreachable server is a real closed loopback port."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import httpx2
import pytest

from oauthkit.drivers import arun, run
from oauthkit.errors import InvalidResponse, TransportError
from oauthkit.protocol.http import MAX_BODY, HttpRequest, HttpResponse, Step


def _one_request(url: str = "https://as.example/token") -> Step[HttpResponse]:
    response = yield HttpRequest("POST", url, (("Accept", "application/json"),), b"a=1")
    return response


def test_the_request_is_sent_as_yielded_and_the_response_comes_back() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(201, headers={"X-Thing": "1"}, content=b"ok")

    with httpx2.Client(transport=httpx2.MockTransport(handler)) as http:
        response = run(_one_request(), http)
    assert response.status_code == 201
    assert response.headers["x-thing"] == "1"
    assert response.body == b"ok"
    assert seen[0].method == "POST"
    assert seen[0].content == b"a=1"
    assert seen[0].headers["accept"] == "application/json"


def test_redirects_are_handed_to_the_step_not_followed() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.host == "as.example", "the driver followed a redirect"
        return httpx2.Response(307, headers={"Location": "https://evil.example/token"})

    transport = httpx2.MockTransport(handler)
    with httpx2.Client(transport=transport, follow_redirects=True) as http:
        assert run(_one_request(), http).status_code == 307


@pytest.mark.parametrize("size", [MAX_BODY + 1, 5 * MAX_BODY])
def test_bodies_over_the_cap_are_refused(size: int) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b"x" * size)

    transport = httpx2.MockTransport(handler)
    with httpx2.Client(transport=transport) as http, pytest.raises(InvalidResponse, match="larger"):
        run(_one_request(), http)


@contextlib.contextmanager
def _refusing_port() -> Iterator[int]:
    """A port bound but never listening: connections are refused, and nothing else can take
    it while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_an_unreachable_server_is_a_transport_error() -> None:
    with _refusing_port() as port, httpx2.Client() as http, pytest.raises(TransportError) as info:
        run(_one_request(f"http://127.0.0.1:{port}/token?secret=abc"), http)
    assert isinstance(info.value.__cause__, httpx2.ConnectError)
    assert info.value.sent is False
    assert "secret=abc" not in str(info.value)


async def test_async_driver_caps_and_types_errors_alike() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b"y" * (MAX_BODY + 1))

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        with pytest.raises(InvalidResponse):
            await arun(_one_request(), http)
    with _refusing_port() as port:
        async with httpx2.AsyncClient() as http:
            with pytest.raises(TransportError):
                await arun(_one_request(f"http://127.0.0.1:{port}/token"), http)


pytestmark = pytest.mark.anyio
