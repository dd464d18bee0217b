"""``MemoryStore``: tokens in this process's memory (tests, short-lived programs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import LockTimeout, StoreConflict
from ..protocol.oauth1.credentials import OAuth1Credentials
from .base import DEFAULT_LOCK_TIMEOUT, BlockingStore, Entry, Stored, Transaction

__all__ = ["MemoryStore"]


def kept(value: Stored) -> Stored:
    """What every store keeps of ``value``: OAuth 1.0a credentials without the client's
    secret or key (as the other stores' encoding keeps them); a token as it is."""
    if isinstance(value, OAuth1Credentials):
        return OAuth1Credentials.from_dict(value.to_dict())
    return value


class _MemoryTransaction:
    def __init__(self, store: MemoryStore, key: str) -> None:
        self._store = store
        self._key = key

    def load(self) -> Entry | None:
        with self._store._guard:
            return self._store._entries.get(self._key)

    def save(self, value: Stored, version: int | None) -> int:
        with self._store._guard:
            current = self._store._entries.get(self._key)
            if (current.version if current else None) != version:
                raise StoreConflict(f"{self._key!r} changed since it was read")
            new = (version or 0) + 1
            self._store._entries[self._key] = Entry(kept(value), new)
            return new

    def extend(self, seconds: float) -> None:
        """A thread lock never runs out: nothing to do."""


class MemoryStore(BlockingStore):
    """Tokens kept in a dict of this process; gone when it exits. Thread- and task-safe.

    Its pending web flows live in this process only: a web application served by several
    worker processes needs a shared store (SQLite, Redis, its database), or a callback that
    lands on another worker than its redirect finds nothing.
    """

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._pending: dict[str, tuple[str, float]] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _get(self, key: str) -> Stored | None:
        with self._guard:
            entry = self._entries.get(key)
        return entry.value if entry else None

    def put(self, key: str, value: Stored) -> None:
        with self._guard:
            current = self._entries.get(key)
            self._entries[key] = Entry(kept(value), (current.version if current else 0) + 1)

    def delete(self, key: str) -> None:
        with self._guard:
            self._entries.pop(key, None)

    def keys(self) -> list[str]:
        with self._guard:
            return sorted(self._entries)

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        now = time.monotonic()
        with self._guard:
            for old in [h for h, (_, until) in self._pending.items() if until <= now]:
                del self._pending[old]
            self._pending[handle] = (record, now + ttl)

    def take_pending(self, handle: str) -> str | None:
        with self._guard:
            found = self._pending.pop(handle, None)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    @contextmanager
    def lock(self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[Transaction]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(timeout=timeout):
            raise LockTimeout(f"the lock for {key!r} was not free within {timeout} s")
        try:
            yield _MemoryTransaction(self, key)
        finally:
            lock.release()

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._entries)} entries)"
