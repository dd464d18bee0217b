"""``Session``: a token kept in a store, fresh for every thread, task, process and machine
that shares the store, and renewed exactly once per expiry.

The fast path — the token in memory is not due — takes no lock and touches no store. When it
is due (or a resource server said ``invalid_token``):

1. one in-process single flight: threads (or tasks) that meet it together wait for one
   renewal (:class:`~oauthkit.auth.oauth2.TokenHolder`);
2. the store's lock for the key (across processes or machines);
3. the store is read again: another process may have renewed already, then that token is
   used and nothing is sent;
4. otherwise the stored token is refreshed (or, for client credentials, fetched again), and
5. the new token is written with compare-and-set and committed *before* any request uses
   it, so a rotated refresh token is never lost to a crash after the answer arrived.

A refresh refused with ``invalid_grant``, or whose answer was lost after it was sent, ends
in :class:`~oauthkit.errors.ReauthenticationRequired`; a failed write surfaces as
:class:`~oauthkit.errors.StoreError` and the new token is not used.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from .auth.oauth2 import OAuth2Auth, SessionBacked, TokenHolder, TokenRenewer
from .drivers import ABeforeSend, BeforeSend, adrive, drive
from .errors import (
    ConfigurationError,
    InvalidGrant,
    ReauthenticationRequired,
    StoreConflict,
    StoreError,
    TransportError,
)
from .protocol.http import HttpRequest
from .protocol.oauth2.token import Token
from .stores.base import DEFAULT_LOCK_TIMEOUT, AsyncTransaction, Entry, TokenStore, Transaction

if TYPE_CHECKING:
    from .auth.requests import RequestsSessionAuth

#: Store-side renewal: lock waits (DEBUG), outcomes per key (INFO/WARNING); never a token.
log = logging.getLogger("oauthkit.session")

__all__ = ["REFUSED", "Session", "SessionAuth", "SessionBacked", "refused", "refused_at"]

#: The ``Token.extra`` key that records when the provider refused the refresh token.
REFUSED = "oauthkit_refused_at"


def refused(token: Token) -> Token:
    """``token`` without its refresh token, marked as refused now (ISO 8601, UTC)."""
    from datetime import UTC, datetime

    when = datetime.now(UTC).isoformat(timespec="seconds")
    return token.replace(refresh_token=None, extra={**token.extra, REFUSED: when})


def _same_token(value: object, token: Token) -> bool:
    return isinstance(value, Token) and value.access_token == token.access_token


def refused_at(token: Token) -> str | None:
    """When the provider refused ``token``'s refresh token, or ``None``."""
    value = token.extra.get(REFUSED)
    return value if isinstance(value, str) else None


#: How long a renewal's lease must last from the moment it sends a request: the request's
#: whole exchange (:data:`oauthkit.drivers.READ_DEADLINE`) and a margin for the write that
#: follows its answer. It is extended to this before every request of a renewal (RFC 9700
#: §4.14.2: a refresh token sent twice may revoke the grant), so no other holder can take the
#: key over while an answer may still come.
LEASE_MARGIN = 30.0
#: How long a renewal keeps trying to store a token the provider issued when the store fails
#: (a database restarting, "database is locked"): the refresh token may have been rotated,
#: and the new one exists nowhere else.
SAVE_RETRY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Load:
    """Read the key's entry under the lock."""


@dataclass(frozen=True, slots=True)
class _Renew:
    """Refresh (or fetch again) this token over HTTP, extending the lease before each
    request."""

    token: Token


@dataclass(frozen=True, slots=True)
class _Refused:
    """The outcome of a refused refresh: raised once the mark is committed."""

    cause: InvalidGrant


@dataclass(frozen=True, slots=True)
class _Save:
    """Compare-and-set the new token over ``version``."""

    token: Token
    version: int


@dataclass(frozen=True, slots=True)
class _Pause:
    """Wait before trying a failed write again."""

    seconds: float


@dataclass(frozen=True, slots=True)
class _Extend:
    """Keep the lease for another exchange."""


_Op = _Load | _Renew | _Save | _Pause | _Extend
#: What an operation of a renewal may fail with and the renewal decides about (it is thrown
#: back into the plan): a refusal, a lost exchange, a store that failed.
_FAILURES = (InvalidGrant, TransportError, StoreError)


