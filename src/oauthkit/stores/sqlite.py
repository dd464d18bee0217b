"""``SQLiteStore``: the default store, one SQLite file in the platform's user data folder.

The file is created 0600 inside a 0700 folder; WAL lets readers go on while a refresh holds
the write lock; the cross-process lock is SQLite's own (``BEGIN IMMEDIATE``), released by the
operating system if its holder dies. A file that is corrupt or belongs to something else is
a :class:`~oauthkit.errors.StoreError`, never silently reset.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import LockTimeout, StoreConflict, StoreError
from .base import DEFAULT_LOCK_TIMEOUT, BlockingStore, Entry, Stored, Transaction, decode, encode

__all__ = ["SQLiteStore", "default_path"]

#: ``PRAGMA application_id`` of an oauthkit store ("oktk").
APPLICATION_ID = 0x6F6B746B
#: ``PRAGMA user_version``: the schema this code writes and reads.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE tokens (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at REAL NOT NULL
)
"""


def default_path() -> Path:
    """``tokens.sqlite3`` in the platform's user data folder for oauthkit."""
    import platformdirs

    return Path(platformdirs.user_data_dir("oauthkit", appauthor=False)) / "tokens.sqlite3"


class _SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection, key: str) -> None:
        self._connection = connection
        self._key = key

    def load(self) -> Entry | None:
        try:
            row = self._connection.execute(
                "SELECT value, version FROM tokens WHERE key = ?", (self._key,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"the token store failed: {exc}") from None
        return Entry(decode(row[0]), row[1]) if row else None

    def save(self, value: Stored, version: int | None) -> int:
        text = encode(value)
        try:
            if version is None:
                cursor = self._connection.execute(
                    "INSERT OR IGNORE INTO tokens (key, value, version, updated_at) "
                    "VALUES (?, ?, 1, ?)",
                    (self._key, text, time.time()),
                )
            else:
                cursor = self._connection.execute(
                    "UPDATE tokens SET value = ?, version = version + 1, updated_at = ? "
                    "WHERE key = ? AND version = ?",
                    (text, time.time(), self._key, version),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"the token store failed to write: {exc}") from None
        if cursor.rowcount != 1:
            raise StoreConflict(f"{self._key!r} changed since it was read")
        return (version or 0) + 1


class SQLiteStore(BlockingStore):
    """Tokens in one SQLite file, shared safely by threads and processes of one machine.

    ``path`` defaults to :func:`default_path`. ``timeout`` is SQLite's busy timeout (how long
    a write waits for another process's lock).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, timeout: float = 10.0
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.timeout = timeout
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- opening ------------------------------------------------------------------------

    def _create_file(self) -> None:
        folder = self.path.parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        if not self.path.exists():
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                return
            os.close(fd)
            os.chmod(self.path, 0o600)

    def _connect(self, timeout: float | None = None) -> sqlite3.Connection:
        if not self._ready:
            self._prepare()
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self.timeout if timeout is None else timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the token store {self.path}: {exc}") from None
        return connection

    def _prepare(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            try:
                self._create_file()
            except OSError as exc:
                raise StoreError(f"cannot create the token store {self.path}: {exc}") from None
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            try:
                self._check_or_initialize(connection)
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"{self.path} is not a readable SQLite database ({exc}); it is corrupt or "
                    "belongs to another program. oauthkit will not overwrite it: move it away "
                    "or pass another path"
                ) from None
            finally:
                connection.close()
            self._ready = True

    def _check_or_initialize(self, connection: sqlite3.Connection) -> None:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
        if application_id == 0 and not tables:
            connection.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have initialized it while this one waited.
                if connection.execute("PRAGMA application_id").fetchone()[0] == 0:
                    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    connection.execute(_SCHEMA)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            application_id = APPLICATION_ID
        if application_id != APPLICATION_ID:
            raise StoreError(
                f"{self.path} is an SQLite database of another program (application_id "
                f"{application_id:#x}); oauthkit will not touch it"
            )
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this oauthkit reads "
                f"{SCHEMA_VERSION} (written by another version of oauthkit?)"
            )
        connection.execute("PRAGMA journal_mode = WAL")
        if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = self._connect()
        try:
            yield connection
        except sqlite3.Error as exc:
            raise StoreError(f"the token store {self.path} failed: {exc}") from None
        finally:
            connection.close()

    # -- the store ----------------------------------------------------------------------

    def get(self, key: str) -> Stored | None:
        with self._connection() as connection:
            row = connection.execute("SELECT value FROM tokens WHERE key = ?", (key,)).fetchone()
        return decode(row[0]) if row else None

    def put(self, key: str, value: Stored) -> None:
        text = encode(value)
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO tokens (key, value, version, updated_at) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "version = tokens.version + 1, updated_at = excluded.updated_at",
                (key, text, time.time()),
            )

    def delete(self, key: str) -> None:
        with self._connection() as connection:
            connection.execute("DELETE FROM tokens WHERE key = ?", (key,))

    def keys(self) -> list[str]:
        with self._connection() as connection:
            rows = connection.execute("SELECT key FROM tokens ORDER BY key").fetchall()
        return [row[0] for row in rows]

    @contextmanager
    def lock(self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[Transaction]:
        """SQLite's write lock (``BEGIN IMMEDIATE``; it covers the whole file), held while the
        caller reads and compare-and-sets ``key``; committed on a normal exit, rolled back on
        an error, and released by the operating system if the process dies."""
        connection = self._connect(timeout)
        try:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise LockTimeout(
                        f"the token store {self.path} stayed locked for {timeout} s"
                    ) from None
                raise StoreError(f"the token store {self.path} failed: {exc}") from None
            try:
                yield _SQLiteTransaction(connection, key)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # closing rolls back as well
                    connection.execute("ROLLBACK")
                raise
            try:
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"the token store {self.path} failed to commit: {exc}") from None
        finally:
            connection.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
