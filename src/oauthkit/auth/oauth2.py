"""``OAuth2Auth``: send a bearer token (RFC 6750) and keep it fresh, for httpx2 sync and async
clients alike."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import NamedTuple, Protocol, TypeVar

import anyio
import httpx2

from ..errors import InvalidGrant, ReauthenticationRequired
from ..protocol.http import Step
from ..protocol.oauth2.bearer import authorization_header, bearer_challenge_error
from ..protocol.oauth2.token import Token

__all__ = ["OAuth2Auth", "TokenRenewer"]

T = TypeVar("T")


class TokenRenewer(Protocol):
    """What :class:`OAuth2Auth` needs from a client: a way to renew a token and to run the
    renewal from sync or async code (``OAuth2Client`` and ``AsyncOAuth2Client`` are both)."""

    def can_renew(self, token: Token) -> bool: ...

    def renew_step(self, token: Token) -> Step[Token]: ...

    def run_sync(self, step: Step[T]) -> T: ...

    async def run_async(self, step: Step[T]) -> T: ...


class _Current(NamedTuple):
    """The token in use, its Authorization header, and when to renew it (epoch seconds)."""

    token: Token
    header: str
    renew_at: float


def _replayable(request: httpx2.Request) -> bool:
    """A body held in memory can be sent twice; a generator or file stream cannot."""
    return isinstance(request.stream, httpx2.ByteStream)


def _origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class OAuth2Auth(httpx2.Auth):
    """An ``httpx2.Auth`` carrying an OAuth 2 token (RFC 6750 §2.1).

    The token is renewed — refreshed (RFC 6749 §6), or fetched again for a client-credentials
    token — when it expires within ``leeway`` seconds, and once more when a resource server
    answers 401 with ``error="invalid_token"`` and the request body can be sent again. An
    ``insufficient_scope`` answer is returned as it is. Threads (and tasks) that meet a due
    token together wait for one renewal. ``on_token`` receives each renewed token. The
    Authorization header never follows a redirect to another origin (httpx2 drops it).
    """

    def __init__(
        self,
        client: TokenRenewer,
        token: Token,
        *,
        leeway: float = 60,
        on_token: Callable[[Token], None] | None = None,
    ) -> None:
        self._client = client
        self._leeway = leeway
        self._on_token = on_token
        self._current = self._prepare(token)
        self._thread_lock = threading.Lock()
        self._task_lock: anyio.Lock | None = None

    @property
    def token(self) -> Token:
        """The current token (renewed ones replace it)."""
        return self._current.token

    def _prepare(self, token: Token) -> _Current:
        """Precompute the header and the time to renew, so that sending takes no work."""
        renew_at = math.inf
        if token.expires_at is not None and self._client.can_renew(token):
            renew_at = token.expires_at.timestamp() - self._leeway
        header = authorization_header(token.token_type, token.access_token)
        return _Current(token, header, renew_at)

    def _should_retry(
        self, replayable: bool, request: httpx2.Request, response: httpx2.Response, token: Token
    ) -> bool:
        """RFC 6750 §3.1: only an ``invalid_token`` challenge from the origin the token was
        sent to, for a body that can be sent again, and a token that can be renewed."""
        return (
            replayable
            and response.status_code == 401
            and _origin(response.url) == _origin(request.url)
            and bearer_challenge_error(response.headers.get("www-authenticate")) == "invalid_token"
            and self._client.can_renew(token)
        )

    def _adopt(self, new: Token) -> _Current:
        self._current = self._prepare(new)
        if self._on_token is not None:
            self._on_token(new)
        return self._current

    @staticmethod
    def _renewal_failed() -> ReauthenticationRequired:
        return ReauthenticationRequired(
            "the token could not be renewed (the server answered invalid_grant): sign in again"
        )

    def _renew_sync(self, stale: _Current) -> _Current:
        with self._thread_lock:
            if self._current is not stale:  # another thread renewed it meanwhile
                return self._current
            try:
                new = self._client.run_sync(self._client.renew_step(stale.token))
            except InvalidGrant as exc:
                raise self._renewal_failed() from exc
            return self._adopt(new)

    async def _renew_async(self, stale: _Current) -> _Current:
        if self._task_lock is None:
            self._task_lock = anyio.Lock()
        async with self._task_lock:
            if self._current is not stale:  # another task renewed it meanwhile
                return self._current
            try:
                new = await self._client.run_async(self._client.renew_step(stale.token))
            except InvalidGrant as exc:
                raise self._renewal_failed() from exc
            return self._adopt(new)

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        """Send with the token; renew when due, or once after an ``invalid_token`` 401."""
        current = self._current
        if time.time() >= current.renew_at:
            current = self._renew_sync(current)
        request.headers["Authorization"] = current.header
        replayable = _replayable(request)
        response = yield request
        if self._should_retry(replayable, request, response, current.token):
            current = self._renew_sync(current)
            request.headers["Authorization"] = current.header
            yield request

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """The async twin of :meth:`sync_auth_flow`."""
        current = self._current
        if time.time() >= current.renew_at:
            current = await self._renew_async(current)
        request.headers["Authorization"] = current.header
        replayable = _replayable(request)
        response = yield request
        if self._should_retry(replayable, request, response, current.token):
            current = await self._renew_async(current)
            request.headers["Authorization"] = current.header
            yield request

    def __repr__(self) -> str:
        return f"OAuth2Auth({self._current.token!r})"
