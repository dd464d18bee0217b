"""A remote server never chooses where our requests go on the user's own machine (DESIGN rule
13, RFC 9728 §7, RFC 8414 §6, RFC 7592 §3): authorization servers named by resource metadata,
endpoints named by server metadata, registration and client configuration endpoints named by
a registration — each must be https and no more local than the server that named it. The
steps are driven by hand with the answers a hostile server would give; the end-to-end case
plays a remote https resource with a recording transport and shows that no request is made
to the loopback or private address it names."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx2
import pytest

import oauthkit
from oauthkit.errors import (
    ConfigurationError,
    InsecureTransportError,
    InvalidRegistration,
    InvalidResourceMetadata,
)
from oauthkit.protocol.http import HttpResponse
from oauthkit.protocol.oauth2.metadata import discover
from oauthkit.protocol.oauth2.registration import (
    ClientRegistration,
    read_registration,
    register,
)
from oauthkit.protocol.oauth2.resource import discover_resource
from oauthkit.protocol.url_policy import LOCAL, PRIVATE, PUBLIC, is_loopback_host, locality
from oauthkit.stores import MemoryStore

RESOURCE = "https://mcp.example.com/mcp"
ISSUER = "https://id.example.com"
#: Where a hostile server may point us on this side: this machine (in every spelling a
#: resolver accepts), the cloud's metadata service, a private network.
LOCAL_TARGETS = [
    "http://127.0.0.1:6379",
    "https://127.0.0.1:8443",
    "https://127.1",
    "https://0x7f.0.0.1",
    "https://2130706433",
    "https://[::1]:8443",
    "https://[::ffff:127.0.0.1]",
    "https://localhost:8443",
    "https://admin.localhost",
    "https://169.254.169.254",
    "https://0.0.0.0",
]
PRIVATE_TARGETS = [
    "https://10.0.0.5",
    "https://192.168.1.1",
    "https://100.64.0.1",
    "https://[fc00::1]",
]


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse.build(
        status, {"Content-Type": "application/json"}, json.dumps(body).encode()
    )


def _drive(step: Any, *answers: HttpResponse) -> Any:
    next(step)
    try:
        for answer in answers:
            step.send(answer)
    except StopIteration as done:
        return done.value
    raise AssertionError("the step wanted more")


def _resource_metadata(server: str) -> HttpResponse:
    return _json(200, {"resource": RESOURCE, "authorization_servers": [server]})


@pytest.mark.parametrize("server", LOCAL_TARGETS + PRIVATE_TARGETS)
def test_a_public_resource_cannot_name_a_local_authorization_server(server: str) -> None:
    with pytest.raises(InvalidResourceMetadata, match="refused"):
        _drive(discover_resource(RESOURCE), _resource_metadata(server))


def test_a_public_authorization_server_is_taken() -> None:
    found = _drive(discover_resource(RESOURCE), _resource_metadata("https://as.example.org"))
    assert found.authorization_servers == ("https://as.example.org",)


def test_a_local_resource_may_name_a_local_server_and_an_opt_in_lifts_the_rule() -> None:
    local = "http://127.0.0.1:8000/mcp"
    answer = _json(200, {"resource": local, "authorization_servers": ["http://127.0.0.1:9000"]})
    assert _drive(discover_resource(local), answer).authorization_servers
    step = discover_resource(RESOURCE, allow_private_endpoints=True)
    assert _drive(step, _resource_metadata("https://10.0.0.5")).authorization_servers


@pytest.mark.parametrize("endpoint", ["https://127.0.0.1/token", "https://10.1.2.3/token"])
def test_a_public_issuers_metadata_cannot_name_local_endpoints(endpoint: str) -> None:
    document = {"issuer": ISSUER, "token_endpoint": endpoint}
    with pytest.raises(InsecureTransportError, match="named by"):
        _drive(discover(ISSUER), _json(200, document))
    jwks = {"issuer": ISSUER, "jwks_uri": "https://169.254.169.254/keys"}
    with pytest.raises(InsecureTransportError):
        _drive(discover(ISSUER), _json(200, jwks))
    # what the user configured is the user's: a configured token endpoint replaces it
    assert _drive(discover(ISSUER, configured=frozenset({"token_endpoint"})), _json(200, document))
    assert _drive(discover(ISSUER, allow_private_endpoints=True), _json(200, document))


def test_a_registration_endpoint_and_its_management_uri_are_checked() -> None:
    with pytest.raises(InsecureTransportError):
        next(register(ISSUER, "https://127.0.0.1/register", {"redirect_uris": []}))
    for uri in ("http://evil.example.com/client/1", "https://127.0.0.1/client/1"):
        answer = _json(
            201,
            {"client_id": "c", "registration_access_token": "rat", "registration_client_uri": uri},
        )
        with pytest.raises(InvalidRegistration, match="registration_client_uri"):
            _drive(register(ISSUER, ISSUER + "/register", {"redirect_uris": []}), answer)


def test_rfc7592_calls_never_send_the_registration_token_over_plain_http() -> None:
    """A stored registration naming a plain-http (or local) configuration endpoint: nothing
    is sent — not the registration access token, not the client secret."""
    for uri in ("http://evil.example.com/client/1", "https://10.0.0.1/client/1"):
        stored = ClientRegistration(
            ISSUER,
            "c",
            client_secret="secret",
            registration_access_token="rat",
            registration_client_uri=uri,
        )
        with pytest.raises(ConfigurationError):
            next(read_registration(stored))


def test_localities() -> None:
    assert [locality(h) for h in ("example.com", "10.0.0.1", "127.0.0.1")] == [
        PUBLIC,
        PRIVATE,
        LOCAL,
    ]


def test_a_localhost_name_is_loopback_only_if_it_resolves_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 6761 asks resolvers to keep ``*.localhost`` local; one that sends it to DNS could
    make ``http://app.localhost`` a plain-http request to anywhere."""
    from oauthkit.protocol import url_policy

    def public(name: str, *args: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0))]

    url_policy._resolves_locally.cache_clear()
    monkeypatch.setattr(socket, "getaddrinfo", public)
    assert not is_loopback_host("dns.localhost")
    assert is_loopback_host("localhost")  # the name itself is the machine's
    url_policy._resolves_locally.cache_clear()

    def nowhere(name: str, *args: Any) -> list[Any]:
        raise socket.gaierror("no such name")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    assert is_loopback_host("gone.localhost")  # unresolvable: nothing can be reached
    url_policy._resolves_locally.cache_clear()


