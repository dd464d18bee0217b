"""Tokens encrypted at rest: what it costs a read and a write, per store.

    python bench/encryption.py [--quick]      # --quick: 2,000 users instead of 20,000

1. ``store.get(key)`` and ``store.put(key, token)`` for a random one of the users, p50 and p99
   in µs, in SQLite (SQLiteStore), PostgreSQL (SQLAlchemyStore) and Redis (RedisStore): each
   store in clear next to the same store with ``encryption=`` (AES-256-GCM), and the ratio of
   the medians. The goal is at most 1.2× on a read.
2. One record sealed and opened (AES-256-GCM, the store key and kind bound; as bytes in
   SQLite and Redis, base64 text in the databases of text) next to what applications write
   by hand around a token today: ``cryptography``'s Fernet (AES-128-CBC and HMAC-SHA256,
   base64) around the same JSON.

PostgreSQL and Redis are Debian's, started by the test peers' helpers in temporary folders.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from oauthkit import Token  # noqa: E402
from oauthkit.stores import Encryption, RedisStore, SQLAlchemyStore, SQLiteStore  # noqa: E402
from oauthkit.stores.base import encode  # noqa: E402
from oauthkit.stores.encryption import TOKEN  # noqa: E402
from peers.postgres_server import start_postgres  # noqa: E402
from peers.redis_server import start_redis  # noqa: E402

READS, WRITES = 3000, 600


def _token(n: int) -> Token:
    """A token of the size providers issue (a JWT access token, a refresh token, an ID
    token)."""
    return Token(
        f"at-{n}-" + "a" * 600,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        refresh_token=f"rt-{n}-" + "r" * 60,
        id_token=f"id-{n}-" + "i" * 700,
        scope="openid profile email offline_access",
    )


def _key(n: int) -> str:
    return f"user:{n}:google"


def _timed_pair(
    clear: Callable[[int], Any], sealed: Callable[[int], Any], users: int, samples: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50 and p99 (µs) of each, sample by sample in turn on the same random users, so that
    the machine's drift (caches, frequency, other processes) weighs on both alike."""
    rng = random.Random(users)
    for _ in range(samples // 10):
        n = rng.randrange(users)
        clear(n)
        sealed(n)
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(samples):
        n = rng.randrange(users)
        for work, kept in ((clear, times[0]), (sealed, times[1])):
            started = time.perf_counter()
            work(n)
            kept.append(time.perf_counter() - started)
    figures = []
    for kept in times:
        kept.sort()
        figures.append((statistics.median(kept) * 1e6, kept[int(len(kept) * 0.99)] * 1e6))
    return figures[0], figures[1]


def _reader(store: Any) -> Callable[[int], Any]:
    return lambda n: store.get(_key(n))


def _writer(store: Any) -> Callable[[int], Any]:
    return lambda n: store.put(_key(n), _token(n))


def _records(users: int, seal: Callable[[str, Any], str | bytes]) -> list[tuple[str, Any]]:
    """Each user's record as the store writes it (``seal``: its encoding, sealed or not)."""
    return [(_key(n), seal(_key(n), _token(n))) for n in range(users)]


def _fill_sqlite(path: Path, rows: list[tuple[str, str]]) -> None:
    import sqlite3

    connection = sqlite3.connect(path)
    with connection:
        connection.executemany(
            "INSERT INTO tokens (key, value, version, updated_at) VALUES (?, ?, 1, 0)", rows
        )
    connection.close()


def _fill_postgres(store: SQLAlchemyStore, dsn: str, rows: list[tuple[str, str]]) -> None:
    import psycopg

    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        table = store.table.name
        with cursor.copy(f"COPY {table} (kind, key, data, version) FROM STDIN") as copy:
            for key, text in rows:
                copy.write_row(("token", key, text, 1))
        cursor.execute(f"ANALYZE {table}")


def _fill_redis(store: RedisStore, rows: list[tuple[str, str]]) -> None:
    client = store._client()
    with client.pipeline(transaction=False) as pipe:
        for key, text in rows:
            pipe.hset(store._token_key(key), mapping={"value": text, "version": 1})
        pipe.execute()


def stores(users: int, folder: Path, postgres: Any, redis_url: str) -> None:
    keys = Encryption.parse(Encryption.generate("k1"))
    dsn = f"host=127.0.0.1 port={postgres.port} user=oauthkit dbname=postgres"
    made: dict[str, dict[str, Any]] = {}
    for label, encryption in (("clear", None), ("sealed", keys)):
        lite = SQLiteStore(folder / f"{label}.sqlite3", encryption=encryption)
        lite.keys()  # creates the file and its schema
        _fill_sqlite(lite.path, _records(users, lite._encode_raw))
        pg = SQLAlchemyStore(postgres.url(), table_name=f"bench_{label}", encryption=encryption)
        pg.create_table()
        _fill_postgres(pg, dsn, _records(users, pg._encode))
        red = RedisStore(redis_url, prefix=f"bench-{label}", encryption=encryption)
        _fill_redis(red, _records(users, red._encode_raw))
        made[label] = {"SQLite": lite, "PostgreSQL": pg, "Redis": red}
    print(f"\n1. A random one of {users:,} users: µs, p50 / p99, in clear and encrypted")
    print(
        f"   {'store':12} {'read, clear':>14} {'encrypted':>14} {'ratio':>6}   "
        f"{'write, clear':>14} {'encrypted':>14} {'ratio':>6}"
    )
    for name in ("SQLite", "PostgreSQL", "Redis"):
        cells = []
        clear, sealed = made["clear"][name], made["sealed"][name]
        for work, samples in ((_reader, READS), (_writer, WRITES)):
            figures = _timed_pair(work(clear), work(sealed), users, samples)
            (c50, c99), (s50, s99) = figures
            cells.append(f"{c50:6.0f}/{c99:6.0f} {s50:6.0f}/{s99:6.0f} {s50 / c50:5.2f}×")
        print(f"   {name:12} " + "   ".join(cells))
    for label in made:
        made[label]["PostgreSQL"].dispose()
        made[label]["Redis"].close()


def one_record() -> None:
    from cryptography.fernet import Fernet

    keys = Encryption.parse(Encryption.generate("k1"))
    fernet = Fernet(Fernet.generate_key())
    text = encode(_token(1))
    sealed, token = keys.seal(text, TOKEN, _key(1)), fernet.encrypt(text.encode())
    rounds = 20000

    def each(work: Callable[[], Any]) -> float:
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        return (time.perf_counter() - started) / rounds * 1e6

    raw = keys.seal_raw(text, TOKEN, _key(1))
    as_text = (
        each(lambda: keys.seal(text, TOKEN, _key(1))),
        each(lambda: keys.open(sealed, TOKEN, _key(1))),
    )
    as_bytes = (
        each(lambda: keys.seal_raw(text, TOKEN, _key(1))),
        each(lambda: keys.open(raw, TOKEN, _key(1))),
    )
    theirs = each(lambda: fernet.encrypt(text.encode())), each(lambda: fernet.decrypt(token))
    print(f"\n2. One record of {len(text)} bytes, µs: sealed / opened")
    print(f"   oauthkit, bytes (SQLite, Redis)          {as_bytes[0]:5.1f} / {as_bytes[1]:5.1f}")
    print(f"   oauthkit, text (PostgreSQL, Django)      {as_text[0]:5.1f} / {as_text[1]:5.1f}")
    print(f"   Fernet by hand (AES-128-CBC + HMAC)      {theirs[0]:5.1f} / {theirs[1]:5.1f}")
    print(
        f"   ratio, oauthkit bytes / Fernet           {as_bytes[0] / theirs[0]:5.2f} / "
        f"{as_bytes[1] / theirs[1]:5.2f}"
    )


def main(argv: list[str]) -> int:
    users = 2_000 if "--quick" in argv else 20_000
    postgres = start_postgres()
    redis = start_redis()
    try:
        with tempfile.TemporaryDirectory() as folder:
            stores(users, Path(folder), postgres, redis.url)
        one_record()
    finally:
        redis.stop()
        postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
