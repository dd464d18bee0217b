"""``Session``: a token kept in a store, fresh for every thread, task, process and machine
that shares the store, and renewed exactly once per expiry.

The fast path — the token in memory is not due — takes no lock and touches no store. When it
is due (or a resource server said ``invalid_token``):

1. one in-process single flight: threads (or tasks) that meet it together wait for one
   renewal (:class:`~oauthkit.auth.oauth2.TokenHolder`);
2. the store's lock for the key (across processes or machines; see :mod:`.renewal`);
3. the store is read again: another process may have renewed already, then that token is
   used and nothing is sent;
4. otherwise the stored token is refreshed (or, for client credentials, fetched again), and
5. the new token is written with compare-and-set and committed *before* any request uses
   it, so a rotated refresh token is never lost to a crash after the answer arrived.

While the token is due but not expired, nobody waits (refresh ahead): one caller renews it
and every other one — in this process or another — is served the current token meanwhile.

A refresh refused with ``invalid_grant`` ends in
:class:`~oauthkit.errors.ReauthenticationRequired`, the refusal stored; one whose answer was
lost, or that the provider could not answer now, keeps the refresh token for the next call;
a failed write surfaces as :class:`~oauthkit.errors.StoreError` and the new token is not
used. Every outcome is in :mod:`oauthkit.session.outcomes`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import anyio

from .. import telemetry
from ..auth.oauth2 import OAuth2Auth, SessionBacked, TokenHolder, TokenRenewer, still_valid
from ..drivers import ABeforeSend, BeforeSend, adrive, drive
from ..errors import ConfigurationError, ReauthenticationRequired, StoreError
from ..protocol.http import HttpRequest
from ..protocol.oauth2.token import Token
from ..stores.base import DEFAULT_LOCK_TIMEOUT, AsyncTransaction, TokenStore, Transaction
from .outcomes import Outcome, outcome_of
from .renewal import (
    FAILURES,
    Load,
    Op,
    Pause,
    Refused,
    Renew,
    Renewal,
    Renewed,
    Save,
    check_not_refused,
    lease_needed,
)

if TYPE_CHECKING:
    from ..auth.requests import RequestsSessionAuth

#: Store-side renewal: lock waits (DEBUG), outcomes per key (INFO/WARNING); never a token.
log = logging.getLogger("oauthkit.session")

__all__ = ["Session", "SessionAuth"]


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
            from ..stores.sqlite import SQLiteStore

            store = SQLiteStore()
        self.client = client
        self.store = store
        self.key = key
        self.leeway = leeway
        self.lock_timeout = lock_timeout
        self._holder: TokenHolder | None = None
        self._start_lock = threading.Lock()
        self._renewal = Renewal(key, leeway)

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

        from ..config.factories import make_oauth2_client, open_store
        from ..config.file import load_config
        from ..config.provider import ResolvedProvider

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
        return cls(
            client,
            store
            if store is not None
            else open_store(config.store, keys_env=config.store_keys_env),
            key=name,
        )

    # -- the token in memory --------------------------------------------------------------

    def _adopt_stored(self, value: object) -> TokenHolder:
        if value is None:
            raise ReauthenticationRequired(f"no token is stored under {self.key!r}: sign in")
        if not isinstance(value, Token):
            raise StoreError(f"{self.key!r} holds OAuth 1.0a credentials, not an OAuth 2 token")
        check_not_refused(self.key, value)
        with self._start_lock:
            if self._holder is None:
                self._holder = TokenHolder(self, value, leeway=self.leeway)
            return self._holder

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
        from ..auth.requests import RequestsSessionAuth

        return RequestsSessionAuth(self)

    # -- renewal, called by the holder inside its single flight ---------------------------

    def can_renew(self, token: Token) -> bool:
        """True when the client can refresh ``token`` or fetch it again."""
        return self.client.can_renew(token)

    def renew_token(self, stale: Token, *, before_send: BeforeSend | None = None) -> Token:
        """Renew under the store's lock (threads of this process are already in line). A
        token that is still valid does not wait for the lock: when another holder has it,
        :class:`~oauthkit.errors.LockTimeout` at once, and the holder uses the token on
        (refresh ahead)."""
        started = time.monotonic()
        with telemetry.span("oauthkit renewal", {"oauthkit.key_kind": _kind(self.key)}) as span:
            try:
                with self.store.lock(self.key, timeout=self._wait_for(stale)) as transaction:
                    self._locked(started, span)
                    outcome = self._drive(self._renewal.plan(stale), transaction, before_send)
                return self._checked(outcome, span)
            except Exception as exc:
                _ended(span, outcome_of(exc))
                raise

    async def arenew_token(self, stale: Token, *, before_send: ABeforeSend | None = None) -> Token:
        """The ``await`` twin of :meth:`renew_token`."""
        started = time.monotonic()
        with telemetry.span("oauthkit renewal", {"oauthkit.key_kind": _kind(self.key)}) as span:
            try:
                timeout = self._wait_for(stale)
                async with self.store.alock(self.key, timeout=timeout) as transaction:
                    self._locked(started, span)
                    plan = self._renewal.plan(stale)
                    outcome = await self._adrive(plan, transaction, before_send)
                return self._checked(outcome, span)
            except Exception as exc:
                _ended(span, outcome_of(exc))
                raise

    def _wait_for(self, stale: Token) -> float:
        """How long to wait for the store's lock: not at all for a token still valid."""
        return 0.0 if still_valid(stale) else self.lock_timeout

    def _locked(self, started: float, span: telemetry.Span) -> None:
        waited = (time.monotonic() - started) * 1000
        span.set_attribute("oauthkit.lock_wait_ms", round(waited, 1))
        log.debug("took the store's lock on %r after %.0f ms", self.key, waited)

    def _checked(self, outcome: Renewed | Refused, span: telemetry.Span) -> Token:
        """The renewed token; a refusal (now committed to the store) is raised."""
        if isinstance(outcome, Refused):
            _ended(span, "refused")
            raise ReauthenticationRequired(
                f"the refresh token under {self.key!r} was refused (invalid_grant): sign in again"
            ) from outcome.cause
        _ended(span, "renewed_elsewhere" if outcome.elsewhere else "renewed")
        return outcome.token

    def _drive(
        self,
        steps: Generator[Op, Any, Renewed | Refused],
        transaction: Transaction,
        before_send: BeforeSend | None,
    ) -> Renewed | Refused:
        def extend(request: HttpRequest) -> None:
            transaction.extend(lease_needed())  # never send on a lease that may run out
            if before_send is not None:
                before_send(request)

        def handle(op: Op) -> Any:
            if isinstance(op, Load):
                return transaction.load()
            if isinstance(op, Renew):
                return self.client.renew_token(op.token, before_send=extend)
            if isinstance(op, Save):
                return transaction.save(op.token, op.version)
            if isinstance(op, Pause):
                return time.sleep(op.seconds)
            return transaction.extend(lease_needed())

        return drive(steps, handle, failures=FAILURES)

    async def _adrive(
        self,
        steps: Generator[Op, Any, Renewed | Refused],
        transaction: AsyncTransaction,
        before_send: ABeforeSend | None,
    ) -> Renewed | Refused:
        async def extend(request: HttpRequest) -> None:
            await transaction.extend(lease_needed())
            if before_send is not None:
                await before_send(request)

        async def handle(op: Op) -> Any:
            if isinstance(op, Load):
                return await transaction.load()
            if isinstance(op, Renew):
                return await self.client.arenew_token(op.token, before_send=extend)
            if isinstance(op, Save):
                return await transaction.save(op.token, op.version)
            if isinstance(op, Pause):
                return await anyio.sleep(op.seconds)
            return await transaction.extend(lease_needed())

        return await adrive(steps, handle, failures=FAILURES)

    def __repr__(self) -> str:
        return f"Session(key={self.key!r}, store={self.store!r})"


class SessionAuth(SessionBacked, OAuth2Auth):
    """The ``httpx2.Auth`` of a :class:`Session`: the session's token, loaded from the store
    on first use and renewed through the session."""


def _kind(key: str) -> str:
    """What a key names, for a trace: its first segment (``user``, ``resource``, a
    provider's name for the command), never the user's part."""
    return key.split(":", 1)[0][:40]


def _ended(span: telemetry.Span, outcome: Outcome) -> None:
    span.set_attribute("oauthkit.outcome", outcome)
    telemetry.count("oauthkit.renewals", {"oauthkit.outcome": outcome})
    if outcome == "refused":
        telemetry.count("oauthkit.refusals", {})
