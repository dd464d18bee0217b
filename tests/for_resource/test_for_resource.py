"""``oauthkit.for_resource`` against real servers (issue 17): an MCP server built with the
``mcp`` package, protected by oidc-provider with open registration; reached through the
``mcp`` package's own client transport, in separate processes, with a real browser for the
sign-in, and through httpx2, httpx and requests."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
import requests

from cli.conftest import ChromiumUser
from for_resource.conftest import Protected
from oauthkit import OAuth2Client, Token, for_resource
from oauthkit.auth.httpx import HttpxAuth
from oauthkit.auth.requests import RequestsOAuth2Auth
from oauthkit.errors import StepUpRequired
from oauthkit.protocol.oauth2.authorization import AuthorizationRequest
from oauthkit.protocol.oauth2.registration import ClientRegistration, delete_registration
from oauthkit.stores import SQLiteStore

CLIENT = Path(__file__).with_name("client.py")
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "oauthkit-tests", "version": "1"},
    },
}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}


def _approving(peer: Any, calls: list[str]) -> Callable[..., str]:
    """A sign-in played over HTTP at oidc-provider's pages (the browser tests use Chromium)."""

    def sign_in(begin: Callable[[str], AuthorizationRequest]) -> str:
        request = begin("http://127.0.0.1:53682/callback")
        calls.append(request.url)
        return str(peer.approve(request.url))

    return sign_in


def _initialize(auth: Any, url: str) -> int:
    """The MCP ``initialize`` call through ``auth``; its status."""
    with httpx2.Client(auth=auth) as http:
        return http.post(url, json=INITIALIZE, headers=MCP_ACCEPT).status_code


def _never(begin: Callable[[str], AuthorizationRequest]) -> Mapping[str, str]:
    raise AssertionError("signed in again")


