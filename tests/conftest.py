"""Shared pytest fixtures for the oauthkit test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peers import oauth1_authlib, oauth1_oauthlib
from peers.oauth1_common import OAuth1Peer


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
