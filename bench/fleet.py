"""A fleet: three machines, each running the Flask example app under gunicorn (4 workers),
sharing one token store, while the tokens of 10,000 users fall due over one minute and a load
generator calls their ``/api`` relay; the provider rotates refresh tokens and detects reuse.
Each store is run twice: steady, then with one primary killed half way.

    python bench/fleet.py [--users 10000] [--seconds 90] [--store cluster|postgres|both]
    python bench/fleet.py --quick          # 2,000 users, 45 s a run

* The machines are network namespaces (as root, with ``ip netns``): each has its own address
  (10.213.0.11–13) on a bridge whose host side (10.213.0.1) is where the shared services
  listen. Where namespaces are not available (not root, no ``ip``), the machines are three
  groups of processes on loopback, each on a port of its own: the same processes and the same
  traffic through one network stack.
* The stores: a Redis Cluster (3 primaries, 3 replicas; the failover kills the primary of
  one due user's slot) and PostgreSQL behind PgBouncer in transaction pooling mode (the
  failover restarts PostgreSQL).
* The provider is the tests' counting token server: rotation, reuse detection (a refresh
  token presented twice revokes the grant), an API that checks the bearer token.

The failover window runs from the fault until 10 s after it is over; every failure outside
it counts, and those inside are shown with the time from the fault to the last of them (the
outage as the users saw it).

Printed for each run: refreshes per expiry (exactly 1: the refreshes the provider answered,
over the users whose token it renewed; and how many users' grants it renewed twice: 0),
refresh tokens presented twice (0), lost tokens (0: a user
whose stored refresh token the provider no longer honours), user calls that failed outside
the failover window (0), and the relay's throughput and p50/p99 latency, steady and with the
failover side by side. Bounded in time; loopback and the namespaces' own addresses only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import httpx2  # noqa: E402

from oauthkit import Token  # noqa: E402
from oauthkit.stores import RedisStore, SQLAlchemyStore  # noqa: E402
from peers.counting_server import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    CountingServer,
    start_counting_server,
)
from peers.pgbouncer import start_pgbouncer  # noqa: E402
from peers.postgres_server import start_postgres  # noqa: E402
from peers.redis_topologies import start_cluster  # noqa: E402

BRIDGE, SUBNET = "okfleet0", "10.213.0"
APP_PORT = 8000
WORKERS = 4
SECRET = "fleet-benchmark-session-secret"
#: Seconds after a fault is over (the server restarted, a replica promoted) in which failed
#: calls are the failover's: the clients reconnect, PgBouncer logs in again.
WINDOW = 10.0
PROVIDER = "counting"


# ------------------------------------------------------------------------------ machines


class Machines:
    """Three "machines": network namespaces on a bridge, or process groups on loopback."""

    def __init__(self, count: int = 3) -> None:
        self.count = count
        self.namespaces = os.geteuid() == 0 and shutil.which("ip") is not None
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def host(self) -> str:
        """Where the shared services listen, as the machines reach them."""
        return f"{SUBNET}.1" if self.namespaces else "127.0.0.1"

    def address(self, index: int) -> tuple[str, int]:
        if self.namespaces:
            return f"{SUBNET}.{11 + index}", APP_PORT
        return "127.0.0.1", APP_PORT + 100 + index

    def up(self) -> None:
        if not self.namespaces:
            return
        self.down()
        try:
            _ip("link", "add", BRIDGE, "type", "bridge")
            _ip("addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE)
            _ip("link", "set", BRIDGE, "up")
            for index in range(self.count):
                name, outside, inside = f"okfleet{index + 1}", f"okv{index + 1}", f"okv{index + 1}p"
                _ip("netns", "add", name)
                _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                _ip("link", "set", inside, "netns", name)
                _ip("link", "set", outside, "master", BRIDGE, "up")
                _ip("-n", name, "addr", "add", f"{self.address(index)[0]}/24", "dev", inside)
                _ip("-n", name, "link", "set", inside, "up")
                _ip("-n", name, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as exc:
            print(f"   (network namespaces unavailable: {exc}; process groups on loopback)")
            self.down()
            self.namespaces = False

    def start(self, index: int, argv: list[str], env: dict[str, str]) -> None:
        prefix = ["ip", "netns", "exec", f"okfleet{index + 1}"] if self.namespaces else []
        self.processes.append(
            subprocess.Popen(
                [*prefix, *argv],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def stop_processes(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        self.processes.clear()

    def down(self) -> None:
        if not self.namespaces:
            return
        for index in range(self.count):
            subprocess.run(["ip", "netns", "del", f"okfleet{index + 1}"], capture_output=True)
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


# ------------------------------------------------------------------------------ the apps


def start_apps(machines: Machines, config: Path) -> list[str]:
    """The Flask example under gunicorn on each machine; their base URLs, once they answer."""
    env = {
        **os.environ,
        "OAUTHKIT_CONFIG": str(config),
        "OAUTHKIT_EXAMPLE_SECRET": SECRET,
        "PYTHONPATH": str(ROOT / "examples"),
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    urls = []
    for index in range(machines.count):
        host, port = machines.address(index)
        argv = [gunicorn, "--chdir", str(ROOT / "examples"), "-w", str(WORKERS)]
        argv += ["-k", "gthread", "--threads", "4", "-b", f"{host}:{port}", "flask_app:app"]
        machines.start(index, argv, env)
        urls.append(f"http://{host}:{port}")
    deadline = time.monotonic() + 60
    for url in urls:
        while True:
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(url + "/me", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app at {url} did not start")
            time.sleep(0.2)
    return urls


def write_config(folder: Path, store: str, provider: CountingServer) -> Path:
    path = folder / f"fleet-{abs(hash(store))}.toml"
    base = provider.url
    path.write_text(
        f'store = "{store}"\n\n[providers.{PROVIDER}]\n'
        f'client_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n'
        f'authorization_endpoint = "{base}/authorize"\ntoken_endpoint = "{base}/token"\n'
        f'api_base = "{base}/"\nscope = "api"\nallow_insecure_http = true\n'
    )
    return path


def session_cookie(user: str) -> str:
    """The example app's session cookie for ``user`` (Flask's signed session)."""
    from flask import Flask

    signer = Flask("fleet")
    signer.secret_key = SECRET
    serializer = signer.session_interface.get_signing_serializer(signer)  # type: ignore[attr-defined]
    return str(serializer.dumps({"user": user}))


# ------------------------------------------------------------------------------ one run


@dataclass
class Run:
    """What one run measured."""

    name: str
    #: (start, seconds, status, user) of every call
    calls: list[tuple[float, float, int, int]] = field(default_factory=list)
    window: tuple[float, float] | None = None
    refreshes: int = 0
    reuse: int = 0
    expiries: int = 0
    twice: int = 0
    lost: int = 0
    seconds: float = 0.0

    def line(self) -> list[str]:
        ok = [c for c in self.calls if c[2] == 200]
        latencies = sorted(c[1] for c in ok) or [0.0]
        window = self.window or (float("inf"), float("inf"))

        def inside(call: tuple[float, float, int, int]) -> bool:  # overlaps the window
            return call[0] <= window[1] and call[0] + call[1] >= window[0]

        failed = [c for c in self.calls if c[2] != 200 and not inside(c)]
        during = [c for c in self.calls if c[2] != 200 and inside(c)]
        outage = max((c[0] + c[1] for c in during), default=window[0]) - window[0]
        return [
            f"{self.refreshes / max(1, self.expiries):.2f} ({self.twice} twice)",
            str(self.reuse),
            str(self.lost),
            f"{len(failed)} ({len(during)} in {outage:.1f} s)" if self.window else str(len(failed)),
            f"{len(ok) / self.seconds:,.0f}/s",
            f"{statistics.median(latencies) * 1000:.1f} / "
            f"{latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms",
        ]


def seed(store: Any, provider: CountingServer, users: int, spread: float) -> None:
    """A token per user, due one after another over ``spread`` seconds from now (the
    sessions renew 60 s before expiry)."""
    start = time.time() + 3
    now = datetime.now(UTC)
    for n in range(users):
        at = start + spread * n / users
        lifetime = at + 60 - time.time()
        issued = Token.from_dict({**provider.issue(ttl=lifetime), "grant": "authorization_code"})
        token = issued.replace(
            issued_at=now - timedelta(hours=1), expires_at=datetime.fromtimestamp(at + 60, UTC)
        )
        store.put(f"user:u{n}:{PROVIDER}", token)


async def load(
    urls: list[str], cookies: list[str], seconds: float, run: Run, concurrency: int
) -> None:
    """Call the users' relays round robin over the machines, ``concurrency`` at a time."""
    users = len(cookies)
    order = list(range(users))
    random.Random(1).shuffle(order)
    position = 0
    stop = time.time() + seconds
    clients = [
        httpx2.AsyncClient(base_url=url, timeout=30, limits=httpx2.Limits(max_connections=64))
        for url in urls
    ]

    async def worker(index: int) -> None:
        nonlocal position
        client = clients[index % len(clients)]
        while time.time() < stop:
            user = order[position % users]
            position += 1
            started = time.time()
            try:
                response = await client.get(
                    f"/api/{PROVIDER}/api", headers={"Cookie": f"session={cookies[user]}"}
                )
                status = response.status_code
            except httpx2.HTTPError:
                status = 0
            run.calls.append((started, time.time() - started, status, user))

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    for client in clients:
        await client.aclose()


