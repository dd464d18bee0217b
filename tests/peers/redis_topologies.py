"""The Redis topologies users scale out to, started from Debian's ``redis-server`` on loopback
for the store tests: a Redis Cluster (3 primaries, 3 replicas), a Sentinel setup (a primary, a
replica, 3 sentinels) and a TLS-only server.

* :func:`start_cluster` → :class:`ClusterPeer`: ``url`` is ``redis+cluster://127.0.0.1:P1,…``
  (oauthkit's form); :meth:`ClusterPeer.kill_primary_of` SIGKILLs the primary that serves a
  key's slot and waits until a replica has taken it over.
* :func:`start_sentinel` → :class:`SentinelPeer`: ``url`` is
  ``redis+sentinel://127.0.0.1:S1,…/mymaster``; :meth:`SentinelPeer.kill_primary` SIGKILLs
  the primary and waits for the sentinels to name the promoted replica.
* :func:`start_tls` → a :class:`~peers.redis_server.RedisPeer` whose ``url`` is
  ``rediss://127.0.0.1:P/0?ssl_ca_certs=…`` (plain port closed).

Each server runs with no persistence in a temp dir of its own; every process is stopped by
``stop()`` (and at exit). Checked by ``test_redis_selfcheck``.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peers.oidc_provider import TLSMaterial
from peers.redis_server import RedisPeer, RedisStartError, _free_port, _terminate, check_available

#: How long a node may be silent before it counts as failed (cluster and sentinel), in ms:
#: short, so that a failover test takes seconds.
NODE_TIMEOUT_MS = 1000
_READY_TIMEOUT = 30.0


@dataclass
class _Node:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def client(self, **kwargs: Any) -> Any:
        import redis

        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2, **kwargs
        )

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
            self.process.wait(5)

    def stop(self) -> None:
        _terminate(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _spawn(
    args: list[str], port: int, name: str, config: str | None = None, host: str = "127.0.0.1"
) -> _Node:
    server = check_available()
    workdir = Path(tempfile.mkdtemp(prefix=f"oauthkit-{name}-"))
    argv = [server]
    if config is not None:
        (workdir / "redis.conf").write_text(config)
        argv.append(str(workdir / "redis.conf"))
    argv += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    if host != "127.0.0.1":  # a benchmark's private bridge: reached without a password
        argv += ["--bind", f"127.0.0.1 {host}", "--protected-mode", "no"]
    argv += ["--repl-diskless-sync-delay", "0", *args]
    log = (workdir / "redis.log").open("wb")
    process = subprocess.Popen(
        argv,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return _Node(port, process, workdir)


def _wait(what: str, ready: Any, nodes: list[_Node]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.1)
    logs = "\n".join((n.workdir / "redis.log").read_text(errors="replace")[-1500:] for n in nodes)
    raise RedisStartError(f"{what} was not ready in {_READY_TIMEOUT:.0f} s:\n{logs}")


def _cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RedisStartError("no free pair of ports for a cluster node")


def _cluster_ok(node: _Node) -> bool:
    with node.client() as client:
        info = client.execute_command("CLUSTER INFO")
    if isinstance(info, dict):
        return info.get("cluster_state") in ("ok", b"ok")
    return b"cluster_state:ok" in info


def _synced(node: _Node) -> bool:
    """A primary, or a replica whose link to its primary is up."""
    with node.client() as client:
        info = client.info("replication")
    return info.get("role") == "master" or info.get("master_link_status") == "up"


def _pings(node: _Node) -> bool:
    with node.client() as client:
        return bool(client.ping())


# ---------------------------------------------------------------------------------- cluster


@dataclass
class ClusterPeer:
    """A running Redis Cluster on loopback."""

    nodes: list[_Node]
    host: str = "127.0.0.1"
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """oauthkit's form: every node's address (the client finds the primaries)."""
        live = ",".join(f"{self.host}:{n.port}" for n in self.nodes if n.alive)
        return "redis+cluster://" + live

    def client(self) -> Any:
        from redis.cluster import ClusterNode, RedisCluster

        live = [ClusterNode(self.host, n.port) for n in self.nodes if n.alive]
        return RedisCluster(startup_nodes=live, socket_timeout=2, socket_connect_timeout=2)

    def flushall(self) -> None:
        """Delete every key on every primary."""
        with self.client() as client:
            client.flushall(target_nodes=client.PRIMARIES)

    def primary_of(self, redis_key: str) -> _Node:
        """The node that serves ``redis_key``'s slot now."""
        with self.client() as client:
            node = client.get_node_from_key(redis_key)
            return next(n for n in self.nodes if n.port == int(node.port))

    def kill_primary_of(self, redis_key: str) -> int:
        """SIGKILL the primary serving ``redis_key`` and wait for its replica to take the
        slot over; the killed node's port."""
        victim = self.primary_of(redis_key)
        victim.kill()

        def promoted() -> bool:
            if not _cluster_ok(next(n for n in self.nodes if n.alive)):
                return False
            return self.primary_of(redis_key).port != victim.port

        _wait("the cluster's failover", promoted, self.nodes)
        return victim.port

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for node in self.nodes:
            node.stop()


