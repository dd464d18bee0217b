"""``SQLiteStore``: the default store, one SQLite file in the platform's user data folder.

The file is created 0600 inside 0700 folders, never through a symbolic link; an existing file
must belong to this user (its mode is tightened to 0600) in a folder no one else can write to;
deleted tokens are overwritten (``secure_delete``). WAL lets readers go on while a refresh holds
the write lock; the cross-process lock is SQLite's own (``BEGIN IMMEDIATE``), released by the
operating system if its holder dies. A file that is corrupt or belongs to something else is
a :class:`~oauthkit.errors.StoreError`, never silently reset.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .._paths import data_file
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


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_LINK_REFUSED = (
    "{path} is a symbolic link; oauthkit keeps tokens only in a file of its own, never "
    "through a link (someone could point it anywhere): remove the link or pass the real path"
)


def _make_private_folders(folder: Path) -> None:
    """Create the missing folders of ``folder`` one by one, each 0700 (``mkdir(parents=True)``
    would make the parents with the umask's mode); an existing one is checked, not changed."""
    missing = []
    parent = folder
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)
    check_private_folder(folder)


def check_private_folder(folder: Path) -> None:
    """The folder of a token store must be ours (or root's) and not writable by others,
    unless sticky (like ``/tmp``, where others cannot replace our file)."""
    if os.name != "posix":
        return
    info = os.stat(folder)
    if info.st_uid not in (os.getuid(), 0):
        raise StoreError(
            f"the token store's folder {folder} belongs to another user (uid {info.st_uid}); "
            "oauthkit keeps tokens only where no one else can replace them"
        )
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise StoreError(
            f"the token store's folder {folder} is writable by others (mode "
            f"{stat.S_IMODE(info.st_mode):o}); run  chmod go-w {folder}  or choose another path"
        )


def check_private_file(path: Path, what: str) -> None:
    """An existing store file: not a link, owned by this user (else :class:`StoreError`);
    readable or writable by others is tightened to 0600."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(_LINK_REFUSED.format(path=path))
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{what} {path} is not a regular file")
    if os.name != "posix":
        return
    if info.st_uid != os.getuid():
        raise StoreError(
            f"{what} {path} belongs to another user (uid {info.st_uid}); oauthkit will not "
            "read or write tokens in a file someone else controls"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o600)


def default_path() -> Path:
    """``tokens.sqlite3`` in the platform's user data folder for oauthkit."""
    return data_file()


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
        """Make the folders (each 0700) and the file (0600, never through a link), or check
        what is there: see :func:`check_private_file`."""
        _make_private_folders(self.path.parent)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW, 0o600)
        except FileExistsError:
            check_private_file(self.path, "the token store")
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
        connection.execute("PRAGMA secure_delete = ON")  # a deleted token leaves no trace
        return connection

    def _prepare(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            try:
                self._create_file()
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise StoreError(_LINK_REFUSED.format(path=self.path)) from None
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

    def _get(self, key: str) -> Stored | None:
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
        """Delete ``key``; its bytes are overwritten (``secure_delete``) and the write-ahead
        log, which still holds the earlier versions, is checkpointed and emptied."""
        with self._connection() as connection:
            connection.execute("DELETE FROM tokens WHERE key = ?", (key,))
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
