"""``RedisStore`` (extra ``redis``): tokens shared by several machines — one Redis, a Redis or
Valkey Cluster, a Sentinel-managed primary, over TLS or not.

Each key is a Redis hash (``value``, ``version``) under ``{prefix}:{{tag}}:token:{key}``, and
its lock a string under ``{prefix}:{{tag}}:lock:{key}``: the ``{tag}`` (a hash of the key) is
a cluster hash tag, so that a token and its lock share one slot and the compare-and-set
scripts that touch both run on a cluster as on one server. The lock is set with ``NX`` to a
random owner token and a TTL, extended and released only by its owner; a write under it is a
compare-and-set that also checks the lock is still ours, so a holder whose lock expired cannot
overwrite what the next holder wrote.

Where the store is (``url``):

* ``redis://host:port/db``, ``rediss://…`` (TLS; ``?ssl_ca_certs=/path`` for a private CA),
  ``unix:///path.sock``;
* ``redis+cluster://host:port[,host:port…]`` (``rediss+cluster://`` over TLS): any nodes of a
  cluster; the client finds the primaries and follows ``MOVED``, ``ASK`` and failovers;
* ``redis+sentinel://host:port[,host:port…]/service[/db]`` (``rediss+sentinel://``): the
  sentinels, and the name of the primary they watch; a failover is followed;
* or the application's own clients: ``RedisStore(client=…, async_client=…)``.

Every call is bounded (``timeout`` seconds a socket operation; a failed server is a
:class:`~oauthkit.errors.StoreError`, never a hang), and the clients reconnect by themselves.

A replica is written asynchronously: a primary that dies takes its last writes with it. A
lock lost that way lets a second holder refresh with the same refresh token (a provider with
reuse detection then revokes the grant), and a rotated token lost that way is a user to sign
in again. So on a cluster or behind sentinels, taking a lock, writing a token and deleting
one are followed by ``WAIT`` (on the same connection, to the primary that holds the key)
until ``replicas`` replicas have it, for at most ``replica_timeout`` seconds (a replica that
is down delays a write by that much, and the write stands).

Keys written by versions before 0.1 (``{prefix}:token:{key}``) are moved to this layout by
:meth:`RedisStore.migrate_keys`, once, before the new version serves.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio

from ..errors import ConfigurationError, StoreConflict, StoreError
from .base import (
    DEFAULT_LOCK_TIMEOUT,
    Entry,
    Reads,
    Sealing,
    Stored,
    areleased,
    await_for,
    needed,
    released,
    wait_for,
)
from .encryption import PENDING

if TYPE_CHECKING:
    from .encryption import Encryption

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
_MOVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', ARGV[2])
return 1
"""

#: The URL schemes of a cluster and of a Sentinel-managed primary (with TLS: ``rediss+…``).
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
#: Every scheme the store (and a configuration's ``store``) takes.
SCHEMES = ("redis", "rediss", "unix", *CLUSTER_SCHEMES, *SENTINEL_SCHEMES)


def _extended(result: int, key: str) -> None:
    if result != 1:
        raise StoreConflict(f"the lock for {key!r} ran out: another holder may be renewing it")


def _saved(result: int, key: str) -> int:
    if result == -1:
        raise StoreConflict(f"the lock for {key!r} expired before the write; nothing written")
    if result == -2:
        raise StoreConflict(f"{key!r} changed since it was read")
    return int(result)


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    """``host:port[,host:port…]`` (credentials stripped) as pairs."""
    hosts = []
    for item in netloc.rpartition("@")[2].split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item, "", "")
        if not host:
            host, port = item.strip(), ""
        try:
            hosts.append((host.strip("[]"), int(port) if port else default_port))
        except ValueError:
            raise ConfigurationError(f"{item!r} is not host:port") from None
    return hosts


def _is_cluster(client: Any) -> bool:
    return client is not None and hasattr(client, "get_node_from_key")


#: Query options of a URL that are numbers (redis-py's ``from_url`` reads them so for a
#: single server; a cluster's or a sentinel's options are read here).
_NUMBERS = {"socket_timeout": float, "socket_connect_timeout": float, "db": int,
            "health_check_interval": float, "max_connections": int}  # fmt: skip


