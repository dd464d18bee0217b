"""``SQLAlchemyStore`` (extra ``sqlalchemy``): tokens in the application's own database —
PostgreSQL, SQLite, or any database SQLAlchemy 2 speaks — in one table of their own.

::

    store = SQLAlchemyStore("postgresql+psycopg://app@db/app")   # or an Engine / AsyncEngine

The table is created on first use when it is missing (``create_missing=False`` leaves that
to the team's migrations; ``store.create_table()`` / ``await store.acreate_table()`` make it
at a time of the app's choosing, idempotently).

The table (``oauthkit_tokens`` by default; ``table_name=`` and ``schema=`` choose) holds three
kinds of rows, each under its key, the primary key being ``(kind, key)``: ``token`` (a token's
record, its version), ``pending`` (a web flow's record, until its expiry) and ``lease`` (the
owner of a key's renewal, until its expiry). Every operation is one short transaction on a
connection checked out of the engine's pool and returned at once; no transaction, lock or
connection is held while a renewal waits for a server. The renewal lock is a lease row, taken
by an insert (or by taking over one whose time ran out) and released by its owner; the write
is a compare-and-set on the version that also checks, under a row lock, that the lease is
still the writer's — so a holder whose lease ran out cannot overwrite its successor. A crashed
holder's lease runs out after ``lease_seconds``.

The migration, for a team that manages its schema itself (PostgreSQL)::

    CREATE TABLE oauthkit_tokens (
        kind VARCHAR(16) NOT NULL,
        key VARCHAR(1024) NOT NULL,
        data TEXT NOT NULL,
        version BIGINT NOT NULL,
        expires_at DOUBLE PRECISION,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX oauthkit_tokens_expiry ON oauthkit_tokens (kind, expires_at);

Sync callers use a sync engine and async callers an async one; given a URL, the store makes
both (``postgresql+psycopg`` serves both; ``asyncpg`` and ``aiosqlite`` URLs get their sync
twins ``psycopg`` and ``pysqlite``). Given only an ``Engine``, async callers run in worker
threads; given only an ``AsyncEngine``, sync callers are refused.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

try:
    import sqlalchemy as sa
    from sqlalchemy.engine import URL, Engine, make_url
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError
    from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "SQLAlchemyStore needs SQLAlchemy 2: pip install 'oauthkit[sqlalchemy]'"
    ) from exc

from ..errors import ConfigurationError, StoreConflict, StoreError
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    Entry,
    Reads,
    Stored,
    _in_thread,
    areleased,
    await_for,
    decode,
    encode,
    released,
    wait_for,
)

__all__ = ["SQLAlchemyStore"]

#: How many times create_table looks again after losing a race to create the table.
CREATE_ATTEMPTS = 3

T = TypeVar("T")

TOKEN, PENDING, LEASE = "token", "pending", "lease"
#: The longest key the table takes (a table made by an earlier version took 512:
#: ``ALTER TABLE oauthkit_tokens ALTER COLUMN key TYPE VARCHAR(1024)`` on PostgreSQL).
MAX_KEY = 1024
#: How long a renewal lease lasts (a crashed holder's runs out after this).
LEASE_SECONDS = 120.0

#: Sync driver of each async-only one, and back.
_SYNC_TWIN = {
    "asyncpg": "psycopg",
    "aiosqlite": "pysqlite",
    "psycopg_async": "psycopg",
    "psycopg": "psycopg",
}
_ASYNC_TWIN = {"psycopg": "psycopg", "psycopg2": "psycopg", "pysqlite": "aiosqlite"}


class _Insert:
    """Insert a row; the driver answers whether it went in (not a duplicate key)."""

    __slots__ = ("statement",)

    def __init__(self, statement: Any) -> None:
        self.statement = statement


class _Rows:
    """What the driver answers for a statement: its rows and its row count."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount


Plan = Generator[Any, Any, T]


def _checked_key(key: str) -> str:
    if len(key) > MAX_KEY:
        raise ConfigurationError(f"a store key is at most {MAX_KEY} characters, not {len(key)}")
    return key


