"""``OAuth2Auth``: send a bearer token (RFC 6750) and keep it fresh, for httpx2 sync and async
clients alike. :class:`TokenHolder` is the part every HTTP library shares (the requests adapter
uses it too)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import anyio
import httpx2

from ..drivers import ABeforeSend, BeforeSend
from ..errors import (
    InsecureTransportError,
    InvalidGrant,
    LockTimeout,
    ReauthenticationRequired,
    StepUpRequired,
    StoreError,
    TemporarilyUnavailable,
    TransportError,
)
from ..protocol.oauth2.bearer import authorization_header, challenge_error, step_up
from ..protocol.oauth2.dpop import make_proof, wants_nonce
from ..protocol.oauth2.token import Token
from ..protocol.url_policy import is_loopback_host

__all__ = [
    "AHEAD_RETRY",
    "DEFERRABLE",
    "EXPIRY_MARGIN",
    "HolderSource",
    "HoldsToken",
    "OAuth2Auth",
    "SessionBacked",
    "TokenHolder",
    "TokenRenewer",
    "still_valid",
]

#: Renewals (INFO), waits for another renewal (DEBUG), retries on ``invalid_token`` and on a
#: DPoP nonce (INFO); never a token.
log = logging.getLogger("oauthkit.auth")


class TokenRenewer(Protocol):
    """The one renewer seam: whether a token can be renewed, and its renewal from sync and
    from async code. ``OAuth2Client``, ``AsyncOAuth2Client`` and ``Session`` are renewers;
    a :class:`TokenHolder` uses one."""

    def can_renew(self, token: Token) -> bool: ...

    def renew_token(self, token: Token, *, before_send: BeforeSend | None = None) -> Token: ...

    async def arenew_token(
        self, token: Token, *, before_send: ABeforeSend | None = None
    ) -> Token: ...


#: A token with less than this left (seconds) counts as expired: callers wait for its
#: renewal. Before that, one caller renews it while every other is served (refresh ahead).
EXPIRY_MARGIN = 5.0
#: When a renewal ahead of expiry found another holder renewing, or failed for a reason that
#: may pass (:data:`DEFERRABLE`), it is tried again this many seconds later.
AHEAD_RETRY = 2.0
#: The failures a token that is still valid outlives: nothing was refused, and a later try
#: may succeed.
DEFERRABLE = (TransportError, TemporarilyUnavailable, StoreError)


def still_valid(token: Token) -> bool:
    """Whether ``token`` can still be sent: more than :data:`EXPIRY_MARGIN` seconds left."""
    return not token.is_expired(EXPIRY_MARGIN)


class Current(NamedTuple):
    """The token in use, its Authorization header, and when to renew it (epoch seconds)."""

    token: Token
    header: str
    renew_at: float


class TokenHolder:
    """The token an auth object sends, renewed once however many threads or tasks find it due.

    Sending reads :attr:`current` and compares one float: no lock, no clock object, no
    allocation. Renewal takes a lock (a thread lock for sync callers, an anyio lock for async
    ones), checks whether another caller renewed meanwhile, renews, and hands the new token to
    ``on_token``. A refused refresh (``invalid_grant``) becomes
    :class:`~oauthkit.errors.ReauthenticationRequired`, and the refused refresh token is not
    sent again. While the token is still valid, nobody waits for its renewal (refresh
    ahead, :meth:`renew`).
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
        self._thread_lock = threading.Lock()
        self._task_lock: anyio.Lock | None = None
        #: The refusal of this holder's refresh token: it is not sent again.
        self._refused: InvalidGrant | None = None
        self.current = self._prepare(token)

    def _prepare(self, token: Token) -> Current:
        at = token.renew_at(self._leeway) if self._client.can_renew(token) else None
        renew_at = at.timestamp() if at is not None else math.inf
        return Current(token, authorization_header(token.token_type, token.access_token), renew_at)

    def reset(self, token: Token) -> None:
        """Use ``token`` from now on (a new sign-in)."""
        self._refused = None
        self.current = self._prepare(token)

    def retry_after(self, status: int, www_authenticate: str | None, token: Token) -> bool:
        """RFC 6750 §3.1 (RFC 9449 §7.1 for DPoP): a 401 whose challenge of the token's own
        scheme says ``invalid_token`` is worth one renewal and one retry;
        ``insufficient_scope`` and the rest are not."""
        return (
            status == 401
            and challenge_error(www_authenticate, token.token_type) == "invalid_token"
            and self._client.can_renew(token)
        )

    def _adopt(self, new: Token) -> Current:
        self.current = self._prepare(new)
        if self._on_token is not None:
            self._on_token(new)
        return self.current

    def _renewal_failed(self, refusal: InvalidGrant) -> ReauthenticationRequired:
        """Remember the refusal (the dead refresh token is never sent again) and say so."""
        if self._refused is None:
            log.warning("the token's renewal was refused (invalid_grant)")
        self._refused = refusal
        failed = ReauthenticationRequired(
            "the token could not be renewed (the server answered invalid_grant): sign in again"
        )
        failed.__cause__ = refusal
        return failed

    def renew(self, stale: Current) -> Current:
        """Renew ``stale`` unless another thread already did; return what to send now. While
        ``stale`` is still valid (refresh ahead) nobody waits: a thread that finds another
        renewing sends ``stale``, and a failure that may pass is put off (:meth:`_later`)."""
        ahead = still_valid(stale.token)
        waited = time.monotonic()
        if not self._thread_lock.acquire(blocking=not ahead):
            return self.current  # another thread is renewing; the token is still good
        try:
            started = _waited(waited)
            if self.current is not stale:
                return self.current
            if self._refused is not None:
                raise self._renewal_failed(self._refused)
            try:
                new = self._client.renew_token(stale.token)
            except InvalidGrant as exc:
                raise self._renewal_failed(exc) from exc
            except DEFERRABLE as exc:
                if not ahead:
                    raise
                return self._later(stale, exc)
            _renewed(stale.token, started)
            return self._adopt(new)
        finally:
            self._thread_lock.release()

    async def arenew(self, stale: Current) -> Current:
        """The ``await`` twin of :meth:`renew`: renew ``stale`` unless another task already
        did."""
        if self._task_lock is None:
            self._task_lock = anyio.Lock()
        ahead = still_valid(stale.token)
        waited = time.monotonic()
        if not ahead:
            await self._task_lock.acquire()
        else:
            try:
                self._task_lock.acquire_nowait()
            except anyio.WouldBlock:
                return self.current  # another task is renewing; the token is still good
        try:
            started = _waited(waited)
            if self.current is not stale:
                return self.current
            if self._refused is not None:
                raise self._renewal_failed(self._refused)
            try:
                new = await self._client.arenew_token(stale.token)
            except InvalidGrant as exc:
                raise self._renewal_failed(exc) from exc
            except DEFERRABLE as exc:
                if not ahead:
                    raise
                return self._later(stale, exc)
            _renewed(stale.token, started)
            return self._adopt(new)
        finally:
            self._task_lock.release()

    def _later(self, stale: Current, failure: BaseException) -> Current:
        """A renewal ahead of expiry that found another holder renewing, or failed for a
        reason that may pass: ``stale`` is sent on, and renewed again in
        :data:`AHEAD_RETRY` seconds (before it expires)."""
        expires = stale.token.expires_at
        last = expires.timestamp() - EXPIRY_MARGIN if expires is not None else math.inf
        again = min(time.time() + AHEAD_RETRY, last)
        if isinstance(failure, LockTimeout):
            log.debug("another holder is renewing the token; it is used meanwhile")
        else:
            log.warning(
                "renewing the token ahead of its expiry failed (%s: %s); it is used on and "
                "renewed again in %.0f s",
                type(failure).__name__,
                failure,
                AHEAD_RETRY,
            )
        self.current = stale._replace(renew_at=again)
        return self.current