def _run_client(
    protected: Protected, store: Path, env: dict[str, str], *, pipe: bool = False, calls: int = 1
) -> subprocess.Popen[str]:
    command = [sys.executable, str(CLIENT), protected.url, str(store), "--calls", str(calls)]
    return subprocess.Popen(
        [*command, *(["--pipe"] if pipe else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(CLIENT.parents[1]), **env},
    )


def _result(process: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, out + err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


@pytest.mark.timeout(300)
def test_the_mcp_client_signs_in_once_in_a_browser_and_not_after_a_restart(
    protected: Callable[..., Protected], chromium: ChromiumUser, tmp_path: Path
) -> None:
    server = protected()
    store = tmp_path / "tokens.sqlite3"
    log = tmp_path / "browser.log"
    first = _run_client(
        server, store, {"BROWSER": chromium.browser_user, "BROWSER_LOG": str(log)}, calls=3
    )
    cold = _result(first)
    assert cold["answers"] == ["alice"] * 3, log.read_text() if log.exists() else ""
    assert cold["requests"] == 3  # resource metadata, server metadata, registration
    assert server.registrations() == 1
    server.peer.reset_log()
    second = _run_client(server, store, {"BROWSER": "/bin/false"}, calls=2)
    warm = _result(second)
    assert warm == {"answers": ["alice", "alice"], "requests": 0}
    # Only the MCP server checking the token: no metadata, no registration, no token request.
    assert {path for _, path in server.peer.request_log} <= {"/token/introspection"}


@pytest.mark.timeout(300)
def test_every_process_of_the_program_shares_one_registration(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected()
    store = tmp_path / "tokens.sqlite3"
    processes = [_run_client(server, store, {}, pipe=True) for _ in range(4)]
    urls = []
    for process in processes:  # all four are cold at once: none is approved yet
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("AUTHORIZE "), line + (
            process.stderr.read() if process.stderr else ""
        )
        urls.append(line.split(" ", 1)[1].strip())
    for process, url in zip(processes, urls, strict=True):
        assert process.stdin is not None
        process.stdin.write(server.peer.approve(url) + "\n")
        process.stdin.flush()
    results = [_result(process) for process in processes]
    assert all(result["answers"] == ["alice"] for result in results)
    assert server.registrations() == 1
    stored = SQLiteStore(store).keys()
    registrations = [key for key in stored if key.startswith("registration:")]
    assert len(registrations) == 1


def test_a_due_token_is_renewed_for_its_resource_after_a_restart(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected(ttl={"AccessToken": 3})
    store = SQLiteStore(tmp_path / "tokens.sqlite3")
    signed: list[str] = []
    auth = for_resource(
        server.url, store=store, sign_in=_approving(server.peer, signed), client_name="t"
    )
    assert _initialize(auth, server.url) == 200
    assert len(signed) == 1
    assert "resource=" in signed[0]
    time.sleep(4)  # the access token has expired: a restarted program renews it
    server.peer.reset_log()
    again = for_resource(server.url, store=store, sign_in=_never, client_name="t")
    assert _initialize(again, server.url) == 200
    assert server.token_requests() == 1  # the refresh, with resource= (else invalid audience)
    assert again.requests == 0


def test_a_client_the_server_forgot_registers_again_once(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected(ttl={"AccessToken": 3})
    store = SQLiteStore(tmp_path / "tokens.sqlite3")
    signed: list[str] = []
    auth = for_resource(
        server.url, store=store, sign_in=_approving(server.peer, signed), client_name="t"
    )
    assert _initialize(auth, server.url) == 200
    key = f"registration:t:{server.peer.issuer}"
    old = store.get(key, ClientRegistration)
    assert old is not None
    with httpx2.Client() as http:
        from oauthkit.drivers import run

        run(delete_registration(old), http)  # RFC 7592 §2.3: the server forgets the client
    time.sleep(4)
    assert _initialize(auth, server.url) == 200
    new = store.get(key, ClientRegistration)
    assert new is not None and new.client_id != old.client_id
    assert len(signed) == 2
    assert server.registrations() == 2


def test_an_expired_secret_is_renewed_by_reading_the_registration(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected()
    store = SQLiteStore(tmp_path / "tokens.sqlite3")
    signed: list[str] = []
    auth = for_resource(
        server.url,
        store=store,
        sign_in=_approving(server.peer, signed),
        client_name="t",
        confidential=True,
    )
    assert _initialize(auth, server.url) == 200
    key = f"registration:t:{server.peer.issuer}"
    registration = store.get(key, ClientRegistration)
    assert registration is not None and registration.token_endpoint_auth_method == (
        "client_secret_basic"
    )
    expired = dataclasses.replace(registration, client_secret_expires_at=int(time.time()) - 10)
    store.put(key, expired)
    store.delete(auth.key)  # the next call needs a new sign-in, with the client's secret
    fresh = for_resource(
        server.url,
        store=store,
        sign_in=_approving(server.peer, signed),
        client_name="t",
        confidential=True,
    )
    assert _initialize(fresh, server.url) == 200
    current = store.get(key, ClientRegistration)
    assert current is not None
    assert current.client_id == registration.client_id  # RFC 7592 read, not a new client
    assert not current.secret_expired()
    assert server.registrations() == 1


def test_httpx_and_requests_get_there_too(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected()
    signed: list[str] = []
    auth = for_resource(
        server.url,
        store=SQLiteStore(tmp_path / "a.sqlite3"),
        sign_in=_approving(server.peer, signed),
        client_name="t",
    )
    with httpx.Client(auth=HttpxAuth(auth)) as http:
        assert http.post(server.url, json=INITIALIZE, headers=MCP_ACCEPT).status_code == 200
    other = for_resource(
        server.url,
        store=SQLiteStore(tmp_path / "b.sqlite3"),
        sign_in=_approving(server.peer, signed),
        client_name="t",
    )
    with requests.Session() as http:
        http.auth = other.requests_auth()
        answer = http.post(server.url, json=INITIALIZE, headers=MCP_ACCEPT, timeout=30)
        assert answer.status_code == 200, answer.text
        assert len(answer.history) == 1 and answer.history[0].status_code == 401
    assert len(signed) == 2


def test_an_async_client_in_one_process_signs_in_once_for_many_tasks(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected()
    signed: list[str] = []
    auth = for_resource(
        server.url,
        store=SQLiteStore(tmp_path / "tokens.sqlite3"),
        sign_in=_approving(server.peer, signed),
        client_name="t",
    )

    async def many() -> list[int]:
        async with httpx2.AsyncClient(auth=auth) as http:
            answers = await asyncio.gather(
                *(http.post(server.url, json=INITIALIZE, headers=MCP_ACCEPT) for _ in range(10))
            )
        return [answer.status_code for answer in answers]

    assert asyncio.run(many()) == [200] * 10
    assert len(signed) == 1
    assert server.registrations() == 1
    discovery = [p for _, p in server.peer.request_log if p.startswith("/.well-known/")]
    assert discovery == ["/.well-known/openid-configuration"]  # fetched once, not per client
    token = auth.store.get(auth.key, Token)
    assert token is not None and token.extra["oauthkit_issuer"] == server.peer.issuer


def test_insufficient_scope_signs_in_again_for_the_wider_scope_once(
    start_oidc: Callable[..., Any], tmp_path: Path
) -> None:
    from for_resource.scoped_server import ADMIN, READ, ScopedResource
    from peers.oidc_provider import SERVICE_SECRET

    resource = ScopedResource(("service", SERVICE_SECRET))
    try:
        peer = start_oidc(registration=True, resources={resource.url: f"{READ} {ADMIN}"})
        resource.issuer = peer.issuer
        store = SQLiteStore(tmp_path / "tokens.sqlite3")
        held_during_step_up: list[str | None] = []
        signed: list[str] = []
        approve = _approving(peer, signed)

        def sign_in(begin: Callable[[str], AuthorizationRequest]) -> str:
            held = store.get(f"resource:t:{resource.url}", Token)
            held_during_step_up.append(held.scope if held else None)
            return approve(begin)

        auth = for_resource(resource.url, store=store, sign_in=sign_in, client_name="t")
        with httpx2.Client(auth=auth) as http:
            assert http.get(resource.url + "/read").json()["scopes"] == [READ]
            answer = http.get(resource.url + "/admin")
            assert answer.status_code == 200, answer.text
            assert answer.json()["scopes"] == sorted([READ, ADMIN])
            assert http.get(resource.url + "/admin").status_code == 200  # no third sign-in
        assert held_during_step_up == [None, READ]  # the old token stayed until the new one
        asked = [parse_qs(urlsplit(url).query)["scope"] for url in signed]
        assert asked == [[READ], [f"{READ} {ADMIN}"]]
    finally:
        resource.stop()


def test_insufficient_user_authentication_signs_in_again_with_acr_and_max_age_once(
    start_oidc: Callable[..., Any], tmp_path: Path
) -> None:
    """RFC 9470: the resource wants a fresh, stronger sign-in; the session's auth raises
    StepUpRequired, for_resource signs in again once with its acr_values and max_age, and a
    resource that refuses every sign-in costs one step-up, not one per call."""
    from for_resource.scoped_server import ADMIN, READ, ScopedResource
    from peers.oidc_provider import SERVICE_SECRET

    resource = ScopedResource(("service", SERVICE_SECRET))
    try:
        peer = start_oidc(registration=True, resources={resource.url: f"{READ} {ADMIN}"})
        resource.issuer = peer.issuer
        store = SQLiteStore(tmp_path / "tokens.sqlite3")
        signed: list[str] = []
        auth = for_resource(
            resource.url, store=store, sign_in=_approving(peer, signed), client_name="t"
        )
        with httpx2.Client(auth=auth) as http:
            assert http.get(resource.url + "/read").status_code == 200
            first = store.get(auth.key, Token)
            with httpx2.Client(auth=OAuth2Client("x", issuer=peer.issuer).auth(first)) as plain:
                with pytest.raises(StepUpRequired) as refused:
                    plain.get(resource.url + "/strong")
            assert refused.value.acr_values == ("urn:mfa", "urn:strong")
            assert refused.value.max_age == 0
            assert refused.value.authorization_params() == {
                "acr_values": "urn:mfa urn:strong",
                "max_age": "0",
            }
            with pytest.raises(StepUpRequired, match="acr_values='urn:mfa urn:strong'"):
                requests.get(
                    resource.url + "/strong",
                    auth=RequestsOAuth2Auth(OAuth2Client("x", issuer=peer.issuer), first),
                )
            answer = http.get(resource.url + "/strong")
            assert answer.status_code == 200, answer.text
            assert http.get(resource.url + "/strong").status_code == 200  # no third sign-in
            assert len(signed) == 2
            step_up = parse_qs(urlsplit(signed[1]).query)
            assert step_up["acr_values"] == ["urn:mfa urn:strong"]
            assert step_up["max_age"] == ["0"]
            for _ in range(2):  # the same step-up was made a moment ago: the error, no sign-in
                with pytest.raises(StepUpRequired):
                    http.get(resource.url + "/never")
            assert len(signed) == 2
            token = store.get(auth.key, Token)
            assert token is not None and token.id_claims is not None  # openid added: checked
            assert "auth_time" in token.id_claims
    finally:
        resource.stop()


def test_a_scope_the_server_never_grants_costs_one_sign_in_not_one_per_call(
    start_oidc: Callable[..., Any], tmp_path: Path
) -> None:
    """The authorization server drops the wider scope (the user may not have it): the step-up
    sign-in happens once; the resource's 403 is then the answer, on this call and the next,
    instead of a new interactive sign-in every time."""
    from for_resource.scoped_server import READ, ScopedResource
    from peers.oidc_provider import SERVICE_SECRET

    resource = ScopedResource(("service", SERVICE_SECRET))
    try:
        peer = start_oidc(registration=True, resources={resource.url: READ})  # no mcp:admin
        resource.issuer = peer.issuer
        signed: list[str] = []
        auth = for_resource(
            resource.url,
            store=SQLiteStore(tmp_path / "tokens.sqlite3"),
            sign_in=_approving(peer, signed),
            client_name="t",
        )
        with httpx2.Client(auth=auth) as http:
            assert http.get(resource.url + "/read").status_code == 200
            assert http.get(resource.url + "/admin").status_code == 403
            assert http.get(resource.url + "/admin").status_code == 403
            assert http.get(resource.url + "/read").status_code == 200
        assert len(signed) == 2  # the first sign-in and one step-up
    finally:
        resource.stop()


def test_the_token_goes_only_to_the_resources_origin(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    server = protected()
    signed: list[str] = []
    auth = for_resource(
        server.url,
        store=SQLiteStore(tmp_path / "t.sqlite3"),
        sign_in=_approving(server.peer, signed),
        client_name="t",
    )
    with httpx2.Client(auth=auth) as http:
        assert http.post(server.url, json=INITIALIZE, headers=MCP_ACCEPT).status_code == 200
        elsewhere = http.get(f"{server.peer.issuer}/.well-known/openid-configuration")
    assert elsewhere.status_code == 200
    assert "authorization" not in elsewhere.request.headers


def test_the_device_flow_when_there_is_no_browser(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    import re
    import threading

    from oauthkit.resource import device_sign_in

    server = protected()
    approved = threading.Event()

    def say(line: str) -> None:
        found = re.search(r"enter the code:\s+(\S+)", line)
        if found:
            threading.Thread(
                target=lambda: (server.peer.approve_device(found[1]), approved.set()), daemon=True
            ).start()

    auth = for_resource(
        server.url,
        store=SQLiteStore(tmp_path / "t.sqlite3"),
        sign_in=device_sign_in(say=say, timeout=60),
        client_name="t",
    )
    assert _initialize(auth, server.url) == 200
    assert approved.is_set()
    registration = auth.store.get(f"registration:t:{server.peer.issuer}", ClientRegistration)
    assert registration is not None
    assert "urn:ietf:params:oauth:grant-type:device_code" in registration.metadata["grant_types"]


@pytest.mark.parametrize(
    ("way", "error", "words"),
    [
        (
            "other-resource",
            "InvalidResourceMetadata",
            "is for the resource 'https://bank.example/mcp'",
        ),
        ("http-server", "InvalidResourceMetadata", "authorization server is refused"),
        ("no-client-id", "InvalidRegistration", "without a client_id"),
        ("foreign-metadata", "InvalidResourceMetadata", "another origin"),
    ],
)
@pytest.mark.slow
def test_hostile_servers_are_refused_with_a_typed_error(
    way: str, error: str, words: str, tmp_path: Path
) -> None:
    from for_resource.hostile_server import HostileResource
    from oauthkit import errors

    hostile = HostileResource(way)
    signed: list[str] = []
    try:
        auth = for_resource(
            hostile.url,
            store=SQLiteStore(tmp_path / "t.sqlite3"),
            sign_in=lambda begin: signed.append("asked") or "",
            client_name="t",
        )
        with httpx2.Client(auth=auth) as http, pytest.raises(getattr(errors, error)) as caught:
            http.post(hostile.url, json=INITIALIZE)
        assert words in str(caught.value)
        assert "s3cret" not in str(caught.value)
        assert signed == []  # nobody was sent to sign in
        assert auth.store.keys() == []  # and nothing was kept
        if way == "foreign-metadata":
            assert hostile.seen == ["POST /mcp"]  # the other host was never asked
    finally:
        hostile.stop()


def test_a_registration_is_read_updated_and_deleted(start_oidc: Callable[..., Any]) -> None:
    from oauthkit.drivers import run
    from oauthkit.protocol.oauth2.metadata import discover
    from oauthkit.protocol.oauth2.registration import (
        read_registration,
        register,
        update_registration,
    )

    peer = start_oidc(registration=True)
    metadata = {
        "client_name": "first",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "application_type": "native",
    }
    with httpx2.Client() as http:
        server = run(discover(peer.issuer), http)
        registration = run(
            register(peer.issuer, server.raw["registration_endpoint"], metadata), http
        )
        assert registration.client_secret and registration.registration_access_token
        assert run(read_registration(registration), http).metadata["client_name"] == "first"
        updated = run(
            update_registration(registration, {**metadata, "client_name": "second"}), http
        )
        assert updated.client_id == registration.client_id
        assert updated.registration_access_token  # kept when the answer leaves it out
        assert run(read_registration(updated), http).metadata["client_name"] == "second"
        run(delete_registration(updated), http)
        with pytest.raises(Exception) as gone:
            run(read_registration(updated), http)
        assert "401" in str(gone.value) or "invalid" in str(gone.value).lower()


@pytest.mark.timeout(300)
def test_without_a_browser_the_default_sign_in_is_the_device_flow(
    protected: Callable[..., Protected], tmp_path: Path
) -> None:
    import re

    server = protected()
    env = {key: value for key, value in os.environ.items() if key not in ("BROWSER", "DISPLAY")}
    env.pop("WAYLAND_DISPLAY", None)
    process = subprocess.Popen(
        [sys.executable, str(CLIENT), server.url, str(tmp_path / "t.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONPATH": str(CLIENT.parents[1]), "PATH": "/usr/bin:/bin"},
    )
    assert process.stderr is not None
    said = []
    for line in process.stderr:
        said.append(line)
        found = re.search(r"enter the code:\s+(\S+)", line)
        if found:
            server.peer.approve_device(found[1])
            break
    assert any("On any device, open" in line for line in said), "".join(said)
    result = _result(process)
    assert result["answers"] == ["alice"]
