"""The row store, written once: tokens, pending web flows and renewal leases as rows of one
table of the application's database, for :class:`~oauthkit.stores.SQLAlchemyStore` and the
Django store alike.

Each row is ``(kind, key, data, version, expires_at)`` under the primary key ``(kind, key)``:
``token`` rows hold a token's record and its version, ``pending`` rows a web flow's record
until its expiry, ``lease`` rows the owner of a key's renewal until its expiry. Every
operation is a *plan* (a generator) that yields row operations — :class:`Get`,
:class:`Insert`, :class:`Update`, :class:`Delete`, :class:`Take`, :class:`Keys` — which a
backend executes in one short transaction (or, for reads, autocommitted). No transaction,
lock or connection is held while a renewal waits for a server (DESIGN rule 8):

- the renewal lock is a lease row, taken by an insert (or by taking over one whose time ran
  out) and released by its owner; its holder extends it before each request;
- the write is a compare-and-set on the version that re-checks, under a row lock where the
  database has one, that the lease is still the writer's — so a holder whose lease ran out
  cannot overwrite its successor;
- a pending flow is taken once: of two takers, one gets it.

A backend implements :meth:`RowStore._run` and :meth:`RowStore._arun` (a plan, with whether it
writes) and the six operations; everything else is here.
"""

from __future__ import annotations

import secrets
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import ConfigurationError, StoreConflict
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    Entry,
    Reads,
    Sealing,
    Stored,
    areleased,
    await_for,
    released,
    wait_for,
)

__all__ = [
    "LEASE",
    "LEASE_SECONDS",
    "MAX_KEY",
    "PENDING",
    "TOKEN",
    "Delete",
    "Get",
    "Insert",
    "Keys",
    "Row",
    "RowStore",
    "Take",
    "Update",
]

T = TypeVar("T")
TOKEN, PENDING, LEASE = "token", "pending", "lease"
#: How long a renewal lease lasts unless its holder extends it (a crashed holder's runs out
#: after this).
LEASE_SECONDS = 120.0
#: The longest key a row takes (a table made by an earlier version took 512).
MAX_KEY = 1024


@dataclass(frozen=True, slots=True)
class Row:
    """What :class:`Get` and :class:`Take` find."""

    data: str
    version: int
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class Get:
    """The row ``(kind, key)``, or ``None``; ``lock`` holds it until the transaction ends
    (``SELECT … FOR UPDATE`` where the database has it; SQLite's write lock covers it)."""

    kind: str
    key: str
    lock: bool = False


@dataclass(frozen=True, slots=True)
class Insert:
    """Insert ``(kind, key)`` at version 1; answers False, changing nothing, when it exists."""

    kind: str
    key: str
    data: str
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """Set ``data`` and ``expires_at`` (``None``: left as they are) and ``version`` (``None``:
    one more) of the row ``(kind, key)`` if its version is ``if_version``, its data
    ``if_data``, its expiry at or before ``if_expired`` (each ``None``: any); answers how
    many rows changed."""

    kind: str
    key: str
    data: str | None = None
    version: int | None = None
    expires_at: float | None = None
    if_version: int | None = None
    if_data: str | None = None
    if_expired: float | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete the row ``(kind, key)`` (``key=None``: every row of the kind) if its data is
    ``if_data`` and its expiry at or before ``if_expired`` (``None``: any)."""

    kind: str
    key: str | None
    if_data: str | None = None
    if_expired: float | None = None


@dataclass(frozen=True, slots=True)
class Take:
    """Delete the row ``(kind, key)`` and answer it — of two takers at once, one gets it, the
    other ``None``."""

    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys of every row of ``kind``, sorted."""

    kind: str


Operation = Get | Insert | Update | Delete | Take | Keys
Plan = Generator[Operation, Any, T]
#: How a plan is handed to a backend: made anew for each try (a backend may try again).
Making = Callable[[], Plan[T]]


def check_key(key: str) -> str:
    """A key that does not fit the table is the caller's mistake."""
    if len(key) > MAX_KEY:
        raise ConfigurationError(f"a store key is at most {MAX_KEY} characters, not {len(key)}")
    return key


# -- the plans ------------------------------------------------------------------------------


def get_plan(key: str) -> Plan[Row | None]:
    row: Row | None = yield Get(TOKEN, key)
    return row


