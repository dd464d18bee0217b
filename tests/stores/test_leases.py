"""Leases outlive renewals, and a token the provider issued is never dropped: every store with
an expiring lease (a real SQLite file, redis-server, SQLAlchemy and Django on PostgreSQL and
SQLite) against our counting token server; faults are real (a PostgreSQL restart in the middle
of a renewal, another SQLite connection holding the write lock)."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from oauthkit import Session, Token
from oauthkit.errors import LockTimeout, StoreConflict, StoreError
from oauthkit.stores import RedisStore, SQLiteStore
from peers.counting_server import CountingServer
from peers.postgres_server import start_postgres
from stores.test_session import KEY, _client, _seed_due

pytestmark = pytest.mark.slow

#: Stores whose lease runs out by itself (a thread lock or a file lock lasts as its holder).
LEASED = ["sqlite", "redis", "sqlalchemy-postgres", "sqlalchemy-sqlite", "django-sqlite"]


def leased_store(request: pytest.FixtureRequest, tmp_path: Path, kind: str, lease: float) -> Any:
    """A store of ``kind`` whose leases last ``lease`` seconds unless extended."""
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "tokens.sqlite3", lease_seconds=lease)
    if kind == "redis":
        return RedisStore(request.getfixturevalue("redis_url"), lock_ttl=lease)
    if kind.startswith("django-"):
        request.getfixturevalue("django_databases")
        from oauthkit.web.django.models import StoredEntry
        from oauthkit.web.django.store import DjangoStore

        alias = kind.removeprefix("django-")
        with ThreadPoolExecutor(1) as pool:  # the ORM refuses to run where a loop runs
            pool.submit(lambda: StoredEntry.objects.using(alias).all().delete()).result()
        return DjangoStore(alias, lease_seconds=lease)
    from oauthkit.stores import SQLAlchemyStore

    if kind == "sqlalchemy-postgres":
        url = request.getfixturevalue("postgres").url()
    else:
        url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    store = SQLAlchemyStore(url, table_name="t_" + secrets.token_hex(6), lease_seconds=lease)
    store.create_table()
    return store


@pytest.fixture(params=LEASED)
def short_lease(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A store whose leases last 0.4 s unless their holder extends them."""
    return leased_store(request, tmp_path, request.param, 0.4)


def test_an_extended_lease_keeps_other_holders_out_past_its_term(short_lease: Any) -> None:
    with short_lease.lock("k", timeout=1) as holder:
        holder.extend(5)
        time.sleep(0.8)  # twice the lease's own term
        with pytest.raises(LockTimeout):
            with short_lease.lock("k", timeout=0.3):
                pass
        holder.save(Token("mine"), None)
    assert short_lease.get("k", Token) == Token("mine")


def test_a_lease_taken_over_cannot_be_extended(short_lease: Any) -> None:
    with short_lease.lock("k", timeout=1) as slow:
        time.sleep(0.6)  # the lease runs out while its holder "waits for a server"
        with short_lease.lock("k", timeout=1) as fast:
            fast.extend(5)
            with pytest.raises(StoreConflict):
                slow.extend(5)  # a renewal stops here, before sending anything


def test_a_renewal_slower_than_the_lease_is_made_once(
    short_lease: Any, counting_server: CountingServer
) -> None:
    """Two workers (two sessions, as two processes have) meet a due token; the token endpoint
    answers after 1.5 s, almost four times the store's lease: the first worker's lease was
    extended before it sent the refresh, so the second waits for its answer instead of
    sending the same refresh token."""
    counting_server.set(rotate=True, reuse_detection=True, token_delay=1.5)
    _seed_due(counting_server, short_lease)
    with _client(counting_server) as client, ThreadPoolExecutor(2) as pool:
        sessions = [Session(client, short_lease, KEY) for _ in range(2)]
        tokens = list(pool.map(lambda s: s.token(), sessions))
    assert counting_server.counts["refresh_token"] == 1
    assert tokens[0] == tokens[1]
    assert short_lease.get(KEY, Token) == tokens[0]


def test_a_holder_whose_lease_ran_out_sends_nothing(
    tmp_path: Path, counting_server: CountingServer
) -> None:
    """The lease runs out between the holder's read and its refresh (its process stalled);
    another holder takes the key. The stalled holder's refresh is stopped before it is sent:
    the server sees no request."""

    class Stalling(SQLiteStore):
        def lock(self, key: str, **kwargs: Any) -> Any:
            inner = super().lock(key, **kwargs)
            store = self

            class Stalled:
                def __enter__(self) -> Any:
                    transaction = inner.__enter__()
                    load = transaction.load

                    def stalled_load() -> Any:
                        entry = load()
                        time.sleep(0.6)
                        with store.lock(key, timeout=1):  # someone else, meanwhile
                            pass
                        return entry

                    transaction.load = stalled_load
                    return transaction

                def __exit__(self, *exc: Any) -> Any:
                    return inner.__exit__(*exc)

            return Stalled()

    store = Stalling(tmp_path / "tokens.sqlite3", lease_seconds=0.3)
    _seed_due(counting_server, store)
    with _client(counting_server) as client:
        with pytest.raises(StoreConflict, match="ran out"):
            Session(client, store, KEY).token()
    assert counting_server.counts["refresh_token"] == 0


