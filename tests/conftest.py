"""Shared pytest fixtures for the oauthkit test suite, and its layers as markers.

Every test is one of: ``e2e`` (a real browser, the example apps on their servers, the docs'
pages run as programs), ``peer`` (a real server of another project: oidc-provider, the OAuth
1.0a peers, Redis, PostgreSQL), ``fuzz``, ``slow`` (processes of the command, many threads,
waits of a second or more), or none of them: the unit layer, ``./run unit``. The first three
are given here from a test's fixtures, parameters and folder, and ``slow`` to every test that
runs the command as a process; other slow tests are marked where they are measured.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from peers import oauth1_authlib, oauth1_oauthlib
from peers.counting_server import CountingServer, start_counting_server
from peers.oauth1_common import OAuth1Peer
from peers.oidc_provider import OIDCPeer, OIDCPeerUnavailable, start_oidc_provider, tls_material
from peers.pgbouncer import PgBouncerPeer, PgBouncerUnavailable, start_pgbouncer
from peers.postgres_server import PostgresPeer, PostgresUnavailable, start_postgres
from peers.redis_server import RedisPeer, RedisUnavailable, start_redis
from peers.redis_topologies import (
    ClusterPeer,
    SentinelPeer,
    start_cluster,
    start_sentinel,
    start_tls,
)

#: Fixtures that start another project's server.
PEER_FIXTURES = frozenset(
    {
        "oauthlib_peer",
        "authlib_peer",
        "oauth1_peer",
        "oidc_provider",
        "start_oidc",
        "start_oidc_module",
        "redis_server",
        "redis_url",
        "postgres",
        "django_databases",
        "redis_cluster",
        "redis_sentinel",
        "redis_tls",
        "pgbouncer",
    }
)
#: Fixtures of a real browser or of the example apps on their servers.
E2E_FIXTURES = frozenset({"chromium", "chromium_paths", "browsers", "browser", "example", "setup"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        where = item.nodeid
        if fixtures & E2E_FIXTURES or where.startswith(("tests/docs/", "tests/web/test_examples")):
            item.add_marker(pytest.mark.e2e)
        params = getattr(item, "callspec", None)
        values = [str(v) for v in params.params.values()] if params is not None else []
        on_peer = any(p in v for v in values for p in ("postgres", "redis", "pgbouncer"))
        if on_peer or fixtures & PEER_FIXTURES or where.startswith("tests/peers/"):
            item.add_marker(pytest.mark.peer)
        if where.startswith("tests/test_fuzz.py"):
            item.add_marker(pytest.mark.fuzz)
        if "cli" in fixtures:  # the command, run as a process
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio."""
    return "asyncio"


# ----------------------------------------------------------------------------- OAuth 1.0a peers

_LIVE_OAUTH1_PEERS: list[OAuth1Peer] = []


@pytest.fixture(scope="session")
def oauthlib_peer() -> Iterator[OAuth1Peer]:
    """The local OAuth 1.0a provider built on oauthlib, started once per session."""
    peer = oauth1_oauthlib.start()
    _LIVE_OAUTH1_PEERS.append(peer)
    yield peer
    _LIVE_OAUTH1_PEERS.remove(peer)
    peer.stop()


@pytest.fixture(scope="session")
def authlib_peer() -> Iterator[OAuth1Peer]:
    """The local OAuth 1.0a provider built on Authlib, started once per session."""
    peer = oauth1_authlib.start()
    _LIVE_OAUTH1_PEERS.append(peer)
    yield peer
    _LIVE_OAUTH1_PEERS.remove(peer)
    peer.stop()


@pytest.fixture(scope="session", params=["oauthlib", "authlib"])
def oauth1_peer(request: pytest.FixtureRequest) -> OAuth1Peer:
    """Each OAuth 1.0a provider in turn (a test using it runs once per provider)."""
    peer: OAuth1Peer = request.getfixturevalue(f"{request.param}_peer")
    return peer


@pytest.fixture(autouse=True)
def _reset_oauth1_peers() -> None:
    """Before every test: restore the switches and clear the request log of running peers."""
    for peer in _LIVE_OAUTH1_PEERS:
        peer.reset()


# ----------------------------------------------------------------------------- OAuth 2 / OIDC peer

_LIVE_OIDC_PEERS: list[OIDCPeer] = []


def _start_oidc_or_skip(**options: Any) -> OIDCPeer:
    """Start oidc-provider; without node or ``npm ci``: fail under ``CI=true``, else skip."""
    try:
        return start_oidc_provider(**options)
    except OIDCPeerUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"oidc-provider peer unavailable under CI: {exc}", pytrace=False)
        pytest.skip(f"oidc-provider peer unavailable: {exc}")


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OIDCPeer]:
    """panva's oidc-provider with the default options and clients, started once per session.

    Its request log is cleared before every test.  Do not restart it or change its state in
    ways other tests would see; use ``start_oidc`` for special options.
    """
    peer = _start_oidc_or_skip()
    _LIVE_OIDC_PEERS.append(peer)
    yield peer
    _LIVE_OIDC_PEERS.remove(peer)
    peer.stop()


