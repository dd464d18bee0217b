"""What every token store is: the :class:`TokenStore` protocol, the stored format, and
:class:`BlockingStore`, which serves async callers of a blocking store from worker threads."""

from __future__ import annotations

import importlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias, TypeVar, overload

from .._record import read_record, sealed_with, write_record
from ..errors import ConfigurationError, LockTimeout, StoreError
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2.registration import ClientRegistration
from ..protocol.oauth2.token import Token
from .encryption import PENDING, TOKEN, describe

if TYPE_CHECKING:
    from .encryption import Encryption

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "AsyncTransaction",
    "BlockingStore",
    "Entry",
    "PendingFlows",
    "Reads",
    "Sealing",
    "Stored",
    "TokenStore",
    "Transaction",
    "decode",
    "encode",
]

log = logging.getLogger("oauthkit.stores")

#: What a store keeps: an OAuth 2 token, OAuth 1.0a token credentials, or a client's dynamic
#: registration (RFC 7591), which every process of a program shares like a token.
Stored: TypeAlias = Token | OAuth1Credentials | ClientRegistration
#: A kind a store can be asked for: ``store.get(key, Token)`` is ``Token | None``.
S = TypeVar("S", Token, OAuth1Credentials, ClientRegistration)
#: How long :meth:`TokenStore.lock` waits by default (seconds).
DEFAULT_LOCK_TIMEOUT = 30.0


class Entry(NamedTuple):
    """A stored value and its version (which every write increments)."""

    value: Stored
    version: int


class Transaction(Protocol):
    """The holder of a key's lock reads and writes that key through this."""

    def load(self) -> Entry | None:
        """The current entry, or ``None``."""
        ...

    def save(self, value: Stored, version: int | None) -> int:
        """Compare-and-set: write ``value`` if the stored version is still ``version``
        (``None``: nothing stored) and this holder still owns the lock; return the new
        version, else raise :class:`~oauthkit.errors.StoreConflict`."""
        ...

    def extend(self, seconds: float) -> None:
        """Make this holder's lease last at least ``seconds`` from now (a renewal calls it
        before each request it sends, so the lease outlives every exchange); a lease that is
        no longer this holder's is a :class:`~oauthkit.errors.StoreConflict`. A lock that
        cannot run out (a thread lock, a file lock) has nothing to do."""
        ...


class AsyncTransaction(Protocol):
    """The ``await`` twin of :class:`Transaction`."""

    async def load(self) -> Entry | None:
        """The current entry, or ``None``."""
        ...

    async def save(self, value: Stored, version: int | None) -> int:
        """Compare-and-set, as :meth:`Transaction.save`."""
        ...

    async def extend(self, seconds: float) -> None:
        """The lease kept for ``seconds`` more, as :meth:`Transaction.extend`."""
        ...


class TokenStore(Protocol):
    """Where tokens live between runs, shared by threads, tasks, processes or machines.

    ``get``/``put``/``delete`` for plain use; ``lock(key)`` gives the one holder of a key a
    :class:`Transaction` to re-read and compare-and-set it (how a refresh is made once).
    Every method has an ``a``-prefixed ``await`` twin.
    """

    @overload
    def get(self, key: str) -> Stored | None: ...
    @overload
    def get(self, key: str, kind: type[S]) -> S | None: ...
    def put(self, key: str, value: Stored) -> None: ...
    def delete(self, key: str) -> None: ...
    def keys(self) -> list[str]: ...
    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractContextManager[Transaction]: ...
    @overload
    async def aget(self, key: str) -> Stored | None: ...
    @overload
    async def aget(self, key: str, kind: type[S]) -> S | None: ...
    async def aput(self, key: str, value: Stored) -> None: ...
    async def adelete(self, key: str) -> None: ...
    async def akeys(self) -> list[str]: ...
    def alock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> Any: ...  # an async context manager of AsyncTransaction


