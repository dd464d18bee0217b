"""Stores on the engines users scale out to: a Redis Cluster (3 primaries, 3 replicas), a
primary and replica behind 3 sentinels, Redis over TLS, and PostgreSQL behind PgBouncer in
transaction pooling mode (SQLAlchemyStore with psycopg and asyncpg, DjangoStore) — one refresh
for 4 processes × 10 threads, 50 keys due at once, and a primary killed or the database
restarted in the middle of a run: typed errors only while it lasts, no call hanging, no
token lost, no refresh token sent twice (the token server detects reuse). The store contract
runs on each of them in ``test_contract.py``."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from oauthkit import AsyncOAuth2Client, Session, Token
from oauthkit.config.factories import open_store
from oauthkit.errors import ConfigurationError, StoreError
from oauthkit.stores import RedisStore, SQLAlchemyStore
from oauthkit.stores.base import encode
from peers.counting_server import CLIENT_ID, CLIENT_SECRET, CountingServer
from peers.pgbouncer import start_pgbouncer
from peers.postgres_server import start_postgres
from peers.redis_server import RedisPeer
from peers.redis_topologies import ClusterPeer, SentinelPeer, start_cluster, start_sentinel
from stores.test_session import KEY, _client, _client_args, _go, _seed_due, _start_workers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ENGINES = ["redis-cluster", "redis-sentinel", "sqlalchemy-pgbouncer", "django-pgbouncer"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A store on one engine, emptied, and how a worker process opens the same."""
    kind = request.param
    if kind.startswith("redis-"):
        peer = request.getfixturevalue(kind.replace("-", "_"))
        peer.flushall()
        store = RedisStore(peer.url)
        yield store, {"store": "redis", "location": peer.url}
        store.close()
    elif kind == "sqlalchemy-pgbouncer":
        url = request.getfixturevalue("pgbouncer").url()
        table = "t_" + secrets.token_hex(6)
        db_store = SQLAlchemyStore(url, table_name=table)
        yield db_store, {"store": "sqlalchemy", "location": url, "table": table}
        db_store.dispose()
    else:
        databases = request.getfixturevalue("django_databases")
        yield (
            _django_store("pgbouncer"),
            {
                "store": "django",
                "location": "pgbouncer",
                "databases": databases,
            },
        )


def _django_store(alias: str) -> Any:
    """A DjangoStore on ``alias``, its table emptied (in a thread: an async test's event loop
    refuses the ORM)."""
    from concurrent.futures import ThreadPoolExecutor

    from oauthkit.web.django.models import StoredEntry
    from oauthkit.web.django.store import DjangoStore

    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: StoredEntry.objects.using(alias).all().delete()).result()
    return DjangoStore(alias)


# ------------------------------------------------------------------------ one refresh


def test_four_processes_ten_threads_one_refresh(
    counting_server: CountingServer, engine: tuple[Any, dict[str, Any]]
) -> None:
    store, opened = engine
    _seed_due(counting_server, store)
    counting_server.set(token_delay=0.1)
    config = {**opened, "key": KEY, "client": _client_args(counting_server)}
    config.update(api=counting_server.api_url, threads=10, calls=3, mode="requests")
    results = _go(_start_workers(4, config))
    assert [r["errors"] for r in results] == [[]] * 4
    assert [r["statuses"] for r in results] == [[200] * 30] * 4
    assert counting_server.counts["refresh_token"] == 1
    assert counting_server.counts["invalid_grant"] == 0