@pytest.fixture
def start_oidc() -> Iterator[Callable[..., OIDCPeer]]:
    """Factory: ``start_oidc(**options)`` starts a provider of the test's own
    (:func:`peers.oidc_provider.start_oidc_provider` options, e.g. ``ttl={"AccessToken": 2}``,
    ``rotate_refresh_token=False``, ``require_par=True``, ``access_token_format="jwt"``,
    ``tls=True``); every provider it started is stopped at teardown."""
    yield from _oidc_factory()


@pytest.fixture(scope="module")
def start_oidc_module() -> Iterator[Callable[..., OIDCPeer]]:
    """``start_oidc`` for a module: the providers it starts live until the module's last
    test (for a module whose tests share one specially configured provider)."""
    yield from _oidc_factory()


def _oidc_factory() -> Iterator[Callable[..., OIDCPeer]]:
    """Yield a function that starts providers; stop them all when resumed."""
    started: list[OIDCPeer] = []

    def start(**options: Any) -> OIDCPeer:
        peer = _start_oidc_or_skip(**options)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture(autouse=True)
def _reset_oidc_logs() -> None:
    """Before every test: clear the request log of the session's oidc-provider, if running."""
    for peer in _LIVE_OIDC_PEERS:
        if peer.running:
            peer.reset_log()


# ----------------------------------------------------------------------------- Redis


def _start_redis_or_skip() -> RedisPeer:
    """Start redis-server; without it (or redis-py): fail under ``CI=true``, else skip."""
    try:
        return start_redis()
    except RedisUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis peer unavailable under CI: {exc}", pytrace=False)
        pytest.skip(f"Redis peer unavailable: {exc}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisPeer]:
    """A ``redis-server`` of our own on a free 127.0.0.1 port, started once per session.

    Tests normally use ``redis_url`` (which empties it first); use this one for the port or
    ``redis_server.client()``.  Do not stop it.
    """
    peer = _start_redis_or_skip()
    yield peer
    peer.stop()


@pytest.fixture
def redis_url(redis_server: RedisPeer) -> str:
    """``redis://127.0.0.1:<port>/0`` of the session's Redis, emptied (FLUSHALL) first."""
    redis_server.flushall()
    return redis_server.url


def _peer_or_skip(what: str, start: Callable[[], Any]) -> Any:
    """``start()``; when its program is missing: fail under ``CI=true``, else skip."""
    try:
        return start()
    except (RedisUnavailable, PgBouncerUnavailable) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{what} unavailable under CI: {exc}", pytrace=False)
        pytest.skip(f"{what} unavailable: {exc}")


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterPeer]:
    """A Redis Cluster (3 primaries, 3 replicas) for the session; tests that kill a node start
    their own (:func:`peers.redis_topologies.start_cluster`)."""
    peer = _peer_or_skip("Redis Cluster", start_cluster)
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelPeer]:
    """A primary, a replica and three sentinels for the session (failover tests start their
    own)."""
    peer = _peer_or_skip("Redis Sentinel", start_sentinel)
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def redis_tls() -> Iterator[RedisPeer]:
    """A TLS-only redis-server; its ``url`` is ``rediss://…?ssl_ca_certs=…``."""
    peer = _peer_or_skip("Redis over TLS", lambda: start_tls(tls_material()))
    yield peer
    peer.stop()


# ----------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresPeer]:
    """Debian's PostgreSQL in a temporary cluster on a free 127.0.0.1 port, started once per
    session (:mod:`peers.postgres_server`); missing: fail under ``CI=true``, else skip."""
    try:
        peer = start_postgres()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL unavailable under CI: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def pgbouncer(postgres: PostgresPeer) -> Iterator[PgBouncerPeer]:
    """Debian's pgbouncer in transaction pooling mode in front of the session's PostgreSQL."""
    peer = _peer_or_skip("PgBouncer", lambda: start_pgbouncer(postgres))
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def django_databases(
    postgres: PostgresPeer, pgbouncer: PgBouncerPeer, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """Django configured in this process with an SQLite file, a PostgreSQL database and one
    behind PgBouncer, all migrated (see ``stores/django_setup.py``); once per session, as
    Django allows."""
    import secrets

    from stores.django_setup import configure, databases

    folder = tmp_path_factory.mktemp("django")
    name = "django_" + secrets.token_hex(4)
    postgres.create_database(name)
    postgres.create_database(name + "_pooled")
    found = databases(str(folder / "django.sqlite3"), postgres.port, name)
    found["pgbouncer"] = {**found["postgres"], "NAME": name + "_pooled"}
    found["pgbouncer"]["PORT"] = str(pgbouncer.port)
    return configure(found)


# ----------------------------------------------------------------------------- counting token server


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    """A fresh :class:`peers.counting_server.CountingServer` per test (default options:
    ``access_ttl=60``, ``token_delay=0``, ``rotate=True``, ``reuse_detection=True``; change
    them with ``counting_server.set(...)``), stopped at teardown."""
    server = start_counting_server()
    yield server
    server.stop()