def _lease_needed() -> float:
    """Seconds a lease must cover from now: one whole exchange and the write after it."""
    from . import drivers

    return drivers.READ_DEADLINE + LEASE_MARGIN


class Session:
    """A token under ``key`` in ``store`` (default: :class:`~oauthkit.stores.SQLiteStore`),
    kept fresh with ``client``.

    ``auth()`` is an ``httpx2.Auth`` for sync and async clients alike; ``token()`` /
    ``atoken()`` give the current token, renewed first when due (``leeway`` seconds before
    it expires). ``save(token)`` stores a token obtained by signing in.
    """

    def __init__(
        self,
        client: TokenRenewer,
        store: TokenStore | None = None,
        key: str = "default",
        *,
        leeway: float = 60,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        if store is None:
            from .stores.sqlite import SQLiteStore

            store = SQLiteStore()
        self.client = client
        self.store = store
        self.key = key
        self.leeway = leeway
        self.lock_timeout = lock_timeout
        self._holder: TokenHolder | None = None
        self._start_lock = threading.Lock()
        #: A renewed token the store would not take, and the version it was to replace.
        self._unsaved: tuple[Token, int] | None = None

    @classmethod
    def from_config(
        cls, name: str, path: str | None = None, *, store: TokenStore | None = None
    ) -> Session:
        """The session the ``oauthkit`` command keeps for ``[providers.NAME]`` of its TOML
        configuration (``path``, else ``$OAUTHKIT_CONFIG``, else the default file): the same
        client, the configuration's ``store`` (unless ``store`` is given) and the same key, the
        provider's name. Sign in once with ``oauthkit login NAME``; a program then shares
        that token and its renewals with the command. OAuth 2 providers only (OAuth 1.0a
        credentials do not expire: use ``OAuth1Client`` with the stored credentials)."""
        from pathlib import Path

        from .config.factories import make_oauth2_client, open_store
        from .config.file import load_config
        from .config.provider import ResolvedProvider

        config = load_config(Path(path) if path else None)
        table = config.providers.get(name)
        if table is None:
            known = ", ".join(sorted(config.providers)) or "none"
            raise ConfigurationError(f"no provider {name!r} in {config.path} (configured: {known})")
        provider = ResolvedProvider(table)
        if provider.type == "oauth1":
            raise ConfigurationError(
                f"{name!r} is an OAuth 1.0a provider: its credentials do not expire, so there "
                "is nothing to renew; sign requests with OAuth1Client and the stored credentials"
            )
        client = make_oauth2_client(provider)
        return cls(client, store if store is not None else open_store(config.store), key=name)

    # -- the token in memory --------------------------------------------------------------

    def _adopt_stored(self, value: object) -> TokenHolder:
        if value is None:
            raise ReauthenticationRequired(f"no token is stored under {self.key!r}: sign in")
        if not isinstance(value, Token):
            raise StoreError(f"{self.key!r} holds OAuth 1.0a credentials, not an OAuth 2 token")
        self._check_not_refused(value)
        with self._start_lock:
            if self._holder is None:
                self._holder = TokenHolder(self, value, leeway=self.leeway)
            return self._holder

    def _check_not_refused(self, token: Token) -> None:
        when = refused_at(token)
        if when is not None:
            raise ReauthenticationRequired(
                f"the provider refused the refresh token under {self.key!r} at {when}: "
                "sign in again"
            )

    @property
    def holder(self) -> TokenHolder | None:
        """The token holder this session's auth objects share; ``None`` until first use."""
        return self._holder

    def load_holder(self) -> TokenHolder:
        """:attr:`holder`, loaded from the store on first use
        (:class:`~oauthkit.errors.ReauthenticationRequired` when nothing usable is stored)."""
        return self._holder or self._adopt_stored(self.store.get(self.key))

    async def aload_holder(self) -> TokenHolder:
        """The ``await`` twin of :meth:`load_holder`."""
        return self._holder or self._adopt_stored(await self.store.aget(self.key))

    def token(self) -> Token:
        """The current token, renewed first if it is due."""
        holder = self.load_holder()
        current = holder.current
        if time.time() >= current.renew_at:
            current = holder.renew(current)
        return current.token

    async def atoken(self) -> Token:
        """The ``await`` twin of :meth:`token`."""
        holder = await self.aload_holder()
        current = holder.current
        if time.time() >= current.renew_at:
            current = await holder.arenew(current)
        return current.token

    def save(self, token: Token) -> None:
        """Store ``token`` (after signing in) and use it from now on."""
        self.store.put(self.key, token)
        self._reset(token)

    async def asave(self, token: Token) -> None:
        """The ``await`` twin of :meth:`save`."""
        await self.store.aput(self.key, token)
        self._reset(token)

    def _reset(self, token: Token) -> None:
        with self._start_lock:
            if self._holder is None:
                self._holder = TokenHolder(self, token, leeway=self.leeway)
            else:
                self._holder.reset(token)

    def auth(self) -> SessionAuth:
        """An ``httpx2.Auth`` (sync and async) sending this session's token; for an
        ``httpx`` client wrap it in :class:`oauthkit.auth.httpx.HttpxAuth`."""
        return SessionAuth(self)

    def requests_auth(self) -> RequestsSessionAuth:
        """The same for a ``requests.Session`` (extra ``requests``)."""
        from .auth.requests import RequestsSessionAuth

        return RequestsSessionAuth(self)

    # -- renewal, called by the holder inside its single flight ---------------------------

    def can_renew(self, token: Token) -> bool:
        """True when the client can refresh ``token`` or fetch it again."""
        return self.client.can_renew(token)

    def _renewal(self, stale: Token) -> Generator[_Op, Any, Token | _Refused]:
        """Steps 3-5 of the module docstring, for either driver below."""
        entry: Entry | None = yield _Load()
        if entry is None:
            raise ReauthenticationRequired(f"the token under {self.key!r} was removed: sign in")
        stored = entry.value
        if not isinstance(stored, Token):
            raise StoreError(f"{self.key!r} holds OAuth 1.0a credentials, not an OAuth 2 token")
        unsaved = self._unsaved
        if unsaved is not None and unsaved[1] == entry.version:
            # An earlier renewal's answer that the store would not take: it holds the newest
            # refresh token, so it is written now instead of sending the stored one.
            yield from self._store_renewed(unsaved[0], entry.version)
            self._unsaved = None
            return unsaved[0]
        self._unsaved = None
        self._check_not_refused(stored)
        if stored.access_token != stale.access_token and not stored.is_due(self.leeway):
            log.info("%r was renewed by another process: nothing sent", self.key)
            return stored
        try:
            new: Token = yield _Renew(stored)
        except InvalidGrant as exc:
            # Remember the refusal (RFC 6749 §5.2): the refresh token is dropped, so no one
            # sends it again, and the mark tells every reader to sign in again. It is written
            # like a renewal, and committed before the caller is told (see _checked).
            with contextlib.suppress(StoreError):  # another wrote meanwhile: leave theirs
                yield _Save(refused(stored), entry.version)
            log.warning("the refresh token of %r was refused (invalid_grant): sign in", self.key)
            return _Refused(exc)
        except TransportError as exc:
            if not exc.sent:
                raise  # never reached the server: the stored token is still good
            again: Entry | None = yield _Load()
            if (
                isinstance(again, Entry)
                and isinstance(again.value, Token)
                and again.value.access_token != stored.access_token
            ):
                return again.value
            log.warning("the answer to the refresh of %r was lost after it was sent", self.key)
            raise ReauthenticationRequired(
                "the answer to the refresh was lost after it was sent; the server may have "
                "rotated the refresh token, so sign in again"
            ) from exc
        try:
            yield from self._store_renewed(new, entry.version)
        except StoreError as exc:
            if isinstance(exc, StoreConflict):
                raise
            # Kept for the next renewal of this process, which writes it before anything
            # else (DESIGN rule 12: a token the provider issued is never dropped).
            self._unsaved = (new, entry.version)
            raise StoreError(
                f"the renewed token of {self.key!r} could not be stored for "
                f"{SAVE_RETRY_SECONDS:.0f} s ({exc}); this process keeps it and writes it "
                "at its next renewal"
            ) from None
        log.info("%r renewed and stored", self.key)
        return new

    def _store_renewed(self, new: Token, version: int) -> Generator[_Op, Any, None]:
        """Write a token the provider issued, compare-and-set over ``version``; a store
        that fails is tried again (the lease kept meanwhile) for :data:`SAVE_RETRY_SECONDS`.
        A write whose answer was lost may have landed: a conflict is then checked against
        what the store holds."""
        pause, deadline = 0.05, time.monotonic() + SAVE_RETRY_SECONDS
        tries = 0
        while True:
            tries += 1
            try:
                yield _Save(new, version)
                return
            except StoreConflict:
                if tries == 1:
                    raise
                found: Entry | None = yield _Load()
                if isinstance(found, Entry) and _same_token(found.value, new):
                    return  # the earlier try landed; only its answer was lost
                raise
            except StoreError as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning(
                    "storing the renewed token of %r failed (%s); trying again in %.2f s",
                    self.key,
                    exc,
                    pause,
                )
                yield _Pause(pause)
                pause = min(pause * 2, 2.0)
                with contextlib.suppress(StoreError):  # the write says whether it is lost
                    yield _Extend()

    def renew_token(self, stale: Token, *, before_send: BeforeSend | None = None) -> Token:
        """Renew under the store's lock (threads of this process are already in line)."""
        started = time.monotonic()
        with self.store.lock(self.key, timeout=self.lock_timeout) as transaction:
            self._locked(started)
            outcome = self._drive(self._renewal(stale), transaction, before_send)
        return self._checked(outcome)

    async def arenew_token(self, stale: Token, *, before_send: ABeforeSend | None = None) -> Token:
        """The ``await`` twin of :meth:`renew_token`."""
        started = time.monotonic()
        async with self.store.alock(self.key, timeout=self.lock_timeout) as transaction:
            self._locked(started)
            outcome = await self._adrive(self._renewal(stale), transaction, before_send)
        return self._checked(outcome)

    def _locked(self, started: float) -> None:
        log.debug(
            "took the store's lock on %r after %.0f ms",
            self.key,
            (time.monotonic() - started) * 1000,
        )

    def _checked(self, outcome: Token | _Refused) -> Token:
        """The renewed token; a refusal (now committed to the store) is raised."""
        if isinstance(outcome, _Refused):
            raise ReauthenticationRequired(
                f"the refresh token under {self.key!r} was refused (invalid_grant): sign in again"
            ) from outcome.cause
        return outcome

    def _drive(
        self,
        steps: Generator[_Op, Any, Token | _Refused],
        transaction: Transaction,
        before_send: BeforeSend | None,
    ) -> Token | _Refused:
        def extend(request: HttpRequest) -> None:
            transaction.extend(_lease_needed())  # never send on a lease that may run out
            if before_send is not None:
                before_send(request)

        def handle(op: _Op) -> Any:
            if isinstance(op, _Load):
                return transaction.load()
            if isinstance(op, _Renew):
                return self.client.renew_token(op.token, before_send=extend)
            if isinstance(op, _Save):
                return transaction.save(op.token, op.version)
            if isinstance(op, _Pause):
                return time.sleep(op.seconds)
            return transaction.extend(_lease_needed())

        return drive(steps, handle, failures=_FAILURES)

    async def _adrive(
        self,
        steps: Generator[_Op, Any, Token | _Refused],
        transaction: AsyncTransaction,
        before_send: ABeforeSend | None,
    ) -> Token | _Refused:
        async def extend(request: HttpRequest) -> None:
            await transaction.extend(_lease_needed())
            if before_send is not None:
                await before_send(request)

        async def handle(op: _Op) -> Any:
            if isinstance(op, _Load):
                return await transaction.load()
            if isinstance(op, _Renew):
                return await self.client.arenew_token(op.token, before_send=extend)
            if isinstance(op, _Save):
                return await transaction.save(op.token, op.version)
            if isinstance(op, _Pause):
                return await anyio.sleep(op.seconds)
            return await transaction.extend(_lease_needed())

        return await adrive(steps, handle, failures=_FAILURES)

    def __repr__(self) -> str:
        return f"Session(key={self.key!r}, store={self.store!r})"


class SessionAuth(SessionBacked, OAuth2Auth):
    """The ``httpx2.Auth`` of a :class:`Session`: the session's token, loaded from the store
    on first use and renewed through the session."""
