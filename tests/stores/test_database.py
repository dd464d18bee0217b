"""The application's own database as the token store (SQLAlchemyStore and DjangoStore, each
on a real PostgreSQL and on an SQLite file): one refresh per expiry for 4 processes × 10 threads against
oidc-provider with rotation and reuse detection, kill -9 at random points, a slow token
endpoint that delays only its own key, leases that run out, the engine's pool respected, an
index for every lookup, and the async drivers (psycopg, asyncpg, aiosqlite)."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from oauthkit import OAuth2Client, Session, Token
from oauthkit.errors import ReauthenticationRequired, StoreConflict, StoreError
from oauthkit.stores import SQLAlchemyStore
from peers.counting_server import CountingServer
from peers.oidc_provider import BASIC_SECRET, OIDCPeer
from peers.postgres_server import PostgresPeer
from stores.test_session import (
    KEY,
    WORKER,
    _client,
    _client_args,
    _go,
    _seed_due,
    _start_workers,
    oidc_token,  # noqa: F401 - a fixture
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

DATABASES = ["postgres", "sqlite"]


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL: the session's PostgreSQL, or an SQLite file of this test."""
    if request.param == "postgres":
        peer: PostgresPeer = request.getfixturevalue("postgres")
        return peer.url()
    return f"sqlite:///{tmp_path / 'app.sqlite3'}"


@pytest.fixture
def table() -> str:
    return "t_" + secrets.token_hex(6)


@pytest.fixture
def store(database: str, table: str) -> Iterator[SQLAlchemyStore]:
    db_store = SQLAlchemyStore(database, table_name=table)
    db_store.create_table()
    yield db_store
    db_store.dispose()


KINDS = ["sqlalchemy-postgres", "sqlalchemy-sqlite", "django-postgres", "django-sqlite"]


@pytest.fixture(params=KINDS)
def shared(request: pytest.FixtureRequest, tmp_path: Path, table: str) -> Iterator[Any]:
    """A store of either kind on either database, and how a worker process opens the same:
    ``(store, worker config)``."""
    kind, database_kind = request.param.split("-")
    if kind == "django":
        databases = request.getfixturevalue("django_databases")
        from concurrent.futures import ThreadPoolExecutor

        from oauthkit.web.django.models import StoredEntry
        from oauthkit.web.django.store import DjangoStore

        with ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: StoredEntry.objects.using(database_kind).all().delete()).result()
        config = {"store": "django", "location": database_kind, "databases": databases}
        yield DjangoStore(database_kind), {**config, "key": KEY}
        return
    if database_kind == "postgres":
        url = request.getfixturevalue("postgres").url()
    else:
        url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    db_store = SQLAlchemyStore(url, table_name=table)
    db_store.create_table()
    yield db_store, {"store": "sqlalchemy", "location": url, "table": table, "key": KEY}
    db_store.dispose()


def test_four_processes_ten_threads_against_oidc_provider(
    oidc_provider: OIDCPeer,
    oidc_token: tuple[OAuth2Client, Token],  # noqa: F811
    shared: tuple[Any, dict[str, Any]],
) -> None:
    store, base = shared
    _, token = oidc_token
    store.put(KEY, token)
    oidc_provider.reset_log()
    client = {"client_id": "basic", "client_secret": BASIC_SECRET, "issuer": oidc_provider.issuer}
    config = {**base, "client": client, "api": oidc_provider.userinfo_endpoint}
    config.update(threads=10, calls=3)
    results = _go(_start_workers(4, {**config, "mode": "requests"}))
    for result in results:
        assert result["errors"] == []
        assert result["statuses"] == [200] * 30
    posts = [
        1 for method, path in oidc_provider.request_log if (method, path) == ("POST", "/token")
    ]
    assert len(posts) == 1