def test_fifty_keys_due_at_once(
    counting_server: CountingServer, engine: tuple[Any, dict[str, Any]]
) -> None:
    """50 users whose tokens are all due, renewed by 4 processes × 4 threads each: every
    token refreshed exactly once (on a cluster the keys live on every primary)."""
    store, opened = engine
    keys = [f"user:{n}:counting" for n in range(50)]
    for key in keys:
        _seed_due(counting_server, store, key)
    config = {**opened, "key": KEY, "keys": keys, "client": _client_args(counting_server)}
    results = _go(_start_workers(4, {**config, "mode": "users", "threads": 4}))
    assert [r["errors"] for r in results] == [[]] * 4
    assert sum(r["tokens"] for r in results) == 4 * 4 * len(keys)
    assert counting_server.counts["refresh_token"] == len(keys)
    assert counting_server.counts["invalid_grant"] == 0


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_fifty_tasks_one_refresh_behind_pgbouncer(
    counting_server: CountingServer, pgbouncer: Any, driver: str
) -> None:
    """The async drivers through the pooler: no prepared statement outlives its transaction
    (149 of 600 rounds failed before, reported as a missing table)."""
    import anyio

    store = SQLAlchemyStore(pgbouncer.url(driver), table_name="t_" + secrets.token_hex(6))
    await store.acreate_table()
    _seed_due(counting_server, store)  # through the store's sync twin (psycopg)
    got: list[str] = []
    async with AsyncOAuth2Client(
        CLIENT_ID, CLIENT_SECRET, token_endpoint=counting_server.token_endpoint
    ) as client:

        async def renew() -> None:
            got.append((await Session(client, store, KEY).atoken()).access_token)

        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(renew)
    assert len(set(got)) == 1 and len(got) == 50
    assert counting_server.counts["refresh_token"] == 1
    for n in range(100):  # many rounds on few pooled server connections
        await store.aput(f"k{n % 7}", Token(f"t{n}"))
        assert (await store.aget(f"k{n % 7}", Token)) == Token(f"t{n}")
    await store.adispose()


# ------------------------------------------------------------------ Redis: the forms


def test_cluster_keys_live_on_every_primary_and_keys_finds_them_all(
    redis_cluster: ClusterPeer,
) -> None:
    redis_cluster.flushall()
    store = RedisStore(redis_cluster.url)
    names = [f"user:{n}:github" for n in range(60)]
    for name in names:
        store.put(name, Token(name))
    with redis_cluster.client() as client:
        per_primary = {n.name: n.redis_connection.dbsize() for n in client.get_primaries()}
        slots = {
            client.keyslot(store._token_key(n)) == client.keyslot(store._lock_key(n)) for n in names
        }
    assert len(per_primary) == 3 and all(count > 0 for count in per_primary.values())
    assert slots == {True}  # a token and its lock share one slot: one script touches both
    assert store.keys() == sorted(names)
    store.close()


async def test_cluster_from_async_code(redis_cluster: ClusterPeer) -> None:
    redis_cluster.flushall()
    store = RedisStore(redis_cluster.url)
    names = [f"user:{n}:x" for n in range(30)]
    for name in names:
        await store.aput(name, Token(name))
    assert await store.akeys() == sorted(names)
    async with store.alock(names[0]) as transaction:
        entry = await transaction.load()
        assert entry is not None
        await transaction.save(Token("renewed"), entry.version)
    assert await store.aget(names[0], Token) == Token("renewed")
    await store.adelete(names[0])
    assert await store.aget(names[0]) is None
    await store.aclose()


def test_keys_of_the_old_layout_are_moved_once(redis_url: str, redis_server: RedisPeer) -> None:
    """Versions before the hash-tagged layout kept ``{prefix}:token:{key}``:
    ``migrate_keys()`` moves each (its version kept), leaves nothing behind, and moves
    nothing the second time."""
    with redis_server.client() as raw:
        raw.hset(
            "oauthkit:token:user:1:github", mapping={"value": encode(Token("old")), "version": 7}
        )
        raw.hset(
            "oauthkit:token:user:2:github", mapping={"value": encode(Token("two")), "version": 1}
        )
        raw.set("oauthkit:lock:user:1:github", "a dead holder")
    store = RedisStore(redis_url)
    store.put("user:2:github", Token("newer"))  # already in the new layout: kept
    assert store.migrate_keys() == 1
    assert store.get("user:1:github", Token) == Token("old")
    assert store.get("user:2:github", Token) == Token("newer")
    with store.lock("user:1:github", timeout=1) as transaction:
        entry = transaction.load()
        assert entry is not None and entry.version == 7
        transaction.save(Token("renewed"), entry.version)
    with redis_server.client() as raw:
        assert raw.keys("oauthkit:token:*") == []
    assert store.migrate_keys() == 0
    assert store.keys() == ["user:1:github", "user:2:github"]
    store.close()