class PendingFlows(Protocol):
    """Where a web flow keeps what it needs between the redirect and the callback
    (:mod:`oauthkit.web`): an opaque record under a handle (a hash of the ``state`` or of the
    OAuth 1.0a request token), expiring after ``ttl`` seconds and taken at most once.

    :class:`~oauthkit.stores.MemoryStore` (one process only), :class:`~oauthkit.stores.SQLiteStore`
    and :class:`~oauthkit.stores.RedisStore` keep them; each has the ``a``-prefixed twins.
    """

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """Keep ``record`` under ``handle`` for ``ttl`` seconds (a handle is never reused)."""
        ...

    def take_pending(self, handle: str) -> str | None:
        """Remove and return the record under ``handle``, atomically: of two callers, one
        gets it and the other ``None``; an expired record is ``None`` (and removed)."""
        ...

    async def aput_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """The ``await`` twin of :meth:`put_pending`."""
        ...

    async def atake_pending(self, handle: str) -> str | None:
        """The ``await`` twin of :meth:`take_pending`."""
        ...


def encode(value: Stored) -> str:
    """The JSON a store keeps for ``value``: everything needed to use and renew it
    (``expires_at`` absolute, refresh token, scope, ID token; for OAuth 1.0a the token
    credentials, never the client's secret or key)."""
    if isinstance(value, Token):
        return write_record("oauth2", value.to_dict())
    if isinstance(value, OAuth1Credentials):
        # The token credentials only: the client credentials (consumer secret, RSA key) are
        # the application's configuration, never kept with a user's tokens.
        return write_record("oauth1", value.to_dict())
    if isinstance(value, ClientRegistration):
        return write_record("client", value.to_dict())
    raise ConfigurationError("a store keeps a Token, OAuth1Credentials or ClientRegistration")


def decode(text: str | bytes) -> Stored:
    """Take back what :func:`encode` wrote; anything else is a :class:`StoreError`."""
    try:
        kind, data = read_record(text)
        if kind == "oauth2":
            return Token.from_dict(data)
        if kind == "client":
            return ClientRegistration.from_dict(data)
        return OAuth1Credentials.from_dict(data)  # a consumer secret of old is ignored
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"the store holds an entry oauthkit cannot read: {exc}") from None


class Sealing:
    """A store whose entries may be encrypted at rest (``encryption=``, see
    :mod:`oauthkit.stores.encryption`): its records go through :meth:`_encode` and
    :meth:`_decode`, its pending web flows through :meth:`_seal` and :meth:`_open_pending`.
    Without keys, records are kept in clear; with keys, every write is sealed and a record
    written in clear before is still read (and sealed at its next write, or by
    :meth:`rekey`). A store of bytes (SQLite, Redis) keeps sealed records as bytes (the
    ``_raw`` twins), sparing the base64 that a store of text needs."""

    encryption: Encryption | None = None

    def _seal(self, kind: str, key: str, text: str) -> str:
        """``text`` sealed as ``kind`` under ``key`` (as it is without keys)."""
        return text if self.encryption is None else self.encryption.seal(text, kind, key)

    def _seal_raw(self, kind: str, key: str, text: str) -> str | bytes:
        """:meth:`_seal` for a store of bytes."""
        return text if self.encryption is None else self.encryption.seal_raw(text, kind, key)

    def _encode(self, key: str, value: Stored) -> str:
        return self._seal(TOKEN, key, encode(value))

    def _encode_raw(self, key: str, value: Stored) -> str | bytes:
        return self._seal_raw(TOKEN, key, encode(value))

    def _decode(self, key: str, text: str | bytes) -> Stored:
        return decode(self._opened(TOKEN, key, text))

    def _open_pending(self, handle: str, record: str | bytes) -> str:
        opened = self._opened(PENDING, handle, record)
        return opened if isinstance(opened, str) else opened.decode()

    def _opened(self, kind: str, key: str, text: str | bytes) -> str | bytes:
        """``text`` in clear: opened when sealed (a :class:`StoreError` when this store has
        no keys, or not that one), as it is when it was written in clear."""
        kid = sealed_with(text)
        if kid is None:
            return text  # in clear: written before the store had keys
        if self.encryption is None:
            raise StoreError(
                f"{describe(kind, key)} is encrypted (key id {kid!r:.70}) and this store was "
                "given no keys: pass encryption=Encryption.from_env(…) (store_keys_env in the "
                'configuration, OAUTHKIT["STORE_KEYS_ENV"] in Django)'
            )
        return self.encryption.opened(text, kid, kind, key)

    def rekey(self) -> int:
        """Write every entry again under the first key (entries in clear sealed, entries of
        older keys sealed anew): each under its renewal lock and by compare-and-set on its
        version, so workers that renew tokens meanwhile lose nothing. Returns how many
        entries were written. Pending web flows are not rewritten: they expire within
        minutes, so keep an old key listed that long after a rotation."""
        if self.encryption is None:
            raise ConfigurationError(
                "rekey needs the store's keys: encryption=Encryption.from_env(…)"
            )
        store: Any = self
        written, keys = 0, store.keys()  # (a store, not a dict)
        for key in keys:
            with store.lock(key) as held:
                entry = held.load()
                if entry is not None:
                    held.save(entry.value, entry.version)
                    written += 1
        return written


