"""Closing what a client made: the context-manager half every client shares."""

from __future__ import annotations

from typing import Self

import httpx2

__all__ = ["AsyncLifecycle", "SyncLifecycle"]


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