def test_startproject_sqlite_many_users_due_at_once_four_processes(
    counting_server: CountingServer, django_databases: dict[str, Any]
) -> None:
    """Django's default SQLite settings (no OPTIONS), 4 processes × 4 threads, 30 users whose
    tokens are all due: each token refreshed exactly once, no "database is locked", no
    rotated refresh token lost (it was: 4 of 4 users had to reconnect)."""
    from concurrent.futures import ThreadPoolExecutor

    from oauthkit.web.django.models import StoredEntry
    from oauthkit.web.django.store import DjangoStore

    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: StoredEntry.objects.using("sqlite").all().delete()).result()
    assert not django_databases["sqlite"].get("OPTIONS")  # startproject's: none
    store = DjangoStore("sqlite")
    keys = [f"user:{n}:counting" for n in range(30)]
    counting_server.set(rotate=True, reuse_detection=True, token_delay=0)
    for key in keys:
        _seed_due(counting_server, store, key)
    config = {
        "store": "django",
        "location": "sqlite",
        "databases": django_databases,
        "key": KEY,
        "keys": keys,
        "client": _client_args(counting_server),
        "mode": "users",
        "threads": 4,
    }
    results = _go(_start_workers(4, config))
    assert [r["errors"] for r in results] == [[]] * 4
    assert sum(r["tokens"] for r in results) == 4 * 4 * len(keys)
    assert counting_server.counts["refresh_token"] == len(keys)
    assert counting_server.counts["invalid_grant"] == 0


def test_startproject_sqlite_store_operations_from_four_processes(
    django_databases: dict[str, Any],
) -> None:
    """The store's own operations — a lease, a read, a compare-and-set, a pending flow put and
    taken — as fast as 4 processes can run them on Django's default SQLite settings: none
    fails with "database is locked" (a third of them did before the store began its write
    transactions with BEGIN IMMEDIATE)."""
    config = {
        "store": "django",
        "location": "sqlite",
        "databases": django_databases,
        "key": KEY,
        "keys": [f"churn:{n}" for n in range(8)],
        "mode": "churn",
        "cycles": 60,
    }
    results = _go(_start_workers(4, config))
    assert [r["errors"] for r in results] == [[]] * 4


def test_kill_9_during_refresh_never_loses_the_refresh_token(
    counting_server: CountingServer, shared: tuple[Any, dict[str, Any]]
) -> None:
    """As for the SQLite file: kill a refreshing process at random moments, 20 times; the
    store then yields a working token or asks for a new sign-in, and the window where the
    server rotated but the process died is hit."""
    counting_server.set(token_delay=0.15)
    store, base = shared
    rng = random.Random(7591)
    outcomes = {"worked": 0, "sign_in_again": 0, "rotation_lost": 0}
    config = {**base, "client": _client_args(counting_server), "mode": "token"}
    with _client(counting_server) as client:
        for _ in range(20):
            _seed_due(counting_server, store)
            before = counting_server.counts["refresh_ok"]
            worker = _start_workers(1, config)[0]
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
            time.sleep(rng.uniform(0.0, 0.4))
            os.kill(worker.pid, signal.SIGKILL)
            worker.communicate(timeout=10)
            stored = store.get(KEY, Token)
            assert stored is not None
            rotated = counting_server.counts["refresh_ok"] > before
            if rotated and not counting_server.refresh_token_active(stored.refresh_token or ""):
                outcomes["rotation_lost"] += 1
            # A killed holder's lease stays until it runs out (test_a_dead_holders_lease_runs_out
            # waits for a short one); here it is removed, as its running out would.
            _drop_leases(store)
            try:
                token = Session(client, store, KEY).token()
            except ReauthenticationRequired:
                outcomes["sign_in_again"] += 1
                continue
            response = httpx2.get(
                counting_server.api_url, headers={"Authorization": f"Bearer {token.access_token}"}
            )
            assert response.status_code == 200, "a token that does not work was handed out"
            outcomes["worked"] += 1
    assert outcomes["worked"] + outcomes["sign_in_again"] == 20
    assert outcomes["rotation_lost"] >= 1, outcomes
    assert outcomes["sign_in_again"] >= outcomes["rotation_lost"]


def _drop_leases(store: Any) -> None:
    if isinstance(store, SQLAlchemyStore):
        import sqlalchemy as sa

        with store._sync().begin() as connection:
            connection.execute(sa.delete(store.table).where(store.table.c.kind == "lease"))
    else:
        store._do(lambda: store._rows().filter(kind="lease").delete())


def test_a_dead_holders_lease_runs_out(
    counting_server: CountingServer, shared: tuple[Any, dict[str, Any]]
) -> None:
    store, base = shared
    _seed_due(counting_server, store)
    config = {**base, "mode": "hold", "lease_seconds": 1.0}
    holder = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(config)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with _client(counting_server) as client:
        token = Session(client, store, KEY, lock_timeout=10).token()
    assert 0.2 < time.monotonic() - started < 5  # waited for the lease, not forever
    assert counting_server.counts["refresh_token"] == 1
    assert token.access_token