def wait_for(take: Callable[[], bool], key: str, timeout: float) -> None:
    """Try ``take()`` (a key's lock or lease) until it succeeds, pausing 5 ms and doubling
    up to 100 ms; :class:`~oauthkit.errors.LockTimeout` after ``timeout`` seconds."""
    deadline, pause = time.monotonic() + timeout, 0.005
    while not take():
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockTimeout(f"the lock for {key!r} was not free within {timeout} s")
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.1)


async def await_for(take: Callable[[], Awaitable[bool]], key: str, timeout: float) -> None:
    """The ``await`` twin of :func:`wait_for`."""
    import anyio

    deadline, pause = time.monotonic() + timeout, 0.005
    while not await take():
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockTimeout(f"the lock for {key!r} was not free within {timeout} s")
        await anyio.sleep(min(pause, left))
        pause = min(pause * 2, 0.1)


#: Pauses between the tries of a lease's release (seconds).
RELEASE_PAUSES = (0.05, 0.25, 1.0)


def released(release: Callable[[], object], key: str) -> None:
    """Release a lease, trying again while the store fails (a database restarting): a lease
    left behind blocks its key until it runs out. One that still cannot be released is
    logged and left to run out; the renewal it guarded is done either way."""
    for pause in (*RELEASE_PAUSES, None):
        try:
            release()
            return
        except StoreError as exc:
            if pause is None:
                log.warning("the lease on %r could not be released (%s): it runs out", key, exc)
                return
            time.sleep(pause)


async def areleased(release: Callable[[], Awaitable[object]], key: str) -> None:
    """The ``await`` twin of :func:`released`."""
    import anyio

    for pause in (*RELEASE_PAUSES, None):
        try:
            await release()
            return
        except StoreError as exc:
            if pause is None:
                log.warning("the lease on %r could not be released (%s): it runs out", key, exc)
                return
            await anyio.sleep(pause)


async def _in_thread(function: Any, *args: Any) -> Any:
    # anyio is imported here, not at the top: reading a store must stay fast for the CLI.
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function, *args)


class _ThreadedTransaction:
    """A blocking :class:`Transaction` awaited from worker threads."""

    def __init__(self, inner: Transaction) -> None:
        self._inner = inner

    async def load(self) -> Entry | None:
        return await _in_thread(self._inner.load)  # type: ignore[no-any-return]

    async def save(self, value: Stored, version: int | None) -> int:
        return await _in_thread(self._inner.save, value, version)  # type: ignore[no-any-return]

    async def extend(self, seconds: float) -> None:
        await _in_thread(self._inner.extend, seconds)


def of_kind(value: Stored | None, kind: type[S] | None, key: str) -> Any:
    """``value``, checked to be a ``kind`` when one is asked for (else a
    :class:`~oauthkit.errors.StoreError` naming what the key holds)."""
    if kind is None or value is None or isinstance(value, kind):
        return value
    raise StoreError(f"{key!r} holds {type(value).__name__}, not {kind.__name__}")


class Reads(ABC):
    """``get(key)`` and ``get(key, Token)`` (typed: ``Token | None``), over a store's
    :meth:`_get`; the ``await`` twin over :meth:`_aget`."""

    @abstractmethod
    def _get(self, key: str) -> Stored | None:
        """The value stored under ``key``, or ``None``."""

    @abstractmethod
    async def _aget(self, key: str) -> Stored | None:
        """The ``await`` twin of :meth:`_get`."""

    @overload
    def get(self, key: str) -> Stored | None: ...
    @overload
    def get(self, key: str, kind: type[S]) -> S | None: ...
    def get(self, key: str, kind: type[S] | None = None) -> Stored | S | None:
        """The value stored under ``key``, or ``None``; with ``kind`` (``Token`` or
        ``OAuth1Credentials``) typed as that, and a :class:`~oauthkit.errors.StoreError` if
        the key holds the other kind."""
        return of_kind(self._get(key), kind, key)  # type: ignore[no-any-return]

    @overload
    async def aget(self, key: str) -> Stored | None: ...
    @overload
    async def aget(self, key: str, kind: type[S]) -> S | None: ...
    async def aget(self, key: str, kind: type[S] | None = None) -> Stored | S | None:
        """The ``await`` twin of :meth:`get`."""
        return of_kind(await self._aget(key), kind, key)  # type: ignore[no-any-return]