async def test_the_applications_own_clients(redis_url: str, redis_cluster: ClusterPeer) -> None:
    import redis
    import redis.asyncio

    client = redis.Redis.from_url(redis_url)
    async_client = redis.asyncio.Redis.from_url(redis_url)
    store = RedisStore(client=client, async_client=async_client)
    store.put("k", Token("a"))
    assert await store.aget("k", Token) == Token("a")
    store.close()
    await store.aclose()
    assert client.ping() and await async_client.ping()  # the app's clients stay open
    assert "application" in repr(store)
    only_sync = RedisStore(client=client)
    with pytest.raises(ConfigurationError, match="async_client"):
        await only_sync.aget("k")
    with redis_cluster.client() as cluster:
        assert RedisStore(client=cluster).get("k") is None
        with pytest.raises(ConfigurationError, match="redis\\+cluster://"):
            RedisStore(client=cluster, replicas=1)
    client.close()
    await async_client.aclose()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("memcached://127.0.0.1:1", "starts with"),
        ("redis+sentinel://127.0.0.1:26379", "service"),
        ("redis+cluster://127.0.0.1:x", "host:port"),
        ("redis+cluster://127.0.0.1:7000?socket_timeout=soon", "not a number"),
    ],
)
def test_a_wrong_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        RedisStore(url)


def test_a_clusters_url_options_are_typed() -> None:
    store = RedisStore("rediss+cluster://a:7000,b:7001?socket_timeout=2&ssl_ca_certs=/ca.pem")
    assert store._where is not None
    assert store._where.hosts == [("a", 7000), ("b", 7001)]
    assert store._where.options["socket_timeout"] == 2.0
    assert store._where.options["ssl"] is True
    assert store._where.options["ssl_ca_certs"] == "/ca.pem"
    sentinel = RedisStore("redis+sentinel://s1,s2:26380/mymaster/3")
    assert sentinel._where is not None
    assert sentinel._where.hosts == [("s1", 26379), ("s2", 26380)]
    assert (sentinel._where.service, sentinel._where.options["db"]) == ("mymaster", 3)


def test_the_configuration_takes_every_form(
    redis_cluster: ClusterPeer, redis_sentinel: SentinelPeer, redis_tls: RedisPeer
) -> None:
    for peer in (redis_cluster, redis_sentinel, redis_tls):
        peer.flushall()
        store = open_store(peer.url)
        assert isinstance(store, RedisStore)
        store.put("user:1:x", Token("a"))
        assert store.get("user:1:x", Token) == Token("a")
        store.close()


def test_tls_checks_the_servers_certificate(redis_tls: RedisPeer) -> None:
    """Without the private CA the server's certificate is refused: a StoreError, no hang."""
    store = RedisStore(redis_tls.url.split("?", 1)[0], timeout=2)
    started = time.monotonic()
    with pytest.raises(StoreError, match="certificate"):
        store.get("k")
    assert time.monotonic() - started < 5