def start_cluster(*, primaries: int = 3, replicas: int = 1, host: str = "127.0.0.1") -> ClusterPeer:
    """``primaries × (1 + replicas)`` nodes, joined by ``redis-cli --cluster create``; returns
    when every node says ``cluster_state:ok``. ``host``: the address the nodes announce (and
    listen on besides loopback), for a benchmark's own network."""
    check_available()
    count = primaries * (1 + replicas)
    nodes = [
        _spawn(
            [
                "--port",
                str(port := _cluster_port()),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                *(["--cluster-announce-ip", host] if host != "127.0.0.1" else []),
            ],
            port,
            "cluster",
            host=host,
        )
        for _ in range(count)
    ]
    peer = ClusterPeer(nodes, host)
    atexit.register(peer.stop)
    try:
        for node in nodes:
            _wait(f"node {node.port}", lambda node=node: _pings(node), [node])
        created = subprocess.run(
            [
                shutil.which("redis-cli") or "redis-cli",
                "--cluster",
                "create",
                *(f"{host}:{n.port}" for n in nodes),
                "--cluster-replicas",
                str(replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode != 0:
            raise RedisStartError(f"redis-cli --cluster create failed:\n{created.stdout}")

        _wait("the cluster", lambda: all(_cluster_ok(n) for n in nodes), nodes)
        _wait("the replicas", lambda: all(_synced(n) for n in nodes), nodes)
    except BaseException:
        peer.stop()
        raise
    return peer


# --------------------------------------------------------------------------------- sentinel


@dataclass
class SentinelPeer:
    """A primary, a replica and three sentinels watching them as ``mymaster``."""

    primary: _Node
    replica: _Node
    sentinels: list[_Node]
    service: str = "mymaster"
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}"

    def master_port(self) -> int:
        """The primary's port as the sentinels name it now."""
        for sentinel in self.sentinels:
            with contextlib.suppress(Exception), sentinel.client() as client:
                _host, port = client.sentinel_get_master_addr_by_name(self.service)
                return int(port)
        raise RedisStartError("no sentinel answers")

    def flushall(self) -> None:
        """Delete every key (on the primary; the replica follows)."""
        port = self.master_port()
        node = self.primary if self.primary.port == port else self.replica
        with node.client() as client:
            client.flushall()

    def kill_primary(self) -> None:
        """SIGKILL the primary; return once the sentinels name the promoted replica and it
        accepts writes."""
        old = self.master_port()
        current = self.primary if self.primary.port == old else self.replica
        current.kill()

        def promoted() -> bool:
            port = self.master_port()
            if port == old:
                return False
            node = self.replica if self.replica.port == port else self.primary
            with node.client() as client:
                return bool(client.set("oauthkit-selfcheck", "1"))

        _wait("the sentinels' failover", promoted, [*self.sentinels, self.replica])

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for node in (self.primary, self.replica, *self.sentinels):
            node.stop()


def start_sentinel() -> SentinelPeer:
    """Start the primary, its replica and three sentinels (quorum 2); return when the
    replica is in sync and every sentinel knows the primary and the replica."""
    check_available()
    primary = _spawn(["--port", str(p := _free_port())], p, "sentinel-primary")
    replica = _spawn(
        ["--port", str(r := _free_port()), "--replicaof", "127.0.0.1", str(primary.port)],
        r,
        "sentinel-replica",
    )
    sentinels = []
    for _ in range(3):
        port = _free_port()
        config = (
            f"port {port}\nbind 127.0.0.1\n"
            f"sentinel monitor mymaster 127.0.0.1 {primary.port} 2\n"
            f"sentinel down-after-milliseconds mymaster {NODE_TIMEOUT_MS}\n"
            "sentinel failover-timeout mymaster 5000\n"
            "sentinel parallel-syncs mymaster 1\n"
        )
        sentinels.append(_spawn(["--sentinel"], port, "sentinel", config=config))
    peer = SentinelPeer(primary, replica, sentinels)
    atexit.register(peer.stop)
    try:

        def in_sync() -> bool:
            with replica.client() as client:
                return client.info("replication").get("master_link_status") == "up"

        _wait("the replica", in_sync, [primary, replica])

        def known() -> bool:
            for sentinel in sentinels:
                with sentinel.client() as client:
                    fields = client.sentinel_master("mymaster")
                    if int(fields.get("num-slaves", 0)) < 1:
                        return False
                    if int(fields.get("num-other-sentinels", 0)) < 2:
                        return False
            return True

        _wait("the sentinels", known, sentinels)
    except BaseException:
        peer.stop()
        raise
    return peer


# -------------------------------------------------------------------------------------- TLS


def start_tls(tls: TLSMaterial) -> RedisPeer:
    """A Redis that speaks only TLS, with the test CA's server certificate; its ``url``
    trusts the test CA."""
    port = _free_port()
    node = _spawn(
        [
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(tls.server_cert),
            "--tls-key-file",
            str(tls.server_key),
            "--tls-ca-cert-file",
            str(tls.ca_cert),
            "--tls-auth-clients",
            "no",
        ],
        port,
        "tls",
    )
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={tls.ca_cert}"

    def answers() -> bool:
        import redis

        with redis.Redis.from_url(url, socket_timeout=2) as client:
            return bool(client.ping())

    _wait("the TLS server", answers, [node])
    peer = RedisPeer(port=port, url=url)
    peer._process = node.process
    peer._workdir = node.workdir
    atexit.register(peer.stop)
    return peer
