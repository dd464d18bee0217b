"""``KeyringStore`` (extra ``keyring``): tokens in the operating system's keychain.

Each key is one keyring entry (service ``oauthkit``) holding the token and its version. The
cross-process lock is one file lock per service beside the default SQLite store (some
backends rewrite a whole file on every write, so every write of the service takes it).
When no keyring backend is usable, or the backend refuses or cuts a token (some have size
limits), the error is a :class:`~oauthkit.errors.StoreError`: oauthkit never falls back to
plaintext on its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from ..errors import LockTimeout, StoreConflict, StoreError
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    BlockingStore,
    Entry,
    Stored,
    Transaction,
    decode,
    encode,
    needed,
)

__all__ = ["KeyringStore"]

_INDEX = "__oauthkit_index__"


@contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (flock on POSIX, msvcrt on Windows)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline, pause = time.monotonic() + timeout, 0.005
    try:
        while True:
            try:
                if sys.platform == "win32":  # pragma: no cover - not on this CI
                    import msvcrt

                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                else:
                    import fcntl

                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"the lock {path} was not free within {timeout} s") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class _KeyringTransaction:
    def __init__(self, store: KeyringStore, key: str) -> None:
        self._store, self._key = store, key

    def load(self) -> Entry | None:
        return self._store._load(self._key)

    def save(self, value: Stored, version: int | None) -> int:
        current = self._store._load(self._key)
        if (current.version if current else None) != version:
            raise StoreConflict(f"{self._key!r} changed since it was read")
        new = (version or 0) + 1
        self._store._write(self._key, value, new)
        return new

    def extend(self, seconds: float) -> None:
        """A file lock lasts as long as its holder: nothing to do."""


class KeyringStore(BlockingStore):
    """Tokens in the OS keychain through the ``keyring`` package, under ``service``.

    ``backend`` is a keyring backend to use instead of the one keyring chose; ``lock_dir``
    is where the lock files go (default: beside the default SQLite store).
    """

    def __init__(
        self,
        service: str = "oauthkit",
        *,
        backend: Any = None,
        lock_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        module = needed("KeyringStore", "keyring", "keyring", "keyring.errors")
        self.service = service
        self._backend = backend if backend is not None else module.get_keyring()
        self._explicit = backend is not None
        self._errors_type = module.errors.KeyringError
        self._absent = module.errors.PasswordDeleteError
        if lock_dir is None:
            from .sqlite import default_path

            lock_dir = default_path().parent / "locks"
        self._lock_dir = Path(lock_dir)
        self._check_backend(module)

    def _check_backend(self, module: Any) -> None:
        from keyring.backends import fail

        backend = self._backend
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
            raise StoreError(
                "no usable OS keyring backend was found (keyring chose "
                f"{type(backend).__module__}.{type(backend).__name__}); install one, or use "
                "SQLiteStore — oauthkit does not fall back to plaintext by itself"
            )
        if type(backend).__name__ == "ChainerBackend" and not getattr(backend, "backends", []):
            raise StoreError("no usable OS keyring backend was found (the chain is empty)")
        chained = getattr(backend, "backends", None) or [backend]
        if not self._explicit and all(
            type(b).__module__.startswith("keyrings.alt") for b in chained
        ):
            names = ", ".join(type(b).__name__ for b in chained)
            raise StoreError(
                f"the keyring backend keyring chose ({names}) is a file-based alternate, not the "
                "OS keychain; oauthkit will not use it unless you pass it as backend= yourself"
            )

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (self._errors_type, OSError, ValueError, TypeError) as exc:
            # Backends raise KeyringError, but Windows' raises an OS error for a value over
            # its size limit, and the file backends ValueError or TypeError.
            raise StoreError(f"the keyring failed to {what}: {exc}") from None

    def _lock(self, timeout: float = DEFAULT_LOCK_TIMEOUT) -> AbstractContextManager[None]:
        digest = hashlib.sha256(self.service.encode()).hexdigest()[:32]
        return _file_lock(self._lock_dir / f"keyring-{digest}.lock", timeout)

    def _load(self, key: str) -> Entry | None:
        with self._errors("read"):
            text = self._backend.get_password(self.service, key)
        if text is None:
            return None
        try:
            document = json.loads(text)
            return Entry(decode(document["value"]), int(document["version"]))
        except (ValueError, KeyError, TypeError):
            raise StoreError(f"the keyring entry {key!r} is not an oauthkit entry") from None

    def _write(self, key: str, value: Stored, version: int) -> None:
        text = json.dumps({"version": version, "value": encode(value)})
        with self._errors(f"store {key!r} ({len(text)} bytes; some backends limit the size)"):
            self._backend.set_password(self.service, key, text)
        with self._errors("read back"):
            if self._backend.get_password(self.service, key) != text:
                raise StoreError(
                    f"the keyring did not keep {key!r} whole ({len(text)} bytes): too large "
                    "for this backend? Use SQLiteStore for large tokens"
                )
        self._index(key)

    def _index(self, change: str | None = None, *, remove: bool = False) -> list[str]:
        with self._errors("read the index"):
            text = self._backend.get_password(self.service, _INDEX)
        keys = set(json.loads(text)) if text else set()
        if change is not None:
            before = set(keys)
            keys.discard(change) if remove else keys.add(change)
            if keys != before:
                with self._errors("update the index"):
                    self._backend.set_password(self.service, _INDEX, json.dumps(sorted(keys)))
        return sorted(keys)

    def _get(self, key: str) -> Stored | None:
        entry = self._load(key)
        return entry.value if entry else None

    def put(self, key: str, value: Stored) -> None:
        with self._lock():
            current = self._load(key)
            self._write(key, value, (current.version if current else 0) + 1)

    def delete(self, key: str) -> None:
        with self._lock():
            with self._errors("delete"), contextlib.suppress(self._absent):
                self._backend.delete_password(self.service, key)  # absent is fine
            self._index(key, remove=True)

    def keys(self) -> list[str]:
        return self._index()

    @contextmanager
    def lock(self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[Transaction]:
        """The service's file lock (it covers every key), held while the caller reads and
        compare-and-sets ``key``."""
        with self._lock(timeout):
            yield _KeyringTransaction(self, key)

    def __repr__(self) -> str:
        return f"KeyringStore(service={self.service!r}, backend={type(self._backend).__name__})"
