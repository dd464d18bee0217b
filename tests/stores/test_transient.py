"""Transient failures meet a Session, against our token server with scripted faults: every
row of the outcome table (oauthkit.session.outcomes), sync and async, on a real SQLite file;
a 503 burst at expiry under 4 processes on SQLite and on Redis; refresh ahead (a due token
served to every caller but the one renewing it, 50 threads and 4 processes); and the traces,
searched for every secret."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from oauthkit import AsyncOAuth2Client, OAuth2Client, Retry, Session, Token
from oauthkit.errors import (
    InvalidClient,
    ReauthenticationRequired,
    TemporarilyUnavailable,
    TransportError,
)
from oauthkit.session import refused_at
from oauthkit.stores import RedisStore, SQLiteStore
from peers.counting_server import CLIENT_ID, CLIENT_SECRET, CountingServer
from stores.test_session import _go, _start_workers

pytestmark = pytest.mark.slow

KEY = "counting:me"
FAST = Retry(backoff=0.01)


def _seed(server: CountingServer, store: Any, seconds_left: float) -> Token:
    """A grant whose access token has ``seconds_left`` to live, issued an hour ago (due)."""
    now = datetime.now(UTC)
    token = Token.from_dict(
        {**server.issue(ttl=max(seconds_left, 1)), "grant": "authorization_code"}
    )
    token = token.replace(
        issued_at=now - timedelta(hours=1), expires_at=now + timedelta(seconds=seconds_left)
    )
    store.put(KEY, token)
    return token


def _client_args(server: CountingServer) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_endpoint": server.token_endpoint,
    }


def _token(server: CountingServer, store: Any, mode: str, **client: Any) -> Token:
    """``Session.token()`` (``sync``) or ``await Session.atoken()`` (``async``)."""
    args = {**_client_args(server), "retry": FAST, **client}
    if mode == "sync":
        with OAuth2Client(**args) as sync_client:
            return Session(sync_client, store, KEY).token()

    async def main() -> Token:
        async with AsyncOAuth2Client(**args) as async_client:
            return await Session(async_client, store, KEY).atoken()

    return anyio.run(main)


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A real SQLite file, or a real Redis (one key per test)."""
    if request.param == "redis":
        return RedisStore(request.getfixturevalue("redis_url"))
    return SQLiteStore(tmp_path / "tokens.sqlite3")


# ----------------------------------------------------------- each row of the outcome table

