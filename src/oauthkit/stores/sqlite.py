"""``SQLiteStore``: the default store, one SQLite file in the platform's user data folder.

The file is created 0600 inside 0700 folders, never through a symbolic link; an existing file
must belong to this user (its mode is tightened to 0600) in a folder no one else can write to;
deleted tokens are overwritten (``secure_delete``). The per-key renewal lock is a lease (a row
with an owner token, the holder's process id and an expiry) taken and released in short
transactions, and the write is a compare-and-set that checks the lease: no SQLite lock is held
while a renewal waits for a server, so a slow token endpoint delays only its own key; a dead
holder's lease is taken over at once. A file that is corrupt or belongs to something else is
a :class:`~oauthkit.errors.StoreError`, never silently reset.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .._paths import data_file
from ..errors import StoreConflict, StoreError
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    BlockingStore,
    Entry,
    Sealing,
    Stored,
    Transaction,
    wait_for,
)
from .encryption import PENDING

if TYPE_CHECKING:
    from .encryption import Encryption

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


#: The renewal leases (one row per key being renewed): who holds it (a random owner token and
#: its process id, so that a lease of a dead process on this machine is taken over at once),
#: and until when (a holder that hangs past it loses it; its write is then refused).
_LEASES = """
CREATE TABLE IF NOT EXISTS leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_at REAL NOT NULL
)
"""
#: Pending web flows (:class:`~oauthkit.stores.base.PendingFlows`): a record under a handle,
#: until an expiry; the index keeps the purge of expired rows from scanning the table.
_PENDING = (
    "CREATE TABLE IF NOT EXISTS pending ("
    " handle TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS pending_expiry ON pending (expires_at)",
)
#: A pending flow is written without waiting for the disk (WAL with ``synchronous=NORMAL``:
#: safe from a crash of the app, not from a power cut, which would only cost a sign-in under
#: way); tokens are written with ``FULL``, so a renewed refresh token is never lost.
_PENDING_SYNC = "PRAGMA synchronous = NORMAL"
_TOKEN_SYNC = "PRAGMA synchronous = FULL"
#: How long a lease lasts: far longer than a renewal can take (a whole exchange is bounded by
#: ``oauthkit.drivers.READ_DEADLINE``), and a dead holder's lease is taken over at once.
LEASE_SECONDS = 120.0


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs (a lease's holder)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


class _SQLiteTransaction:
    """The holder of a key's lease reads and compare-and-sets it, each in a short
    transaction of its own: nothing is locked while the holder talks to a server."""

    def __init__(
        self, store: SQLiteStore, connection: sqlite3.Connection, key: str, owner: str
    ) -> None:
        self._store = store
        self._connection = connection
        self._key = key
        self._owner = owner

    def load(self) -> Entry | None:
        try:
            row = self._connection.execute(
                "SELECT value, version FROM tokens WHERE key = ?", (self._key,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"the token store failed: {exc}") from None
        return Entry(self._store._decode(self._key, row[0]), row[1]) if row else None

    def save(self, value: Stored, version: int | None) -> int:
        text = self._store._encode_raw(self._key, value)
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"the token store failed to write: {exc}") from None
        try:
            held = self._connection.execute(
                "SELECT 1 FROM leases WHERE key = ? AND owner = ? AND expires_at > ?",
                (self._key, self._owner, time.time()),
            ).fetchone()
            if held is None:
                raise StoreConflict(
                    f"the lease on {self._key!r} ran out before the write: another holder may "
                    "have renewed it (the write was not made)"
                )
            new = self._compare_and_set(text, version)
            self._connection.execute("COMMIT")
            return new
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")
            raise

    def extend(self, seconds: float) -> None:
        try:
            cursor = self._connection.execute(
                "UPDATE leases SET expires_at = max(expires_at, ?) "
                "WHERE key = ? AND owner = ? AND expires_at > ?",
                (time.time() + seconds, self._key, self._owner, time.time()),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"the token store failed to extend a lease: {exc}") from None
        if cursor.rowcount != 1:
            raise StoreConflict(
                f"the lease on {self._key!r} ran out: another holder may be renewing it"
            )

    def _compare_and_set(self, text: str | bytes, version: int | None) -> int:
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


class SQLiteStore(BlockingStore, Sealing):
    """Tokens in one SQLite file, shared safely by threads and processes of one machine.

    ``path`` defaults to :func:`default_path`. ``timeout`` is SQLite's busy timeout (how long
    a write waits for another process's lock). ``lease_seconds`` is how long a renewal's
    lease lasts unless its holder extends it (a holder that hangs loses its key after it).
    ``encryption`` seals every entry (:mod:`oauthkit.stores.encryption`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 10.0,
        lease_seconds: float | None = None,
        encryption: Encryption | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.encryption = encryption
        self.timeout = timeout
        self.lease_seconds = lease_seconds
        self._ready = False
        self._ready_lock = threading.Lock()
        self._local = threading.local()

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
        connection.execute(_TOKEN_SYNC)
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
        # Both read in one transaction: another process creating the store at this moment
        # must be seen before or after its commit, never half (an empty id beside its tables).
        connection.execute("BEGIN")
        try:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
        finally:
            connection.execute("COMMIT")
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
        connection.execute(_LEASES)  # added to stores made before leases; older readers ignore it
        for statement in _PENDING:  # likewise for pending web flows
            connection.execute(statement)
        if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, kept open between operations: opening one costs little,
        but closing the last one of a WAL database checkpoints and removes the log — milliseconds
        of disk work on every operation. A connection that failed is closed and replaced; a
        forked child opens its own."""
        local = self._local
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            connection = self._connect()
            local.connection, local.pid = connection, os.getpid()
        try:
            yield connection
        except sqlite3.Error as exc:
            local.connection = None
            with contextlib.suppress(sqlite3.Error):
                connection.close()
            raise StoreError(f"the token store {self.path} failed: {exc}") from None

    def close(self) -> None:
        """Close this thread's connection (another is opened when needed)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    # -- the store ----------------------------------------------------------------------

    def _get(self, key: str) -> Stored | None:
        with self._connection() as connection:
            row = connection.execute("SELECT value FROM tokens WHERE key = ?", (key,)).fetchone()
        return self._decode(key, row[0]) if row else None

    def put(self, key: str, value: Stored) -> None:
        text = self._encode_raw(key, value)
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

    def rekey(self) -> int:
        """See :meth:`~oauthkit.stores.base.Sealing.rekey`; then the write-ahead log, which
        still holds the entries as they were (in clear, or under an older key), is
        checkpointed and emptied (``secure_delete`` has overwritten the old rows in the
        file)."""
        written = super().rekey()
        with self._connection() as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return written

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """Keep a web flow's record (expired ones are purged on the way, through an index)."""
        now = time.time()
        with self._connection() as connection:
            connection.execute(_PENDING_SYNC)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.execute("DELETE FROM pending WHERE expires_at <= ?", (now,))
                    connection.execute(
                        "INSERT INTO pending (handle, record, expires_at) VALUES (?, ?, ?)",
                        (handle, self._seal_raw(PENDING, handle, record), now + ttl),
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                    raise
            finally:
                connection.execute(_TOKEN_SYNC)

    def take_pending(self, handle: str) -> str | None:
        """One ``DELETE … RETURNING``: of two callers only one gets the record."""
        with self._connection() as connection:
            connection.execute(_PENDING_SYNC)
            try:
                row = connection.execute(
                    "DELETE FROM pending WHERE handle = ? RETURNING record, expires_at", (handle,)
                ).fetchone()
            finally:
                connection.execute(_TOKEN_SYNC)
        if row is None or row[1] <= time.time():
            return None
        return self._open_pending(handle, row[0])

    @contextmanager
    def lock(self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[Transaction]:
        """A lease on ``key`` (an owner token, this process's id, an expiry), taken and
        released in short transactions: the holder reads and compare-and-sets ``key`` while
        every other key stays free to read and write, and no SQLite lock is held while it
        talks to a server. A lease whose process died is taken over at once; one that ran
        out (:data:`LEASE_SECONDS`) is taken over and its holder's write refused. Raises
        :class:`~oauthkit.errors.LockTimeout` after ``timeout`` seconds of waiting."""
        owner = secrets.token_hex(16)
        connection = self._connect()
        try:
            wait_for(lambda: self._take_lease(connection, key, owner), key, timeout)
            try:
                yield _SQLiteTransaction(self, connection, key, owner)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute(
                        "DELETE FROM leases WHERE key = ? AND owner = ?", (key, owner)
                    )
        except sqlite3.Error as exc:
            raise StoreError(f"the token store {self.path} failed: {exc}") from None
        finally:
            connection.close()

    def _take_lease(self, connection: sqlite3.Connection, key: str, owner: str) -> bool:
        """One short transaction: the lease is ours if it is free, ran out, or its process
        died."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute(
                "SELECT pid, expires_at FROM leases WHERE key = ?", (key,)
            ).fetchone()
            now = time.time()
            if row is not None and row[1] > now and _alive(row[0]):
                connection.execute("ROLLBACK")
                return False
            connection.execute(
                "INSERT OR REPLACE INTO leases (key, owner, pid, expires_at) VALUES (?, ?, ?, ?)",
                (key, owner, os.getpid(), now + (self.lease_seconds or LEASE_SECONDS)),
            )
            connection.execute("COMMIT")
            return True
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