def test_the_default_redis_lock_outlives_a_refresh_answered_inside_the_deadline(
    counting_server: CountingServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library's own deadline for an exchange (shortened here to 3 s, with the store's
    lock to 1 s): a refresh answered at 2.7 s — just inside it — by a server with reuse
    detection, two workers, one refresh and no revoked grant."""
    monkeypatch.setattr("oauthkit.drivers.READ_DEADLINE", 3.0)
    monkeypatch.setattr("oauthkit.session.renewal.LEASE_MARGIN", 0.5)
    store = RedisStore(redis_url, lock_ttl=1.0)
    counting_server.set(rotate=True, reuse_detection=True, token_delay=2.7)
    _seed_due(counting_server, store)
    with _client(counting_server) as client, ThreadPoolExecutor(2) as pool:
        sessions = [Session(client, store, KEY) for _ in range(2)]
        tokens = list(pool.map(lambda s: s.token(), sessions))
    assert counting_server.counts["refresh_token"] == 1
    assert counting_server.counts["invalid_grant"] == 0
    assert tokens[0] == tokens[1]


# -------------------------------------------------------- a token the provider issued is kept


def test_a_postgres_restart_during_a_renewal_loses_nothing(
    counting_server: CountingServer,
) -> None:
    """PostgreSQL restarts while the token endpoint is answering a refresh (which rotates the
    refresh token): the write fails, is tried again until the database is back, and lands;
    the lease is released, not left to block the key."""
    from oauthkit.stores import SQLAlchemyStore

    peer = start_postgres()
    try:
        store = SQLAlchemyStore(peer.url(), table_name="restart")
        store.create_table()
        seeded = _seed_due(counting_server, store)
        counting_server.set(rotate=True, reuse_detection=True, token_delay=1.0)
        renewed: list[Token] = []

        def renew() -> None:
            with _client(counting_server) as client:
                renewed.append(Session(client, store, KEY).token())

        thread = threading.Thread(target=renew)
        thread.start()
        time.sleep(0.5)  # the refresh is at the server
        peer.restart()
        thread.join(60)
        assert renewed, "the renewal failed"
        stored = store.get(KEY, Token)
        assert stored == renewed[0]
        assert stored.refresh_token != seeded.refresh_token
        assert counting_server.counts["refresh_token"] == 1
        with store.lock(KEY, timeout=0.5):  # the lease was released: free at once
            pass
        store.dispose()
    finally:
        peer.stop()


def test_a_locked_sqlite_file_delays_the_write_but_loses_nothing(
    counting_server: CountingServer, tmp_path: Path
) -> None:
    """Another program holds the SQLite file's write lock for 1.5 s just as the refresh's
    answer arrives (the store's busy timeout is 0.1 s): "database is locked", tried again,
    written."""
    path = tmp_path / "tokens.sqlite3"
    store = SQLiteStore(path, timeout=0.1)
    _seed_due(counting_server, store)
    counting_server.set(rotate=True, token_delay=0.5)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def hold() -> None:
        time.sleep(0.3)
        other.execute("BEGIN EXCLUSIVE")
        time.sleep(1.5)
        other.execute("COMMIT")

    holder = threading.Thread(target=hold)
    holder.start()
    with _client(counting_server) as client:
        token = Session(client, store, KEY).token()
    holder.join()
    other.close()
    assert store.get(KEY, Token) == token
    assert counting_server.counts["refresh_token"] == 1


@pytest.fixture
def failing_writes(tmp_path: Path) -> Any:
    """A real SQLite store whose next ``failures`` token writes under a lease fail."""

    class FailingWrites(SQLiteStore):
        failures = 0

        def lock(self, key: str, **kwargs: Any) -> Any:
            inner = super().lock(key, **kwargs)
            store = self

            class Failing:
                def __enter__(self) -> Any:
                    transaction = inner.__enter__()
                    save = transaction.save

                    def failing_save(value: Any, version: Any) -> int:
                        if store.failures > 0:
                            store.failures -= 1
                            raise StoreError("the disk is full")
                        return save(value, version)  # type: ignore[no-any-return]

                    transaction.save = failing_save
                    return transaction

                def __exit__(self, *exc: Any) -> Any:
                    return inner.__exit__(*exc)

            return Failing()

    return FailingWrites(tmp_path / "tokens.sqlite3")


def test_a_write_that_fails_once_is_tried_again(
    counting_server: CountingServer, failing_writes: Any
) -> None:
    counting_server.set(rotate=True)
    _seed_due(counting_server, failing_writes)
    failing_writes.failures = 1
    with _client(counting_server) as client:
        token = Session(client, failing_writes, KEY).token()
    assert failing_writes.get(KEY, Token) == token
    assert counting_server.counts["refresh_token"] == 1


def test_a_store_down_for_good_keeps_the_token_for_the_next_call(
    counting_server: CountingServer, failing_writes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store refuses every write for longer than the retries last: the call says so
    (StoreError), the process keeps the token the provider issued, and the next call writes
    it — the rotated-out refresh token is never sent again."""
    monkeypatch.setattr("oauthkit.session.renewal.SAVE_RETRY_SECONDS", 0.3)
    counting_server.set(rotate=True, reuse_detection=True)
    seeded = _seed_due(counting_server, failing_writes)
    failing_writes.failures = 1000
    with _client(counting_server) as client:
        session = Session(client, failing_writes, KEY)
        with pytest.raises(StoreError, match="keeps it"):
            session.token()
        assert failing_writes.get(KEY, Token) == seeded
        failing_writes.failures = 0
        token = session.token()
    assert token.refresh_token != seeded.refresh_token
    assert failing_writes.get(KEY, Token) == token
    assert counting_server.counts["refresh_token"] == 1
    assert counting_server.counts["invalid_grant"] == 0