def test_for_resource_sends_nothing_to_the_local_server_a_remote_resource_names() -> None:
    """End to end through ResourceAuth: a remote https resource answers 401 and names an
    authorization server on this machine. The call fails with a typed error; nothing went to
    the local address; nobody was sent to sign in; nothing was stored."""
    seen: list[str] = []

    def resource(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        if request.url.path == "/mcp":
            return httpx2.Response(
                401,
                headers={
                    "WWW-Authenticate": 'Bearer resource_metadata="https://mcp.example.com/'
                    '.well-known/oauth-protected-resource/mcp"'
                },
            )
        document = {"resource": RESOURCE, "authorization_servers": ["http://127.0.0.1:6379"]}
        return httpx2.Response(200, json=document)

    signed_in: list[Any] = []
    store = MemoryStore()
    http = httpx2.Client(transport=httpx2.MockTransport(resource))
    auth = oauthkit.for_resource(
        RESOURCE, store=store, http=http, sign_in=lambda *a, **k: signed_in.append(a)
    )
    with httpx2.Client(auth=auth, transport=httpx2.MockTransport(resource)) as client:
        with pytest.raises(InvalidResourceMetadata, match="this machine"):
            client.get(RESOURCE)
    assert all(url.startswith("https://mcp.example.com/") for url in seen), seen
    assert signed_in == [] and store.keys() == []