def test_a_lease_that_ran_out_cannot_write(shared: tuple[Any, dict[str, Any]]) -> None:
    store, _ = shared
    store.lease_seconds = 0.3
    store.put("k", Token("first"))
    with store.lock("k", timeout=5) as slow:
        entry = slow.load()
        assert entry is not None
        time.sleep(0.5)
        with store.lock("k", timeout=2) as fast:  # the lease ran out: taken over
            fast.save(Token("second"), entry.version)
        with pytest.raises(StoreConflict, match="lease"):
            slow.save(Token("stale"), entry.version)
    assert store.get("k", Token) == Token("second")


def test_a_slow_token_endpoint_delays_only_its_own_key(
    counting_server: CountingServer, shared: tuple[Any, dict[str, Any]]
) -> None:
    store, _ = shared
    _seed_due(counting_server, store, "slow")
    store.put("other", Token("other-0", refresh_token="r"))
    counting_server.set(token_delay=3.0)
    done = threading.Event()

    def renew_slowly() -> None:
        with _client(counting_server) as client:
            Session(client, store, "slow").token()
        done.set()

    thread = threading.Thread(target=renew_slowly)
    thread.start()
    try:
        time.sleep(0.5)
        assert not done.is_set()
        started = time.monotonic()
        for i in range(20):
            store.put("other", Token(f"other-{i}", refresh_token="r"))
            assert store.get("other", Token) == Token(f"other-{i}", refresh_token="r")
        with store.lock("another", timeout=1) as txn:
            txn.save(Token("another"), None)
        assert time.monotonic() - started < 1.5, "other keys waited for the slow renewal"
        assert not done.is_set()
    finally:
        thread.join(15)
    assert done.is_set()
    assert counting_server.counts["refresh_ok"] == 1


def test_the_engines_pool_is_respected(database: str, table: str) -> None:
    """Two pooled connections serve 20 threads: each operation returns its connection at
    once, so no thread waits for the pool's timeout."""
    import sqlalchemy as sa

    engine = sa.create_engine(database, pool_size=2, max_overflow=0, pool_timeout=5)
    db_store = SQLAlchemyStore(engine, table_name=table)
    db_store.create_table()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                db_store.put(f"user:{n}", Token(f"t{n}-{i}"))
                assert db_store.get(f"user:{n}", Token) == Token(f"t{n}-{i}")
                with db_store.lock(f"user:{n}", timeout=10) as txn:
                    entry = txn.load()
                    assert entry is not None
                    txn.save(Token(f"t{n}-{i}-locked"), entry.version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert engine.pool.checkedout() == 0
    engine.dispose()


def test_lookups_use_the_primary_key_index(postgres: PostgresPeer, table: str) -> None:
    import sqlalchemy as sa

    db_store = SQLAlchemyStore(postgres.url(), table_name=table)
    db_store.create_table()
    with db_store._sync().begin() as connection:
        connection.execute(
            sa.insert(db_store.table),
            [
                {"kind": "token", "key": f"user:{i}:x", "data": "{}", "version": 1}
                for i in range(20000)
            ],
        )
        connection.execute(sa.text(f"ANALYZE {table}"))
        plans = {
            what: "\n".join(row[0] for row in connection.execute(sa.text(f"EXPLAIN {statement}")))
            for what, statement in {
                "read": f"SELECT data, version FROM {table} WHERE kind = 'token' AND key = 'user:5:x'",
                "take": f"DELETE FROM {table} WHERE kind = 'pending' AND key = 'h'",
                "purge": f"DELETE FROM {table} WHERE kind = 'pending' AND expires_at <= 1",
            }.items()
        }
    for what, plan in plans.items():
        assert "Seq Scan" not in plan, (what, plan)
    db_store.dispose()


@pytest.mark.parametrize("query", ["", "?prepare_threshold=1"], ids=["pooler-safe", "prepared"])
def test_prepared_statements_only_when_the_url_asks(
    postgres: PostgresPeer, table: str, query: str
) -> None:
    """Behind a transaction-pooling PgBouncer nothing may be prepared, so a store made from a
    URL prepares nothing; with no pooler in front the URL may let psycopg prepare."""
    db_store = SQLAlchemyStore(postgres.url() + query, table_name=table)
    db_store.create_table()
    db_store.put("k", Token("t"))
    for _ in range(4):
        assert db_store.get("k") == Token("t")
    pooled = db_store._sync().raw_connection()
    try:
        cursor = pooled.driver_connection.execute("SELECT count(*) FROM pg_prepared_statements")
        prepared = cursor.fetchone()[0]
    finally:
        pooled.close()
    assert (prepared > 0) is bool(query)
    db_store.dispose()


def test_a_prepare_threshold_that_is_not_a_number_is_named() -> None:
    from oauthkit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"prepare_threshold= takes a whole number"):
        SQLAlchemyStore("postgresql+psycopg://app@127.0.0.1:1/app?prepare_threshold=many")