def _waited(since: float) -> float:
    """Log a wait for the renewal lock (another thread or task was renewing); now."""
    now = time.monotonic()
    if now - since > 0.001:
        log.debug("waited %.0f ms for another renewal of the same token", (now - since) * 1000)
    return now


def _renewed(old: Token, started: float) -> None:
    how = "refreshed" if old.refresh_token else "fetched again"
    log.info("the token was %s in %.0f ms", how, (time.monotonic() - started) * 1000)


#: Loopback host names already checked (a bounded cache shared by every auth object).
_LOOPBACK_SEEN: set[str] = set()


def insecure_allowed(client: object, explicit: bool | None) -> bool:
    """An explicit choice, else the client's own ``allow_insecure_http``."""
    if explicit is not None:
        return explicit
    config = getattr(client, "config", None)
    return bool(getattr(config, "allow_insecure_http", False))


def origin_of(url: str | None) -> tuple[str, str | None, int | None]:
    """``(scheme, host, port)`` of ``url``: what DPoP nonces and retries are kept per."""
    parts = urlsplit(url or "")
    return parts.scheme, parts.hostname, parts.port


def _where(request: httpx2.Request) -> str:
    """``METHOD scheme://host/path``: never the query, which may carry secrets."""
    return f"{request.method} {request.url.copy_with(query=None, fragment=None)}"