def put_plan(key: str, text: str) -> Plan[None]:
    for _ in range(3):  # update, else insert; a racing insert makes it an update again
        if (yield Update(TOKEN, key, data=text)) == 1:
            return None
        if (yield Insert(TOKEN, key, text)):
            return None
    raise StoreConflict(f"{key!r} kept changing while it was written")


def delete_plan(key: str) -> Plan[None]:
    yield Delete(TOKEN, key)


def keys_plan() -> Plan[list[str]]:
    found: list[str] = yield Keys(TOKEN)
    return found


def put_pending_plan(handle: str, record: str, ttl: float) -> Plan[None]:
    """A web flow's record until ``ttl`` seconds from now; expired ones go on the way
    (through the ``(kind, expires_at)`` index)."""
    now = time.time()
    yield Delete(PENDING, None, if_expired=now)
    yield Insert(PENDING, handle, record, now + ttl)


def take_pending_plan(handle: str) -> Plan[str | None]:
    row: Row | None = yield Take(PENDING, handle)
    if row is None or row.expires_at is None or row.expires_at <= time.time():
        return None
    return row.data


def take_lease_plan(key: str, owner: str, seconds: float) -> Plan[bool]:
    """The lease is ``owner``'s if it is free or ran out."""
    now = time.time()
    if (yield Insert(LEASE, key, owner, now + seconds)):
        return True
    taken = yield Update(LEASE, key, data=owner, expires_at=now + seconds, if_expired=now)
    return bool(taken == 1)


def extend_plan(key: str, owner: str, seconds: float) -> Plan[None]:
    """The lease kept for ``seconds`` more (never shortened), if it is still ``owner``'s."""
    now = time.time()
    lease: Row | None = yield Get(LEASE, key, lock=True)
    if lease is None or lease.data != owner or (lease.expires_at or 0) <= now:
        raise StoreConflict(f"the lease on {key!r} ran out: another holder may be renewing it")
    if (lease.expires_at or 0) < now + seconds:
        yield Update(LEASE, key, expires_at=now + seconds, if_data=owner)


def release_plan(key: str, owner: str) -> Plan[None]:
    yield Delete(LEASE, key, if_data=owner)


def save_plan(key: str, owner: str, text: str, version: int | None) -> Plan[int]:
    """Compare-and-set under the lease: written if the version is still ``version`` and the
    lease still ``owner``'s (checked under a row lock, in the same transaction)."""
    lease: Row | None = yield Get(LEASE, key, lock=True)
    if lease is None or lease.data != owner or (lease.expires_at or 0) <= time.time():
        raise StoreConflict(
            f"the lease on {key!r} ran out before the write: another holder may have "
            "renewed it (the write was not made)"
        )
    if version is None:
        if not (yield Insert(TOKEN, key, text)):
            raise StoreConflict(f"{key!r} changed since it was read")
        return 1
    if (yield Update(TOKEN, key, data=text, version=version + 1, if_version=version)) != 1:
        raise StoreConflict(f"{key!r} changed since it was read")
    return version + 1


# -- the store ------------------------------------------------------------------------------


