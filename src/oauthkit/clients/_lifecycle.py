"""Closing what a client made: the context-manager half every client shares."""

from __future__ import annotations

from http.cookiejar import Cookie, CookieJar
from typing import Any, Self, TypeVar

import httpx2

__all__ = ["HTTP_TIMEOUT", "AsyncLifecycle", "NoCookies", "SyncLifecycle", "new_http"]

H = TypeVar("H", httpx2.Client, httpx2.AsyncClient)

#: The timeouts of the HTTP client a client makes for itself: 10 s to connect, 30 s for the
#: rest. Not httpx's 5 s: a token endpoint that answers a refresh in 6 s under load has
#: already rotated the refresh token; giving up on its answer loses the new one, and the old
#: one is then refused (and with reuse detection, the whole grant revoked).
HTTP_TIMEOUT = httpx2.Timeout(30.0, connect=10.0)


class NoCookies(CookieJar):
    """A cookie jar that keeps nothing. An HTTP client oauthkit makes serves every user of a
    process (a web app's provider client, its API relay): a provider's ``Set-Cookie`` to one
    user's request must never travel with another user's (CWE-488), and no OAuth exchange
    needs a cookie (RFC 6749 and RFC 5849 carry everything in the request)."""

    def set_cookie(self, cookie: Cookie) -> None:
        """Keep nothing."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep nothing."""


def new_http(cls: type[H], **options: Any) -> H:
    """An HTTP client of ``cls`` as oauthkit makes them: :data:`HTTP_TIMEOUT`, and a jar
    that keeps no cookie (:class:`NoCookies`); ``options`` are httpx2's."""
    return cls(**{"timeout": HTTP_TIMEOUT, **options, "cookies": NoCookies()})


class SyncLifecycle:
    """``close()`` and ``with``: the HTTP client is closed only if this client made it."""

    http: httpx2.Client
    _owns_http: bool

    def close(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncLifecycle:
    """``aclose()`` and ``async with``: the HTTP client is closed only if this client made it."""

    http: httpx2.AsyncClient
    _owns_http: bool

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