def check_step_up(status: int, www_authenticate: str | None, token: Token, where: str) -> None:
    """RFC 9470 §3: a 401 whose challenge of the token's own scheme says
    ``insufficient_user_authentication`` is :class:`~oauthkit.errors.StepUpRequired`, with
    the ``acr_values`` and ``max_age`` the resource asks for: no renewal would help, only a
    new sign-in."""
    if status != 401:
        return
    found = step_up(www_authenticate, token.token_type)
    if found is None:
        return
    acr_values, max_age = found
    wanted = [f"acr_values={' '.join(acr_values)!r}"] if acr_values else []
    wanted += [f"max_age={max_age}"] if max_age is not None else []
    raise StepUpRequired(
        f"{where} asks for a stronger or more recent sign-in (RFC 9470 "
        f"insufficient_user_authentication{': ' + ', '.join(wanted) if wanted else ''}): "
        "sign in again with those in the authorization request",
        acr_values=acr_values,
        max_age=max_age,
    )


def _retrying(request: httpx2.Request) -> None:
    log.info("%s answered 401 invalid_token: renewing the token and retrying once", _where(request))


def _step_up(request: httpx2.Request, response: httpx2.Response, token: Token) -> None:
    if response.status_code == 401:  # the cheap test first: this runs on every response
        check_step_up(401, response.headers.get("www-authenticate"), token, _where(request))


#: The stream types of a body held in memory (httpx's is added by oauthkit.auth.httpx).
MEMORY_STREAMS: tuple[type, ...] = (httpx2.ByteStream,)


def add_memory_stream(stream_type: type) -> None:
    """Count ``stream_type`` as a body held in memory (that can be sent twice)."""
    global MEMORY_STREAMS
    if stream_type not in MEMORY_STREAMS:
        MEMORY_STREAMS = (*MEMORY_STREAMS, stream_type)


def _replayable(request: httpx2.Request) -> bool:
    """A body held in memory can be sent twice; a generator or file stream cannot."""
    return isinstance(request.stream, MEMORY_STREAMS)


def _same_origin(a: httpx2.URL, b: httpx2.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


class HoldsToken:
    """The constructor and ``token`` of every OAuth 2 auth object (httpx2's and requests')."""

    def __init__(
        self,
        client: TokenRenewer,
        token: Token,
        *,
        leeway: float = 60,
        on_token: Callable[[Token], None] | None = None,
        allow_insecure_http: bool | None = None,
    ) -> None:
        self.holder = TokenHolder(client, token, leeway=leeway, on_token=on_token)
        self.allow_insecure_http = insecure_allowed(client, allow_insecure_http)

    holder: TokenHolder | None
    #: Send the token over plain http to hosts that are not loopback (RFC 6750 §5.3: never
    #: without TLS). None of the auth objects does unless this is set, or their client's.
    allow_insecure_http: bool = False

    def _check_url(self, scheme: str, host: str | None) -> None:
        """RFC 6750 §5.3: a bearer token travels over TLS only (loopback excepted)."""
        if scheme == "https" or self.allow_insecure_http:
            return
        if scheme == "http" and host in _LOOPBACK_SEEN:  # every request: parse an address once
            return
        if scheme == "http" and host and is_loopback_host(host):
            if len(_LOOPBACK_SEEN) < 64:
                _LOOPBACK_SEEN.add(host)
            return
        raise InsecureTransportError(
            f"refusing to send the access token over {scheme or 'a scheme-less URL'} to "
            f"{host or 'no host'}: use https, or pass allow_insecure_http=True to the client "
            "or the auth object for a test server on a trusted network (RFC 6750 §5.3)"
        )

    @property
    def token(self) -> Token:
        """The current token (renewed ones replace it)."""
        return (self.holder or self._sync_holder()).current.token

    # -- DPoP at resource servers (RFC 9449 §7, §9), for every adapter ----------------------

    def _dpop_proof(self, token: Token, method: str, url: str) -> str:
        """RFC 9449 §7.1: a fresh proof for this request, bound to the access token, with
        the nonce this origin asked for last (§9)."""
        return make_proof(
            token.dpop_key or {},
            method,
            url,
            now=time.time(),
            access_token=token.access_token,
            nonce=self._dpop_nonces().get(origin_of(url)),
        )

    def _dpop_nonce_retry(
        self, token: Token, url: str, status: int, headers: Mapping[str, str]
    ) -> bool:
        """RFC 9449 §9: remember the nonce a resource server sent; True when it refused the
        request for want of it (worth one more try with it)."""
        nonce = headers.get("dpop-nonce")
        if token.dpop_key is None or not nonce:
            return False
        self._dpop_nonces()[origin_of(url)] = nonce
        again = wants_nonce(status, headers, None) is not None
        if again:
            log.info("retrying at %s with the DPoP nonce it asked for", origin_of(url)[1])
        return again

    def _dpop_nonces(self) -> dict[tuple[str, str | None, int | None], str]:
        nonces: dict[tuple[str, str | None, int | None], str] | None = self.__dict__.get("_dpop")
        if nonces is None:
            nonces = self.__dict__["_dpop"] = {}
        return nonces

    def _sync_holder(self) -> TokenHolder:
        """The holder when :attr:`holder` is not set yet (a session loads it on first use)."""
        raise ReauthenticationRequired("this auth object has no token")

    async def _async_holder(self) -> TokenHolder:
        return self._sync_holder()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.token!r})"


