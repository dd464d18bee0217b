"""``SQLAlchemyStore`` (extra ``sqlalchemy``): tokens in the application's own database —
PostgreSQL, SQLite, or any database SQLAlchemy 2 speaks — in one table of their own.

::

    store = SQLAlchemyStore("postgresql+psycopg://app@db/app")   # or an Engine / AsyncEngine

The table is created on first use when it is missing (``create_missing=False`` leaves that
to the team's migrations; ``store.create_table()`` / ``await store.acreate_table()`` make it
at a time of the app's choosing, idempotently).

The table (``oauthkit_tokens`` by default; ``table_name=`` and ``schema=`` choose) holds the
rows of :mod:`oauthkit.stores._rows` — tokens, pending web flows and renewal leases — whose
plans this store runs: each in one short transaction on a connection checked out of the
engine's pool and returned at once (a read autocommitted: one round trip). A crashed
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

Behind PgBouncer in transaction pooling mode, give the store a URL: the engines it makes
prepare no statement that another transaction could miss (see :func:`_engine_options`), and a
connection the database closed (a restart, a failover) is replaced and the operation run
once more.

Sync callers use a sync engine and async callers an async one; given a URL, the store makes
both (``postgresql+psycopg`` serves both; ``asyncpg`` and ``aiosqlite`` URLs get their sync
twins ``psycopg`` and ``pysqlite``). Given only an ``Engine``, async callers run in worker
threads; given only an ``AsyncEngine``, sync callers are refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

try:
    import sqlalchemy as sa
    from sqlalchemy.engine import URL, Connection, Engine, make_url
    from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "SQLAlchemyStore needs SQLAlchemy 2: pip install 'oauthkit[sqlalchemy]'"
    ) from exc

from ..drivers import adrive, drive
from ..errors import ConfigurationError, StoreError
from ._rows import (
    LEASE_SECONDS,
    MAX_KEY,
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
from .base import _in_thread
from .encryption import Encryption

__all__ = ["SQLAlchemyStore"]

#: How many times create_table looks again after losing a race to create the table.
CREATE_ATTEMPTS = 3
#: Seconds a connection attempt to PostgreSQL may take (engines the store makes).
CONNECT_TIMEOUT = 10
#: Seconds a write waits for another's lock on SQLite (engines the store makes).
SQLITE_BUSY_TIMEOUT = 30.0

T = TypeVar("T")

#: Sync driver of each async-only one, and back.
_SYNC_TWIN = {
    "asyncpg": "psycopg",
    "aiosqlite": "pysqlite",
    "psycopg_async": "psycopg",
    "psycopg": "psycopg",
}
_ASYNC_DRIVERS = ("asyncpg", "psycopg_async", "aiosqlite")
_ASYNC_TWIN = {"psycopg": "psycopg", "psycopg2": "psycopg", "pysqlite": "aiosqlite"}


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


def _engine_options(url: URL) -> tuple[URL, dict[str, Any]]:
    """Engine options for a URL the store makes an engine from: PostgreSQL behind a
    transaction-pooling PgBouncer gives each transaction any server connection, where a
    statement prepared by another transaction is missing and a name may already be taken. So
    no server-side prepared statements with psycopg, and asyncpg's (which SQLAlchemy's dialect
    always prepares) under names of their own, never cached. Plain PostgreSQL is served alike,
    planning each primary-key lookup again (``bench/stores.py`` shows what that costs), unless
    the URL says ``?prepare_threshold=5`` (psycopg then prepares a statement used five
    times: for PostgreSQL with no transaction pooler in front). A connection
    attempt gives up after :data:`CONNECT_TIMEOUT` seconds (a dead server is a StoreError,
    never a hang). On SQLite a writer waits up to :data:`SQLITE_BUSY_TIMEOUT` seconds for
    another's lock (the driver's own 5 s ran out with fifty tasks renewing one key on a busy
    machine: "database is locked"), unless the URL says ``?timeout=``."""
    if url.get_backend_name() == "sqlite":
        if "timeout" in url.query:
            return url, {}
        return url, {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    if url.get_backend_name() != "postgresql":
        return url, {}
    driver = url.get_driver_name()
    if driver == "asyncpg":
        connect = {
            "statement_cache_size": 0,
            "prepared_statement_name_func": _statement_name,
            "timeout": CONNECT_TIMEOUT,
        }
        return url.update_query_dict({"prepared_statement_cache_size": "0"}), {
            "connect_args": connect
        }
    if driver in ("psycopg", "psycopg_async"):
        arguments: dict[str, Any] = {"prepare_threshold": None, "connect_timeout": CONNECT_TIMEOUT}
        given = url.query.get("prepare_threshold")
        if given is not None:  # the application's own choice: no transaction pooler in front
            arguments["prepare_threshold"] = _threshold(given)
            url = url.difference_update_query(["prepare_threshold"])
        return url, {"connect_args": arguments}
    return url, {}


def _threshold(given: str | tuple[str, ...]) -> int | None:
    """psycopg's ``prepare_threshold`` from a URL (``?prepare_threshold=5``; ``none``: never)."""
    text = given[-1] if isinstance(given, tuple) else given
    if text.strip().lower() in ("", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(
            f"?prepare_threshold= takes a whole number or none, not {text!r:.20}"
        ) from None


def _engine(url: URL) -> Engine:
    made, options = _engine_options(url)
    return sa.create_engine(made, **options)


def _async_engine(url: URL) -> AsyncEngine:
    made, options = _engine_options(url)
    return create_async_engine(made, **options)


def _statement_name() -> str:
    return f"__oauthkit_{secrets.token_hex(8)}__"


def _twin(url: URL, table: dict[str, str], dialects: tuple[str, ...]) -> URL | None:
    if url.get_backend_name() not in dialects:
        return None
    driver = url.get_driver_name()
    default = "pysqlite" if url.get_backend_name() == "sqlite" else "psycopg2"
    twin = table.get(driver or default)
    return url.set(drivername=f"{url.get_backend_name()}+{twin}") if twin else None


class SQLAlchemyStore(RowStore):
    """Tokens, pending web flows and renewal leases in one table of the app's database; see
    the module docstring. ``engine`` is a URL, an ``Engine`` or an ``AsyncEngine``;
    ``async_engine`` adds the async twin of a given ``Engine``; ``encryption`` seals every
    entry (:mod:`oauthkit.stores.encryption`)."""

    def __init__(
        self,
        engine: str | URL | Engine | AsyncEngine,
        *,
        async_engine: AsyncEngine | None = None,
        table_name: str = "oauthkit_tokens",
        schema: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        create_missing: bool = True,
        encryption: Encryption | None = None,
    ) -> None:
        self.encryption = encryption
        self._engine: Engine | None = None
        self._aengine: AsyncEngine | None = async_engine
        self._async_url: URL | None = None
        self._autocommit: Engine | None = None
        self._aautocommit: AsyncEngine | None = None
        made_here = not isinstance(engine, Engine)
        if isinstance(engine, Engine):
            self._engine = engine
        elif isinstance(engine, AsyncEngine):
            self._aengine = engine
            twin = _twin(engine.url, _SYNC_TWIN, ("postgresql", "sqlite"))
            self._engine = _engine(twin) if twin is not None else None
        else:
            url = make_url(engine)
            sync_url = _twin(url, _SYNC_TWIN, ("postgresql", "sqlite")) or url
            self._engine = _engine(sync_url)
            if self._aengine is None and url.get_driver_name() in _ASYNC_DRIVERS:
                self._async_url = url  # the async driver the URL names
            elif self._aengine is None:
                self._async_url = _twin(sync_url, _ASYNC_TWIN, ("postgresql", "sqlite"))
        self.lease_seconds = lease_seconds
        #: psycopg, when reads go to the driver directly (see _read_directly).
        self._direct: Any = None
        self._direct_sql: dict[str, str] = {}
        if made_here and self._engine is not None and self._engine.dialect.driver == "psycopg":
            import psycopg

            self._direct = psycopg
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
        row = (columns.data, columns.version, columns.expires_at)
        where = sa.and_(columns.kind == sa.bindparam("kind"), columns.key == sa.bindparam("key"))
        self._select = sa.select(*row).where(where)
        self._select_locked = self._select.with_for_update()
        self._take = sa.delete(self.table).where(where).returning(*row)
        self._keys = sa.select(columns.key).where(columns.kind == sa.bindparam("kind"))
        if self._direct is not None and self._engine is not None:
            dialect = self._engine.dialect
            self._direct_sql = {
                "get": str(self._select.compile(dialect=dialect)),
                "keys": str(self._keys.order_by(columns.key).compile(dialect=dialect)),
            }

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
            self._aengine = _async_engine(self._async_url)
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
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> StoreError:
        """The StoreError for a database error (SQLAlchemy's, or the driver's own)."""
        name = self.table.fullname
        state = _sqlstate(exc)
        if state == "42P01" or (state is None and _no_such_table(exc, name)):
            return StoreError(
                f"the table {name} does not exist: call store.create_table() once (in async "
                "code: await store.acreate_table()), or apply the migration in "
                "oauthkit.stores.sqlalchemy's documentation"
            )
        if state in ("26000", "42P05"):
            return StoreError(
                f"the token table {name} failed: a prepared statement was missing or taken "
                "(a transaction-pooling PgBouncer in front?): give the store a URL, or make "
                "the engine with prepared statements off (psycopg: prepare_threshold=None)"
            )
        # Not chained: the driver's error text carries the statement's parameters,
        # a token's record among them.
        return StoreError(f"the token table {name} failed: {type(exc).__name__}")

    # -- running the row store's plans ----------------------------------------------------

    def _run(self, making: Making[T], *, writes: bool) -> T:
        """One plan in one short transaction; a plan that only reads, autocommitted. A
        connection the server had closed (a restart, a failover, a pooler's recycling) is
        found out by its first use; SQLAlchemy then drops every pooled connection as old and
        the plan runs once more on a new one."""
        if not self._ready:
            self.create_table()
        if not writes and self._direct is not None:
            return self._read_directly(making)
        with self._errors():
            try:
                return self._run_once(making, writes)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            return self._run_once(making, writes)

    def _run_once(self, making: Making[T], writes: bool) -> T:
        if writes:
            with self._sync().begin() as connection:
                return drive(making(), lambda op: self._execute(connection, op))
        if self._autocommit is None:  # made once: each execution_options() costs 0.4 ms
            self._autocommit = self._sync().execution_options(isolation_level="AUTOCOMMIT")
        with self._autocommit.connect() as connection:
            return drive(making(), lambda op: self._execute(connection, op))

    def _read_directly(self, making: Making[T]) -> T:
        """A plan that only reads, on a pooled psycopg connection itself, autocommitted:
        SQLAlchemy's execution machinery costs more than the lookup does (``bench/stores.py``).
        Only for an engine the store made (one of the application's keeps its event hooks).
        A connection the server had closed drops the pool's connections and the plan runs
        once more on a new one, as :meth:`_run` does."""
        assert self._direct is not None
        for attempt in (0, 1):
            with self._errors():
                pooled = self._sync().raw_connection()
            connection: Any = pooled.driver_connection
            try:
                connection.autocommit = True
                try:
                    return drive(making(), partial(self._execute_directly, connection))
                finally:
                    if not connection.broken:
                        connection.autocommit = False
            except self._direct.Error as exc:
                if connection.broken:  # a restart, a failover, a pooler that dropped it
                    pooled.invalidate()
                    self._sync().dispose(close=False)  # the others are as old
                    if attempt == 0:
                        continue
                raise self._failure(exc) from None
            finally:
                pooled.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _execute_directly(self, connection: Any, op: Operation) -> Any:
        if isinstance(op, Get) and not op.lock:
            found = connection.execute(self._direct_sql["get"], _at(op)).fetchone()
            return Row(found[0], int(found[1]), found[2]) if found is not None else None
        if isinstance(op, Keys):
            rows = connection.execute(self._direct_sql["keys"], {"kind": op.kind}).fetchall()
            return [row[0] for row in rows]
        raise AssertionError(f"{type(op).__name__} is not a read")  # pragma: no cover

    async def _arun(self, making: Making[T], *, writes: bool) -> T:
        """The ``await`` twin of :meth:`_run` (a store given only an ``Engine`` runs it in a
        worker thread)."""
        engine = self._async()
        if engine is None:
            return await _in_thread(self._run, making, writes)  # type: ignore[no-any-return]
        if not self._ready:
            await self.acreate_table()
        with self._errors():
            try:
                return await self._arun_once(engine, making, writes)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            return await self._arun_once(engine, making, writes)

    async def _arun_once(self, engine: AsyncEngine, making: Making[T], writes: bool) -> T:
        # SQLAlchemy's asyncpg dialect prepares every statement, then runs it: two implicit
        # transactions when autocommitted, which a transaction-pooling PgBouncer may give to
        # two server connections (the second lacks the statement). In one transaction both
        # are on one.
        if writes or engine.url.get_driver_name() == "asyncpg":
            async with engine.begin() as connection:
                return await adrive(making(), lambda op: self._aexecute(connection, op))
        if self._aautocommit is None:
            self._aautocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        async with self._aautocommit.connect() as connection:
            return await adrive(making(), lambda op: self._aexecute(connection, op))

    def _statement(self, op: Operation) -> tuple[Any, dict[str, Any]]:
        """The statement of a row operation and its parameters."""
        if isinstance(op, Get):
            return (self._select_locked if op.lock else self._select), _at(op)
        if isinstance(op, Take):
            return self._take, _at(op)
        if isinstance(op, Keys):
            return self._keys.order_by(self.table.c.key), {"kind": op.kind}
        columns, table = self.table.c, self.table
        if isinstance(op, Insert):
            values = {"kind": op.kind, "key": op.key, "data": op.data, "version": 1}
            return sa.insert(table).values(**values, expires_at=op.expires_at), {}
        conditions = [columns.kind == op.kind]
        if op.key is not None:
            conditions.append(columns.key == op.key)
        if op.if_data is not None:
            conditions.append(columns.data == op.if_data)
        if op.if_expired is not None:
            conditions.append(columns.expires_at <= op.if_expired)
        if isinstance(op, Delete):
            return sa.delete(table).where(*conditions), {}
        if op.if_version is not None:
            conditions.append(columns.version == op.if_version)
        changes: dict[str, Any] = {
            "version": columns.version + 1 if op.version is None else op.version
        }
        if op.data is not None:
            changes["data"] = op.data
        if op.expires_at is not None:
            changes["expires_at"] = op.expires_at
        return sa.update(table).where(*conditions).values(**changes), {}

    def _execute(self, connection: Connection, op: Operation) -> Any:
        statement, parameters = self._statement(op)
        if isinstance(op, Insert):
            try:
                with connection.begin_nested():  # a duplicate key ends this savepoint only
                    connection.execute(statement)
                return True
            except IntegrityError:
                return False
        return _answer(op, connection.execute(statement, parameters))

    async def _aexecute(self, connection: AsyncConnection, op: Operation) -> Any:
        statement, parameters = self._statement(op)
        if isinstance(op, Insert):
            try:
                async with connection.begin_nested():
                    await connection.execute(statement)
                return True
            except IntegrityError:
                return False
        return _answer(op, await connection.execute(statement, parameters))

    def __repr__(self) -> str:
        engine = self._engine or self._aengine
        url = engine.url.render_as_string(hide_password=True) if engine is not None else "?"
        return f"SQLAlchemyStore({url!r}, table={self.table.fullname!r})"


def _sqlstate(exc: Exception) -> str | None:
    """The SQLSTATE of a driver's error, itself or wrapped by SQLAlchemy (psycopg:
    ``sqlstate``, asyncpg: ``sqlstate`` through SQLAlchemy's adaption, psycopg2: ``pgcode``),
    or ``None``."""
    for error in (exc, getattr(exc, "orig", None)):
        for attribute in ("sqlstate", "pgcode"):
            state = getattr(error, attribute, None) or getattr(
                getattr(error, "__cause__", None), attribute, None
            )
            if isinstance(state, str):
                return state
    return None


def _no_such_table(exc: Exception, name: str) -> bool:
    """SQLite's and MySQL's words for a missing table (they have no SQLSTATE for it)."""
    text = str(getattr(exc, "orig", exc)).lower()
    table = name.split(".")[-1].lower()
    return table in text and ("no such table" in text or "doesn't exist" in text)


def _at(op: Get | Take) -> dict[str, str]:
    return {"kind": op.kind, "key": op.key}


def _answer(op: Operation, result: Any) -> Any:
    """What a plan is sent back for ``op``: a row, the keys, or how many rows changed."""
    if isinstance(op, Get | Take):
        found = result.first()
        return Row(found[0], int(found[1]), found[2]) if found is not None else None
    if isinstance(op, Keys):
        return [found[0] for found in result.fetchall()]
    return result.rowcount
