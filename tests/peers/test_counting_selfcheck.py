"""Self-check of the counting OAuth 2 token server with plain ``httpx2`` (nothing from
oauthkit): every request here is written by hand."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import httpx2
import pytest

from .counting_server import CLIENT_ID, CLIENT_SECRET, CountingServer, start_counting_server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=10, trust_env=False) as client:
        yield client


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    """client_secret_basic per RFC 6749 §2.3.1: form-urlencode each part, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode("ascii")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def refresh(
    http: httpx2.Client, server: CountingServer, token: str, **kwargs: Any
) -> httpx2.Response:
    return http.post(
        server.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers={"Authorization": basic()},
        **kwargs,
    )


def api(http: httpx2.Client, server: CountingServer, access: str) -> httpx2.Response:
    return http.get(server.api_url, headers={"Authorization": f"Bearer {access}"})


def assert_invalid_token(resp: httpx2.Response) -> None:
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


ZERO = {
    "refresh_token": 0,
    "client_credentials": 0,
    "refresh_ok": 0,
    "invalid_grant": 0,
    "invalid_client": 0,
    "api_ok": 0,
    "api_refused": 0,
    "fault": 0,
}


# --------------------------------------------------------------------------- issue, API


def test_urls(counting_server: CountingServer) -> None:
    assert counting_server.url == f"http://127.0.0.1:{counting_server.port}"
    assert counting_server.token_endpoint == counting_server.url + "/token"
    assert counting_server.api_url == counting_server.url + "/api"
    assert counting_server.running


def test_issue_is_a_token_response_and_not_counted(
    http: httpx2.Client, counting_server: CountingServer
) -> None:
    token = counting_server.issue()
    assert set(token) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 60
    assert token["scope"] == "api"
    assert counting_server.counts == ZERO
    family = counting_server.family_of(token["access_token"])
    assert family is not None
    assert counting_server.family_of(token["refresh_token"]) == family
    assert counting_server.family_active(family)
    assert counting_server.refresh_token_active(token["refresh_token"])
    other = counting_server.issue()
    assert counting_server.family_of(other["access_token"]) != family

    resp = api(http, counting_server, token["access_token"])
    assert resp.status_code == 200
    assert resp.json() == {"ok": True, "family": family}
    resp = http.post(
        counting_server.api_url, headers={"Authorization": f"bearer {token['access_token']}"}
    )
    assert resp.json() == {"ok": True, "family": family}
    assert counting_server.counts == {**ZERO, "api_ok": 2}


def test_api_refusals(http: httpx2.Client, counting_server: CountingServer) -> None:
    assert_invalid_token(api(http, counting_server, "at-unknown"))
    resp = http.get(counting_server.api_url)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"  # no credentials: no error code
    token = counting_server.issue()
    resp = http.get(counting_server.api_url, headers={"Authorization": basic()})
    assert resp.status_code == 401
    assert_invalid_token(api(http, counting_server, token["refresh_token"]))
    assert counting_server.counts == {**ZERO, "api_refused": 4}
    counting_server.reset_counts()
    assert counting_server.counts == ZERO


def test_expiry_gives_invalid_token(http: httpx2.Client, counting_server: CountingServer) -> None:
    token = counting_server.issue(ttl=0.4)
    assert token["expires_in"] == 1  # ceil; the server-side expiry is exactly 0.4 s
    assert api(http, counting_server, token["access_token"]).status_code == 200
    time.sleep(0.5)
    assert_invalid_token(api(http, counting_server, token["access_token"]))
    # the family lives on: a refresh gives a working token with the current access_ttl
    counting_server.set(access_ttl=0.4)
    resp = refresh(http, counting_server, token["refresh_token"])
    assert resp.status_code == 200
    assert resp.json()["expires_in"] == 1
    fresh = resp.json()["access_token"]
    assert api(http, counting_server, fresh).status_code == 200
    time.sleep(0.5)
    assert_invalid_token(api(http, counting_server, fresh))
    assert counting_server.counts["api_ok"] == 2
    assert counting_server.counts["api_refused"] == 2


def test_start_options() -> None:
    server = start_counting_server(access_ttl=2.5, rotate=False)
    try:
        assert server.issue()["expires_in"] == 3
        assert server.issue(ttl=0)["expires_in"] == 0
    finally:
        server.stop()


# --------------------------------------------------------------------------- refresh