def _private_sqlite_file(url: URL) -> None:
    """An SQLite file the store is first to open is made 0600 in 0700 folders, as
    :class:`~oauthkit.stores.SQLiteStore`'s (SQLite itself would make it 0644: readable by
    every user of the machine). An existing file is the application's: left as it is."""
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return
    if name.startswith("file:") or url.query.get("mode") == "memory":
        return
    import os
    from pathlib import Path

    path = Path(name).expanduser().absolute()
    if path.exists():
        return
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(
            path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
        os.close(fd)
    except FileExistsError:
        return  # another process made it meanwhile
    except OSError as exc:
        raise StoreError(f"cannot create the token database {path}: {exc}") from None


def _twin(url: URL, table: dict[str, str], dialects: tuple[str, ...]) -> URL | None:
    if url.get_backend_name() not in dialects:
        return None
    driver = url.get_driver_name()
    default = "pysqlite" if url.get_backend_name() == "sqlite" else "psycopg2"
    twin = table.get(driver or default)
    return url.set(drivername=f"{url.get_backend_name()}+{twin}") if twin else None


class SQLAlchemyStore(Reads):
    """Tokens, pending web flows and renewal leases in one table of the app's database; see
    the module docstring. ``engine`` is a URL, an ``Engine`` or an ``AsyncEngine``;
    ``async_engine`` adds the async twin of a given ``Engine``."""

    def __init__(
        self,
        engine: str | URL | Engine | AsyncEngine,
        *,
        async_engine: AsyncEngine | None = None,
        table_name: str = "oauthkit_tokens",
        schema: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        create_missing: bool = True,
    ) -> None:
        self._engine: Engine | None = None
        self._aengine: AsyncEngine | None = async_engine
        self._async_url: URL | None = None
        self._autocommit: Engine | None = None
        self._aautocommit: AsyncEngine | None = None
        if isinstance(engine, Engine):
            self._engine = engine
        elif isinstance(engine, AsyncEngine):
            self._aengine = engine
            twin = _twin(engine.url, _SYNC_TWIN, ("postgresql", "sqlite"))
            self._engine = sa.create_engine(twin) if twin is not None else None
        else:
            url = make_url(engine)
            sync_url = _twin(url, _SYNC_TWIN, ("postgresql", "sqlite")) or url
            self._engine = sa.create_engine(sync_url)
            if self._aengine is None:
                self._async_url = _twin(sync_url, _ASYNC_TWIN, ("postgresql", "sqlite"))
        self.lease_seconds = lease_seconds
        #: False until the table is known to exist (made on first use when missing, unless
        #: ``create_missing=False``: a team that manages its schema itself).
        self._ready = not create_missing
        made = self._engine or self._aengine
        if made is not None:
            _private_sqlite_file(made.url)
        self.metadata = sa.MetaData(schema=schema)
        self.table = sa.Table(
            table_name,
            self.metadata,
            sa.Column("kind", sa.String(16), primary_key=True),
            sa.Column("key", sa.String(MAX_KEY), primary_key=True),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("version", sa.BigInteger, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=True),
            sa.Index(f"{table_name}_expiry", "kind", "expires_at"),
        )
        # The frequent statements, built once: SQLAlchemy then reuses their compiled form
        # without rebuilding and re-keying them on every call (half the time of a read).
        columns = self.table.c
        key: Any = sa.bindparam("lookup_key")
        self._select_token = sa.select(columns.data, columns.version).where(
            columns.kind == TOKEN, columns.key == key
        )
        self._delete_token = sa.delete(self.table).where(columns.kind == TOKEN, columns.key == key)
        self._select_keys = (
            sa.select(columns.key).where(columns.kind == TOKEN).order_by(columns.key)
        )
        self._delete_pending = (
            sa.delete(self.table)
            .where(columns.kind == PENDING, columns.key == key)
            .returning(columns.data, columns.expires_at)
        )

    # -- engines --------------------------------------------------------------------------

    def _sync(self) -> Engine:
        if self._engine is None:
            raise ConfigurationError(
                "this SQLAlchemyStore has only an AsyncEngine: use the await twins, or pass a "
                "sync Engine too"
            )
        return self._engine

    def _async(self) -> AsyncEngine | None:
        if self._aengine is None and self._async_url is not None:
            self._aengine = create_async_engine(self._async_url)
            self._async_url = None
        return self._aengine

    def create_table(self) -> None:
        """Create the table and its index if they do not exist (idempotent, and safe when
        several processes — an application's workers starting together — do it at once)."""
        with self._errors():
            for attempt in range(CREATE_ATTEMPTS):
                try:
                    self.metadata.create_all(self._sync(), checkfirst=True)
                    self._ready = True
                    return
                except SQLAlchemyError:
                    # CREATE … is not atomic with create_all's check for it: another process
                    # created the table or the index in between. Look again.
                    if attempt == CREATE_ATTEMPTS - 1:
                        raise

    async def acreate_table(self) -> None:
        """The ``await`` twin of :meth:`create_table`."""
        engine = self._async()
        if engine is None:
            await _in_thread(self.create_table)
            return
        with self._errors():
            for attempt in range(CREATE_ATTEMPTS):
                try:
                    async with engine.begin() as connection:
                        await connection.run_sync(self.metadata.create_all, checkfirst=True)
                    self._ready = True
                    return
                except SQLAlchemyError:
                    if attempt == CREATE_ATTEMPTS - 1:  # see create_table
                        raise

    def dispose(self) -> None:
        """Close the pools of the engines this store made."""
        if self._engine is not None:
            self._engine.dispose()

    async def adispose(self) -> None:
        """The ``await`` twin of :meth:`dispose` (the async engine's pool)."""
        if self._aengine is not None:
            await self._aengine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (StoreError, ConfigurationError):
            raise
        except SQLAlchemyError as exc:
            text = str(exc).lower()
            name = self.table.fullname
            if ("no such table" in text or "does not exist" in text) and name.split(".")[
                -1
            ] in text:
                raise StoreError(
                    f"the table {name} does not exist: call store.create_table() once (in async "
                    "code: await store.acreate_table()), or apply the migration in "
                    "oauthkit.stores.sqlalchemy's documentation"
                ) from None
            # Not chained: the driver's error text carries the statement's parameters,
            # a token's record among them.
            raise StoreError(f"the token table {name} failed: {type(exc).__name__}") from None

    # -- the drivers: one statement autocommitted, or one plan in one short transaction ---

    def _one(self, statement: Any, key: str | None = None) -> _Rows:
        """One statement on its own, autocommitted: a single round trip (no BEGIN, no
        COMMIT), for reads and single-row deletes; ``key`` fills its ``lookup_key``."""
        if not self._ready:
            self.create_table()
        if self._autocommit is None:  # made once: each execution_options() costs 0.4 ms
            self._autocommit = self._sync().execution_options(isolation_level="AUTOCOMMIT")
        with self._errors(), self._autocommit.connect() as connection:
            result = connection.execute(statement, {"lookup_key": key} if key else {})
            return _Rows(list(result.fetchall()) if result.returns_rows else [], result.rowcount)

    async def _aone(self, statement: Any, key: str | None = None) -> _Rows:
        """The ``await`` twin of :meth:`_one`."""
        engine = self._async()
        if engine is None:
            return await _in_thread(self._one, statement, key)  # type: ignore[no-any-return]
        if not self._ready:
            await self.acreate_table()
        if self._aautocommit is None:
            self._aautocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        with self._errors():
            async with self._aautocommit.connect() as connection:
                result = await connection.execute(statement, {"lookup_key": key} if key else {})
                rows = list(result.fetchall()) if result.returns_rows else []
                return _Rows(rows, result.rowcount)

    def _run(self, plan: Plan[T]) -> T:
        if not self._ready:
            self.create_table()
        with self._errors(), self._sync().begin() as connection:
            answer: Any = None
            while True:
                try:
                    op = plan.send(answer)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                if isinstance(op, _Insert):
                    try:
                        with connection.begin_nested():
                            connection.execute(op.statement)
                        answer = True
                    except IntegrityError:
                        answer = False
                else:
                    result = connection.execute(op)
                    answer = _Rows(
                        list(result.fetchall()) if result.returns_rows else [], result.rowcount
                    )

    async def _arun(self, plan: Plan[T]) -> T:
        engine = self._async()
        if engine is None:
            return await _in_thread(self._run, plan)  # type: ignore[no-any-return]
        if not self._ready:
            await self.acreate_table()
        with self._errors():
            async with engine.begin() as connection:
                answer: Any = None
                while True:
                    try:
                        op = plan.send(answer)
                    except StopIteration as done:
                        return done.value  # type: ignore[no-any-return]
                    if isinstance(op, _Insert):
                        try:
                            async with connection.begin_nested():
                                await connection.execute(op.statement)
                            answer = True
                        except IntegrityError:
                            answer = False
                    else:
                        result = await connection.execute(op)
                        rows = list(result.fetchall()) if result.returns_rows else []
                        answer = _Rows(rows, result.rowcount)

    # -- the statements -------------------------------------------------------------------

    def _where(self, kind: str, key: str) -> Any:
        columns = self.table.c
        return sa.and_(columns.kind == kind, columns.key == key)

    @staticmethod
    def _entry(found: _Rows) -> Entry | None:
        if not found.rows:
            return None
        data, version = found.rows[0]
        return Entry(decode(data), int(version))

    def _put_plan(self, key: str, text: str) -> Plan[None]:
        columns = self.table.c
        for _ in range(3):  # update, else insert; a racing insert makes it an update again
            updated: _Rows = yield (
                sa.update(self.table)
                .where(self._where(TOKEN, key))
                .values(data=text, version=columns.version + 1)
            )
            if updated.rowcount == 1:
                return None
            inserted = yield _Insert(
                sa.insert(self.table).values(kind=TOKEN, key=key, data=text, version=1)
            )
            if inserted:
                return None
        raise StoreConflict(f"{key!r} kept changing while it was written")

    def _take_lease_plan(self, key: str, owner: str) -> Plan[bool]:
        now = time.time()
        until = now + self.lease_seconds
        inserted = yield _Insert(
            sa.insert(self.table).values(
                kind=LEASE, key=key, data=owner, version=1, expires_at=until
            )
        )
        if inserted:
            return True
        columns = self.table.c
        taken: _Rows = yield (
            sa.update(self.table)
            .where(self._where(LEASE, key), columns.expires_at <= now)
            .values(data=owner, version=columns.version + 1, expires_at=until)
        )
        return taken.rowcount == 1

    def _release_plan(self, key: str, owner: str) -> Plan[None]:
        yield sa.delete(self.table).where(self._where(LEASE, key), self.table.c.data == owner)

    def _save_plan(self, key: str, owner: str, text: str, version: int | None) -> Plan[int]:
        columns = self.table.c
        held: _Rows = yield (
            sa.select(columns.expires_at)
            .where(self._where(LEASE, key), columns.data == owner)
            .with_for_update()
        )
        if not held.rows or held.rows[0][0] <= time.time():
            raise StoreConflict(
                f"the lease on {key!r} ran out before the write: another holder may have "
                "renewed it (the write was not made)"
            )
        if version is None:
            inserted = yield _Insert(
                sa.insert(self.table).values(kind=TOKEN, key=key, data=text, version=1)
            )
            if not inserted:
                raise StoreConflict(f"{key!r} changed since it was read")
            return 1
        updated: _Rows = yield (
            sa.update(self.table)
            .where(self._where(TOKEN, key), columns.version == version)
            .values(data=text, version=version + 1)
        )
        if updated.rowcount != 1:
            raise StoreConflict(f"{key!r} changed since it was read")
        return version + 1

    def _extend_plan(self, key: str, owner: str, seconds: float) -> Plan[None]:
        columns = self.table.c
        now = time.time()
        until = now + seconds
        extended: _Rows = yield (
            sa.update(self.table)
            .where(self._where(LEASE, key), columns.data == owner, columns.expires_at > now)
            .values(
                expires_at=sa.case((columns.expires_at > until, columns.expires_at), else_=until)
            )
        )
        if extended.rowcount != 1:
            raise StoreConflict(f"the lease on {key!r} ran out: another holder may be renewing it")

    def _put_pending_plan(self, handle: str, record: str, ttl: float) -> Plan[None]:
        now = time.time()
        columns = self.table.c
        yield sa.delete(self.table).where(columns.kind == PENDING, columns.expires_at <= now)
        yield _Insert(
            sa.insert(self.table).values(
                kind=PENDING, key=handle, data=record, version=1, expires_at=now + ttl
            )
        )

    @staticmethod
    def _taken(taken: _Rows) -> str | None:
        if not taken.rows or taken.rows[0][1] <= time.time():
            return None
        return str(taken.rows[0][0])

    # -- the store ------------------------------------------------------------------------

    def _get(self, key: str) -> Stored | None:
        entry = self._entry(self._one(self._select_token, key))
        return entry.value if entry else None

    async def _aget(self, key: str) -> Stored | None:
        entry = self._entry(await self._aone(self._select_token, key))
        return entry.value if entry else None

    def put(self, key: str, value: Stored) -> None:
        """Store ``value`` under ``key`` (a new version)."""
        self._run(self._put_plan(_checked_key(key), encode(value)))

    async def aput(self, key: str, value: Stored) -> None:
        """The ``await`` twin of :meth:`put`."""
        await self._arun(self._put_plan(_checked_key(key), encode(value)))

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._one(self._delete_token, key)

    async def adelete(self, key: str) -> None:
        """The ``await`` twin of :meth:`delete`."""
        await self._aone(self._delete_token, key)

    def keys(self) -> list[str]:
        """Every key stored, sorted."""
        return [row[0] for row in self._one(self._select_keys).rows]

    async def akeys(self) -> list[str]:
        """The ``await`` twin of :meth:`keys`."""
        return [row[0] for row in (await self._aone(self._select_keys)).rows]

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """A web flow's record until ``ttl`` seconds from now (expired ones are purged on the
        way, through the ``(kind, expires_at)`` index)."""
        self._run(self._put_pending_plan(handle, record, ttl))

    async def aput_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """The ``await`` twin of :meth:`put_pending`."""
        await self._arun(self._put_pending_plan(handle, record, ttl))

    def take_pending(self, handle: str) -> str | None:
        """``DELETE … RETURNING``: of two callers only one gets the record."""
        return self._taken(self._one(self._delete_pending, handle))

    async def atake_pending(self, handle: str) -> str | None:
        """The ``await`` twin of :meth:`take_pending`."""
        return self._taken(await self._aone(self._delete_pending, handle))

    @contextmanager
    def lock(self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[_Transaction]:
        """Hold ``key``'s renewal lease (waiting up to ``timeout`` seconds, else
        :class:`~oauthkit.errors.LockTimeout`); read and compare-and-set through the
        transaction given."""
        owner = secrets.token_hex(16)
        _checked_key(key)
        wait_for(lambda: self._run(self._take_lease_plan(key, owner)), key, timeout)
        try:
            yield _Transaction(self, key, owner)
        finally:
            released(lambda: self._run(self._release_plan(key, owner)), key)

    @asynccontextmanager
    async def alock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[_AsyncTransaction]:
        """The ``await`` twin of :meth:`lock`."""
        import anyio

        owner = secrets.token_hex(16)
        _checked_key(key)
        await await_for(lambda: self._arun(self._take_lease_plan(key, owner)), key, timeout)
        try:
            yield _AsyncTransaction(self, key, owner)
        finally:
            with anyio.CancelScope(shield=True):
                await areleased(lambda: self._arun(self._release_plan(key, owner)), key)

    def __repr__(self) -> str:
        engine = self._engine or self._aengine
        url = engine.url.render_as_string(hide_password=True) if engine is not None else "?"
        return f"SQLAlchemyStore({url!r}, table={self.table.fullname!r})"


class _Transaction:
    def __init__(self, store: SQLAlchemyStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    def load(self) -> Entry | None:
        return self._store._entry(self._store._one(self._store._select_token, self._key))

    def save(self, value: Stored, version: int | None) -> int:
        plan = self._store._save_plan(self._key, self._owner, encode(value), version)
        return self._store._run(plan)

    def extend(self, seconds: float) -> None:
        self._store._run(self._store._extend_plan(self._key, self._owner, seconds))


class _AsyncTransaction:
    def __init__(self, store: SQLAlchemyStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    async def load(self) -> Entry | None:
        return self._store._entry(await self._store._aone(self._store._select_token, self._key))

    async def save(self, value: Stored, version: int | None) -> int:
        plan = self._store._save_plan(self._key, self._owner, encode(value), version)
        return await self._store._arun(plan)

    async def extend(self, seconds: float) -> None:
        await self._store._arun(self._store._extend_plan(self._key, self._owner, seconds))
