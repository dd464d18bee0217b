"""One contract, every store: a real SQLite file, a real redis-server (alone, as a cluster,
behind sentinels, over TLS), PostgreSQL (direct and behind PgBouncer), the keyring through a
real file-backed backend, and memory. Sync and async callers alike."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oauthkit import OAuth1Credentials, Token
from oauthkit.errors import ConfigurationError, LockTimeout, StoreConflict, StoreError
from oauthkit.protocol.oauth2.registration import ClientRegistration
from oauthkit.stores import (
    Encryption,
    KeyringStore,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    TokenStore,
)

pytestmark = pytest.mark.anyio

STORES = [
    "memory",
    "sqlite",
    "keyring",
    "redis",
    "redis-cluster",
    "redis-sentinel",
    "redis-tls",
    "sqlalchemy-postgres",
    "sqlalchemy-pgbouncer",
    "sqlalchemy-sqlite",
    "django-postgres",
    "django-pgbouncer",
    "django-sqlite",
    # the same contract with every entry encrypted at rest, one of each store class
    "sqlite+encrypted",
    "redis-cluster+encrypted",
    "sqlalchemy-postgres+encrypted",
    "django-postgres+encrypted",
]
#: The keys of the encrypted variants (a fresh pair per run).
KEYS = Encryption.parse(f"{Encryption.generate('k2')},{Encryption.generate('k1')}")


def file_keyring(path: Path) -> Any:
    """keyrings.alt's file-backed keyring, its file redirected into the test's folder."""
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(path / "keyring.cfg")
    return backend


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenStore]:
    yield from make_store(request, tmp_path, request.param)


def make_store(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Iterator[Any]:
    """The store ``name`` names (``+encrypted``: with :data:`KEYS`)."""
    kind, _, sealed = name.partition("+")
    options: dict[str, Any] = {"encryption": KEYS} if sealed else {}
    if kind == "memory":
        yield MemoryStore()
    elif kind == "sqlite":
        yield SQLiteStore(tmp_path / "tokens.sqlite3", **options)
    elif kind == "keyring":
        yield KeyringStore(backend=file_keyring(tmp_path), lock_dir=tmp_path / "locks")
    elif kind.startswith("redis"):
        redis_store = RedisStore(redis_of(request, kind), lock_ttl=5, **options)
        yield redis_store
        redis_store.close()
    else:
        yield from database_store(request, tmp_path, kind, **options)


def redis_of(request: pytest.FixtureRequest, kind: str) -> str:
    """The URL of the Redis deployment ``kind`` names, emptied first."""
    if kind == "redis":
        return str(request.getfixturevalue("redis_url"))
    peer = request.getfixturevalue(kind.replace("-", "_"))
    peer.flushall()
    return str(peer.url)


def database_store(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, **options: Any
) -> Iterator[Any]:
    """A SQLAlchemyStore in a table of this test's own (on the session's PostgreSQL, or in
    an SQLite file), or a DjangoStore on an emptied table; ``options`` go to the store."""
    if kind.startswith("django-"):
        request.getfixturevalue("django_databases")
        from oauthkit.web.django.models import StoredEntry
        from oauthkit.web.django.store import DjangoStore

        alias = kind.removeprefix("django-")
        # In a thread: an async test's fixtures run where an event loop runs, and Django's
        # ORM refuses to run there.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: StoredEntry.objects.using(alias).all().delete()).result()
        yield DjangoStore(alias, **options)
        return
    from oauthkit.stores import SQLAlchemyStore

    if kind == "sqlalchemy-postgres":
        url = request.getfixturevalue("postgres").url()
    elif kind == "sqlalchemy-pgbouncer":
        url = request.getfixturevalue("pgbouncer").url()
    else:
        url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    db_store = SQLAlchemyStore(url, table_name="t_" + secrets.token_hex(6), **options)
    db_store.create_table()
    yield db_store
    db_store.dispose()


def _token(n: int = 1) -> Token:
    return Token(
        f"access-{n}",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
        refresh_token=f"refresh-{n}",
        scope="a b",
        id_token="h.p.s",
        extra={"refresh_token_expires_in": 86400, "nested": {"x": [1, 2]}},
        grant="authorization_code",
    )


def test_put_get_delete_keys(store: TokenStore) -> None:
    assert store.get("github:me") is None
    store.put("github:me", _token())
    store.put("google:me", _token(2))
    assert store.get("github:me") == _token()
    assert store.keys() == ["github:me", "google:me"]
    store.put("github:me", _token(3))
    assert store.get("github:me") == _token(3)
    store.delete("github:me")
    store.delete("github:me")  # absent: nothing happens
    assert store.get("github:me") is None
    assert store.keys() == ["google:me"]


def test_keys_of_a_thousand_characters(store: TokenStore) -> None:
    """A user key, a provider and a long account id together (a PostgreSQL column of 512
    refused them)."""
    key = "user:" + "k" * 995
    store.put(key, _token())
    assert store.get(key) == _token()
    with store.lock(key) as transaction:
        entry = transaction.load()
        assert entry is not None
        transaction.save(_token(2), entry.version)
    assert store.get(key) == _token(2)
    if type(store).__name__ in ("SQLAlchemyStore", "DjangoStore"):
        with pytest.raises(ConfigurationError, match="1024"):
            store.put("k" * 1025, _token())


def test_everything_needed_to_renew_survives(store: TokenStore) -> None:
    store.put("k", _token())
    back = store.get("k")
    assert isinstance(back, Token)
    assert back.expires_at == _token().expires_at
    assert back.expires_at is not None
    assert back.expires_at.tzinfo is not None
    assert (back.refresh_token, back.scope, back.id_token, back.grant) == (
        "refresh-1",
        "a b",
        "h.p.s",
        "authorization_code",
    )
    assert back.extra["nested"] == {"x": [1, 2]}


def test_oauth1_credentials_live_in_the_same_stores(store: TokenStore) -> None:
    creds = OAuth1Credentials(
        consumer_key="ck",
        consumer_secret="cs",
        token="t",
        token_secret="ts",
        extra={"screen_name": "alice"},
    )
    store.put("x:alice", creds)
    back = store.get("x:alice", OAuth1Credentials)  # typed: OAuth1Credentials | None
    assert back is not None
    assert (back.consumer_key, back.token, back.token_secret) == ("ck", "t", "ts")
    assert (back.consumer_secret, back.rsa_key) == (None, None)  # the client's, never stored
    assert back.extra == {"screen_name": "alice"}
    with pytest.raises(StoreError, match="not Token"):
        store.get("x:alice", Token)


def test_client_registrations_live_in_the_same_stores(store: TokenStore) -> None:
    registration = ClientRegistration(
        "https://as.example",
        "abc",
        "s3cret",
        client_secret_expires_at=2_000_000_000,
        token_endpoint_auth_method="client_secret_basic",
        registration_access_token="rat",
        registration_client_uri="https://as.example/reg/abc",
        metadata={"client_name": "me", "redirect_uris": ["http://127.0.0.1/callback"]},
    )
    store.put("registration:me:https://as.example", registration)
    assert store.get("registration:me:https://as.example", ClientRegistration) == registration
    with store.lock("registration:me:https://as.example") as transaction:
        entry = transaction.load()
        assert entry is not None and entry.value == registration
    with pytest.raises(StoreError, match="not Token"):
        store.get("registration:me:https://as.example", Token)


def test_lock_gives_compare_and_set(store: TokenStore) -> None:
    with store.lock("k", timeout=5) as txn:
        assert txn.load() is None
        first = txn.save(_token(1), None)
        with pytest.raises(StoreConflict):
            txn.save(_token(2), None)  # it exists now
    with store.lock("k", timeout=5) as txn:
        entry = txn.load()
        assert entry is not None
        assert entry.version == first
        assert entry.value == _token(1)
        second = txn.save(_token(2), entry.version)
        assert second > first
        with pytest.raises(StoreConflict):
            txn.save(_token(3), entry.version)  # stale version
    assert store.get("k") == _token(2)
    store.put("k", _token(4))  # a plain put also moves the version on
    with store.lock("k", timeout=5) as txn:
        entry = txn.load()
        assert entry is not None
        assert entry.version > second


@pytest.mark.slow
def test_the_lock_excludes_other_holders(store: TokenStore) -> None:
    inside = threading.Event()
    release = threading.Event()
    failures: list[BaseException] = []

    def holder() -> None:
        with store.lock("k", timeout=5):
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert inside.wait(5)
    try:
        with pytest.raises(LockTimeout):
            with store.lock("k", timeout=0.3):
                failures.append(AssertionError("two holders at once"))
    finally:
        release.set()
        thread.join()
    assert not failures
    with store.lock("k", timeout=5):
        pass  # free again


def test_an_error_inside_the_lock_releases_it(store: TokenStore) -> None:
    store.put("k", _token(1))

    def fail_inside() -> None:
        with store.lock("k", timeout=5) as txn:
            assert txn.load() is not None
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    with store.lock("k", timeout=1) as txn:
        assert txn.load() is not None
    assert store.get("k") == _token(1)


async def test_async_twins(store: TokenStore) -> None:
    await store.aput("k", _token(1))
    assert await store.aget("k") == _token(1)
    assert await store.akeys() == ["k"]
    async with store.alock("k", timeout=5) as txn:
        entry = await txn.load()
        assert entry is not None
        await txn.save(_token(2), entry.version)
        with pytest.raises(StoreConflict):
            await txn.save(_token(3), entry.version)
    assert await store.aget("k") == _token(2)
    await store.adelete("k")
    assert await store.aget("k") is None


@pytest.mark.slow
async def test_tasks_waiting_for_a_lock_do_not_starve_its_holder(store: TokenStore) -> None:
    """More tasks wait for one key than anyio lends worker threads (40): waiting must not
    hold a thread, or the holder finds none to read and write with, and everyone waits
    until the timeout (an async web app's 50 calls on a due token)."""
    import anyio

    await store.aput("k", _token(0))
    taken: list[int] = []

    async def renew() -> None:
        async with store.alock("k", timeout=60) as txn:
            entry = await txn.load()
            assert entry is not None
            await txn.save(_token(len(taken) + 1), entry.version)
            taken.append(1)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tasks:
            for _ in range(50):
                tasks.start_soon(renew)
    assert len(taken) == 50
    assert await store.aget("k") == _token(50)


def test_repr_shows_no_secret(store: TokenStore) -> None:
    store.put("k", _token())
    assert "access-1" not in repr(store)
    assert "refresh-1" not in repr(store)


# ------------------------------------------------------------------------------ SQLite only


def test_the_database_stores_sqlite_file_is_private_too(tmp_path: Path) -> None:
    """SQLAlchemyStore on a new SQLite file makes it 0600 in 0700 folders, as SQLiteStore
    does (SQLite alone makes it 0644: readable by every user of the machine)."""
    import stat

    from oauthkit.stores import SQLAlchemyStore

    path = tmp_path / "new" / "app.sqlite3"
    store = SQLAlchemyStore(f"sqlite:///{path}")
    store.create_table()
    store.put("k", _token())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    store.dispose()


def test_sqlite_creates_a_private_file_in_a_private_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "tokens.sqlite3"
    SQLiteStore(path).put("k", _token())
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_sqlite_default_path_is_the_user_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    store = SQLiteStore()
    assert store.path == tmp_path / "xdg" / "oauthkit" / "tokens.sqlite3"
    store.put("k", _token())
    assert store.path.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["text", "corrupt-header"],
)
def test_sqlite_refuses_a_corrupt_file_and_keeps_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "tokens.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="will not overwrite"):
        SQLiteStore(path).get("k")
    assert path.read_bytes() == content  # never silently reset


