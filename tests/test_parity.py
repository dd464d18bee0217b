"""Every sync/async pair has one signature: the same parameters, in the same order, of the
same kind, with defaults in the same places (only the default values of a ``wait``-like
callable differ: ``time.sleep`` against ``anyio.sleep``). Drift like
``AsyncOAuth2Client.poll_device`` without ``wait=`` cannot come back."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from oauthkit import AsyncOAuth1Client, AsyncOAuth2Client, OAuth1Client, OAuth2Client, Session
from oauthkit.resource import ResourceAuth
from oauthkit.stores import KeyringStore, MemoryStore, RedisStore, SQLAlchemyStore, SQLiteStore
from oauthkit.web import WebFlow, routes

#: (sync, async, how the async twin of a name is named)
PAIRS: list[tuple[type, type, Any]] = [
    (OAuth1Client, AsyncOAuth1Client, lambda name: "aclose" if name == "close" else name),
    (OAuth2Client, AsyncOAuth2Client, lambda name: "aclose" if name == "close" else name),
]
#: Classes whose async twins are a-prefixed methods of the same class.
PREFIXED: list[tuple[type, list[str]]] = [
    (Session, ["save", "token"]),
    *[
        (store, ["get", "put", "delete", "keys", "lock"])
        for store in (SQLiteStore, MemoryStore, KeyringStore, RedisStore)
    ],
]


def _shape(function: Any) -> list[tuple[str, Any, bool]]:
    signature = inspect.signature(function)
    return [
        (p.name, p.kind, p.default is inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]


def _public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("sync", "twin", "rename"), PAIRS, ids=lambda v: getattr(v, "__name__", "")
)
def test_client_pairs_match(sync: type, twin: type, rename: Any) -> None:
    names = _public(sync)
    assert {rename(name) for name in names} == _public(twin)
    for name in sorted(names):
        mine, theirs = getattr(sync, name), getattr(twin, rename(name))
        if not callable(mine) or isinstance(mine, type):
            continue
        assert _shape(mine) == _shape(theirs), f"{sync.__name__}.{name} and its twin differ"


@pytest.mark.parametrize(("cls", "names"), PREFIXED, ids=lambda v: getattr(v, "__name__", ""))
def test_prefixed_twins_match(cls: type, names: list[str]) -> None:
    for name in names:
        sync, twin = getattr(cls, name), getattr(cls, f"a{name}")
        assert _shape(sync) == _shape(twin), f"{cls.__name__}.{name} and a{name} differ"


def test_every_io_method_of_an_async_client_is_awaited() -> None:
    for twin in (AsyncOAuth1Client, AsyncOAuth2Client):
        for name in (
            (
                "request",
                "get",
                "post",
                "fetch_request_token",
                "fetch_access_token",
            )
            if twin is AsyncOAuth1Client
            else (
                "metadata",
                "authorization_request",
                "exchange_code",
                "refresh",
                "client_credentials",
                "device_authorization",
                "poll_device",
                "token_exchange",
                "jwt_bearer",
                "revoke",
                "introspect",
                "userinfo",
            )
        ):
            assert inspect.iscoroutinefunction(getattr(twin, name)), f"{twin.__name__}.{name}"


#: Classes whose every a-prefixed public method is the ``await`` twin of the method without
#: the ``a``: found, not listed, so that a new pair is checked the day it is written.
WITH_TWINS = [Session, WebFlow, SQLAlchemyStore, SQLiteStore, MemoryStore, KeyringStore, RedisStore]


@pytest.mark.parametrize("cls", WITH_TWINS, ids=lambda v: v.__name__)
def test_every_a_prefixed_twin_matches(cls: type) -> None:
    names = _public(cls)
    twins = sorted(n for n in names if n.startswith("a") and n[1:] in names)
    assert len(twins) >= 3, f"{cls.__name__} has hardly any twins: is the finder broken?"
    for twin in twins:
        sync, asynchronous = getattr(cls, twin[1:]), getattr(cls, twin)
        assert _shape(sync) == _shape(asynchronous), f"{cls.__name__}.{twin[1:]} and {twin}"
        if twin not in ("alock",):  # an async context manager, not a coroutine
            assert inspect.iscoroutinefunction(asynchronous), f"{cls.__name__}.{twin}"


def test_the_routes_call_flow_methods_that_have_twins() -> None:
    """The adapters call ``"a" + name`` in async apps: every name a route calls has one."""
    source = inspect.getsource(routes)
    called = set(re.findall(r'Call\(\s*"(\w+)"', source))
    assert called == {"begin", "complete", "disconnect", "backchannel_notification", "api"}
    for name in called:
        assert inspect.iscoroutinefunction(getattr(WebFlow, f"a{name}")), name


def test_resource_auth_flows_match() -> None:
    assert _shape(ResourceAuth.sync_auth_flow) == _shape(ResourceAuth.async_auth_flow)
    assert inspect.isasyncgenfunction(ResourceAuth.async_auth_flow)
    assert inspect.isgeneratorfunction(ResourceAuth.sync_auth_flow)
