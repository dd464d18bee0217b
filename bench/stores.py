"""Stores at scale: token read latency as the table grows, ``Session.auth()`` for a random one
of a million users, and 1,000 users' tokens falling due at once under 4 worker processes.

    python bench/stores.py [--quick]          # --quick: 1k and 10k users, 200 due tokens

1. Read latency (p50, p99) of ``store.get(key)`` for a random user at 1 thousand, 100
   thousand and 1 million users in PostgreSQL (SQLAlchemyStore), SQLite (SQLiteStore) and
   Redis (RedisStore), each next to the same run's baseline: the same lookup made with the
   database's own driver (psycopg, sqlite3, redis-py). PostgreSQL three times: the store as
   made from a URL against psycopg as it comes (a statement used 5 times is prepared) and
   against psycopg with no prepared statement, as any lookup that must work behind a
   transaction-pooling PgBouncer (the store's own engine is made so); and the store made
   with ``?prepare_threshold=5`` (no pooler in front) against psycopg as it comes. Flat
   means the figures at 1M are those at 1k.
2. A request through ``Session(...).auth()`` for a random one of the 1M users (a fresh token
   read from PostgreSQL, then the request) next to the bare request, against a local server.
3. 1,000 users whose tokens are all due, renewed by 4 processes that each walk all of them:
   1,000 refreshes at the token server, each exactly once, and the time it takes.

PostgreSQL and Redis are Debian's, started by the test peers' helpers in temporary folders;
the token server and API are bench/_loopback.py's (each token request gets a new token).
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from _loopback import LoopbackServer  # noqa: E402
from oauthkit import OAuth2Client, Session, Token  # noqa: E402
from oauthkit.stores import RedisStore, SQLAlchemyStore, SQLiteStore  # noqa: E402
from oauthkit.stores.base import encode  # noqa: E402
from peers.postgres_server import start_postgres  # noqa: E402
from peers.redis_server import start_redis  # noqa: E402

SAMPLES = 2000


def _token(n: int) -> Token:
    return Token(
        f"access-{n}-" + "x" * 40,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        refresh_token=f"refresh-{n}-" + "y" * 40,
        scope="read write",
    )


def _key(n: int) -> str:
    return f"user:{n}:github"


def _latencies(read: Callable[[str], Any], users: int) -> tuple[float, float]:
    rng = random.Random(users)
    for _ in range(200):
        read(_key(rng.randrange(users)))
    times = []
    for _ in range(SAMPLES):
        key = _key(rng.randrange(users))
        started = time.perf_counter()
        read(key)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6


# -- filling each store quickly (the same rows the store writes) ---------------------------


def _rows(start: int, stop: int) -> list[tuple[str, str]]:
    return [(_key(n), encode(_token(n))) for n in range(start, stop)]


def fill_postgres(store: SQLAlchemyStore, dsn: str, start: int, stop: int) -> None:
    import psycopg

    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        table = store.table.name
        with cursor.copy(f"COPY {table} (kind, key, data, version) FROM STDIN") as copy:
            for key, text in _rows(start, stop):
                copy.write_row(("token", key, text, 1))
        cursor.execute(f"ANALYZE {table}")


def fill_sqlite(path: Path, start: int, stop: int) -> None:
    import sqlite3

    connection = sqlite3.connect(path)
    with connection:
        connection.executemany(
            "INSERT INTO tokens (key, value, version, updated_at) VALUES (?, ?, 1, 0)",
            _rows(start, stop),
        )
    connection.close()


def fill_redis(store: RedisStore, start: int, stop: int) -> None:
    client = store._client()
    for chunk in range(start, stop, 10000):
        with client.pipeline(transaction=False) as pipe:
            for key, text in _rows(chunk, min(stop, chunk + 10000)):
                pipe.hset(store._token_key(key), mapping={"value": text, "version": 1})
            pipe.execute()


# -- 1. reads as the table grows -----------------------------------------------------------


def reads(sizes: list[int], folder: Path, postgres: Any, redis_url: str) -> None:
    import psycopg
    import redis

    dsn = f"host=127.0.0.1 port={postgres.port} user=oauthkit dbname=postgres"
    pg = SQLAlchemyStore(postgres.url(), table_name="bench_tokens")
    pg.create_table()
    # With no transaction pooler in front, the application may let psycopg prepare.
    prepared = SQLAlchemyStore(postgres.url() + "?prepare_threshold=5", table_name="bench_tokens")
    sqlite_path = folder / "bench.sqlite3"
    lite = SQLiteStore(sqlite_path)
    lite.keys()  # creates the file and its schema
    red = RedisStore(redis_url, prefix="bench")
    raw_pg = psycopg.connect(dsn, autocommit=True)
    # What a lookup safe behind a transaction-pooling PgBouncer costs (the store's own
    # engine prepares no statement, for that reason).
    raw_pg_unprepared = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
    lookup = "SELECT data, version FROM bench_tokens WHERE kind = 'token' AND key = %s"
    import sqlite3

    raw_lite = sqlite3.connect(sqlite_path)
    raw_red = redis.Redis.from_url(redis_url)
    stores: dict[str, tuple[Callable[[str], Any], Callable[[str], Any]]] = {
        "PostgreSQL": (pg.get, lambda k: raw_pg.execute(lookup, (k,)).fetchone()),
        "PostgreSQL, both prepared": (
            prepared.get,
            lambda k: raw_pg.execute(lookup, (k,)).fetchone(),
        ),
        "PostgreSQL, unprepared": (
            pg.get,
            lambda k: raw_pg_unprepared.execute(lookup, (k,)).fetchone(),
        ),
        "SQLite": (
            lite.get,
            lambda k: raw_lite.execute("SELECT value FROM tokens WHERE key = ?", (k,)).fetchone(),
        ),
        "Redis": (red.get, lambda k: raw_red.hgetall(red._token_key(k))),
    }
    print("\n1. Token read latency, µs (p50 / p99), ours next to the driver's own lookup, and")
    print("   the ratio of the medians")
    print(f"   {'users':>9}  " + "  ".join(f"{name:>31}" for name in stores))
    filled = 0
    for size in sizes:
        fill_postgres(pg, dsn, filled, size)
        fill_sqlite(sqlite_path, filled, size)
        fill_redis(red, filled, size)
        filled = size
        cells = []
        for ours, baseline in stores.values():
            ours50, ours99 = _latencies(ours, size)
            base50, base99 = _latencies(baseline, size)
            ratio = ours50 / base50
            cell = f"{ours50:4.0f}/{ours99:5.0f} vs {base50:4.0f}/{base99:5.0f} {ratio:3.1f}×"
            cells.append(cell)
        print(f"   {size:>9,}  " + "  ".join(f"{cell:>31}" for cell in cells))
    raw_pg.close()
    raw_pg_unprepared.close()
    raw_lite.close()
    pg.dispose()
    prepared.dispose()


# -- 2. Session.auth() for a random user ---------------------------------------------------


def session_requests(users: int, postgres: Any) -> None:
    import httpx2

    with LoopbackServer() as server:
        pg = SQLAlchemyStore(postgres.url(), table_name="bench_tokens")
        rng = random.Random(7)
        chosen = [rng.randrange(users) for _ in range(SAMPLES)]
        token = _token(0)
        with OAuth2Client("bench", "secret", token_endpoint=server.url + "/token") as client:
            http = httpx2.Client()
            header = {"Authorization": f"Bearer {token.access_token}"}
            api = server.url + "/api"

            def bare(n: int) -> None:
                http.get(api, headers=header)

            def ours(n: int) -> None:
                http.get(api, auth=Session(client, pg, _key(n)).auth())

            best = {"bare request": 0.0, "Session.auth()": 0.0}
            for _ in range(3):
                for name, call in (("bare request", bare), ("Session.auth()", ours)):
                    started = time.perf_counter()
                    for n in chosen:
                        call(n)
                    best[name] = max(best[name], len(chosen) / (time.perf_counter() - started))
        assert server.token_requests == 0  # every token was fresh: no renewal
        ratio = best["Session.auth()"] / best["bare request"]
        print(f"\n2. A request for a random one of {users:,} users (a new Session each: the")
        print("   user's token read from PostgreSQL, then the request)")
        for name, rate in best.items():
            print(f"   {name:16} {rate:8.0f} req/s")
        print(f"   Session.auth() is {ratio:.2f} of the bare request")
        pg.dispose()


# -- 3. 1,000 due tokens, 4 processes ------------------------------------------------------

_WORKER = """
import json, sys
from oauthkit import OAuth2Client, Session
from oauthkit.stores import SQLAlchemyStore
config = json.loads(sys.argv[1])
store = SQLAlchemyStore(config["url"], table_name="bench_due")
with OAuth2Client(**config["client"]) as client:
    sys.stdin.readline()
    order = list(range(config["users"]))
    __import__("random").Random(config["seed"]).shuffle(order)
    for n in order:
        Session(client, store, f"due:{n}").token()
