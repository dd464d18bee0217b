"""Tokens encrypted at rest (AES-256-GCM, :mod:`oauthkit.stores.encryption`): the keys and
their errors; what the raw storage holds after every kind of write, read below the store (the
SQLite file with its write-ahead log, PostgreSQL's rows, every Redis key); entries written in
clear before; rotation and ``rekey`` (also while four processes renew tokens); an entry
altered, moved to another key, or sealed by a key the store lacks."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from oauthkit import OAuth1Credentials, Token
from oauthkit.errors import ConfigurationError, StoreError
from oauthkit.protocol.oauth2.registration import ClientRegistration
from oauthkit.stores import Encryption, RedisStore, SQLiteStore
from oauthkit.stores.encryption import PENDING, TOKEN
from peers.counting_server import CountingServer
from stores.test_session import _client_args, _go, _seed_due, _start_workers

OLD = Encryption.generate("k1")
NEW = Encryption.generate("k2")


def _secrets() -> dict[str, str]:
    return {
        name: f"{name}-{secrets.token_hex(12)}" for name in ("AT", "RT", "ID", "TS", "CS", "PK")
    }


def _write_everything(store: Any, s: dict[str, str]) -> None:
    """A token (access, refresh and ID token, a DPoP key among its extras) put and renewed
    under its lock, OAuth 1.0a credentials, a client's registration, a pending web flow."""
    token = Token(
        s["AT"] + "-0",
        refresh_token=s["RT"] + "-0",
        id_token=s["ID"],
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        extra={"dpop_private_jwk": {"kty": "EC", "d": s["AT"] + "-dpop"}},
    )
    store.put("user:1:google", token)
    with store.lock("user:1:google") as held:
        entry = held.load()
        held.save(token.replace(access_token=s["AT"], refresh_token=s["RT"]), entry.version)
    store.put("user:1:x", OAuth1Credentials("ck", "cs", token="tok", token_secret=s["TS"]))
    store.put(
        "client:mcp",
        ClientRegistration(issuer="https://as.example", client_id="c1", client_secret=s["CS"]),
    )
    store.put_pending("handle-1", f'{{"verifier": "{s["PK"]}"}}', ttl=600)


@dataclass
class Backend:
    """A store's backend: stores on it (with or without keys), and its raw contents."""

    open: Callable[..., Any]
    raw: Callable[[], bytes]
    set_raw: Callable[[str, str | bytes], None]


def _sqlite(tmp_path: Path) -> Backend:
    import sqlite3

    path = tmp_path / "tokens.sqlite3"

    def raw() -> bytes:
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())

    def set_raw(key: str, text: str | bytes) -> None:
        with sqlite3.connect(path) as connection:
            connection.execute(
                "INSERT OR REPLACE INTO tokens (key, value, version, updated_at) "
                "VALUES (?, ?, 1, 0)",
                (key, text),
            )
        connection.close()

    return Backend(lambda **o: SQLiteStore(path, **o), raw, set_raw)


def _redis(url: str) -> Backend:
    import redis

    client = redis.Redis.from_url(url)

    def raw() -> bytes:
        found = []
        for name in client.keys("*"):
            kind = client.type(name)
            if kind == b"hash":
                found += [k + b"=" + v for k, v in client.hgetall(name).items()]
            elif kind == b"string":
                found.append(client.get(name) or b"")
        return b"\n".join(found)

    def set_raw(key: str, text: str | bytes) -> None:
        name = RedisStore(url)._token_key(key)
        client.hset(name, mapping={"value": text, "version": 1})

    return Backend(lambda **o: RedisStore(url, **o), raw, set_raw)


def _sqlalchemy(url: str) -> Backend:
    import sqlalchemy as sa

    from oauthkit.stores import SQLAlchemyStore

    name = "enc_" + secrets.token_hex(6)
    table = SQLAlchemyStore(url, table_name=name).table
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))

    def raw() -> bytes:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(table.c.kind, table.c.key, table.c.data))
            return "\n".join("|".join(map(str, row)) for row in rows).encode()

    def set_raw(key: str, text: str | bytes) -> None:
        assert isinstance(text, str)  # a store of text
        with engine.begin() as connection:
            connection.execute(table.delete().where(table.c.key == key))
            connection.execute(table.insert().values(kind="token", key=key, data=text, version=1))

    return Backend(lambda **o: SQLAlchemyStore(url, table_name=name, **o), raw, set_raw)


