"""``DjangoStore``: tokens in the Django project's own database, on any database Django
supports, through the :class:`~oauthkit.web.django.models.StoredEntry` model (its migration
ships with the app: ``python manage.py migrate oauthkit``).

The same contract as every store and the same design as
:class:`~oauthkit.stores.SQLAlchemyStore`: each operation is one short transaction, the
renewal lock is a lease row (owner and expiry) taken and released in short transactions, and
the write is a compare-and-set on the version that re-checks the lease under a row lock. No
transaction or lock is held while a renewal waits for a server. Async callers run the ORM in
worker threads.

On SQLite — ``startproject``'s default, with several workers — every transaction of the store
that writes takes SQLite's write lock when it begins (``BEGIN IMMEDIATE``: Django 5.1's
``transaction_mode`` for that one block, or a first write on Django 5.0), so writers wait for
each other within the busy timeout rather than failing at once with "database is locked"
(SQLite cannot make a reader that then writes wait). One still locked is tried again within
:data:`LOCKED_RETRIES`; then the :class:`~oauthkit.errors.StoreError` names the cause and the
fix. Inside an ``atomic`` block of the app's own (``ATOMIC_REQUESTS``) the store's work is a
savepoint of the app's transaction and cannot take the lock first: the system check
``oauthkit.W001`` says so.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from ...errors import ConfigurationError, LockTimeout, StoreConflict, StoreError
from ...stores.base import (
    DEFAULT_LOCK_TIMEOUT,
    BlockingStore,
    Entry,
    Stored,
    decode,
    encode,
    released,
    wait_for,
)
from .models import StoredEntry

__all__ = ["DjangoStore"]

T = TypeVar("T")
TOKEN, PENDING, LEASE = "token", "pending", "lease"
#: Pauses before the tries again of a transaction SQLite refused as "database is locked".
LOCKED_RETRIES = (0.05, 0.2, 0.5, 1.0)
#: How long a renewal lease lasts (a crashed holder's runs out after this).
LEASE_SECONDS = 120.0


def _check_key(key: str) -> None:
    """A key that does not fit the table (1,024 characters) is the caller's mistake."""
    limit = StoredEntry._meta.get_field("key").max_length
    if len(key) > limit:
        raise ConfigurationError(f"a store key is at most {limit} characters, not {len(key)}")