print("done", flush=True)
"""


def due_at_once(users: int, postgres: Any) -> None:
    with LoopbackServer() as server:
        pg = SQLAlchemyStore(postgres.url(), table_name="bench_due")
        pg.create_table()
        now = datetime.now(UTC)
        for n in range(users):
            due = _token(n).replace(issued_at=now - timedelta(hours=1), expires_at=now)
            pg.put(f"due:{n}", due)
        config = {
            "url": postgres.url(),
            "users": users,
            "client": {
                "client_id": "bench",
                "client_secret": "secret",
                "token_endpoint": server.url + "/token",
            },
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, json.dumps({**config, "seed": seed})],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for seed in range(4)
        ]
        time.sleep(3)  # imports done
        started = time.perf_counter()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, _ = worker.communicate(timeout=600)
            assert out.strip() == "done", out
        elapsed = time.perf_counter() - started
        refreshes = server.token_requests
        renewed = sum(
            1
            for n in range(users)
            if (t := pg.get(f"due:{n}", Token)) is not None and t.access_token.startswith("bench-")
        )
        print(f"\n3. {users:,} due tokens, 4 processes each walking all of them (PostgreSQL)")
        print(
            f"   token requests: {refreshes:,}; users renewed: {renewed:,} (exactly once each: "
            f"{'yes' if refreshes == renewed == users else 'NO'}), in {elapsed:.1f} s "
            f"({users / elapsed:.0f} users/s)"
        )
        pg.dispose()


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    sizes = [1_000, 10_000] if quick else [1_000, 100_000, 1_000_000]
    postgres = start_postgres()
    redis = start_redis()
    try:
        with tempfile.TemporaryDirectory() as folder:
            reads(sizes, Path(folder), postgres, redis.url)
        session_requests(sizes[-1], postgres)
        due_at_once(200 if quick else 1000, postgres)
    finally:
        redis.stop()
        postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