def _django(alias: str) -> Backend:
    from oauthkit.web.django.models import StoredEntry
    from oauthkit.web.django.store import DjangoStore

    rows = StoredEntry.objects.using(alias)
    rows.all().delete()

    def raw() -> bytes:
        return "\n".join(
            "|".join(map(str, r)) for r in rows.values_list("kind", "key", "data")
        ).encode()

    def set_raw(key: str, text: str | bytes) -> None:
        assert isinstance(text, str)  # a store of text
        rows.filter(key=key).delete()
        rows.create(kind="token", key=key, data=text, version=1)

    return Backend(lambda **o: DjangoStore(alias, **o), raw, set_raw)


@pytest.fixture(params=["sqlite", "redis", "sqlalchemy-postgres", "django-postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield _sqlite(tmp_path)
    elif request.param == "redis":
        yield _redis(request.getfixturevalue("redis_url"))
    elif request.param == "sqlalchemy-postgres":
        yield _sqlalchemy(request.getfixturevalue("postgres").url())
    else:
        request.getfixturevalue("django_databases")
        yield _django("postgres")


def _holds_none_of(raw: bytes, found: dict[str, str]) -> None:
    leaked = [name for name, value in found.items() if value.encode() in raw]
    assert leaked == [], f"in clear in the raw storage: {leaked}"


# -- the keys -------------------------------------------------------------------------------


def test_generated_keys_parse_and_the_first_seals() -> None:
    enc = Encryption.parse(f"{NEW},{OLD}")
    assert enc.key_ids == ("k2", "k1") and enc.kid == "k2"
    sealed = enc.seal('{"x": 1}', TOKEN, "user:1")
    assert sealed.startswith("oauthkit/aes-256-gcm:k2:")
    assert Encryption.parse(NEW).open(sealed, TOKEN, "user:1") == '{"x": 1}'
    assert enc.seal('{"x": 1}', TOKEN, "user:1") != sealed  # a fresh nonce per write
    assert "k2" in repr(enc) and NEW.split(":")[1] not in repr(enc)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEYS", f" {NEW} , {OLD} ")
    assert Encryption.from_env("MY_KEYS").key_ids == ("k2", "k1")
    monkeypatch.delenv("MY_KEYS")
    with pytest.raises(ConfigurationError, match=r"\$MY_KEYS is not set"):
        Encryption.from_env("MY_KEYS")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("k1", "entry 1 is not kid:key"),
        (f"{NEW},k1:", "entry 2 is not kid:key"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "must be 32 bytes"),
        (f"{NEW},{NEW}", "listed twice"),
        ("k 1:" + NEW.split(":")[1], "a key id is"),
        ("k1:!!!not-base64!!", "not base64url"),
    ],
    ids=["no-key", "empty-key", "short", "twice", "bad-id", "not-base64"],
)
def test_bad_key_lists_are_named_without_the_keys(text: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as caught:
        Encryption.parse(text, source="$KEYS")
    assert str(caught.value).startswith("$KEYS")
    assert NEW.split(":")[1] not in str(caught.value)


def test_a_key_held_elsewhere_is_unwrapped_once() -> None:
    """The KMS hook: the environment holds each data key wrapped (here with AES key wrap,
    RFC 3394, standing in for a KMS's decrypt call)."""
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

    master, data_key = secrets.token_bytes(32), secrets.token_bytes(32)
    wrapped = base64.urlsafe_b64encode(aes_key_wrap(master, data_key)).decode()
    calls: list[str] = []

    def unwrap(kid: str, blob: bytes) -> bytes:
        calls.append(kid)
        return aes_key_unwrap(master, blob)

    enc = Encryption.parse(f"kms1:{wrapped}", unwrap=unwrap)
    plain = Encryption({"kms1": data_key})
    assert plain.open(enc.seal("{}", TOKEN, "k"), TOKEN, "k") == "{}"
    assert calls == ["kms1"]
    with pytest.raises(ConfigurationError, match="unwrapping the key 'kms1' failed"):
        Encryption.parse(f"kms1:{wrapped}", unwrap=lambda kid, blob: aes_key_unwrap(data_key, blob))


def test_a_record_moved_altered_or_of_another_kind_fails_authentication() -> None:
    enc = Encryption.parse(NEW)
    sealed = enc.seal('{"a": 1}', TOKEN, "user:1")
    body = sealed.rsplit(":", 1)[1]
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    for text, kind, key in [
        (sealed, TOKEN, "user:2"),  # copied to another user's key
        (sealed, PENDING, "user:1"),  # passed off as another kind
        (flipped, TOKEN, "user:1"),  # altered
        (sealed[:40], TOKEN, "user:1"),  # cut short
    ]:
        with pytest.raises(
            StoreError, match="fails authentication under the key id 'k2'"
        ) as caught:
            enc.open(text, kind, key)
        assert body[:16] not in str(caught.value)


def test_a_store_of_bytes_keeps_the_sealed_bytes_unencoded() -> None:
    enc = Encryption.parse(NEW)
    raw = enc.seal_raw('{"a": 1}', TOKEN, "user:1")
    assert raw.startswith(b"oauthkit/aes-256-gcm/raw:k2:")
    assert len(raw) == len(b"oauthkit/aes-256-gcm/raw:k2:") + 12 + len('{"a": 1}') + 16
    assert enc.open(raw, TOKEN, "user:1") == '{"a": 1}'
    assert enc.open(enc.seal('{"a": 1}', TOKEN, "u").encode(), TOKEN, "u") == '{"a": 1}'
    with pytest.raises(StoreError, match="fails authentication"):
        enc.open(raw[:-1] + bytes([raw[-1] ^ 1]), TOKEN, "user:1")
    with pytest.raises(StoreError, match="fails authentication"):
        enc.open(raw, TOKEN, "user:2")


def test_a_key_the_store_lacks_is_named() -> None:
    sealed = Encryption.parse(OLD).seal("{}", TOKEN, "user:1")
    with pytest.raises(
        StoreError, match=r"'user:1' is encrypted with the key id 'k1', which is not"
    ) as caught:
        Encryption.parse(NEW, source="$OAUTHKIT_STORE_KEYS").open(sealed, TOKEN, "user:1")
    assert "$OAUTHKIT_STORE_KEYS" in str(caught.value)


# -- the stores, read below them ---------------------------------------------------------------


def test_the_raw_storage_holds_no_secret(backend: Backend) -> None:
    found = _secrets()
    store = backend.open(encryption=Encryption.parse(f"{NEW},{OLD}"))
    _write_everything(store, found)
    _holds_none_of(backend.raw(), found)
    token = store.get("user:1:google", Token)
    assert (token.access_token, token.refresh_token, token.id_token) == (
        found["AT"],
        found["RT"],
        found["ID"],
    )
    assert store.get("user:1:x", OAuth1Credentials).token_secret == found["TS"]
    assert store.get("client:mcp", ClientRegistration).client_secret == found["CS"]
    assert found["PK"] in (store.take_pending("handle-1") or "")
    # the same storage without keys, or without the key that sealed it, says so
    with pytest.raises(
        StoreError, match=r"is encrypted \(key id 'k2'\) and this store was given no keys"
    ):
        backend.open().get("user:1:google")
    with pytest.raises(StoreError, match=r"'user:1:google' is encrypted with the key id 'k2'"):
        backend.open(encryption=Encryption.parse(OLD)).get("user:1:google")


def test_an_entry_moved_to_another_key_or_altered_is_refused(backend: Backend) -> None:
    store = backend.open(encryption=Encryption.parse(NEW))
    store.put("user:alice", Token("alice-token"))
    store.put("user:mallory", Token("mallory-token"))
    # copy alice's sealed record over mallory's: the key is bound, so it does not open
    record = _sealed_record_of(store, "user:alice")
    backend.set_raw("user:mallory", record)
    with pytest.raises(StoreError, match="'user:mallory' fails authentication") as caught:
        store.get("user:mallory")
    assert str(record[-40:-20]) not in str(caught.value)
    altered = record[:-8] + (b"x" * 8 if isinstance(record, bytes) else "x" * 8)
    backend.set_raw("user:alice", altered)
    with pytest.raises(StoreError, match="'user:alice' fails authentication"):
        store.get("user:alice")


def _sealed_record_of(store: Any, key: str) -> str | bytes:
    """The stored record of ``key`` (bytes in SQLite and Redis, text in the databases of
    text), as the store reads it before opening it."""
    captured: list[str | bytes] = []
    original = store._decode

    def keep(key_: str, record: str | bytes) -> Any:
        captured.append(record)
        return original(key_, record)

    store._decode = keep
    try:
        store.get(key)
    finally:
        del store._decode
    return captured[0]


def test_entries_written_in_clear_are_read_then_sealed(backend: Backend) -> None:
    found = _secrets()
    _write_everything(backend.open(), found)
    assert found["AT"].encode() in backend.raw()  # the store of old: in clear
    store = backend.open(encryption=Encryption.parse(NEW))
    assert store.get("user:1:google", Token).access_token == found["AT"]
    assert found["PK"] in (store.take_pending("handle-1") or "")  # a sign-in under way
    assert store.rekey() == 3
    _holds_none_of(backend.raw(), found)
    only_new = backend.open(encryption=Encryption.parse(NEW))
    assert only_new.get("user:1:x", OAuth1Credentials).token_secret == found["TS"]


def test_rotation_a_new_key_in_front_then_rekey(backend: Backend) -> None:
    backend.open(encryption=Encryption.parse(OLD)).put("user:1", Token("one"))
    both = backend.open(encryption=Encryption.parse(f"{NEW},{OLD}"))
    both.put("user:2", Token("two"))  # sealed under the new key already
    assert both.get("user:1") == Token("one")
    only_new = backend.open(encryption=Encryption.parse(NEW))
    assert only_new.get("user:2") == Token("two")
    with pytest.raises(StoreError, match="key id 'k1'"):
        only_new.get("user:1")
    assert both.rekey() == 2
    assert only_new.get("user:1") == Token("one")
    with pytest.raises(ConfigurationError, match="rekey needs the store's keys"):
        backend.open().rekey()


# -- rekey while workers renew -----------------------------------------------------------------


@pytest.mark.slow
def test_rekey_while_four_processes_renew_tokens(
    counting_server: CountingServer, tmp_path: Path
) -> None:
    """Twenty users' tokens fall due while four processes (three threads each) renew them
    all and the store is rekeyed over and over: one refresh per token, nothing lost, and at
    the end every entry opens with the new key alone."""
    path = tmp_path / "shared.sqlite3"
    keys = [f"user:{n}:counting" for n in range(20)]
    seeding = SQLiteStore(path, encryption=Encryption.parse(OLD))
    for key in keys:
        _seed_due(counting_server, seeding, key)
    counting_server.set(token_delay=0.05)
    config = {
        "store": "sqlite",
        "location": str(path),
        "store_keys": f"{NEW},{OLD}",
        "key": keys[0],
        "keys": keys,
        "client": _client_args(counting_server),
        "threads": 3,
        "mode": "users",
    }
    workers = _start_workers(4, config)
    rekeyed: list[int] = []
    done = threading.Event()
    store = SQLiteStore(path, encryption=Encryption.parse(f"{NEW},{OLD}"))

    def rekey_over_and_over() -> None:
        while not done.is_set():
            rekeyed.append(store.rekey())

    rekeying = threading.Thread(target=rekey_over_and_over)
    rekeying.start()
    try:
        results = _go(workers)
    finally:
        done.set()
        rekeying.join()
    for result in results:
        assert result["errors"] == []
        assert result["tokens"] == 3 * len(keys)
    assert counting_server.counts["refresh_token"] == len(keys)
    assert len(rekeyed) >= 2 and rekeyed[0] == len(keys)
    only_new = SQLiteStore(path, encryption=Encryption.parse(NEW))
    for key in keys:
        stored = only_new.get(key, Token)
        assert counting_server.refresh_token_active(stored.refresh_token or ""), key
