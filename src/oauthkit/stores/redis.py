"""``RedisStore`` (extra ``redis``): tokens shared by several machines.

Each key is a Redis hash (``value``, ``version``). The lock is a key set with ``NX`` to a
random owner token and a TTL, released only by its owner (compare-and-delete); a write under
the lock is a compare-and-set that also checks the lock is still ours, so a holder whose lock
expired cannot overwrite what the next holder wrote.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio

from ..errors import StoreConflict, StoreError
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    Entry,
    Reads,
    Stored,
    areleased,
    await_for,
    decode,
    encode,
    needed,
    released,
    wait_for,
)

__all__ = ["RedisStore"]

_SAVE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local current = redis.call('HGET', KEYS[1], 'version')
if ARGV[2] == '' then
  if current then return -2 end
elseif current ~= ARGV[2] then
  return -2
end
local new = (tonumber(current) or 0) + 1
redis.call('HSET', KEYS[1], 'value', ARGV[3], 'version', new)
return new
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""
_PUT = """
local new = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'value', ARGV[1])
return new
"""


def _extended(result: int, key: str) -> None:
    if result != 1:
        raise StoreConflict(f"the lock for {key!r} ran out: another holder may be renewing it")


def _saved(result: int, key: str) -> int:
    if result == -1:
        raise StoreConflict(f"the lock for {key!r} expired before the write; nothing written")
    if result == -2:
        raise StoreConflict(f"{key!r} changed since it was read")
    return int(result)


class _RedisTransaction:
    def __init__(self, store: RedisStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    def load(self) -> Entry | None:
        return self._store._load(self._key)

    def save(self, value: Stored, version: int | None) -> int:
        store = self._store
        with store._errors():
            result = store._client().eval(
                _SAVE,
                2,
                store._token_key(self._key),
                store._lock_key(self._key),
                self._owner,
                "" if version is None else str(version),
                encode(value),
            )
        return _saved(result, self._key)

    def extend(self, seconds: float) -> None:
        store = self._store
        with store._errors():
            result = store._client().eval(
                _EXTEND, 1, store._lock_key(self._key), self._owner, store._ttl_ms(seconds)
            )
        _extended(result, self._key)


class _AsyncRedisTransaction:
    def __init__(self, store: RedisStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    async def load(self) -> Entry | None:
        return await self._store._aload(self._key)

    async def save(self, value: Stored, version: int | None) -> int:
        store = self._store
        with store._errors():
            result = await store._aclient().eval(
                _SAVE,
                2,
                store._token_key(self._key),
                store._lock_key(self._key),
                self._owner,
                "" if version is None else str(version),
                encode(value),
            )
        return _saved(result, self._key)

    async def extend(self, seconds: float) -> None:
        store = self._store
        with store._errors():
            result = await store._aclient().eval(
                _EXTEND, 1, store._lock_key(self._key), self._owner, store._ttl_ms(seconds)
            )
        _extended(result, self._key)


class RedisStore(Reads):
    """Tokens in Redis at ``url``, under ``prefix``; ``lock_ttl`` bounds how long a dead
    holder keeps a key locked (longer than any refresh takes)."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "oauthkit",
        lock_ttl: float = 30.0,
    ) -> None:
        self._module = needed("RedisStore", "redis", "redis", "redis.asyncio")
        self.url = url
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self._sync: Any = None
        self._async: Any = None

    def _client(self) -> Any:
        if self._sync is None:
            self._sync = self._module.Redis.from_url(self.url)
        return self._sync

    def _aclient(self) -> Any:
        if self._async is None:
            self._async = self._module.asyncio.Redis.from_url(self.url)
        return self._async

    def _token_key(self, key: str) -> str:
        return f"{self.prefix}:token:{key}"

    def _lock_key(self, key: str) -> str:
        return f"{self.prefix}:lock:{key}"

    def _pending_key(self, handle: str) -> str:
        return f"{self.prefix}:pending:{handle}"

    @staticmethod
    def _ttl_ms(ttl: float) -> int:
        return max(1, int(ttl * 1000))

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._module.RedisError as exc:
            raise StoreError(f"the Redis store at {self._safe_url()} failed: {exc}") from None

    def _safe_url(self) -> str:
        head, _, tail = self.url.rpartition("@")
        return f"{head.split('//')[0]}//…@{tail}" if head else self.url

    @staticmethod
    def _entry(fields: dict[bytes, bytes]) -> Entry | None:
        if not fields or b"value" not in fields:
            return None
        return Entry(decode(fields[b"value"]), int(fields[b"version"]))

    # -- sync ---------------------------------------------------------------------------

    def _load(self, key: str) -> Entry | None:
        with self._errors():
            return self._entry(self._client().hgetall(self._token_key(key)))

    def _get(self, key: str) -> Stored | None:
        entry = self._load(key)
        return entry.value if entry else None

    def put(self, key: str, value: Stored) -> None:
        with self._errors():
            self._client().eval(_PUT, 1, self._token_key(key), encode(value))

    def delete(self, key: str) -> None:
        with self._errors():
            self._client().delete(self._token_key(key))

    def keys(self) -> list[str]:
        start = len(self._token_key(""))
        with self._errors():
            found = self._client().scan_iter(match=self._token_key("*"))
            return sorted(k.decode()[start:] for k in found)

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """A web flow's record, with Redis's own expiry (``SET NX PX``)."""
        with self._errors():
            self._client().set(self._pending_key(handle), record, nx=True, px=self._ttl_ms(ttl))

    def take_pending(self, handle: str) -> str | None:
        """``GETDEL``: atomic, so a replayed callback finds nothing."""
        with self._errors():
            found = self._client().getdel(self._pending_key(handle))
        return found.decode() if found is not None else None

    @contextmanager
    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> Iterator[_RedisTransaction]:
        """Take ``key``'s lock (``SET NX PX``), waiting up to ``timeout`` seconds."""
        owner = secrets.token_hex(16)
        client, lock_key = self._client(), self._lock_key(key)
        ttl = int(self.lock_ttl * 1000)
        with self._errors():
            wait_for(lambda: bool(client.set(lock_key, owner, nx=True, px=ttl)), key, timeout)
        try:
            yield _RedisTransaction(self, key, owner)
        finally:

            def release() -> None:
                with self._errors():
                    client.eval(_RELEASE, 1, lock_key, owner)

            released(release, key)

    # -- async --------------------------------------------------------------------------

    async def _aload(self, key: str) -> Entry | None:
        with self._errors():
            return self._entry(await self._aclient().hgetall(self._token_key(key)))

    async def _aget(self, key: str) -> Stored | None:
        entry = await self._aload(key)
        return entry.value if entry else None

    async def aput(self, key: str, value: Stored) -> None:
        with self._errors():
            await self._aclient().eval(_PUT, 1, self._token_key(key), encode(value))

    async def adelete(self, key: str) -> None:
        with self._errors():
            await self._aclient().delete(self._token_key(key))

    async def akeys(self) -> list[str]:
        start = len(self._token_key(""))
        with self._errors():
            found = [k async for k in self._aclient().scan_iter(match=self._token_key("*"))]
        return sorted(k.decode()[start:] for k in found)

    async def aput_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """The ``await`` twin of :meth:`put_pending`."""
        with self._errors():
            await self._aclient().set(
                self._pending_key(handle), record, nx=True, px=self._ttl_ms(ttl)
            )

    async def atake_pending(self, handle: str) -> str | None:
        """The ``await`` twin of :meth:`take_pending`."""
        with self._errors():
            found = await self._aclient().getdel(self._pending_key(handle))
        return found.decode() if found is not None else None

    @asynccontextmanager
    async def alock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[_AsyncRedisTransaction]:
        """The ``await`` twin of :meth:`lock`."""
        owner = secrets.token_hex(16)
        client, lock_key = self._aclient(), self._lock_key(key)
        ttl = int(self.lock_ttl * 1000)

        async def take() -> bool:
            return bool(await client.set(lock_key, owner, nx=True, px=ttl))

        with self._errors():
            await await_for(take, key, timeout)
        try:
            yield _AsyncRedisTransaction(self, key, owner)
        finally:

            async def release() -> None:
                with self._errors():
                    await client.eval(_RELEASE, 1, lock_key, owner)

            with anyio.CancelScope(shield=True):
                await areleased(release, key)

    def close(self) -> None:
        """Close the synchronous connection pool."""
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        """Close the asynchronous connection pool."""
        if self._async is not None:
            await self._async.aclose()

    def __repr__(self) -> str:
        return f"RedisStore({self._safe_url()!r}, prefix={self.prefix!r})"
