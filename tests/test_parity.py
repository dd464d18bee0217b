"""Every sync/async pair has one signature: the same parameters, in the same order, of the
same kind, with defaults in the same places (only the default values of a ``wait``-like
callable differ: ``time.sleep`` against ``anyio.sleep``). Drift like
``AsyncOAuth2Client.poll_device`` without ``wait=`` cannot come back."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from oauthkit import AsyncOAuth1Client, AsyncOAuth2Client, OAuth1Client, OAuth2Client, Session
from oauthkit.stores import KeyringStore, MemoryStore, RedisStore, SQLiteStore

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