class BlockingStore(Reads):
    """A store whose I/O blocks (memory, SQLite, keyring): the ``a``-methods run the blocking
    ones in worker threads, so that an event loop never waits on a disk or a lock."""

    @abstractmethod
    def _get(self, key: str) -> Stored | None:
        """The value stored under ``key``, or ``None``."""

    @abstractmethod
    def put(self, key: str, value: Stored) -> None:
        """Store ``value`` under ``key`` (a new version)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens if it is absent)."""

    @abstractmethod
    def keys(self) -> list[str]:
        """Every key stored, sorted."""

    @abstractmethod
    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractContextManager[Transaction]:
        """Hold ``key``'s lock (across processes where the store is shared) and read and
        compare-and-set it through the :class:`Transaction` given; raises
        :class:`~oauthkit.errors.LockTimeout` after ``timeout`` seconds."""

    async def _aget(self, key: str) -> Stored | None:
        """:meth:`get`, from a worker thread."""
        return await _in_thread(self._get, key)  # type: ignore[no-any-return]

    async def aput(self, key: str, value: Stored) -> None:
        """:meth:`put`, from a worker thread."""
        await _in_thread(self.put, key, value)

    async def adelete(self, key: str) -> None:
        """:meth:`delete`, from a worker thread."""
        await _in_thread(self.delete, key)

    async def akeys(self) -> list[str]:
        """:meth:`keys`, from a worker thread."""
        return await _in_thread(self.keys)  # type: ignore[no-any-return]

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """See :class:`PendingFlows`; a store that cannot keep web flows says so."""
        raise ConfigurationError(
            f"{type(self).__name__} cannot keep pending web flows: use SQLiteStore, RedisStore "
            "or SQLAlchemyStore (or MemoryStore in a single process)"
        )

    def take_pending(self, handle: str) -> str | None:
        """See :class:`PendingFlows`."""
        self.put_pending(handle, "", ttl=0)  # raises the same explanation
        return None

    async def aput_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """:meth:`put_pending`, from a worker thread."""
        await _in_thread(lambda: self.put_pending(handle, record, ttl=ttl))

    async def atake_pending(self, handle: str) -> str | None:
        """:meth:`take_pending`, from a worker thread."""
        return await _in_thread(self.take_pending, handle)  # type: ignore[no-any-return]

    @asynccontextmanager
    async def alock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[_ThreadedTransaction]:
        """:meth:`lock`, taken and released from worker threads (released even when the
        task is cancelled). Waiting holds no thread: each try is one ``lock(key, timeout=0)``
        in a worker thread, and the pauses between tries are the event loop's. (A waiter
        blocking in a thread would keep it from the holder, which needs one to read and
        write: anyio lends 40, and an async web app's 50 calls on one due token would wait
        out the timeout.)"""
        import anyio

        taken: list[tuple[AbstractContextManager[Transaction], Transaction]] = []

        async def take() -> bool:
            manager = self.lock(key, timeout=0)  # one try
            try:
                taken.append((manager, await _in_thread(manager.__enter__)))
            except LockTimeout:
                return False
            return True

        await await_for(take, key, timeout)
        manager, transaction = taken[0]
        try:
            yield _ThreadedTransaction(transaction)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                suppressed = await _in_thread(manager.__exit__, type(exc), exc, exc.__traceback__)
            if not suppressed:
                raise
        else:
            with anyio.CancelScope(shield=True):
                await _in_thread(manager.__exit__, None, None, None)


def needed(owner: str, extra: str, *modules: str) -> Any:
    """``modules`` imported (a package and the submodules its store uses); the first is
    returned. Missing: a :class:`~oauthkit.errors.ConfigurationError` naming the extra."""
    try:
        loaded = [importlib.import_module(name) for name in modules]
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            f"{owner} needs the {modules[0]} package: pip install 'oauthkit[{extra}]'"
        ) from None
    return loaded[0]