class RowStore(Reads, Sealing):
    """Every operation of a token store over the plans above; a backend runs the plans.
    Records are sealed before a plan sees them and opened after (``encryption``)."""

    lease_seconds: float = LEASE_SECONDS

    @abstractmethod
    def _run(self, making: Making[T], *, writes: bool) -> T:
        """Run the plan ``making()`` makes in one transaction (autocommitted when it only
        reads), as many times as the backend tries again."""

    @abstractmethod
    async def _arun(self, making: Making[T], *, writes: bool) -> T:
        """The ``await`` twin of :meth:`_run`."""

    def _entry(self, key: str, row: Row | None) -> Entry | None:
        return Entry(self._decode(key, row.data), row.version) if row is not None else None

    def _get(self, key: str) -> Stored | None:
        row = self._run(lambda: get_plan(key), writes=False)
        return self._decode(key, row.data) if row is not None else None

    async def _aget(self, key: str) -> Stored | None:
        row = await self._arun(lambda: get_plan(key), writes=False)
        return self._decode(key, row.data) if row is not None else None

    def put(self, key: str, value: Stored) -> None:
        """Store ``value`` under ``key`` (a new version)."""
        text = self._encode(key, value)
        self._run(lambda: put_plan(check_key(key), text), writes=True)

    async def aput(self, key: str, value: Stored) -> None:
        """The ``await`` twin of :meth:`put`."""
        text = self._encode(key, value)
        await self._arun(lambda: put_plan(check_key(key), text), writes=True)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._run(lambda: delete_plan(key), writes=True)

    async def adelete(self, key: str) -> None:
        """The ``await`` twin of :meth:`delete`."""
        await self._arun(lambda: delete_plan(key), writes=True)

    def keys(self) -> list[str]:
        """Every key stored, sorted."""
        return self._run(keys_plan, writes=False)

    async def akeys(self) -> list[str]:
        """The ``await`` twin of :meth:`keys`."""
        return await self._arun(keys_plan, writes=False)

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """A web flow's record until ``ttl`` seconds from now."""
        text = self._seal(PENDING, handle, record)
        self._run(lambda: put_pending_plan(handle, text, ttl), writes=True)

    async def aput_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """The ``await`` twin of :meth:`put_pending`."""
        text = self._seal(PENDING, handle, record)
        await self._arun(lambda: put_pending_plan(handle, text, ttl), writes=True)

    def take_pending(self, handle: str) -> str | None:
        """The record under ``handle``, taken: of two callers only one gets it."""
        found = self._run(lambda: take_pending_plan(handle), writes=True)
        return self._open_pending(handle, found) if found is not None else None

    async def atake_pending(self, handle: str) -> str | None:
        """The ``await`` twin of :meth:`take_pending`."""
        found = await self._arun(lambda: take_pending_plan(handle), writes=True)
        return self._open_pending(handle, found) if found is not None else None

    @contextmanager
    def lock(self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[_Holder]:
        """Hold ``key``'s renewal lease (waiting up to ``timeout`` seconds, else
        :class:`~oauthkit.errors.LockTimeout`); read and compare-and-set through the
        transaction given."""
        owner = secrets.token_hex(16)
        check_key(key)
        seconds = self.lease_seconds
        wait_for(
            lambda: self._run(lambda: take_lease_plan(key, owner, seconds), writes=True),
            key,
            timeout,
        )
        try:
            yield _Holder(self, key, owner)
        finally:
            released(lambda: self._run(lambda: release_plan(key, owner), writes=True), key)

    @asynccontextmanager
    async def alock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[_AsyncHolder]:
        """The ``await`` twin of :meth:`lock`: the waits are the event loop's."""
        import anyio

        owner = secrets.token_hex(16)
        check_key(key)
        seconds = self.lease_seconds

        async def take() -> bool:
            return await self._arun(lambda: take_lease_plan(key, owner, seconds), writes=True)

        await await_for(take, key, timeout)
        try:
            yield _AsyncHolder(self, key, owner)
        finally:
            with anyio.CancelScope(shield=True):

                async def release() -> None:
                    await self._arun(lambda: release_plan(key, owner), writes=True)

                await areleased(release, key)


class _Holder:
    """The lease holder's transaction (:class:`~oauthkit.stores.base.Transaction`)."""

    def __init__(self, store: RowStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    def load(self) -> Entry | None:
        row = self._store._run(lambda: get_plan(self._key), writes=False)
        return self._store._entry(self._key, row)

    def save(self, value: Stored, version: int | None) -> int:
        text = self._store._encode(self._key, value)
        return self._store._run(
            lambda: save_plan(self._key, self._owner, text, version), writes=True
        )

    def extend(self, seconds: float) -> None:
        self._store._run(lambda: extend_plan(self._key, self._owner, seconds), writes=True)


class _AsyncHolder:
    """The ``await`` twin of :class:`_Holder`."""

    def __init__(self, store: RowStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    async def load(self) -> Entry | None:
        row = await self._store._arun(lambda: get_plan(self._key), writes=False)
        return self._store._entry(self._key, row)

    async def save(self, value: Stored, version: int | None) -> int:
        text = self._store._encode(self._key, value)
        return await self._store._arun(
            lambda: save_plan(self._key, self._owner, text, version), writes=True
        )

    async def extend(self, seconds: float) -> None:
        await self._store._arun(lambda: extend_plan(self._key, self._owner, seconds), writes=True)
