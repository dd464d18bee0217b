"""``DjangoStore``: tokens in the Django project's own database, on any database Django
supports, through the :class:`~oauthkit.web.django.models.StoredEntry` model (its migration
ships with the app: ``python manage.py migrate oauthkit``).

The same contract as every store, and the row store of :mod:`oauthkit.stores._rows` — the one
also behind :class:`~oauthkit.stores.SQLAlchemyStore` — whose plans this runs with the ORM,
each in one short transaction; async callers run them in worker threads (their waits for a
lease are the event loop's).

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

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.db.models import F

from ...drivers import drive
from ...errors import LockTimeout, StoreError
from ...stores._rows import (
    LEASE_SECONDS,
    Delete,
    Get,
    Insert,
    Keys,
    Making,
    Operation,
    Row,
    RowStore,
    Take,
)
from ...stores.base import _in_thread
from ...stores.encryption import Encryption
from .models import StoredEntry

__all__ = ["DjangoStore"]

T = TypeVar("T")
#: Pauses before the tries again of a transaction SQLite refused as "database is locked".
LOCKED_RETRIES = (0.05, 0.2, 0.5, 1.0)


class DjangoStore(RowStore):
    """Tokens, pending web flows and renewal leases in the ``oauthkit_tokens`` table of the
    database ``using`` (a ``DATABASES`` alias); ``encryption`` seals every entry
    (:mod:`oauthkit.stores.encryption`; ``OAUTHKIT["STORE_KEYS_ENV"]`` in the settings)."""

    def __init__(
        self,
        using: str = "default",
        *,
        lease_seconds: float = LEASE_SECONDS,
        encryption: Encryption | None = None,
    ) -> None:
        self.using = using
        self.encryption = encryption
        self.lease_seconds = lease_seconds

    def _rows(self) -> Any:
        return StoredEntry.objects.using(self.using)

    def _run(self, making: Making[T], *, writes: bool) -> T:
        """The plan in one transaction (on SQLite, one that takes the write lock first when
        it ``writes``), made anew for each try when SQLite says "database is locked";
        database failures become :class:`StoreError`."""
        return self._do(lambda: drive(making(), self._execute), writes=writes)

    async def _arun(self, making: Making[T], *, writes: bool) -> T:
        """:meth:`_run` in a worker thread (the ORM blocks)."""
        return await _in_thread(lambda: self._run(making, writes=writes))  # type: ignore[no-any-return]

    def _do(self, work: Callable[[], T], *, writes: bool = True) -> T:
        """``work`` in one transaction (on SQLite, one that takes the write lock first when
        it ``writes``); database failures become :class:`StoreError`."""
        reconnected = False
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
                if "database is locked" not in text and pause is not None and not reconnected:
                    reconnected = self._reconnect(exc)
                    if reconnected:
                        continue
                raise self._failed(text, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _reconnect(self, exc: DatabaseError) -> bool:
        """After a connection's failure (``OperationalError``, ``InterfaceError``: a server
        restarted, failed over, or a pooler that recycled the connection), whether to run
        the work once more: on a new connection if this one is gone. Django replaces dead
        connections itself only between requests; a worker, a script or a long request would
        keep failing. Never inside the app's own transaction (its work is lost anyway)."""
        connection = connections[self.using]
        if connection.in_atomic_block or not isinstance(exc, OperationalError | InterfaceError):
            return False
        if connection.connection is not None and not connection.is_usable():
            connection.close()  # the next use opens a new one
        return True

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

    def _execute(self, op: Operation) -> Any:
        """A row operation with the ORM."""
        rows = self._rows().filter(kind=op.kind)
        if isinstance(op, Get):
            found = (rows.select_for_update() if op.lock else rows).filter(key=op.key)
            got = found.values_list("data", "version", "expires_at").first()
            return Row(got[0], int(got[1]), got[2]) if got is not None else None
        if isinstance(op, Take):  # read, then delete: only the delete that removed it wins
            found = rows.filter(key=op.key)
            got = found.values_list("data", "version", "expires_at").first()
            if got is None or found.delete()[0] != 1:
                return None
            return Row(got[0], int(got[1]), got[2])
        if isinstance(op, Keys):
            return list(rows.order_by("key").values_list("key", flat=True))
        if isinstance(op, Insert):
            try:
                with transaction.atomic(using=self.using):  # a savepoint: a duplicate ends it
                    self._rows().create(
                        kind=op.kind, key=op.key, data=op.data, version=1, expires_at=op.expires_at
                    )
                return True
            except IntegrityError:
                return False
        if op.key is not None:
            rows = rows.filter(key=op.key)
        if op.if_data is not None:
            rows = rows.filter(data=op.if_data)
        if op.if_expired is not None:
            rows = rows.filter(expires_at__lte=op.if_expired)
        if isinstance(op, Delete):
            return rows.delete()[0]
        if op.if_version is not None:
            rows = rows.filter(version=op.if_version)
        changes: dict[str, Any] = {
            "version": F("version") + 1 if op.version is None else op.version
        }
        if op.data is not None:
            changes["data"] = op.data
        if op.expires_at is not None:
            changes["expires_at"] = op.expires_at
        return rows.update(**changes)

    def __repr__(self) -> str:
        return f"DjangoStore(using={self.using!r})"