def test_refresh_rotates(http: httpx2.Client, counting_server: CountingServer) -> None:
    first = counting_server.issue()
    family = counting_server.family_of(first["access_token"])
    resp = refresh(http, counting_server, first["refresh_token"])
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    second = resp.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert second["token_type"] == "Bearer"
    assert second["expires_in"] == 60
    assert second["scope"] == "api"
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert counting_server.family_of(second["refresh_token"]) == family
    assert not counting_server.refresh_token_active(first["refresh_token"])
    assert counting_server.refresh_token_active(second["refresh_token"])
    # the old access token stays valid until it expires
    assert api(http, counting_server, first["access_token"]).status_code == 200
    assert api(http, counting_server, second["access_token"]).json()["family"] == family

    third = refresh(http, counting_server, second["refresh_token"]).json()
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert counting_server.counts == {**ZERO, "refresh_token": 2, "refresh_ok": 2, "api_ok": 2}


def test_reuse_revokes_the_family(http: httpx2.Client, counting_server: CountingServer) -> None:
    first = counting_server.issue()
    bystander = counting_server.issue()
    family = counting_server.family_of(first["access_token"])
    second = refresh(http, counting_server, first["refresh_token"]).json()
    third = refresh(http, counting_server, second["refresh_token"]).json()

    resp = refresh(http, counting_server, first["refresh_token"])  # rotated out: reuse
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_grant"}
    assert not counting_server.family_active(family)
    for token in (first, second, third):
        assert_invalid_token(api(http, counting_server, token["access_token"]))
        assert not counting_server.refresh_token_active(token["refresh_token"])
    resp = refresh(http, counting_server, third["refresh_token"])
    assert resp.json() == {"error": "invalid_grant"}
    # other families are not touched
    assert counting_server.family_active(counting_server.family_of(bystander["access_token"]))
    assert api(http, counting_server, bystander["access_token"]).status_code == 200
    assert refresh(http, counting_server, bystander["refresh_token"]).status_code == 200
    assert counting_server.counts == {
        **ZERO,
        "refresh_token": 5,
        "refresh_ok": 3,
        "invalid_grant": 2,
        "api_ok": 1,
        "api_refused": 3,
    }


def test_unknown_refresh_token(http: httpx2.Client, counting_server: CountingServer) -> None:
    token = counting_server.issue()
    resp = refresh(http, counting_server, "rt-unknown")
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_grant"}
    assert counting_server.family_active(counting_server.family_of(token["access_token"]))


def test_reuse_without_detection(http: httpx2.Client, counting_server: CountingServer) -> None:
    counting_server.set(reuse_detection=False)
    first = counting_server.issue()
    second = refresh(http, counting_server, first["refresh_token"]).json()
    assert refresh(http, counting_server, first["refresh_token"]).json() == {
        "error": "invalid_grant"
    }
    family = counting_server.family_of(first["access_token"])
    assert counting_server.family_active(family)
    assert api(http, counting_server, second["access_token"]).status_code == 200
    assert refresh(http, counting_server, second["refresh_token"]).status_code == 200


def test_no_rotation(http: httpx2.Client, counting_server: CountingServer) -> None:
    counting_server.set(rotate=False)
    first = counting_server.issue()
    accesses = {first["access_token"]}
    for _ in range(3):
        resp = refresh(http, counting_server, first["refresh_token"])
        assert resp.json()["refresh_token"] == first["refresh_token"]
        accesses.add(resp.json()["access_token"])
    assert len(accesses) == 4
    assert counting_server.counts["refresh_ok"] == 3


def test_revoke_family(http: httpx2.Client, counting_server: CountingServer) -> None:
    token = counting_server.issue()
    family = counting_server.family_of(token["access_token"])
    assert family is not None
    counting_server.revoke_family(family)
    assert not counting_server.family_active(family)
    assert_invalid_token(api(http, counting_server, token["access_token"]))
    assert refresh(http, counting_server, token["refresh_token"]).json() == {
        "error": "invalid_grant"
    }


