"""The FAPI 2.0 client profile (issue 16, item 3) against oidc-provider's own FAPI 2.0
profile (``fapi: {profile: '2.0'}``, https, PAR required): with DPoP and ``private_key_jwt``,
with mTLS (client authentication, certificate-bound tokens, RFC 8705 §5 aliases), with
message signing (JAR inside PAR, JARM); every configuration the profile forbids refused when
the client is made, and every server answer that breaks it refused before use — each error
naming its clause."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.jwk import RSAKey

from oauth2.fapi_peer import CLIENT_KEY, CLIENTS, fapi_signing_keys, start_fapi
from oauthkit import AsyncOAuth2Client, OAuth2Client
from oauthkit.errors import (
    ConfigurationError,
    InvalidClient,
    InvalidRequest,
    IssuerMismatch,
    ProfileError,
    ProfileViolation,
)
from oauthkit.protocol.http import HttpRequest, HttpResponse
from oauthkit.protocol.oauth2.hooks import Hook
from peers.oidc_provider import REDIRECT_URI, OIDCPeer


@pytest.fixture(scope="module")
def fapi(start_oidc_module: Callable[..., OIDCPeer]) -> OIDCPeer:
    return start_fapi(start_oidc_module)


def _client(peer: OIDCPeer, name: str = "fapi-dpop", **options: Any) -> OAuth2Client:
    options.setdefault("profile", "fapi2")
    if CLIENTS[name]["token_endpoint_auth_method"] == "tls_client_auth":
        options.setdefault("http", peer.http_client(client_cert=True))
        options.setdefault("auth_method", "tls_client_auth")
    else:
        options.setdefault("http", peer.http_client())
        options.setdefault("private_key", CLIENT_KEY)
        options.setdefault("dpop", True)
    return OAuth2Client(
        name, issuer=peer.issuer, redirect_uri=REDIRECT_URI, scope="openid", **options
    )


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_par_dpop_and_private_key_jwt_end_to_end(fapi: OIDCPeer) -> None:
    fapi.reset_log()
    with _client(fapi) as client:
        request = client.authorization_request()
        # §5.3.3.2 item 6: only client_id and request_uri reach the authorization endpoint.
        assert sorted(_query(request.url)) == ["client_id", "request_uri"]
        callback = fapi.approve(request.url)
        assert _query(callback)["iss"] == [fapi.issuer]
        token = client.exchange_code(request, callback)
        assert token.token_type == "DPoP" and token.dpop_key is not None
        assert token.id_claims is not None and token.id_claims["sub"] == "alice"
        assert client.userinfo(token)["sub"] == "alice"  # a DPoP-bound call
        renewed = client.refresh(token)
        assert renewed.token_type == "DPoP" and renewed.access_token != token.access_token
    assert ("POST", "/request") in fapi.request_log  # pushed (RFC 9126)


def test_the_async_client_follows_the_profile_too(fapi: OIDCPeer) -> None:
    async def sign_in() -> str:
        http = httpx2.AsyncClient(verify=fapi.ssl_context(), follow_redirects=False)
        async with AsyncOAuth2Client(
            "fapi-dpop",
            issuer=fapi.issuer,
            redirect_uri=REDIRECT_URI,
            scope="openid",
            private_key=CLIENT_KEY,
            dpop=True,
            profile="fapi2",
            http=http,
        ) as client:
            request = await client.authorization_request()
            assert sorted(_query(request.url)) == ["client_id", "request_uri"]
            callback = await asyncio.to_thread(fapi.approve, request.url)
            token = await client.exchange_code(request, callback)
            assert token.token_type == "DPoP"
            return str((await client.userinfo(token))["sub"])

    assert asyncio.run(sign_in()) == "alice"


def test_without_the_profile_the_same_client_is_refused_by_a_fapi_server(
    fapi: OIDCPeer,
) -> None:
    """The switch is what makes it work: without it the assertion's aud is the endpoint,
    which a FAPI 2.0 server refuses (§5.3.3.1 item 5)."""
    with _client(fapi, profile=None) as client, pytest.raises(InvalidClient):
        client.authorization_request()


def test_mtls_client_authentication_bound_tokens_and_endpoint_aliases(fapi: OIDCPeer) -> None:
    fapi.reset_log()
    with _client(fapi, "fapi-mtls") as client:
        request = client.authorization_request()
        assert sorted(_query(request.url)) == ["client_id", "request_uri"]
        token = client.exchange_code(request, fapi.approve(request.url))
        assert token.id_claims is not None  # ES256
        assert client.userinfo(token)["sub"] == "alice"
        introspected = client.introspect(token.access_token)
        assert introspected["active"] is True
        assert "x5t#S256" in introspected["cnf"]  # bound to the client certificate
    log = fapi.request_log
    for path in ("/mtls/request", "/mtls/token", "/mtls/me", "/mtls/token/introspection"):
        assert ("POST", path) in log or ("GET", path) in log, (path, log)
    assert ("POST", "/token") not in log


def test_message_signing_signs_the_request_and_verifies_a_jwt_response(fapi: OIDCPeer) -> None:
    with _client(fapi, "fapi-signing", profile="fapi2-message-signing") as client:
        request = client.authorization_request()
        assert request.response_mode == "jwt"
        callback = fapi.approve(request.url)
        assert sorted(_query(callback)) == ["response"]  # a signed JWT, nothing else
        token = client.exchange_code(request, callback)
    assert token.token_type == "DPoP" and token.id_claims is not None


def test_the_plain_profile_is_refused_where_the_server_requires_a_signed_request(
    fapi: OIDCPeer,
) -> None:
    """A control for the test above: ``fapi-signing`` needs the request object."""
    with _client(fapi, "fapi-signing") as client:
        with pytest.raises(InvalidRequest, match="Request Object must be used"):
            client.authorization_request()


# --------------------------------------------------------------------------- hostile servers


def test_an_id_token_signed_with_rs256_is_refused(fapi: OIDCPeer) -> None:
    with _client(fapi, "fapi-rs256") as client:
        request = client.authorization_request()
        callback = fapi.approve(request.url)
        with pytest.raises(ProfileViolation, match="RS256") as caught:
            client.exchange_code(request, callback)
    assert caught.value.clause == "FAPI 2.0 §5.4.1 item 1.2"


def test_a_jarm_response_signed_with_rs256_is_refused(fapi: OIDCPeer) -> None:
    with _client(fapi, "fapi-rs256-jarm") as client:
        request = client.authorization_request(response_mode="jwt")
        callback = fapi.approve(request.url)
        with pytest.raises(ProfileViolation, match="response JWT is signed with 'RS256'"):
            client.exchange_code(request, callback)
        assert not request.used  # nothing was sent


def test_a_callback_without_iss_is_refused(fapi: OIDCPeer) -> None:
    with _client(fapi) as client:
        request = client.authorization_request()
        query = {k: v[0] for k, v in _query(fapi.approve(request.url)).items() if k != "iss"}
        with pytest.raises(IssuerMismatch, match=r"FAPI 2.0 §5.3.3.2 item 5"):
            client.exchange_code(request, f"{REDIRECT_URI}?{urlencode(query)}")


def _as_bearer(_request: HttpRequest, response: HttpResponse) -> HttpResponse:
    fields = json.loads(response.body)
    if "access_token" not in fields:
        return response
    fields["token_type"] = "Bearer"
    return dataclasses.replace(response, body=json.dumps(fields).encode())


def test_a_bearer_token_answered_to_a_dpop_client_is_refused(fapi: OIDCPeer) -> None:
    downgrade = Hook(
        name="downgrade",
        doc="A hostile answer: the token said to be a bearer token.",
        response=_as_bearer,
    )
    with _client(fapi, hooks=[downgrade]) as client:
        request = client.authorization_request()
        callback = fapi.approve(request.url)
        with pytest.raises(ProfileViolation, match="Bearer token to a DPoP proof") as caught:
            client.exchange_code(request, callback)
    assert caught.value.clause == "FAPI 2.0 §5.3.3.1 item 1"


def test_a_server_without_certificate_bound_tokens_is_refused_before_the_user_is_sent(
    start_oidc_module: Callable[..., OIDCPeer],
) -> None:
    """An https server that is not FAPI: it binds no token to the client certificate, so an
    mTLS-only client would get bearer tokens."""
    plain = start_oidc_module(tls=True, clients={"fapi-mtls": CLIENTS["fapi-mtls"]})
    with _client(plain, "fapi-mtls") as client:
        with pytest.raises(ProfileViolation, match="tls_client_certificate_bound") as caught:
            client.authorization_request()
    assert caught.value.clause == "FAPI 2.0 §5.3.3.1 item 1"
    assert ("POST", "/request") not in plain.request_log


def _resigned_by(key: RSAKey) -> Hook:
    """A hostile token answer: the ID token signed again by ``key`` (published in the
    server's JWKS under its ``kid``), its claims unchanged."""

    def resign(_request: HttpRequest, response: HttpResponse) -> HttpResponse:
        fields = json.loads(response.body)
        if "id_token" not in fields:
            return response
        claims = jws.extract_compact(fields["id_token"].encode()).payload
        header = {"alg": "PS256", "kid": key.kid}
        fields["id_token"] = jws.serialize_compact(header, claims, key, algorithms=["PS256"])
        return dataclasses.replace(response, body=json.dumps(fields).encode())

    return Hook(name="resign", doc="The ID token signed again by another key.", response=resign)


def test_an_id_token_signed_with_a_short_rsa_key_is_refused(
    start_oidc_module: Callable[..., OIDCPeer],
) -> None:
    """The server publishes a 1024-bit RSA key and signs the ID token with it (PS256): the
    signature verifies, but the profile accepts RSA keys of 2048 bits or more. The same
    answer signed by a 2048-bit key of the same JWKS is taken."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc's own warning about the short key
        short = RSAKey.generate_key(1024, parameters={"kid": "short"}, private=True)
    long = RSAKey.generate_key(2048, parameters={"kid": "long"}, private=True)
    keys = fapi_signing_keys()
    keys["keys"] += [dict(short.as_dict(private=True)), dict(long.as_dict(private=True))]
    server = start_oidc_module(
        tls=True, fapi2=True, clients={"fapi-dpop": CLIENTS["fapi-dpop"]}, signing_jwks=keys
    )
    with _client(server, hooks=[_resigned_by(short)]) as client:
        request = client.authorization_request()
        callback = server.approve(request.url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ProfileViolation, match="1024-bit RSA key") as caught:
                client.exchange_code(request, callback)
    assert caught.value.clause == "FAPI 2.0 §5.4.1 item 2"
    with _client(server, hooks=[_resigned_by(long)]) as client:
        request = client.authorization_request()
        token = client.exchange_code(request, server.approve(request.url))
    assert token.id_claims is not None and token.id_claims["sub"] == "alice"


# --------------------------------------------------------------------------- configurations


def _pem(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


ISSUER = "https://as.example.com"
GOOD: dict[str, Any] = {"issuer": ISSUER, "private_key": CLIENT_KEY, "dpop": True}


@pytest.mark.parametrize(
    ("options", "clause", "words"),
    [
        ({**GOOD, "private_key": None, "client_secret": "s3cret"}, "§5.3.3.1 item 2", "secret"),
        (
            {
                **GOOD,
                "private_key": None,
                "client_secret": "s" * 40,
                "auth_method": "client_secret_jwt",
            },
            "§5.3.3.1 item 2",
            "client_secret_jwt",
        ),
        ({**GOOD, "dpop": False}, "§5.3.3.1 item 1", "sender-constrained"),
        ({**GOOD, "insecure_no_pkce": True}, "§5.3.3.2 item 3", "S256"),
        ({**GOOD, "pkce": "plain"}, "§5.3.3.2 item 3", "S256"),
        (
            {**GOOD, "token_endpoint": "https://as.example.com/token"},
            "§5.3.3.1 item 9",
            "token_endpoint",
        ),
        ({**GOOD, "issuer": "http://127.0.0.1:9"}, "§5.2.1 item 1", "https"),
        ({**GOOD, "allow_insecure_http": True}, "§5.2.1 item 1", "TLS"),
        (
            {**GOOD, "private_key": _pem(rsa.generate_private_key(65537, 1024))},
            "§5.4.1 item 2",
            "1024 bits",
        ),
        (
            {**GOOD, "private_key": _pem(ec.generate_private_key(ec.SECP384R1()))},
            "§5.4.1 item 1.2",
            "P-384",
        ),
        ({**GOOD, "assertion_alg": "RS256"}, "§5.4.1 item 1.2", "RS256"),
    ],
)
@pytest.mark.filterwarnings("ignore:Key size should be:joserfc.errors.SecurityWarning")
def test_a_configuration_the_profile_forbids_is_refused(
    options: dict[str, Any], clause: str, words: str
) -> None:
    with pytest.raises(ProfileError, match=words) as caught:
        OAuth2Client("client", profile="fapi2", **options)
    assert caught.value.clause == f"FAPI 2.0 {clause}"
    assert clause in str(caught.value)


def test_par_false_and_the_password_grant_are_refused() -> None:
    with OAuth2Client("client", profile="fapi2", **GOOD) as client:
        with pytest.raises(ProfileError, match="par=False") as caught:
            client.authorization_request(par=False)
        assert caught.value.clause == "FAPI 2.0 §5.3.3.2 item 2"
        with pytest.raises(ProfileError, match="password grant"):
            client.password("alice", "pw")


def test_message_signing_needs_a_key_and_a_jwt_response() -> None:
    with pytest.raises(ProfileError, match="private_key="):
        OAuth2Client(
            "client",
            issuer=ISSUER,
            auth_method="tls_client_auth",
            tls_client_cert=None,
            http=httpx2.Client(),
            profile="fapi2-message-signing",
        )
    with OAuth2Client("client", profile="fapi2-message-signing", **GOOD) as client:
        with pytest.raises(ProfileError, match="response_mode='query'"):
            client.authorization_request(response_mode="query")
        with pytest.raises(ProfileError, match="jar=False"):
            client.authorization_request(jar=False)


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="profile is one of fapi2"):
        OAuth2Client("client", profile="fapi1", **GOOD)  # type: ignore[arg-type]