def one_run(
    name: str,
    store: Any,
    provider: CountingServer,
    urls: list[str],
    cookies: list[str],
    seconds: float,
    fault: Callable[[], None] | None,
) -> Run:
    users = len(cookies)
    provider.reset_counts()
    seed(store, provider, users, spread=min(60.0, seconds * 2 / 3))
    run = Run(name)
    fault_at: list[float] = []

    def failover() -> None:
        assert fault is not None
        time.sleep(seconds / 2)
        fault_at.append(time.time())
        fault()
        fault_at.append(time.time())

    import threading

    faulting = threading.Thread(target=failover, daemon=True) if fault else None
    if faulting is not None:
        faulting.start()
    started = time.time()
    asyncio.run(load(urls, cookies, seconds, run, concurrency=48))
    run.seconds = time.time() - started
    if faulting is not None:
        faulting.join()
        # The window: from the fault until WINDOW seconds after it was over (a restarted
        # primary, a replica promoted). Any failure outside it counts.
        run.window = (fault_at[0], fault_at[1] + WINDOW)
    counts = provider.counts
    run.refreshes = counts["refresh_token"]
    run.reuse = counts["invalid_grant"]
    for n in range(users):
        stored = store.get(f"user:u{n}:{PROVIDER}", Token)
        if stored is None or not provider.refresh_token_active(stored.refresh_token or ""):
            run.lost += 1
            continue
        family = provider.family_of(stored.access_token) or ""
        renewed = provider.refreshes_in(family)
        run.expiries += renewed > 0  # this user's token fell due and was renewed
        run.twice += renewed > 1
    return run


