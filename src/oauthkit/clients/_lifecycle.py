"""Closing what a client made: the context-manager half every client shares."""

from __future__ import annotations

from typing import Self

import httpx2

__all__ = ["HTTP_TIMEOUT", "AsyncLifecycle", "SyncLifecycle"]

#: The timeouts of the HTTP client a client makes for itself: 10 s to connect, 30 s for the
#: rest. Not httpx's 5 s: a token endpoint that answers a refresh in 6 s under load has
#: already rotated the refresh token; giving up on its answer loses the new one, and the old
#: one is then refused (and with reuse detection, the whole grant revoked).
HTTP_TIMEOUT = httpx2.Timeout(30.0, connect=10.0)


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
