"""Session: one refresh per expiry for threads, tasks, processes and machines sharing a store,
no failed request, and no refresh token lost to a crash — against our counting token server
and against oidc-provider with rotation and reuse detection."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from oauthkit import AsyncOAuth2Client, OAuth2Client, Session, Token
from oauthkit.errors import ReauthenticationRequired, StoreConflict, StoreError, TransportError
from oauthkit.stores import Encryption, MemoryStore, RedisStore, SQLiteStore
from oauthkit.stores.base import Stored
from peers.counting_server import CLIENT_ID, CLIENT_SECRET, CountingServer
from peers.oidc_provider import BASIC_SECRET, REDIRECT_URI, OIDCPeer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

WORKER = Path(__file__).with_name("session_worker.py")
KEY = "counting:me"


def _client(server: CountingServer, **kwargs: Any) -> OAuth2Client:
    return OAuth2Client(CLIENT_ID, CLIENT_SECRET, token_endpoint=server.token_endpoint, **kwargs)


def _client_args(server: CountingServer) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_endpoint": server.token_endpoint,
    }


def _due(token: Token, seconds_left: float = 5) -> Token:
    """``token`` as if it had been issued an hour ago: due within the 60 s leeway."""
    now = datetime.now(UTC)
    return token.replace(
        issued_at=now - timedelta(hours=1), expires_at=now + timedelta(seconds=seconds_left)
    )


def _seed_due(server: CountingServer, store: Any, key: str = KEY) -> Token:
    """An initial grant whose access token is due (still accepted by the server)."""
    token = _due(Token.from_dict({**server.issue(ttl=30), "grant": "authorization_code"}))
    store.put(key, token)
    return token


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "tokens.sqlite3"


# ------------------------------------------------------------------------ basic behaviour


def test_fast_path_reads_the_store_once_and_writes_nothing(
    counting_server: CountingServer, sqlite_path: Path
) -> None:
    class Counting(SQLiteStore):
        reads = 0
        locks = 0

        def get(self, key: str) -> Stored | None:
            Counting.reads += 1
            return super().get(key)

        def lock(self, key: str, **kwargs: Any) -> Any:
            Counting.locks += 1
            return super().lock(key, **kwargs)

    store = Counting(sqlite_path)
    store.put(KEY, Token.from_dict(counting_server.issue(ttl=3600)))
    with (
        _client(counting_server) as client,
        httpx2.Client(auth=Session(client, store, KEY).auth()) as http,
    ):
        for _ in range(20):
            assert http.get(counting_server.api_url).status_code == 200
    assert (Counting.reads, Counting.locks) == (1, 0)
    assert counting_server.counts["refresh_token"] == 0


def test_a_due_token_is_refreshed_persisted_and_rotated(
    counting_server: CountingServer, sqlite_path: Path
) -> None:
    store = SQLiteStore(sqlite_path)
    old = _seed_due(counting_server, store)
    with _client(counting_server) as client:
        session = Session(client, store, KEY)
        token = session.token()
        assert token.access_token != old.access_token
        assert session.token() is token  # fresh now: nothing more
    stored = store.get(KEY)
    assert isinstance(stored, Token)
    assert stored.access_token == token.access_token
    assert stored.refresh_token == token.refresh_token != old.refresh_token
    assert counting_server.counts["refresh_token"] == 1


def test_nothing_stored_asks_for_a_sign_in(counting_server: CountingServer) -> None:
    with _client(counting_server) as client:
        with pytest.raises(ReauthenticationRequired, match="sign in"):
            Session(client, MemoryStore(), KEY).token()


def test_oauth1_credentials_under_the_key_are_a_store_error(
    counting_server: CountingServer,
) -> None:
    from oauthkit import OAuth1Credentials

    store = MemoryStore()
    store.put(
        KEY, OAuth1Credentials(consumer_key="c", consumer_secret="s", token="t", token_secret="u")
    )
    with _client(counting_server) as client, pytest.raises(StoreError, match=r"OAuth 1\.0a"):
        Session(client, store, KEY).token()


def test_another_process_refreshed_already_nothing_is_sent(
    counting_server: CountingServer, sqlite_path: Path
) -> None:
    store = SQLiteStore(sqlite_path)
    old = _seed_due(counting_server, store)
    with _client(counting_server) as client:
        theirs = Session(client, store, KEY)
        theirs._reset(old)  # it loaded the due token before the other process refreshed
        mine = Session(client, store, KEY)
        refreshed = mine.token()  # the other process refreshes: 1 request
        assert theirs.token().access_token == refreshed.access_token  # taken from the store
    assert counting_server.counts["refresh_token"] == 1


def test_a_refused_refresh_asks_for_a_new_sign_in(counting_server: CountingServer) -> None:
    store = MemoryStore()
    token = _seed_due(counting_server, store)
    family = counting_server.family_of(token.access_token)
    assert family is not None
    counting_server.revoke_family(family)
    with (
        _client(counting_server) as client,
        pytest.raises(ReauthenticationRequired, match="invalid_grant"),
    ):
        Session(client, store, KEY).token()


@pytest.mark.parametrize("rotate", [True, False])
def test_a_lost_refresh_answer_keeps_the_refresh_token_and_the_next_call_decides(
    counting_server: CountingServer, rotate: bool
) -> None:
    """The server refreshed, then its answer did not arrive in time: not a refusal. The
    refresh token is kept and the next call sends it again — accepted when the server did
    not rotate; answered invalid_grant by its reuse detection when it did, and only then is
    a new sign-in asked for."""
    store = MemoryStore()
    seeded = _seed_due(counting_server, store)
    counting_server.set(token_delay=1.0, rotate=rotate)
    with _client(counting_server, http=httpx2.Client(timeout=0.3)) as client:
        session = Session(client, store, KEY)
        with pytest.raises(TransportError, match="lost after it was sent") as info:
            session.token()
        assert info.value.sent is True
        assert store.get(KEY) == seeded  # kept, not marked refused
        assert counting_server.counts["refresh_ok"] == 1
        counting_server.set(token_delay=0.0)
        if rotate:
            with pytest.raises(ReauthenticationRequired, match="invalid_grant"):
                session.token()
        else:
            assert session.token().access_token != seeded.access_token


def test_an_unreachable_server_keeps_the_stored_token(counting_server: CountingServer) -> None:
    store = MemoryStore()
    seeded = _seed_due(counting_server, store)
    counting_server.stop()
    with _client(counting_server) as client, pytest.raises(TransportError) as info:
        Session(client, store, KEY).token()
    assert info.value.sent is False
    assert store.get(KEY) == seeded


def test_client_credentials_tokens_are_fetched_again_once(counting_server: CountingServer) -> None:
    store = MemoryStore()
    with _client(counting_server) as client:
        first = client.client_credentials()
        store.put(KEY, _due(first))
        session = Session(client, store, KEY)
        counting_server.reset_counts()
        results: list[str] = []
        barrier = threading.Barrier(20)

        def call() -> None:
            barrier.wait()
            results.append(session.token().access_token)

        threads = [threading.Thread(target=call) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(set(results)) == 1
    assert counting_server.counts["client_credentials"] == 1


# --------------------------------------------------------------- concurrency, one process


def _threads_cross_expiry(session: Session, api: str, n: int = 50) -> list[int]:
    statuses: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)
    with httpx2.Client(auth=session.auth(), timeout=30) as http:

        def call() -> None:
            barrier.wait()
            try:
                statuses.append(http.get(api).status_code)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    return statuses


@pytest.mark.parametrize("store_kind", ["memory", "sqlite", "redis"])
def test_fifty_threads_one_refresh_no_failure(
    counting_server: CountingServer, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    store: Any = {
        "memory": lambda: MemoryStore(),
        "sqlite": lambda: SQLiteStore(tmp_path / "t.sqlite3"),
        "redis": lambda: RedisStore(request.getfixturevalue("redis_url")),
    }[store_kind]()
    _seed_due(counting_server, store)
    counting_server.set(token_delay=0.05)  # everybody arrives while the refresh is in flight
    with _client(counting_server) as client:
        statuses = _threads_cross_expiry(Session(client, store, KEY), counting_server.api_url)
    assert statuses == [200] * 50
    counts = counting_server.counts
    assert counts["refresh_token"] == 1
    assert counts["api_refused"] == 0


async def test_fifty_tasks_one_refresh_no_failure(
    counting_server: CountingServer, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "t.sqlite3")
    _seed_due(counting_server, store)
    counting_server.set(token_delay=0.05)
    async with AsyncOAuth2Client(
        CLIENT_ID, CLIENT_SECRET, token_endpoint=counting_server.token_endpoint
    ) as client:
        session = Session(client, store, KEY)
        statuses: list[int] = []
        async with httpx2.AsyncClient(auth=session.auth(), timeout=30) as http:

            async def call() -> None:
                statuses.append((await http.get(counting_server.api_url)).status_code)

            async with anyio.create_task_group() as group:
                for _ in range(50):
                    group.start_soon(call)
    assert statuses == [200] * 50
    assert counting_server.counts["refresh_token"] == 1
    assert counting_server.counts["api_refused"] == 0


# ----------------------------------------------------------------------- several processes


def _start_workers(n: int, config: dict[str, Any]) -> list[subprocess.Popen[str]]:
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    for worker in workers:
        assert worker.stdout is not None
        line = worker.stdout.readline().strip()
        assert line == "ready", (line, worker.stderr.read() if worker.stderr else "")
    return workers


def _go(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _processes_cross_expiry(
    store: Any,
    store_kind: str,
    location: str,
    client: dict[str, Any],
    api: str,
    processes: int,
    threads: int,
    store_keys: str | None = None,
) -> list[dict[str, Any]]:
    config = {
        "store": store_kind,
        "location": location,
        "store_keys": store_keys,
        "key": KEY,
        "client": client,
        "api": api,
        "threads": threads,
        "calls": 3,
        "mode": "requests",
    }
    return _go(_start_workers(processes, config))


#: The keys of the tests run again with the store encrypted at rest.
STORE_KEYS = Encryption.generate("k1")


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear", "encrypted"])
def test_four_processes_ten_threads_one_sqlite_file(
    counting_server: CountingServer, tmp_path: Path, encrypted: bool
) -> None:
    path = tmp_path / "shared.sqlite3"
    keys = STORE_KEYS if encrypted else None
    store = SQLiteStore(path, encryption=Encryption.parse(keys) if keys else None)
    _seed_due(counting_server, store)
    counting_server.set(token_delay=0.1)
    results = _processes_cross_expiry(
        store,
        "sqlite",
        str(path),
        _client_args(counting_server),
        counting_server.api_url,
        processes=4,
        threads=10,
        store_keys=keys,
    )
    for result in results:
        assert result["errors"] == []
        assert result["statuses"] == [200] * 30
    assert counting_server.counts["refresh_token"] == 1
    assert counting_server.counts["api_refused"] == 0
    files = [path, path.with_name(path.name + "-wal")]
    written = b"".join(f.read_bytes() for f in files if f.exists())
    assert (b'"rt-' in written) is not encrypted  # refresh tokens in clear, or not


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear", "encrypted"])
def test_four_processes_one_redis(
    counting_server: CountingServer, redis_url: str, encrypted: bool
) -> None:
    keys = STORE_KEYS if encrypted else None
    store = RedisStore(redis_url, encryption=Encryption.parse(keys) if keys else None)
    _seed_due(counting_server, store)
    counting_server.set(token_delay=0.1)
    results = _processes_cross_expiry(
        store,
        "redis",
        redis_url,
        _client_args(counting_server),
        counting_server.api_url,
        processes=4,
        threads=5,
        store_keys=keys,
    )
    for result in results:
        assert result["errors"] == []
        assert set(result["statuses"]) == {200}
    assert counting_server.counts["refresh_token"] == 1
    assert counting_server.counts["api_refused"] == 0


# ------------------------------------------------------------------ against oidc-provider


@pytest.fixture
def oidc_token(oidc_provider: OIDCPeer) -> Iterator[tuple[OAuth2Client, Token]]:
    client = OAuth2Client(
        "basic",
        BASIC_SECRET,
        issuer=oidc_provider.issuer,
        redirect_uri=REDIRECT_URI,
        scope="openid offline_access",
    )
    request = client.authorization_request()
    token = client.exchange_code(request, oidc_provider.approve(request.url))
    # Due now (as if it were an hour later); the server still accepts it, so a stray second
    # refresh would show as reuse of a rotated refresh token (invalid_grant, grant revoked).
    yield client, _due(token)
    client.close()


def _oidc_token_posts(peer: OIDCPeer) -> int:
    return len([1 for method, path in peer.request_log if method == "POST" and path == "/token"])


def test_oidc_fifty_threads_with_rotation_and_reuse_detection(
    oidc_provider: OIDCPeer, oidc_token: tuple[OAuth2Client, Token], tmp_path: Path
) -> None:
    client, token = oidc_token
    store = SQLiteStore(tmp_path / "t.sqlite3")
    store.put(KEY, token)
    oidc_provider.reset_log()
    statuses = _threads_cross_expiry(Session(client, store, KEY), oidc_provider.userinfo_endpoint)
    assert statuses == [200] * 50
    assert _oidc_token_posts(oidc_provider) == 1


async def test_oidc_fifty_tasks_with_rotation_and_reuse_detection(
    oidc_provider: OIDCPeer, oidc_token: tuple[OAuth2Client, Token], tmp_path: Path
) -> None:
    _, token = oidc_token
    store = SQLiteStore(tmp_path / "t.sqlite3")
    await store.aput(KEY, token)
    oidc_provider.reset_log()
    async with AsyncOAuth2Client("basic", BASIC_SECRET, issuer=oidc_provider.issuer) as client:
        session = Session(client, store, KEY)
        statuses: list[int] = []
        async with httpx2.AsyncClient(auth=session.auth()) as http:

            async def call() -> None:
                statuses.append((await http.get(oidc_provider.userinfo_endpoint)).status_code)

            async with anyio.create_task_group() as group:
                for _ in range(50):
                    group.start_soon(call)
    assert statuses == [200] * 50
    assert _oidc_token_posts(oidc_provider) == 1


def test_oidc_four_processes_on_one_sqlite_file(
    oidc_provider: OIDCPeer, oidc_token: tuple[OAuth2Client, Token], tmp_path: Path
) -> None:
    _, token = oidc_token
    path = tmp_path / "shared.sqlite3"
    SQLiteStore(path).put(KEY, token)
    oidc_provider.reset_log()
    client = {"client_id": "basic", "client_secret": BASIC_SECRET, "issuer": oidc_provider.issuer}
    results = _processes_cross_expiry(
        None, "sqlite", str(path), client, oidc_provider.userinfo_endpoint, processes=4, threads=10
    )
    for result in results:
        assert result["errors"] == []
        assert result["statuses"] == [200] * 30
    assert _oidc_token_posts(oidc_provider) == 1


# ------------------------------------------------------------------------------ crash safety


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear", "encrypted"])
def test_kill_9_during_refresh_never_leaves_a_silently_stale_token(
    counting_server: CountingServer, tmp_path: Path, encrypted: bool
) -> None:
    """Kill a refreshing process at random moments (before the request, while the server has
    already rotated, after the answer, after the commit), many times. Afterwards the session
    either hands out a token that works, or says to sign in again — nothing else."""
    path = tmp_path / "crash.sqlite3"
    keys = STORE_KEYS if encrypted else None
    store = SQLiteStore(path, encryption=Encryption.parse(keys) if keys else None)
    counting_server.set(token_delay=0.15)
    rng = random.Random(5849)
    outcomes = {"worked": 0, "sign_in_again": 0, "rotation_lost": 0}
    config = {
        "store": "sqlite",
        "location": str(path),
        "key": KEY,
        "client": _client_args(counting_server),
        "mode": "token",
        "store_keys": keys,
    }
    with _client(counting_server) as client:
        for _ in range(20):
            _seed_due(counting_server, store)
            before = counting_server.counts["refresh_ok"]
            worker = _start_workers(1, config)[0]
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
            time.sleep(rng.uniform(0.0, 0.35))
            os.kill(worker.pid, signal.SIGKILL)
            worker.communicate(timeout=10)
            stored = store.get(KEY)
            assert isinstance(stored, Token)
            rotated = counting_server.counts["refresh_ok"] > before
            if rotated and not counting_server.refresh_token_active(stored.refresh_token or ""):
                outcomes["rotation_lost"] += 1
            try:
                token = Session(client, store, KEY).token()
            except ReauthenticationRequired:
                outcomes["sign_in_again"] += 1
                continue
            with httpx2.Client() as http:
                response = http.get(
                    counting_server.api_url,
                    headers={"Authorization": f"Bearer {token.access_token}"},
                )
            assert response.status_code == 200, "a token that does not work was handed out"
            outcomes["worked"] += 1
    assert outcomes["worked"] + outcomes["sign_in_again"] == 20
    # the dangerous window was hit, and each time it ended in a clear sign-in request
    assert outcomes["rotation_lost"] >= 1, outcomes
    assert outcomes["sign_in_again"] >= outcomes["rotation_lost"]


# ------------------------------------------------------------------------------ Redis locks


def test_redis_lock_of_a_dead_holder_expires(
    counting_server: CountingServer, redis_url: str
) -> None:
    store = RedisStore(redis_url, lock_ttl=1.0)
    _seed_due(counting_server, store)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from oauthkit.stores import RedisStore\n"
            f"s = RedisStore({redis_url!r}, lock_ttl=1.0)\n"
            f"with s.lock({KEY!r}):\n    print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with _client(counting_server) as client:
        token = Session(client, store, KEY, lock_timeout=5).token()
    assert 0.2 < time.monotonic() - started < 3  # waited for the TTL, not forever
    assert counting_server.counts["refresh_token"] == 1
    assert token.access_token


def test_redis_stale_holder_cannot_overwrite(redis_url: str) -> None:
    first = RedisStore(redis_url, lock_ttl=0.3)
    second = RedisStore(redis_url, lock_ttl=5)
    first.put(KEY, Token("v1"))
    with first.lock(KEY) as stale:
        entry = stale.load()
        assert entry is not None
        time.sleep(0.5)  # the lock expires under the slow holder
        with second.lock(KEY, timeout=1) as fresh:
            fresh_entry = fresh.load()
            assert fresh_entry is not None
            fresh.save(Token("v2"), fresh_entry.version)
        with pytest.raises(StoreConflict, match="expired"):
            stale.save(Token("stale"), entry.version)
    assert second.get(KEY) == Token("v2")


# ------------------------------------------------------------------------------ SQLite leases


def test_a_slow_token_endpoint_delays_only_its_own_key(
    counting_server: CountingServer, sqlite_path: Path
) -> None:
    """A renewal that waits 3 s for the token endpoint holds a lease on its key only: other
    keys of the same SQLite file are read and written at full speed meanwhile, and another
    process's view of the store is never "database is locked"."""
    store = SQLiteStore(sqlite_path)
    _seed_due(counting_server, store, "slow")
    store.put("other", Token("other-access-token", refresh_token="r"))
    counting_server.set(token_delay=3.0)
    done = threading.Event()

    def renew_slowly() -> None:
        with _client(counting_server) as client:
            Session(client, store, "slow").token()
        done.set()

    thread = threading.Thread(target=renew_slowly)
    thread.start()
    try:
        time.sleep(0.5)  # the renewal holds its lease and waits for the server
        assert not done.is_set()
        started = time.monotonic()
        for i in range(20):
            store.put("other", Token(f"other-access-token-{i}", refresh_token="r"))
            other = store.get("other", Token)
            assert other is not None and other.access_token == f"other-access-token-{i}"
        with store.lock("another", timeout=1) as txn:
            txn.save(Token("another-token"), None)
        assert time.monotonic() - started < 1.0, "other keys waited for the slow renewal"
        reader = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from oauthkit.stores import SQLiteStore; "
                f"s = SQLiteStore({str(sqlite_path)!r}); s.put('third', s.get('other')); print('ok')",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert reader.stdout.strip() == "ok", reader.stderr
        assert not done.is_set()  # all of that happened while the renewal was still waiting
    finally:
        thread.join(15)
    assert done.is_set()
    assert counting_server.counts["refresh_ok"] == 1


def test_a_lease_that_ran_out_cannot_write(
    sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder that hung past its lease loses it: another takes the key, and the first
    holder's compare-and-set is refused (no write) rather than overwriting the newer token."""
    import oauthkit.stores.sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "LEASE_SECONDS", 0.3)
    store = SQLiteStore(sqlite_path)
    store.put("k", Token("first"))
    with store.lock("k", timeout=5) as slow:
        entry = slow.load()
        assert entry is not None
        time.sleep(0.5)  # the lease runs out while this holder "waits for a server"
        with store.lock("k", timeout=1) as fast:  # taken over at once
            fast.save(Token("second"), entry.version)
        with pytest.raises(StoreConflict, match="lease"):
            slow.save(Token("stale"), entry.version)
    assert store.get("k", Token) == Token("second")