class DjangoStore(BlockingStore):
    """Tokens, pending web flows and renewal leases in the ``oauthkit_tokens`` table of the
    database ``using`` (a ``DATABASES`` alias)."""

    def __init__(self, using: str = "default", *, lease_seconds: float = LEASE_SECONDS) -> None:
        self.using = using
        self.lease_seconds = lease_seconds

    def _rows(self) -> Any:
        return StoredEntry.objects.using(self.using)

    def _do(self, work: Callable[[], T], *, writes: bool = True) -> T:
        """``work`` in one transaction (on SQLite, one that takes the write lock first when
        it ``writes``); database failures become :class:`StoreError`."""
        for pause in (*LOCKED_RETRIES, None):
            try:
                with self._atomic(writes):
                    return work()
            except (StoreError, LockTimeout):
                raise
            except DatabaseError as exc:
                text = str(exc).lower()
                if "database is locked" in text and pause is not None:
                    time.sleep(pause)
                    continue
                raise self._failed(text, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self, text: str, exc: DatabaseError) -> StoreError:
        if "oauthkit_tokens" in text and ("no such table" in text or "does not exist" in text):
            return StoreError(
                "the table oauthkit_tokens does not exist: run  python manage.py migrate oauthkit"
            )
        if "database is locked" in text:
            nested = connections[self.using].in_atomic_block
            return StoreError(
                f"the token table failed: database is locked (SQLite, database {self.using!r}, "
                "after waiting and trying again): "
                + (
                    "the store ran inside the app's own transaction (ATOMIC_REQUESTS or "
                    "atomic()), which had read first; keep token work outside it"
                    if nested
                    else 'raise its "OPTIONS" "timeout" (seconds; 5 by default), or use '
                    "PostgreSQL for this many concurrent writers"
                )
            )
        # Not chained: the driver's error text carries the statement's parameters, a token's
        # record among them.
        return StoreError(f"the token table failed: {type(exc).__name__}")

    @contextmanager
    def _atomic(self, writes: bool) -> Iterator[None]:
        """``transaction.atomic``; on SQLite, for a transaction that writes, begun with
        ``BEGIN IMMEDIATE``: the write lock is waited for (busy timeout) when the transaction
        begins, where a deferred one that read first would fail at once when it writes."""
        connection = connections[self.using]
        if not writes or connection.vendor != "sqlite" or connection.in_atomic_block:
            with transaction.atomic(using=self.using):
                yield
            return
        connection.ensure_connection()  # Django sets transaction_mode when it connects
        if not hasattr(connection, "transaction_mode"):  # Django 5.0: a first write instead
            with transaction.atomic(using=self.using):
                self._rows().filter(kind="", key="").update(version=F("version"))
                yield
            return
        mode = connection.transaction_mode
        immediate = mode in ("IMMEDIATE", "EXCLUSIVE")
        if not immediate:
            connection.transaction_mode = "IMMEDIATE"
        try:
            with transaction.atomic(using=self.using):
                if not immediate:
                    connection.transaction_mode = mode  # BEGIN IMMEDIATE was sent: restore
                    immediate = True
                yield
        finally:
            if not immediate:
                connection.transaction_mode = mode

    def _insert(self, **fields: Any) -> bool:
        """Insert a row in a savepoint: False when its ``(kind, key)`` exists."""
        try:
            with transaction.atomic(using=self.using):
                self._rows().create(**fields)
            return True
        except IntegrityError:
            return False

    # -- tokens ---------------------------------------------------------------------------

    def _load(self, key: str) -> Entry | None:
        row = self._rows().filter(kind=TOKEN, key=key).values_list("data", "version").first()
        return Entry(decode(row[0]), int(row[1])) if row else None

    def _get(self, key: str) -> Stored | None:
        entry = self._do(lambda: self._load(key), writes=False)
        return entry.value if entry else None

    def put(self, key: str, value: Stored) -> None:
        _check_key(key)
        text = encode(value)

        def work() -> None:
            for _ in range(3):
                rows = self._rows().filter(kind=TOKEN, key=key)
                if rows.update(data=text, version=F("version") + 1) == 1:
                    return
                if self._insert(kind=TOKEN, key=key, data=text, version=1):
                    return
            raise StoreConflict(f"{key!r} kept changing while it was written")

        self._do(work)

    def delete(self, key: str) -> None:
        self._do(lambda: self._rows().filter(kind=TOKEN, key=key).delete())

    def keys(self) -> list[str]:
        return self._do(
            lambda: list(
                self._rows().filter(kind=TOKEN).order_by("key").values_list("key", flat=True)
            ),
            writes=False,
        )

    # -- pending web flows ----------------------------------------------------------------

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        now = time.time()

        def work() -> None:
            self._rows().filter(kind=PENDING, expires_at__lte=now).delete()
            self._insert(kind=PENDING, key=handle, data=record, version=1, expires_at=now + ttl)

        self._do(work)

    def take_pending(self, handle: str) -> str | None:
        """Read, then delete: only the caller whose delete removed the row gets it (a handle
        is never written twice), so of two callers one gets the record."""

        def work() -> str | None:
            rows = self._rows().filter(kind=PENDING, key=handle)
            found = rows.values_list("data", "expires_at").first()
            if found is None:
                return None
            deleted, _ = rows.delete()
            if deleted != 1 or found[1] <= time.time():
                return None
            return str(found[0])

        return self._do(work)

    # -- the renewal lease ----------------------------------------------------------------

    def _take_lease(self, key: str, owner: str) -> bool:
        now = time.time()
        until = now + self.lease_seconds

        def work() -> bool:
            if self._insert(kind=LEASE, key=key, data=owner, version=1, expires_at=until):
                return True
            taken = self._rows().filter(kind=LEASE, key=key, expires_at__lte=now)
            return bool(taken.update(data=owner, expires_at=until) == 1)

        return self._do(work)

    @contextmanager
    def lock(self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[Any]:
        """Hold ``key``'s renewal lease (waiting up to ``timeout`` seconds, else
        :class:`~oauthkit.errors.LockTimeout`)."""
        owner = secrets.token_hex(16)
        _check_key(key)
        wait_for(lambda: self._take_lease(key, owner), key, timeout)
        try:
            yield _DjangoTransaction(self, key, owner)
        finally:
            released(
                lambda: self._do(
                    lambda: self._rows().filter(kind=LEASE, key=key, data=owner).delete()
                ),
                key,
            )

    def __repr__(self) -> str:
        return f"DjangoStore(using={self.using!r})"


class _DjangoTransaction:
    def __init__(self, store: DjangoStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    def extend(self, seconds: float) -> None:
        store, key = self._store, self._key

        def work() -> int:
            now = time.time()
            rows = store._rows().filter(kind=LEASE, key=key, data=self._owner, expires_at__gt=now)
            return int(rows.update(expires_at=Greatest(F("expires_at"), Value(now + seconds))))

        if store._do(work) != 1:
            raise StoreConflict(f"the lease on {key!r} ran out: another holder may be renewing it")

    def load(self) -> Entry | None:
        return self._store._do(lambda: self._store._load(self._key), writes=False)

    def save(self, value: Stored, version: int | None) -> int:
        store, key, text = self._store, self._key, encode(value)

        def work() -> int:
            lease = (
                store._rows()
                .select_for_update()
                .filter(kind=LEASE, key=key, data=self._owner)
                .values_list("expires_at", flat=True)
                .first()
            )
            if lease is None or lease <= time.time():
                raise StoreConflict(
                    f"the lease on {key!r} ran out before the write: another holder may have "
                    "renewed it (the write was not made)"
                )
            if version is None:
                if not store._insert(kind=TOKEN, key=key, data=text, version=1):
                    raise StoreConflict(f"{key!r} changed since it was read")
                return 1
            rows = store._rows().filter(kind=TOKEN, key=key, version=version)
            if rows.update(data=text, version=version + 1) != 1:
                raise StoreConflict(f"{key!r} changed since it was read")
            return version + 1

        return store._do(work)