#: (faults, what the caller gets, what the store holds after, /token requests made)
ROWS: dict[str, tuple[tuple[str, ...], type[Exception] | None, str, int]] = {
    "503-burst-then-renewed": (("503", "500"), None, "renewed", 3),
    "unavailable-after-retries": (("503", "503", "503"), TemporarilyUnavailable, "kept", 3),
    "429-seconds": (("429:1",), None, "renewed", 2),
    "429-http-date": (("429-date:1",), None, "renewed", 2),
    "temporarily_unavailable": (("unavailable",), None, "renewed", 2),
    "reset-before-read": (("reset-before",), TransportError, "kept", 1),
    "reset-after-rotation": (("reset-after",), TransportError, "kept", 1),
    "bare-400": (("bare-400",), ReauthenticationRequired, "refused", 1),
    "bare-401": (("bare-401",), ReauthenticationRequired, "refused", 1),
    "invalid_client": (("invalid_client",), InvalidClient, "kept", 1),
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_outcome(counting_server: CountingServer, store: Any, row: str, mode: str) -> None:
    faults, error, after, requests = ROWS[row]
    seeded = _seed(counting_server, store, seconds_left=2)  # expired for a caller: it waits
    counting_server.reset_counts()
    counting_server.fault(*faults)
    if error is None:
        renewed = _token(counting_server, store, mode)
        assert renewed.access_token != seeded.access_token
    else:
        with pytest.raises(error):
            _token(counting_server, store, mode)
    counts = counting_server.counts
    assert counts.get("refresh_token", 0) + counts.get("(none)", 0) == requests, counts
    stored = store.get(KEY, Token)
    assert stored is not None
    if after == "kept":
        assert stored == seeded, "the refresh token was not kept as it was"
    elif after == "renewed":
        assert stored.access_token != seeded.access_token and refused_at(stored) is None
    else:
        assert refused_at(stored) is not None and stored.refresh_token is None


def test_an_unreachable_server_is_tried_again_then_keeps_the_token(
    counting_server: CountingServer, store: Any
) -> None:
    seeded = _seed(counting_server, store, seconds_left=2)
    counting_server.stop()
    with pytest.raises(TransportError) as info:
        _token(counting_server, store, "sync")
    assert info.value.sent is False
    assert store.get(KEY, Token) == seeded


def test_a_hung_token_endpoint_is_a_lost_answer_not_a_refusal(
    counting_server: CountingServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("oauthkit.drivers.READ_DEADLINE", 1.0)
    seeded = _seed(counting_server, store, seconds_left=2)
    counting_server.fault("hang:3")
    with pytest.raises(TransportError, match="lost after it was sent"):
        _token(counting_server, store, "sync")
    assert store.get(KEY, Token) == seeded


def test_after_a_lost_answer_the_next_call_decides(
    counting_server: CountingServer, store: Any
) -> None:
    """The issue's script: an outage that reset connections told programs to sign in again.
    Now: a reset before the server acted, then the same refresh token works; a reset after
    it rotated, then its reuse detection refuses — only then a new sign-in, once, and the
    dead refresh token is never sent again."""
    _seed(counting_server, store, seconds_left=2)
    counting_server.fault("reset-before")
    with pytest.raises(TransportError):
        _token(counting_server, store, "sync")
    assert _token(counting_server, store, "sync").access_token  # same refresh token: fine

    _seed(counting_server, store, seconds_left=2)
    counting_server.fault("reset-after")
    with pytest.raises(TransportError):
        _token(counting_server, store, "sync")
    with pytest.raises(ReauthenticationRequired, match="invalid_grant"):
        _token(counting_server, store, "sync")
    before = counting_server.counts["refresh_token"]
    with pytest.raises(ReauthenticationRequired, match="refused"):
        _token(counting_server, store, "sync")
    assert counting_server.counts["refresh_token"] == before  # nothing sent again


# ------------------------------------------------------------------------- refresh ahead


def _timed_calls(session: Session, n: int) -> list[tuple[float, str]]:
    results: list[tuple[float, str]] = []
    barrier = threading.Barrier(n)

    def call() -> None:
        barrier.wait()
        started = time.monotonic()
        token = session.token()
        results.append((time.monotonic() - started, token.access_token))

    threads = [threading.Thread(target=call) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_refresh_ahead_fifty_threads_one_renewal_nobody_waits(
    counting_server: CountingServer, store: Any
) -> None:
    """A due token (30 s left, leeway 60) and a token endpoint that takes 1 s: one thread
    renews it, the other 49 get the current token at once."""
    seeded = _seed(counting_server, store, seconds_left=30)
    counting_server.set(token_delay=1.0)
    counting_server.reset_counts()
    with OAuth2Client(**_client_args(counting_server)) as client:
        session = Session(client, store, KEY)
        results = _timed_calls(session, 50)
        waited = sorted(elapsed for elapsed, _ in results)
        assert waited[-1] >= 1.0  # the renewing thread
        assert waited[-2] < 0.5, waited[-5:]  # everyone else
        assert sum(token == seeded.access_token for _, token in results) == 49
        assert counting_server.counts["refresh_token"] == 1
        assert session.token().access_token != seeded.access_token


def test_refresh_ahead_fifty_tasks_one_renewal_nobody_waits(
    counting_server: CountingServer, store: Any
) -> None:
    seeded = _seed(counting_server, store, seconds_left=30)
    counting_server.set(token_delay=1.0)
    counting_server.reset_counts()

    async def main() -> list[tuple[float, str]]:
        async with AsyncOAuth2Client(**_client_args(counting_server)) as client:
            session = Session(client, store, KEY)

            async def call() -> tuple[float, str]:
                started = time.monotonic()
                token = await session.atoken()
                return time.monotonic() - started, token.access_token

            results: list[tuple[float, str]] = []

            async def keep() -> None:
                results.append(await call())

            async with anyio.create_task_group() as group:
                for _ in range(50):
                    group.start_soon(keep)
            return results

    results = anyio.run(main)
    waited = sorted(elapsed for elapsed, _ in results)
    assert waited[-1] >= 1.0 and waited[-2] < 0.5, waited[-5:]
    assert sum(token == seeded.access_token for _, token in results) == 49
    assert counting_server.counts["refresh_token"] == 1


def test_refresh_ahead_outlives_an_outage(
    counting_server: CountingServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token endpoint is down while the token is still valid: the caller is served the
    current token, nothing is raised, and the renewal is tried again a little later."""
    monkeypatch.setattr("oauthkit.auth.oauth2.AHEAD_RETRY", 0.3)
    seeded = _seed(counting_server, store, seconds_left=30)
    counting_server.fault("503", "503", "503")
    with OAuth2Client(**_client_args(counting_server), retry=FAST) as client:
        session = Session(client, store, KEY)
        assert session.token().access_token == seeded.access_token
        assert session.token().access_token == seeded.access_token  # not tried again yet
        assert counting_server.counts["refresh_token"] == 3
        time.sleep(0.35)
        assert session.token().access_token != seeded.access_token
    assert counting_server.counts["refresh_ok"] == 1


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_refresh_ahead_across_four_processes(
    counting_server: CountingServer, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """Four processes of ten threads on one SQLite file (or one Redis), the token due but
    valid and the token endpoint slow: one refresh in all, no failed call, and only the
    renewing call waited for the provider."""
    if kind == "redis":
        location = request.getfixturevalue("redis_url")
        store: Any = RedisStore(location)
    else:
        location = str(tmp_path / "shared.sqlite3")
        store = SQLiteStore(location)
    _seed(counting_server, store, seconds_left=30)
    counting_server.set(token_delay=1.0)
    counting_server.reset_counts()
    config = {
        "store": kind,
        "location": location,
        "key": KEY,
        "client": _client_args(counting_server),
        "api": counting_server.api_url,
        "threads": 10,
        "calls": 3,
        "mode": "requests",
    }
    results = _go(_start_workers(4, config))
    for result in results:
        assert result["errors"] == []
        assert result["statuses"] == [200] * 30
    assert counting_server.counts["refresh_token"] == 1
    slow = [s for result in results for s in result["seconds"] if s >= 0.9]
    assert len(slow) == 1, sorted(s for r in results for s in r["seconds"])[-5:]  # the renewer


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_503_burst_at_expiry_under_four_processes(
    counting_server: CountingServer, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """The token expired and the token endpoint answers 503 twice: the process holding the
    lease waits them out (the default policy), the others wait for it; one refresh succeeds,
    no call fails."""
    if kind == "redis":
        location = request.getfixturevalue("redis_url")
        store: Any = RedisStore(location)
    else:
        location = str(tmp_path / "shared.sqlite3")
        store = SQLiteStore(location)
    _seed(counting_server, store, seconds_left=2)
    counting_server.reset_counts()
    counting_server.fault("503", "503")
    config = {
        "store": kind,
        "location": location,
        "key": KEY,
        "client": _client_args(counting_server),
        "api": counting_server.api_url,
        "threads": 5,
        "calls": 2,
        "mode": "requests",
    }
    results = _go(_start_workers(4, config))
    for result in results:
        assert result["errors"] == []
        assert set(result["statuses"]) == {200}
    assert counting_server.counts["refresh_ok"] == 1
    assert counting_server.counts["refresh_token"] == 3  # two 503s and the answer


# -------------------------------------------------------------------------------- traces


@pytest.fixture(scope="module")
def exporters() -> tuple[Any, Any]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return spans, reader


def _counters(reader: Any) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    label = json.dumps(dict(point.attributes), sort_keys=True)
                    found[(metric.name, label)] = point.value
    return found


def test_spans_and_counters_say_what_happened_and_no_secret(
    counting_server: CountingServer, store: Any, exporters: tuple[Any, Any]
) -> None:
    spans, reader = exporters
    spans.clear()
    seeded = _seed(counting_server, store, seconds_left=2)
    counting_server.fault("503")
    renewed = _token(counting_server, store, "sync")
    _seed(counting_server, store, seconds_left=2)
    counting_server.fault("bare-400")
    with pytest.raises(ReauthenticationRequired):
        _token(counting_server, store, "async")

    finished = spans.get_finished_spans()
    names = [span.name for span in finished]
    assert names.count("oauthkit renewal") == 2
    tokens = [s for s in finished if s.name == "oauthkit token"]
    assert [
        (s.attributes["oauthkit.attempt"], s.attributes["http.response.status_code"])
        for s in tokens
    ] == [
        (1, 503),
        (2, 200),
        (1, 400),
    ]
    assert all(s.attributes["oauthkit.grant_type"] == "refresh_token" for s in tokens)
    outcomes = [s.attributes["oauthkit.outcome"] for s in finished if s.name == "oauthkit renewal"]
    assert outcomes == ["renewed", "refused"]
    renewal = next(s for s in finished if s.name == "oauthkit renewal")
    assert "oauthkit.lock_wait_ms" in renewal.attributes

    secrets = {
        seeded.access_token,
        seeded.refresh_token,
        renewed.access_token,
        renewed.refresh_token,
        CLIENT_SECRET,
    }
    text = json.dumps(
        [[s.name, dict(s.attributes), [dict(e.attributes) for e in s.events]] for s in finished]
    )
    assert not [secret for secret in secrets if secret and secret in text]

    counters = _counters(reader)
    assert counters[("oauthkit.retries", '{"oauthkit.operation": "token"}')] >= 1
    assert counters[("oauthkit.renewals", '{"oauthkit.outcome": "renewed"}')] >= 1
    assert counters[("oauthkit.refusals", "{}")] >= 1