def _option(name: str, value: str) -> Any:
    kind = _NUMBERS.get(name)
    if kind is None:
        return value
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(f"the Redis URL's {name}={value[:40]!r} is not a number") from None


class _Where:
    """What a URL says: the kind of deployment, the hosts, and the client options (TLS,
    credentials, database, timeouts)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ConfigurationError(
                f"a Redis store's URL starts with {', '.join(s + '://' for s in SCHEMES)}; "
                f"not {scheme or 'nothing'}"
            )
        self.scheme = scheme
        self.options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        for name, value in parse_qsl(parts.query):
            self.options[name] = _option(name, value)
        if parts.username:
            self.options["username"] = unquote(parts.username)
        if parts.password:
            self.options["password"] = unquote(parts.password)
        if scheme.startswith("rediss"):
            self.options["ssl"] = True
        self.service = ""
        self.hosts: list[tuple[str, int]] = []
        if scheme in CLUSTER_SCHEMES:
            self.hosts = _hosts(parts.netloc, 6379)
        elif scheme in SENTINEL_SCHEMES:
            self.hosts = _hosts(parts.netloc, 26379)
            path = [p for p in parts.path.split("/") if p]
            if not path:
                raise ConfigurationError(
                    "a redis+sentinel:// URL names the primary's service: …/mymaster[/db]"
                )
            self.service = unquote(path[0])
            if len(path) > 1:
                self.options["db"] = int(path[1])
        if self.scheme in CLUSTER_SCHEMES and not self.hosts:
            raise ConfigurationError("a redis+cluster:// URL names at least one node")


class _RedisTransaction:
    def __init__(self, store: RedisStore, key: str, owner: str) -> None:
        self._store, self._key, self._owner = store, key, owner

    def load(self) -> Entry | None:
        return self._store._load(self._key)

    def save(self, value: Stored, version: int | None) -> int:
        store = self._store
        with store._errors():
            result = store._write(*store._save_command(self._key, self._owner, value, version))
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
            result = await store._awrite(
                *store._save_command(self._key, self._owner, value, version)
            )
        return _saved(result, self._key)

    async def extend(self, seconds: float) -> None:
        store = self._store
        with store._errors():
            result = await store._aclient().eval(
                _EXTEND, 1, store._lock_key(self._key), self._owner, store._ttl_ms(seconds)
            )
        _extended(result, self._key)


class RedisStore(Reads, Sealing):
    """Tokens in Redis at ``url`` (see the module docstring for the forms it takes), under
    ``prefix``; ``lock_ttl`` bounds how long a dead holder keeps a key locked (a live one
    extends its lock while it renews); ``timeout`` bounds each socket operation. An
    application that configures Redis itself passes its own ``client`` (a ``redis.Redis``,
    ``RedisCluster`` or Sentinel ``master_for`` client) and ``async_client`` (their
    ``redis.asyncio`` twins) instead of a URL. ``replicas`` (default: 1 on a cluster or
    behind sentinels given by URL, else 0) and ``replica_timeout`` bound the wait for
    replicas after a lock or a token is written (see the module docstring). ``encryption``
    seals every entry (:mod:`oauthkit.stores.encryption`)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "oauthkit",
        lock_ttl: float = 30.0,
        timeout: float = 5.0,
        client: Any = None,
        async_client: Any = None,
        replicas: int | None = None,
        replica_timeout: float = 0.25,
        encryption: Encryption | None = None,
    ) -> None:
        self.encryption = encryption
        self._module = needed("RedisStore", "redis", "redis", "redis.asyncio")
        if url is None and client is None and async_client is None:
            url = "redis://127.0.0.1:6379/0"
        self.url = url
        self._where = _Where(url, timeout) if url is not None else None
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self._sync: Any = client
        self._async: Any = async_client
        self._owns = client is None, async_client is None
        errors: tuple[type[BaseException], ...] = (self._module.RedisError,)
        cluster_errors = getattr(self._module.exceptions, "RedisClusterException", None)
        if cluster_errors is not None:
            errors += (cluster_errors,)
        self._failures = errors
        replicated = self._where is not None and self._where.scheme not in (
            "redis",
            "rediss",
            "unix",
        )
        self.replicas = (1 if replicated else 0) if replicas is None else replicas
        self.replica_timeout = replica_timeout
        if (
            self.replicas
            and self._where is None
            and any(_is_cluster(c) for c in (client, async_client))
        ):
            raise ConfigurationError(
                "RedisStore(replicas=…) with a cluster client of the application's: give the "
                "store a redis+cluster:// URL instead (it then writes to each primary "
                "directly), or replicas=0"
            )
        self._nodes: dict[tuple[bool, str, int], Any] = {}

    # -- the clients ------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._sync is None:
            self._sync = self._make(sync=True)
        return self._sync

    def _aclient(self) -> Any:
        if self._async is None:
            self._async = self._make(sync=False)
        return self._async

    def _make(self, *, sync: bool) -> Any:
        where = self._where
        if where is None:
            colour = "async_client" if not sync else "client"
            raise ConfigurationError(
                f"this RedisStore was given its clients, but not {colour}=: pass it too (or a url)"
            )
        module = self._module if sync else self._module.asyncio
        options = dict(where.options)
        if where.scheme in CLUSTER_SCHEMES:
            cluster = module.cluster
            nodes = [cluster.ClusterNode(host, port) for host, port in where.hosts]
            options.pop("db", None)
            return cluster.RedisCluster(startup_nodes=nodes, **options)
        if where.scheme in SENTINEL_SCHEMES:
            sentinel = module.sentinel
            watchers = {k: v for k, v in options.items() if k.startswith("socket_")}
            watchers.update({k: v for k, v in options.items() if k.startswith("ssl")})
            return sentinel.Sentinel(where.hosts, sentinel_kwargs=watchers, **watchers).master_for(
                where.service, **options
            )
        client_class = self._module.Redis if sync else self._module.asyncio.Redis
        assert self.url is not None
        return client_class.from_url(
            self.url, socket_timeout=options["socket_timeout"],
            socket_connect_timeout=options["socket_connect_timeout"],
        )  # fmt: skip

    # -- writes that replicas must have --------------------------------------------------

    def _node(self, sync: bool, host: str, port: int) -> Any:
        """A plain client of one cluster node (made once), with the URL's options."""
        name = (sync, host, int(port))
        if name not in self._nodes:
            assert self._where is not None
            options = {k: v for k, v in self._where.options.items() if k != "db"}
            module = self._module if sync else self._module.asyncio
            self._nodes[name] = module.Redis(host=host, port=int(port), **options)
        return self._nodes[name]

    def _rerouted(self, exc: BaseException) -> bool:
        """A cluster node's ``MOVED`` or ``ASK`` answer (the key's slot is served elsewhere
        now), or a node that cannot be reached (it failed): the command then goes through the
        cluster client, which follows the redirect or finds the new primary."""
        if isinstance(exc, self._module.ConnectionError):
            return True
        return str(exc).startswith(("MOVED", "ASK"))

    def _wait_ms(self) -> int:
        return max(1, int(self.replica_timeout * 1000))

    def _write(self, slot_key: str, *command: Any) -> Any:
        """``command`` (which writes ``slot_key``) and then, when replicas must have it,
        ``WAIT`` on the same connection to the primary that holds the key. A redirect (the
        slot moved) or a node that cannot be reached (it failed) runs the command through the
        cluster client, which follows it and learns the new layout."""
        client = self._client()
        if not self.replicas:
            return client.execute_command(*command)
        target = client
        if _is_cluster(client):
            node = client.get_node_from_key(slot_key)
            target = self._node(True, node.host, node.port)
        try:
            with target.pipeline(transaction=False) as pipe:
                pipe.execute_command(*command)
                pipe.execute_command("WAIT", self.replicas, self._wait_ms())
                return pipe.execute()[0]
        except (self._module.ResponseError, self._module.ConnectionError) as exc:
            if target is client or not self._rerouted(exc):
                raise
            return client.execute_command(*command)

    async def _awrite(self, slot_key: str, *command: Any) -> Any:
        """The ``await`` twin of :meth:`_write`."""
        client = self._aclient()
        if not self.replicas:
            return await client.execute_command(*command)
        target = client
        if _is_cluster(client):
            await client.initialize()
            node = client.get_node_from_key(slot_key)
            target = self._node(False, node.host, node.port)
        try:
            async with target.pipeline(transaction=False) as pipe:
                pipe.execute_command(*command)
                pipe.execute_command("WAIT", self.replicas, self._wait_ms())
                return (await pipe.execute())[0]
        except (self._module.ResponseError, self._module.ConnectionError) as exc:
            if target is client or not self._rerouted(exc):
                raise
            return await client.execute_command(*command)

    def _tag(self, key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def _token_key(self, key: str) -> str:
        return f"{self.prefix}:{{{self._tag(key)}}}:token:{key}"

    def _lock_key(self, key: str) -> str:
        return f"{self.prefix}:{{{self._tag(key)}}}:lock:{key}"

    def _pending_key(self, handle: str) -> str:
        return f"{self.prefix}:pending:{handle}"

    def _pattern(self) -> str:
        return f"{self.prefix}:{{*}}:token:*"

    @staticmethod
    def _name(found: bytes) -> str:
        return found.decode().split("}:token:", 1)[1]

    @staticmethod
    def _ttl_ms(ttl: float) -> int:
        return max(1, int(ttl * 1000))

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._failures as exc:
            raise StoreError(
                f"the Redis store at {self._safe_url()} failed: {type(exc).__name__}: {exc}"
            ) from None

    def _safe_url(self) -> str:
        if self.url is None:
            return "the application's client"
        head, _, tail = self.url.rpartition("@")
        return f"{head.split('//')[0]}//…@{tail}" if head else self.url.split("?", 1)[0]

    def _save_command(
        self, key: str, owner: str, value: Stored, version: int | None
    ) -> tuple[Any, ...]:
        """The compare-and-set of a lock's holder (:data:`_SAVE`), to send to the key's
        primary: where to, then the command."""
        keys = (self._token_key(key), self._lock_key(key))
        expected = "" if version is None else str(version)
        sealed = self._encode_raw(key, value)
        return keys[0], "EVAL", _SAVE, 2, *keys, owner, expected, sealed

    def _entry(self, key: str, fields: dict[bytes, bytes]) -> Entry | None:
        if not fields or b"value" not in fields:
            return None
        return Entry(self._decode(key, fields[b"value"]), int(fields[b"version"]))

    # -- sync -------------------------------------------------------------------------------

    def _load(self, key: str) -> Entry | None:
        with self._errors():
            return self._entry(key, self._client().hgetall(self._token_key(key)))

    def _get(self, key: str) -> Stored | None:
        entry = self._load(key)
        return entry.value if entry else None

    def put(self, key: str, value: Stored) -> None:
        token_key = self._token_key(key)
        with self._errors():
            self._write(token_key, "EVAL", _PUT, 1, token_key, self._encode_raw(key, value))

    def delete(self, key: str) -> None:
        token_key = self._token_key(key)
        with self._errors():
            self._write(token_key, "DEL", token_key)

    def keys(self) -> list[str]:
        """Every key, from every primary of a cluster."""
        with self._errors():
            return sorted(self._name(k) for k in self._client().scan_iter(match=self._pattern()))

    def put_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """A web flow's record, with Redis's own expiry (``SET NX PX``)."""
        with self._errors():
            self._client().set(
                self._pending_key(handle),
                self._seal_raw(PENDING, handle, record),
                nx=True,
                px=self._ttl_ms(ttl),
            )

    def take_pending(self, handle: str) -> str | None:
        """``GETDEL``: atomic, so a replayed callback finds nothing."""
        with self._errors():
            found = self._client().getdel(self._pending_key(handle))
        return self._open_pending(handle, found) if found is not None else None

    @contextmanager
    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> Iterator[_RedisTransaction]:
        """Take ``key``'s lock (``SET NX PX``), waiting up to ``timeout`` seconds."""
        owner = secrets.token_hex(16)
        client, lock_key = self._client(), self._lock_key(key)
        ttl = int(self.lock_ttl * 1000)

        def take() -> bool:
            return bool(self._write(lock_key, "SET", lock_key, owner, "NX", "PX", ttl))

        with self._errors():
            wait_for(take, key, timeout)
        try:
            yield _RedisTransaction(self, key, owner)
        finally:

            def release() -> None:
                with self._errors():
                    client.eval(_RELEASE, 1, lock_key, owner)

            released(release, key)

    def migrate_keys(self) -> int:
        """Move every token written in the layout of versions before 0.1
        (``{prefix}:token:{key}``) to this one, keeping its version; a key already in the new
        layout is left as it is. Run it once, before the new version serves (the old keys are
        deleted); returns how many were moved."""
        client, moved = self._client(), 0
        old = f"{self.prefix}:token:"
        with self._errors():
            for found in list(client.scan_iter(match=old + "*")):
                key = found.decode()[len(old) :]
                fields = client.hgetall(found)
                if b"value" in fields:
                    version = fields.get(b"version", b"1")
                    args = (fields[b"value"], version)
                    moved += int(client.eval(_MOVE, 1, self._token_key(key), *args))
                client.delete(found)
        return moved

    # -- async ------------------------------------------------------------------------------

    async def _aload(self, key: str) -> Entry | None:
        with self._errors():
            return self._entry(key, await self._aclient().hgetall(self._token_key(key)))

    async def _aget(self, key: str) -> Stored | None:
        entry = await self._aload(key)
        return entry.value if entry else None

    async def aput(self, key: str, value: Stored) -> None:
        token_key = self._token_key(key)
        with self._errors():
            await self._awrite(token_key, "EVAL", _PUT, 1, token_key, self._encode_raw(key, value))

    async def adelete(self, key: str) -> None:
        token_key = self._token_key(key)
        with self._errors():
            await self._awrite(token_key, "DEL", token_key)

    async def akeys(self) -> list[str]:
        """The ``await`` twin of :meth:`keys`."""
        with self._errors():
            found = [k async for k in self._aclient().scan_iter(match=self._pattern())]
        return sorted(self._name(k) for k in found)

    async def aput_pending(self, handle: str, record: str, *, ttl: float) -> None:
        """The ``await`` twin of :meth:`put_pending`."""
        with self._errors():
            await self._aclient().set(
                self._pending_key(handle),
                self._seal_raw(PENDING, handle, record),
                nx=True,
                px=self._ttl_ms(ttl),
            )

    async def atake_pending(self, handle: str) -> str | None:
        """The ``await`` twin of :meth:`take_pending`."""
        with self._errors():
            found = await self._aclient().getdel(self._pending_key(handle))
        return self._open_pending(handle, found) if found is not None else None

    @asynccontextmanager
    async def alock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AsyncIterator[_AsyncRedisTransaction]:
        """The ``await`` twin of :meth:`lock`."""
        owner = secrets.token_hex(16)
        client, lock_key = self._aclient(), self._lock_key(key)
        ttl = int(self.lock_ttl * 1000)

        async def take() -> bool:
            return bool(await self._awrite(lock_key, "SET", lock_key, owner, "NX", "PX", ttl))

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
        """Close the synchronous connection pools (a client the application gave stays
        open)."""
        if self._sync is not None and self._owns[0]:
            self._sync.close()
        for (sync, *_), node in list(self._nodes.items()):
            if sync:
                node.close()

    async def aclose(self) -> None:
        """Close the asynchronous connection pools (a client the application gave stays
        open)."""
        if self._async is not None and self._owns[1]:
            await self._async.aclose()
        for (sync, *_), node in list(self._nodes.items()):
            if not sync:
                await node.aclose()

    def __repr__(self) -> str:
        return f"RedisStore({self._safe_url()!r}, prefix={self.prefix!r})"
