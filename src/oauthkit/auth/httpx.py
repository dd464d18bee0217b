"""oauthkit's auth objects for clients of ``httpx`` (0.27, 0.28), beside httpx2.

``httpx.Client(auth=HttpxAuth(client.auth(token)))`` — and likewise for
``OAuth1Client.auth(creds)``, ``OAuth1Auth(…)``, ``OAuth2Auth(…)`` and ``Session.auth()``,
sync or async. httpx accepts only its own ``httpx.Auth``; this wrapper is one, and hands
each request to the wrapped object's flow, which works on httpx's requests and responses as
on httpx2's (the two libraries share that API): signing, renewal when due, the retry after
``invalid_token`` and DPoP proofs all behave the same. Needs the ``httpx`` extra.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError("oauthkit.auth.httpx needs httpx: pip install 'oauthkit[httpx]'") from exc

import httpx2

from .oauth2 import add_memory_stream

__all__ = ["HttpxAuth"]

add_memory_stream(httpx.ByteStream)


class HttpxAuth(httpx.Auth):
    """An ``httpx.Auth`` that runs an oauthkit auth object (an ``httpx2.Auth``)."""

    def __init__(self, auth: httpx2.Auth) -> None:
        if not isinstance(auth, httpx2.Auth):
            raise TypeError("HttpxAuth wraps an oauthkit auth object (an httpx2.Auth)")
        self.auth = auth
        self.requires_request_body = auth.requires_request_body
        self.requires_response_body = auth.requires_response_body

    def sync_auth_flow(self, request: httpx.Request) -> Generator[Any, Any, None]:
        """The wrapped object's flow, on httpx's request."""
        return self.auth.sync_auth_flow(request)  # type: ignore[arg-type]

    def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[Any, Any]:
        """The wrapped object's async flow, on httpx's request."""
        return self.auth.async_auth_flow(request)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"HttpxAuth({self.auth!r})"
