"""Self-check of the local Redis peer with plain redis-py (nothing from oauthkit)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import redis

from .redis_server import RedisPeer, RedisStartError, RedisUnavailable, start_redis


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except ConnectionRefusedError:
        return False


def test_url_set_get_and_empty_at_start(redis_url: str, redis_server: RedisPeer) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0" == redis_server.url
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0
        client.set("oauthkit:token", b"\x00secret\xff", ex=30)
        assert client.get("oauthkit:token") == b"\x00secret\xff"
        assert 0 < client.ttl("oauthkit:token") <= 30
        client.select(1)
        client.set("other-db", "1")


def test_each_test_starts_flushed(redis_url: str) -> None:
    """Whatever the other tests left (in any database) is gone."""
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0
        client.set("oauthkit:token", "left behind")
    with redis.Redis.from_url(redis_url.removesuffix("/0") + "/1") as client:
        assert client.dbsize() == 0


def test_flushall(redis_server: RedisPeer) -> None:
    with redis_server.client() as client:
        client.set("a", "1")
        redis_server.flushall()
        assert client.exists("a") == 0


def test_configuration(redis_server: RedisPeer) -> None:
    """No config file, no persistence, loopback only, protected mode."""
    with redis_server.client() as client:
        info = client.info("server")
        assert info["config_file"] == ""
        assert info["tcp_port"] == redis_server.port
        assert info["process_id"] == redis_server.pid
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
    assert redis_server.running
    assert "Ready to accept connections" in redis_server.output


def test_two_servers_on_distinct_ports_stop_frees_the_port(redis_server: RedisPeer) -> None:
    first, second = start_redis(), start_redis()
    try:
        assert len({first.port, second.port, redis_server.port}) == 3
        with first.client() as a, second.client() as b:
            a.set("k", "first")
            b.set("k", "second")
            assert a.get("k") == b"first"
            assert b.get("k") == b"second"
        port = first.port
        first.stop()
        assert not first.running
        first.stop()  # idempotent
        assert not _listening(port)
        with pytest.raises(redis.ConnectionError), first.client() as a:
            a.ping()
        # the port is really free: a new server can take it
        again = start_redis(port=port)
        try:
            with again.client() as client:
                assert client.ping()
                assert client.get("k") is None  # nothing persisted
        finally:
            again.stop()
        assert not _listening(port)
        with second.client() as b:
            assert b.get("k") == b"second"  # the other one is untouched
    finally:
        first.stop()
        second.stop()


def test_port_in_use_raises_with_output(redis_server: RedisPeer) -> None:
    with pytest.raises(RedisStartError) as excinfo:
        start_redis(port=redis_server.port)
    message = str(excinfo.value)
    assert f"127.0.0.1:{redis_server.port}" in message
    assert "Address already in use" in message  # the server's own output
    with redis_server.client() as client:
        assert client.ping()  # the running one is not disturbed


def test_unavailable_without_redis_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RedisUnavailable, match="install Debian's redis-server"):
        start_redis()


# ------------------------------------------------------------- cluster, sentinel, TLS


def test_the_cluster_has_three_primaries_each_with_a_replica(redis_cluster: Any) -> None:
    with redis_cluster.nodes[0].client(decode_responses=True) as node:
        roles = [n["flags"] for n in node.execute_command("CLUSTER NODES").values()]
    assert sum("master" in r for r in roles) == 3 and sum("slave" in r for r in roles) == 3
    with redis_cluster.client() as client:
        client.set("selfcheck", "1")
        assert client.get("selfcheck") == b"1"
    assert redis_cluster.url.startswith("redis+cluster://127.0.0.1:")


def test_the_sentinels_name_the_primary(redis_sentinel: Any) -> None:
    port = redis_sentinel.master_port()
    assert port in (redis_sentinel.primary.port, redis_sentinel.replica.port)
    assert redis_sentinel.url.endswith("/mymaster")
    node = redis_sentinel.primary if port == redis_sentinel.primary.port else redis_sentinel.replica
    with node.client() as client:
        assert client.info("replication")["role"] == "master"


def test_the_tls_server_takes_tls_only(redis_tls: RedisPeer) -> None:
    assert redis_tls.url.startswith("rediss://127.0.0.1:") and "ssl_ca_certs=" in redis_tls.url
    with redis.Redis.from_url(redis_tls.url) as client:
        assert client.ping()
    plain = redis_tls.url.replace("rediss://", "redis://").split("?", 1)[0]
    with redis.Redis.from_url(plain, socket_timeout=2) as client, pytest.raises(redis.RedisError):
        client.ping()