def test_sqlite_refuses_a_foreign_database(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(StoreError, match="another program"):
        SQLiteStore(path).put("k", _token())


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "tokens.sqlite3"
    SQLiteStore(path).put("k", _token())
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteStore(path).get("k")


def test_sqlite_refuses_an_entry_it_cannot_read(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "tokens.sqlite3"
    SQLiteStore(path).put("k", _token())
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE tokens SET value = '{\"garbage\": 1}'")
    with pytest.raises(StoreError, match="cannot read"):
        SQLiteStore(path).get("k")


@pytest.mark.parametrize(
    "value",
    [
        "[" * 100_000 + "]" * 100_000,  # nested past the interpreter's recursion limit
        '{"format": "oauthkit/1", "kind": "oauth2", "data": {"access_token": "'
        + "x" * 1_100_000
        + '"}}',
        '{"format": "oauthkit/1", "kind": "oauth2", "data": []}',
        "\udcff not JSON",
    ],
    ids=["deep", "long", "wrong shape", "not JSON"],
)
def test_a_record_that_is_not_ours_is_a_store_error(tmp_path: Path, value: str) -> None:
    """A store's records are read with the standard decoder (no hostile-server checks: they
    are the store's own), and anything else is still a StoreError, never a crash."""
    import sqlite3

    path = tmp_path / "tokens.sqlite3"
    SQLiteStore(path).put("k", _token())
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE tokens SET value = ?", (value.encode("utf-8", "surrogatepass"),))
    with pytest.raises(StoreError, match="cannot read"):
        SQLiteStore(path).get("k")


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "tokens.sqlite3"
    SQLiteStore(path).put("k", _token())
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ----------------------------------------------------------------------------- keyring only


def test_keyring_refuses_no_backend_and_a_chosen_plaintext_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    with pytest.raises(StoreError, match="no usable OS keyring"):
        KeyringStore()
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setattr(keyring, "get_keyring", PlaintextKeyring)
    with pytest.raises(StoreError, match="not the OS keychain"):
        KeyringStore()


def test_keyring_refuses_a_backend_that_cuts_the_token(tmp_path: Path) -> None:
    class Cutting:
        priority = 1

        def __init__(self) -> None:
            self.data: dict[tuple[str, str], str] = {}

        def set_password(self, service: str, user: str, password: str) -> None:
            self.data[service, user] = password[:100]

        def get_password(self, service: str, user: str) -> str | None:
            return self.data.get((service, user))

    store = KeyringStore(backend=Cutting(), lock_dir=tmp_path)
    with pytest.raises(StoreError, match="whole"):
        store.put("k", _token())


def test_keyring_backend_errors_are_store_errors(tmp_path: Path) -> None:
    from keyring.errors import PasswordSetError

    class Refusing:
        priority = 1

        def set_password(self, service: str, user: str, password: str) -> None:
            raise PasswordSetError("blob too large")

        def get_password(self, service: str, user: str) -> str | None:
            return None

    with pytest.raises(StoreError, match="some backends limit the size"):
        KeyringStore(backend=Refusing(), lock_dir=tmp_path).put("k", _token())


# -- pending web flows (oauthkit.web) ---------------------------------------------------------

PENDING_STORES = [
    "memory",
    "sqlite",
    "redis",
    "redis-cluster",
    "sqlalchemy-postgres",
    "sqlalchemy-pgbouncer",
    "sqlalchemy-sqlite",
    "django-postgres",
    "django-pgbouncer",
    "django-sqlite",
    "sqlite+encrypted",
    "redis-cluster+encrypted",
    "sqlalchemy-postgres+encrypted",
    "django-postgres+encrypted",
]


@pytest.fixture(params=PENDING_STORES)
def pending_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from make_store(request, tmp_path, request.param)


def test_a_pending_flow_is_taken_once(pending_store: Any) -> None:
    pending_store.put_pending("h1", '{"a": 1}', ttl=60)
    pending_store.put_pending("h2", '{"b": 2}', ttl=60)
    assert pending_store.take_pending("h1") == '{"a": 1}'
    assert pending_store.take_pending("h1") is None  # a replay finds nothing
    assert pending_store.take_pending("nope") is None
    assert pending_store.take_pending("h2") == '{"b": 2}'
    assert pending_store.keys() == []  # pending flows are not tokens


@pytest.mark.slow
def test_an_expired_pending_flow_is_gone(pending_store: Any) -> None:
    import time

    pending_store.put_pending("h", "x", ttl=0.2)
    time.sleep(0.4)
    assert pending_store.take_pending("h") is None


def test_of_many_takers_exactly_one_gets_the_flow(pending_store: Any) -> None:
    for round_ in range(5):
        pending_store.put_pending(f"race{round_}", "record", ttl=60)
        got: list[str | None] = []
        start = threading.Barrier(8)

        def take(handle: str, got: list[str | None], start: threading.Barrier) -> None:
            start.wait()
            got.append(pending_store.take_pending(handle))

        threads = [
            threading.Thread(target=take, args=(f"race{round_}", got, start)) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert got.count("record") == 1
        assert got.count(None) == 7


async def test_pending_flows_from_async_code(pending_store: Any) -> None:
    await pending_store.aput_pending("ah", "async record", ttl=60)
    assert await pending_store.atake_pending("ah") == "async record"
    assert await pending_store.atake_pending("ah") is None


def test_the_keyring_store_says_it_keeps_no_pending_flows(tmp_path: Path) -> None:
    from oauthkit.errors import ConfigurationError

    store = KeyringStore(backend=file_keyring(tmp_path), lock_dir=tmp_path / "locks")
    with pytest.raises(ConfigurationError, match="cannot keep pending web flows"):
        store.put_pending("h", "x", ttl=60)


@pytest.mark.slow
def test_processes_creating_one_sqlite_store_together_all_open_it(tmp_path: Path) -> None:
    """Programs started together (4 cold MCP clients, a web app's workers) each create the
    same new store file: a reader must never see the half-made file (tables, but no id yet)
    and take it for another program's (it did, about once in 80 opens)."""
    import subprocess
    import sys

    code = (
        "import sys; from oauthkit.stores import SQLiteStore; s = SQLiteStore(sys.argv[1]); "
        "s.get('x')"
    )
    for round in range(16):
        path = tmp_path / f"r{round}" / "tokens.sqlite3"
        opening = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True
            )
            for _ in range(8)
        ]
        errors = [p.communicate(timeout=60)[1] for p in opening]
        assert [p.returncode for p in opening] == [0] * 8, [e for e in errors if e][:1]