def test_writes_wait_for_a_replica_and_stand_without_one() -> None:
    """Behind sentinels a lock or a token written is on the replica before the call returns;
    a replica that is stopped delays a write by ``replica_timeout`` only."""
    import os
    import signal

    peer = start_sentinel()
    try:
        store = RedisStore(peer.url, replica_timeout=0.5)
        replica = peer.replica if peer.replica.port != peer.master_port() else peer.primary
        with replica.client() as raw:
            for n in range(20):
                store.put(f"k{n}", Token(f"t{n}"))
                assert raw.hget(store._token_key(f"k{n}"), "value") is not None
        os.kill(replica.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            store.put("stalled", Token("x"))
            waited = time.monotonic() - started
        finally:
            os.kill(replica.process.pid, signal.SIGCONT)
        assert 0.4 < waited < 3
        assert store.get("stalled", Token) == Token("x")
        store.close()
    finally:
        peer.stop()


# ------------------------------------------------------------------- faults mid-run


def _run_through(
    counting_server: CountingServer,
    store: Any,
    opened: dict[str, Any],
    fault: Any,
    *,
    processes: int = 4,
    threads: int = 5,
) -> list[dict[str, Any]]:
    """Workers call the API for ~8 s on tokens that live 3 s (so several renewals happen),
    while ``fault()`` runs half way; then the outcome a user relies on: no reuse of a
    refresh token, the grant alive, a call that works afterwards with no sign-in, failures
    only typed ones, and no call that hung."""
    counting_server.set(access_ttl=3, rotate=True, reuse_detection=True, token_delay=0.05)
    token = _seed_due(counting_server, store)
    config = {**opened, "key": KEY, "client": _client_args(counting_server)}
    config.update(api=counting_server.api_url, threads=threads, calls=40, pause=0.2, leeway=1)
    workers = _start_workers(processes, {**config, "mode": "requests"})
    faulted = threading.Timer(3.0, fault)
    faulted.start()
    try:
        results = _go(workers)
    finally:
        faulted.join()
    assert counting_server.counts["invalid_grant"] == 0, "a refresh token was sent twice"
    assert counting_server.family_active(counting_server.family_of(token.access_token))
    with _client(counting_server) as client:
        after = Session(client, store, KEY).token()
    assert counting_server.family_of(after.access_token) == counting_server.family_of(
        token.access_token
    )
    for result in results:
        for error in result["errors"]:
            assert error.startswith(("StoreError", "LockTimeout")), error
        assert max(result["seconds"]) < 20, "a call hung"
    calls = sum(len(r["statuses"]) for r in results)
    assert calls >= processes * threads * 40 * 0.5
    return results


def test_a_cluster_primary_killed_mid_run(counting_server: CountingServer) -> None:
    peer = start_cluster()
    try:
        store = RedisStore(peer.url)
        _run_through(
            counting_server,
            store,
            {"store": "redis", "location": peer.url},
            lambda: peer.kill_primary_of(store._token_key(KEY)),
        )
        store.close()
    finally:
        peer.stop()


def test_a_sentinel_primary_killed_mid_run(counting_server: CountingServer) -> None:
    peer = start_sentinel()
    try:
        store = RedisStore(peer.url)
        _run_through(
            counting_server, store, {"store": "redis", "location": peer.url}, peer.kill_primary
        )
        store.close()
    finally:
        peer.stop()


@pytest.mark.parametrize("path", ["direct", "pgbouncer"])
def test_postgres_restarted_mid_run(counting_server: CountingServer, path: str) -> None:
    server = start_postgres()
    pooler = start_pgbouncer(server) if path == "pgbouncer" else None
    try:
        url = (pooler or server).url()
        table = "t_" + secrets.token_hex(6)
        store = SQLAlchemyStore(url, table_name=table)
        opened = {"store": "sqlalchemy", "location": url, "table": table}
        _run_through(counting_server, store, opened, server.restart)
        store.dispose()
    finally:
        if pooler is not None:
            pooler.stop()
        server.stop()


@pytest.mark.parametrize("alias", ["postgres", "pgbouncer"])
def test_django_store_through_a_postgres_restart(
    counting_server: CountingServer, django_databases: dict[str, Any], postgres: Any, alias: str
) -> None:
    store = _django_store(alias)
    opened = {"store": "django", "location": alias, "databases": django_databases}
    _run_through(counting_server, store, opened, postgres.restart, processes=2)