class HolderSource(Protocol):
    """Where the auth objects of one stored token draw their shared :class:`TokenHolder`
    (a :class:`~oauthkit.Session`): the holder once loaded, and the way to load it."""

    @property
    def client(self) -> object: ...

    @property
    def holder(self) -> TokenHolder | None: ...

    def load_holder(self) -> TokenHolder: ...

    async def aload_holder(self) -> TokenHolder: ...


class SessionBacked:
    """What every auth object of a :class:`~oauthkit.Session` shares (httpx2's, requests'):
    the session's token holder, loaded from its store on first use; renewals go through the
    session."""

    holder: TokenHolder | None
    allow_insecure_http: bool

    def __init__(self, session: HolderSource) -> None:
        self._session = session
        self.holder = session.holder  # shared with the session; loaded on first use if None
        self.allow_insecure_http = insecure_allowed(session.client, None)

    def _sync_holder(self) -> TokenHolder:
        self.holder = self._session.load_holder()
        return self.holder

    async def _async_holder(self) -> TokenHolder:
        self.holder = await self._session.aload_holder()
        return self.holder

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._session!r})"


class OAuth2Auth(HoldsToken, httpx2.Auth):
    """An ``httpx2.Auth`` carrying an OAuth 2 token (RFC 6750 §2.1).

    The token is renewed — refreshed (RFC 6749 §6), or fetched again for a client-credentials
    token — when it expires within ``leeway`` seconds, and once more when the origin it was
    sent to answers 401 with ``error="invalid_token"`` and the request body can be sent again.
    An ``insufficient_scope`` answer is returned as it is. Threads (and tasks) that meet a due
    token together wait for one renewal. ``on_token`` receives each renewed token. The
    Authorization header never follows a redirect to another origin (httpx2 drops it).
    """

    @staticmethod
    def _retry(
        holder: TokenHolder,
        replayable: bool,
        request: httpx2.Request,
        response: httpx2.Response,
        token: Token,
    ) -> bool:
        return (
            response.status_code == 401  # the cheap test first: this runs on every response
            and replayable
            and _same_origin(response.url, request.url)
            and holder.retry_after(
                response.status_code, response.headers.get("www-authenticate"), token
            )
        )

    def _authorize(self, request: httpx2.Request, current: Current) -> None:
        self._check_url(request.url.scheme, request.url.host)
        request.headers["Authorization"] = current.header
        if current.token.dpop_key is not None:
            url = str(request.url)
            request.headers["DPoP"] = self._dpop_proof(current.token, request.method, url)

    def _nonce_retry(
        self, replayable: bool, request: httpx2.Request, response: httpx2.Response, token: Token
    ) -> bool:
        if token.dpop_key is None or not replayable:  # every response passes here: cheap
            return False
        return self._dpop_nonce_retry(
            token, str(request.url), response.status_code, response.headers
        )

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, Any]:
        """Send with the token; renew when due, or once after an ``invalid_token`` 401.
        Returns the last response (for a flow that delegates to this one with ``yield
        from``)."""
        holder = self.holder or self._sync_holder()
        current = holder.current
        if time.time() >= current.renew_at:
            current = holder.renew(current)
        self._authorize(request, current)
        replayable = _replayable(request)
        response = yield request
        if self._nonce_retry(replayable, request, response, current.token):
            self._authorize(request, current)
            response = yield request
        if self._retry(holder, replayable, request, response, current.token):
            _retrying(request)
            current = holder.renew(current)
            self._authorize(request, current)
            response = yield request
        _step_up(request, response, current.token)
        return response

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """The async twin of :meth:`sync_auth_flow`."""
        holder = self.holder or await self._async_holder()
        current = holder.current
        if time.time() >= current.renew_at:
            current = await holder.arenew(current)
        self._authorize(request, current)
        replayable = _replayable(request)
        response = yield request
        if self._nonce_retry(replayable, request, response, current.token):
            self._authorize(request, current)
            response = yield request
        if self._retry(holder, replayable, request, response, current.token):
            _retrying(request)
            current = await holder.arenew(current)
            self._authorize(request, current)
            response = yield request
        _step_up(request, response, current.token)