# ------------------------------------------------------------------------------ main


@contextlib.contextmanager
def redis_cluster(host: str) -> Iterator[tuple[str, Any, Callable[[], None]]]:
    peer = start_cluster(host=host)
    store = RedisStore(peer.url)
    try:
        yield peer.url, store, lambda: peer.kill_primary_of(store._token_key(f"user:u0:{PROVIDER}"))
    finally:
        store.close()
        peer.stop()


@contextlib.contextmanager
def postgres_behind_pgbouncer(host: str) -> Iterator[tuple[str, Any, Callable[[], None]]]:
    server = start_postgres()
    pooler = start_pgbouncer(server, host=host)
    url = pooler.url()
    store = SQLAlchemyStore(url)
    store.create_table()
    try:
        yield url, store, server.restart
    finally:
        store.dispose()
        pooler.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--store", choices=["cluster", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="2,000 users, 45 s a run")
    options = parser.parse_args()
    if options.quick:
        options.users, options.seconds = 2000, 45.0
    machines = Machines()
    machines.up()
    where = "network namespaces" if machines.namespaces else "process groups on loopback"
    print(f"Fleet: 3 machines ({where}) × {WORKERS} gunicorn workers, {options.users:,} users")
    print(f"due over {min(60.0, options.seconds * 2 / 3):.0f} s, {options.seconds:.0f} s a run\n")
    engines = {"cluster": redis_cluster, "postgres": postgres_behind_pgbouncer}
    chosen = list(engines) if options.store == "both" else [options.store]
    cookies = [session_cookie(f"u{n}") for n in range(options.users)]
    provider = start_counting_server(host=machines.host, access_ttl=3600)
    folder = Path(tempfile.mkdtemp(prefix="oauthkit-fleet-"))
    heads = [
        "refreshes/expiry",
        "reused",
        "lost",
        "failed calls",
        "relay",
        "p50 / p99",
    ]
    try:
        for name in chosen:
            label = {"cluster": "Redis Cluster", "postgres": "PostgreSQL behind PgBouncer"}[name]
            with engines[name](machines.host) as (url, store, fault):
                urls = start_apps(machines, write_config(folder, url, provider))
                try:
                    steady = one_run(
                        "steady", store, provider, urls, cookies, options.seconds, None
                    )
                    _clear(store)
                    failing = one_run(
                        "failover", store, provider, urls, cookies, options.seconds, fault
                    )
                finally:
                    machines.stop_processes()
            print(f"{label}:")
            print(f"   {'':10}" + "".join(f"{h:>24}" for h in heads))
            for run in (steady, failing):
                print(f"   {run.name:10}" + "".join(f"{cell:>24}" for cell in run.line()))
            print()
    finally:
        provider.stop()
        machines.stop_processes()
        machines.down()
        shutil.rmtree(folder, ignore_errors=True)


def _clear(store: Any) -> None:
    stored: list[str] = store.keys()
    for key in stored:
        store.delete(key)


if __name__ == "__main__":
    main()