def test_concurrent_refreshes_with_one_token(counting_server: CountingServer) -> None:
    """Eight clients refreshing the same token at once: one wins, the others are reuse and
    revoke the family, the winner's new tokens included."""
    counting_server.set(token_delay=0.2)
    token = counting_server.issue()
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def worker() -> None:
        with httpx2.Client(timeout=10, trust_env=False) as client:
            barrier.wait()
            statuses.append(refresh(client, counting_server, token["refresh_token"]).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 7
    assert counting_server.counts["refresh_token"] == 8
    assert counting_server.counts["refresh_ok"] == 1
    assert counting_server.counts["invalid_grant"] == 7
    assert not counting_server.family_active(counting_server.family_of(token["access_token"]))


# --------------------------------------------------------------------------- delay


def test_delay_rotates_before_answering(
    http: httpx2.Client, counting_server: CountingServer
) -> None:
    counting_server.set(token_delay=1.0)
    token = counting_server.issue()
    result: dict[str, Any] = {}

    def slow_refresh() -> None:
        started = time.monotonic()
        with httpx2.Client(timeout=10, trust_env=False) as client:
            result["resp"] = refresh(client, counting_server, token["refresh_token"])
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=slow_refresh)
    thread.start()
    deadline = time.monotonic() + 0.8
    while counting_server.counts["refresh_ok"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    # rotated already, while the answer is still being held back
    assert counting_server.counts["refresh_ok"] == 1
    assert not counting_server.refresh_token_active(token["refresh_token"])
    assert "resp" not in result
    thread.join()
    assert result["resp"].status_code == 200
    assert result["elapsed"] >= 1.0
    # client_credentials is not delayed
    started = time.monotonic()
    resp = http.post(
        counting_server.token_endpoint,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic()},
    )
    assert resp.status_code == 200
    assert time.monotonic() - started < 0.9


def test_lost_answer_then_retry_revokes_the_family(
    http: httpx2.Client, counting_server: CountingServer
) -> None:
    """The danger the delay exists for: the client gives up (or dies) before the answer,
    keeps its old refresh token, and presenting it again is reuse."""
    counting_server.set(token_delay=1.0)
    token = counting_server.issue()
    with pytest.raises(httpx2.ReadTimeout):
        refresh(http, counting_server, token["refresh_token"], timeout=0.3)
    counting_server.set(token_delay=0)
    resp = refresh(http, counting_server, token["refresh_token"])
    assert resp.json() == {"error": "invalid_grant"}
    assert not counting_server.family_active(counting_server.family_of(token["access_token"]))
    assert_invalid_token(api(http, counting_server, token["access_token"]))


def test_faults_are_taken_in_order_and_counted(
    http: httpx2.Client, counting_server: CountingServer
) -> None:
    """Each queued fault answers one /token request; ``reset-after`` rotates before it resets,
    the others grant nothing; ``api-`` faults wait for /api."""
    token = counting_server.issue()
    counting_server.fault("503", "429:7", "unavailable", "bare-400", "api-429:3", "reset-before")
    first = refresh(http, counting_server, token["refresh_token"])
    assert first.status_code == 503 and "Service Unavailable" in first.text
    second = refresh(http, counting_server, token["refresh_token"])
    assert (second.status_code, second.headers["retry-after"]) == (429, "7")
    assert refresh(http, counting_server, token["refresh_token"]).json() == {
        "error": "temporarily_unavailable"
    }
    bare = refresh(http, counting_server, token["refresh_token"])
    assert (bare.status_code, bare.content) == (400, b"")
    limited = api(http, counting_server, token["access_token"])
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    with pytest.raises(httpx2.TransportError):
        refresh(http, counting_server, token["refresh_token"])
    assert counting_server.counts["refresh_ok"] == 0  # nothing was granted so far
    counting_server.fault("reset-after")
    with pytest.raises(httpx2.TransportError):
        refresh(http, counting_server, token["refresh_token"])
    assert counting_server.counts["refresh_ok"] == 1  # rotated, answer lost
    assert counting_server.counts["fault"] == 7
    assert refresh(http, counting_server, token["refresh_token"]).json() == {
        "error": "invalid_grant"
    }


# --------------------------------------------------------------------------- client auth


def test_client_secret_basic_is_form_urlencoded(
    http: httpx2.Client, counting_server: CountingServer
) -> None:
    token = counting_server.issue()
    # "%63ounting" and "counting%2Dsecret" decode to the registered id and secret
    raw = base64.b64encode(b"%63ounting:counting%2Dsecret").decode("ascii")
    resp = http.post(
        counting_server.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        headers={"Authorization": f"Basic {raw}"},
    )
    assert resp.status_code == 200


