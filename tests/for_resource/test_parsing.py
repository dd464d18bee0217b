"""The sans-I/O parts of issue 17, driven by hand: protected resource metadata (RFC 9728) and
its checks, the challenge of a 401 (RFC 9728 §5.1, RFC 6750 §3), client registration answers
(RFC 7591 §3.2) and the registration record in a store. The real servers are in
test_for_resource.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oauthkit.errors import (
    ConfigurationError,
    InvalidClientMetadata,
    InvalidRedirectUri,
    InvalidRegistration,
    InvalidResourceMetadata,
)
from oauthkit.protocol.http import HttpRequest, HttpResponse
from oauthkit.protocol.oauth2.config import check_resource_indicator
from oauthkit.protocol.oauth2.registration import ClientRegistration, register
from oauthkit.protocol.oauth2.resource import (
    discover_resource,
    read_challenge,
    resource_metadata_urls,
    same_resource,
)
from oauthkit.stores import MemoryStore

RESOURCE = "https://mcp.example.com/mcp"


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse.build(
        status, {"Content-Type": "application/json"}, json.dumps(body).encode()
    )


def _drive(step: Any, *answers: HttpResponse) -> tuple[list[HttpRequest], Any]:
    sent = [next(step)]
    try:
        for answer in answers:
            sent.append(step.send(answer))
    except StopIteration as done:
        return sent, done.value
    raise AssertionError(f"the step wanted more: {sent[-1]!r}")


def test_the_well_known_location_is_path_aware() -> None:
    assert resource_metadata_urls(RESOURCE) == [
        "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
        "https://mcp.example.com/.well-known/oauth-protected-resource",
    ]
    assert resource_metadata_urls("https://mcp.example.com/") == [
        "https://mcp.example.com/.well-known/oauth-protected-resource"
    ]
    assert resource_metadata_urls("https://r.example/a/b?x=1")[0] == (
        "https://r.example/.well-known/oauth-protected-resource/a/b?x=1"
    )


def test_the_challenge_is_read() -> None:
    header = (
        'Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", '
        'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'
    )
    challenge = read_challenge(header)
    assert challenge is not None
    assert challenge.error == "insufficient_scope"
    assert challenge.scope == "mcp:tools mcp:admin"
    assert challenge.resource_metadata.endswith("/oauth-protected-resource/mcp")
    assert read_challenge('Basic realm="x"') is None
    assert read_challenge(None) is None


def test_metadata_is_taken_from_the_challenge_then_checked() -> None:
    challenge = read_challenge(
        'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'
    )
    document = {
        "resource": RESOURCE,
        "authorization_servers": ["https://auth.example.com"],
        "scopes_supported": ["mcp:tools"],
    }
    sent, metadata = _drive(discover_resource(RESOURCE, challenge), _json(200, document))
    assert [r.url for r in sent] == [challenge.resource_metadata]
    assert metadata.authorization_servers == ("https://auth.example.com",)
    assert metadata.scopes_supported == ("mcp:tools",)


def test_a_404_at_the_path_falls_back_to_the_root() -> None:
    document = {"resource": RESOURCE, "authorization_servers": ["https://auth.example.com"]}
    sent, _ = _drive(discover_resource(RESOURCE), _json(404, {}), _json(200, document))
    assert [r.url for r in sent] == resource_metadata_urls(RESOURCE)


@pytest.mark.parametrize(
    ("document", "why"),
    [
        (
            {
                "resource": "https://evil.example/mcp",
                "authorization_servers": ["https://a.example"],
            },
            "not",
        ),
        ({"resource": RESOURCE, "authorization_servers": ["http://auth.example.com"]}, "https"),
        ({"resource": RESOURCE, "authorization_servers": []}, "no authorization server"),
        ({"resource": RESOURCE}, "no authorization server"),
        ({"authorization_servers": ["https://a.example"]}, "not"),
    ],
)
def test_hostile_metadata_is_refused(document: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidResourceMetadata, match=why):
        _drive(discover_resource(RESOURCE), _json(200, document))


def test_a_challenge_pointing_at_another_host_is_refused_before_any_request() -> None:
    challenge = read_challenge(
        'Bearer resource_metadata="https://evil.example/.well-known/oauth-protected-resource"'
    )
    step = discover_resource(RESOURCE, challenge)
    with pytest.raises(InvalidResourceMetadata, match="another origin"):
        next(step)


def test_resources_compare_as_uris() -> None:
    assert same_resource("https://MCP.example.com", "https://mcp.example.com/")
    assert not same_resource("https://mcp.example.com/mcp", "https://mcp.example.com/mcp/")
    assert not same_resource("https://mcp.example.com/mcp", "http://mcp.example.com/mcp")
    with pytest.raises(ConfigurationError, match="RFC 8707"):
        check_resource_indicator("https://mcp.example.com/mcp#frag")
    with pytest.raises(ConfigurationError, match="RFC 8707"):
        check_resource_indicator("/mcp")


def _registered(status: int, body: dict[str, Any], **metadata: Any) -> ClientRegistration:
    step = register("https://as.example", "https://as.example/reg", metadata)
    request = next(step)
    assert request.method == "POST"
    assert json.loads(request.body) == metadata
    try:
        step.send(_json(status, body))
    except StopIteration as done:
        result: ClientRegistration = done.value
        return result
    raise AssertionError("the step wanted more")


def test_a_secret_without_a_method_means_client_secret_basic() -> None:
    registration = _registered(201, {"client_id": "abc", "client_secret": "s3cret"})
    assert registration.token_endpoint_auth_method == "client_secret_basic"
    assert "s3cret" not in repr(registration)
    public = _registered(200, {"client_id": "abc"}, token_endpoint_auth_method="none")
    assert public.token_endpoint_auth_method == "none"
    assert public.client_secret is None


def test_a_registration_without_client_id_is_refused() -> None:
    with pytest.raises(InvalidRegistration, match="client_id"):
        _registered(201, {"client_secret": "s3cret"})
    with pytest.raises(InvalidRegistration):
        _registered(201, {"client_id": ""})


def test_registration_errors_are_typed() -> None:
    with pytest.raises(InvalidRedirectUri):
        _registered(400, {"error": "invalid_redirect_uri"})
    with pytest.raises(InvalidClientMetadata) as caught:
        _registered(400, {"error": "invalid_client_metadata", "error_description": "no"})
    assert caught.value.error_description == "no"


def test_an_expired_secret_is_seen() -> None:
    expired = ClientRegistration("https://as.example", "c", "s", client_secret_expires_at=1000)
    assert expired.secret_expired(now=2000)
    assert not expired.secret_expired(now=100)
    never = ClientRegistration("https://as.example", "c", "s", client_secret_expires_at=0)
    assert not never.secret_expired()


def test_a_registration_is_kept_in_a_store_like_a_token() -> None:
    store = MemoryStore()
    registration = ClientRegistration(
        "https://as.example",
        "abc",
        "s3cret",
        client_secret_expires_at=0,
        token_endpoint_auth_method="client_secret_basic",
        registration_access_token="rat",
        registration_client_uri="https://as.example/reg/abc",
        metadata={"redirect_uris": ["http://127.0.0.1/callback"]},
    )
    store.put("registration:me:https://as.example", registration)
    back = store.get("registration:me:https://as.example", ClientRegistration)
    assert back == registration
    assert back.metadata["redirect_uris"] == ["http://127.0.0.1/callback"]


def test_a_client_id_metadata_document_replaces_registration_where_supported() -> None:
    from oauthkit import for_resource
    from oauthkit.protocol.oauth2.metadata import ServerMetadata

    document = "https://agent.example/oauth/client.json"
    store = MemoryStore()
    auth = for_resource(RESOURCE, store=store, client_metadata_url=document, sign_in=print)
    supporting = ServerMetadata(
        issuer="https://as.example",
        endpoints={"token_endpoint": "https://as.example/token"},
        raw={"client_id_metadata_document_supported": True},
    )
    client = auth._registration("https://as.example", supporting, None)
    assert (client.client_id, client.client_secret) == (document, None)
    assert client.token_endpoint_auth_method == "none"
    assert store.keys() == []  # nothing registered, nothing stored
    without = ServerMetadata(issuer="https://as.example", raw={})
    with pytest.raises(ConfigurationError, match="no dynamic client registration"):
        auth._registration("https://as.example", without, None)
    for bad in ("http://agent.example/client.json", "https://agent.example/", "/client.json"):
        with pytest.raises(ConfigurationError, match="https URL with a path"):
            for_resource(RESOURCE, store=store, client_metadata_url=bad)


def test_the_resource_goes_on_every_request_of_the_client() -> None:
    """RFC 8707 §2: ``resource`` on the authorization request and on each token request —
    code, refresh, client credentials — and on the device authorization request."""
    from urllib.parse import parse_qs, urlsplit

    import httpx2

    from oauthkit import OAuth2Client, Token

    forms: list[dict[str, list[str]]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        forms.append(parse_qs(request.content.decode()))
        if request.url.path == "/device":
            body = {
                "device_code": "d",
                "user_code": "U",
                "verification_uri": "https://as.example/d",
            }
            return httpx2.Response(200, json={**body, "expires_in": 60, "interval": 1})
        return httpx2.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    with OAuth2Client(
        "cid",
        "secret",
        authorization_endpoint="https://as.example/authorize",
        token_endpoint="https://as.example/token",
        device_authorization_endpoint="https://as.example/device",
        redirect_uri="http://127.0.0.1:1/callback",
        resource=RESOURCE,
        http=http,
    ) as client:
        request = client.authorization_request()
        assert parse_qs(urlsplit(request.url).query)["resource"] == [RESOURCE]
        state = request.state
        client.exchange_code(request, f"http://127.0.0.1:1/callback?code=c&state={state}")
        client.refresh(Token("a", refresh_token="r"))
        client.client_credentials()
        client.device_authorization()
    assert [form["resource"] for form in forms] == [[RESOURCE]] * 4