def test_schema_and_table_name_are_the_apps_choice(postgres: PostgresPeer, table: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres.url())
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS s_{table}"))
    db_store = SQLAlchemyStore(engine, schema=f"s_{table}", table_name="tokens")
    db_store.create_table()
    db_store.create_table()  # idempotent
    db_store.put("k", Token("a"))
    with engine.connect() as connection:
        rows = connection.execute(sa.text(f"SELECT key FROM s_{table}.tokens")).fetchall()
    assert [r[0] for r in rows] == ["k"]
    engine.dispose()


def test_workers_starting_together_each_create_the_table(postgres: PostgresPeer) -> None:
    """An application's workers boot at once and each calls create_table(): CREATE TABLE is
    not atomic with the check for it, and the losers used to fail (IntegrityError or
    'already exists'), which killed gunicorn workers at boot now and then."""
    code = "import sys; from oauthkit.stores import SQLAlchemyStore; SQLAlchemyStore(sys.argv[1]).create_table()"
    for round in range(4):
        url = postgres.create_database(f"boot_{secrets.token_hex(4)}_{round}")
        workers = [
            subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
            for _ in range(8)
        ]
        failures = [err for err in (w.communicate(timeout=60)[1] for w in workers) if err.strip()]
        assert [w.returncode for w in workers] == [0] * 8, failures[:1]


def test_a_missing_table_is_a_clear_error(database: str) -> None:
    """For a team that makes its schema itself (create_missing=False): the error names the
    way to make it."""
    db_store = SQLAlchemyStore(database, table_name="never_created", create_missing=False)
    with pytest.raises(StoreError, match=r"does not exist: call store\.create_table"):
        db_store.get("k")
    db_store.dispose()


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_async_engines_on_postgres(postgres: PostgresPeer, table: str, driver: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(postgres.url(driver))
    db_store = SQLAlchemyStore(engine, table_name=table)
    await db_store.acreate_table()
    await db_store.aput("k", Token("a", refresh_token="r"))
    assert await db_store.aget("k", Token) == Token("a", refresh_token="r")
    assert db_store.get("k", Token) == Token("a", refresh_token="r")  # the sync twin engine
    async with db_store.alock("k") as txn:
        entry = await txn.load()
        assert entry is not None
        assert await txn.save(Token("b"), entry.version) == entry.version + 1
    await db_store.aput_pending("h", "r", ttl=60)
    assert await db_store.atake_pending("h") == "r"
    assert await db_store.atake_pending("h") is None
    assert await db_store.akeys() == ["k"]
    await db_store.adispose()
    db_store.dispose()


async def test_aiosqlite(tmp_path: Path, table: str) -> None:
    db_store = SQLAlchemyStore(f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}", table_name=table)
    await db_store.acreate_table()
    await db_store.aput("k", Token("a"))
    assert db_store.get("k", Token) == Token("a")
    assert await db_store.aget("k", Token) == Token("a")
    await db_store.adispose()


def test_repr_hides_the_password(postgres: PostgresPeer) -> None:
    db_store = SQLAlchemyStore(postgres.url().replace("oauthkit@", "oauthkit:hunter2@"))
    assert "hunter2" not in repr(db_store)


def test_a_failed_write_keeps_no_token_in_the_error(store: SQLAlchemyStore) -> None:
    """The driver's error names the statement's parameters (a token's record): the store's
    error shows no secret and does not chain it."""
    import sqlalchemy as sa

    with store._sync().begin() as connection:
        connection.execute(sa.text(f"DROP TABLE {store.table.name}"))
        connection.execute(sa.text(f"CREATE TABLE {store.table.name} (kind TEXT)"))
    with pytest.raises(StoreError) as caught:
        store.put("k", Token("secret-access-token", refresh_token="secret-refresh-token"))
    assert "secret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