def test_client_secret_post(http: httpx2.Client, counting_server: CountingServer) -> None:
    token = counting_server.issue()
    resp = http.post(
        counting_server.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert resp.status_code == 200
    assert "refresh_token" in resp.json()


@pytest.mark.parametrize(
    ("headers", "extra", "status", "challenge"),
    [
        ({"Authorization": basic(secret="wrong")}, {}, 401, True),
        ({"Authorization": basic(client_id="other")}, {}, 401, True),
        ({"Authorization": "Basic !!!"}, {}, 401, True),
        ({}, {"client_id": CLIENT_ID, "client_secret": "wrong"}, 401, False),
        ({}, {"client_id": "other", "client_secret": CLIENT_SECRET}, 401, False),
        ({}, {"client_id": CLIENT_ID}, 401, False),
        ({}, {}, 401, False),
    ],
    ids=["basic-secret", "basic-id", "basic-garbage", "post-secret", "post-id", "id-only", "none"],
)
def test_client_authentication_failures(
    http: httpx2.Client,
    counting_server: CountingServer,
    headers: dict[str, str],
    extra: dict[str, str],
    status: int,
    challenge: bool,
) -> None:
    token = counting_server.issue()
    resp = http.post(
        counting_server.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **extra},
        headers=headers,
    )
    assert resp.status_code == status
    assert resp.json() == {"error": "invalid_client"}
    assert resp.headers.get("WWW-Authenticate", "").startswith("Basic") is challenge
    assert counting_server.counts == {**ZERO, "refresh_token": 1, "invalid_client": 1}
    assert counting_server.refresh_token_active(token["refresh_token"])  # nothing rotated


def test_two_authentication_methods_at_once(
    http: httpx2.Client, counting_server: CountingServer
) -> None:
    token = counting_server.issue()
    resp = http.post(
        counting_server.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        headers={"Authorization": basic()},
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_request"}


# --------------------------------------------------------------------------- other grants


def test_client_credentials(http: httpx2.Client, counting_server: CountingServer) -> None:
    resp = http.post(
        counting_server.token_endpoint,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic()},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert api(http, counting_server, body["access_token"]).status_code == 200
    assert counting_server.counts == {**ZERO, "client_credentials": 1, "api_ok": 1}


def test_malformed_token_requests(http: httpx2.Client, counting_server: CountingServer) -> None:
    auth = {"Authorization": basic()}
    resp = http.post(counting_server.token_endpoint, data={"grant_type": "password"}, headers=auth)
    assert (resp.status_code, resp.json()) == (400, {"error": "unsupported_grant_type"})
    resp = http.post(counting_server.token_endpoint, data={}, headers=auth)
    assert (resp.status_code, resp.json()) == (400, {"error": "invalid_request"})
    resp = http.post(
        counting_server.token_endpoint, data={"grant_type": "refresh_token"}, headers=auth
    )
    assert (resp.status_code, resp.json()) == (400, {"error": "invalid_request"})
    resp = http.post(
        counting_server.token_endpoint, json={"grant_type": "client_credentials"}, headers=auth
    )
    assert (resp.status_code, resp.json()) == (400, {"error": "invalid_request"})
    resp = http.post(
        counting_server.token_endpoint,
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (resp.status_code, resp.json()) == (400, {"error": "invalid_request"})
    assert http.get(counting_server.token_endpoint).status_code == 405
    assert http.get(counting_server.url + "/nowhere").status_code == 404
    counts = counting_server.counts
    assert counts["password"] == 1
    assert counts["(none)"] == 3
    assert counts["refresh_token"] == 1
    assert counts["client_credentials"] == 0


# --------------------------------------------------------------------------- lifecycle


def test_servers_are_independent_and_stop(http: httpx2.Client) -> None:
    one, two = start_counting_server(), start_counting_server()
    try:
        assert one.port != two.port
        token = one.issue()
        assert_invalid_token(api(http, two, token["access_token"]))
        assert api(http, one, token["access_token"]).status_code == 200
        one.stop()
        assert not one.running
        one.stop()  # idempotent
        with pytest.raises(httpx2.TransportError):
            api(http, one, token["access_token"])  # also on a kept-alive connection
        with httpx2.Client(timeout=5, trust_env=False) as fresh, pytest.raises(httpx2.ConnectError):
            api(fresh, one, token["access_token"])
        assert two.counts["api_refused"] == 1
    finally:
        one.stop()
        two.stop()
