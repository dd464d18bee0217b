"""A FAPI 2.0 authorization server for the tests: oidc-provider with its FAPI 2.0 profile,
https with the test CA (client certificates asked for), PAR required, and registrations for
DPoP + ``private_key_jwt`` (a web application and a command-line tool), message signing, mTLS, and two hostile ones that sign with RS256."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from joserfc.jwk import RSAKey

from peers.oidc_provider import (
    MTLS_CLIENT_SUBJECT_DN,
    PUBLIC_REDIRECT_URI,
    REDIRECT_URI,
    OIDCPeer,
    generate_signing_jwks,
    public_jwks,
)

#: The private key of every ``private_key_jwt`` registration below (RSA, PS256).
CLIENT_KEY: dict[str, Any] = RSAKey.generate_key(
    2048, parameters={"alg": "PS256", "use": "sig"}, private=True, auto_kid=True
).as_dict(private=True)
_WEB = {
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "redirect_uris": [REDIRECT_URI],
    "scope": "openid profile offline_access",
}
_SIGNED = {
    **_WEB,
    "token_endpoint_auth_method": "private_key_jwt",
    "token_endpoint_auth_signing_alg": "PS256",
    "jwks": public_jwks({"keys": [CLIENT_KEY]}),
    "dpop_bound_access_tokens": True,
    "id_token_signed_response_alg": "PS256",
}
CLIENTS = {
    "fapi-dpop": _SIGNED,
    # Message signing: the server refuses a pushed request without a signed request object.
    "fapi-signing": {
        **_SIGNED,
        "require_signed_request_object": True,
        "request_object_signing_alg": "PS256",
        "authorization_signed_response_alg": "PS256",
    },
    "fapi-mtls": {
        **_WEB,
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": MTLS_CLIENT_SUBJECT_DN,
        "tls_client_certificate_bound_access_tokens": True,
        "id_token_signed_response_alg": "ES256",
    },
    # A command-line tool: a loopback redirect on any port (RFC 8252 §7.3).
    "fapi-native": {
        **_SIGNED,
        "application_type": "native",
        "redirect_uris": [PUBLIC_REDIRECT_URI],
    },
    # Hostile registrations: the server signs with RS256, which the profile forbids.
    "fapi-rs256": {**_SIGNED, "id_token_signed_response_alg": "RS256"},
    "fapi-rs256-jarm": {**_SIGNED, "authorization_signed_response_alg": "RS256"},
}


def start_fapi(start: Callable[..., OIDCPeer]) -> OIDCPeer:
    """Start the server with ``start`` (a ``start_oidc`` factory); its signing keys add a
    PS256 key to the usual RS256 and ES256 ones."""
    return start(tls=True, fapi2=True, clients=CLIENTS, signing_jwks=fapi_signing_keys())


def fapi_signing_keys() -> dict[str, Any]:
    """New signing keys for a FAPI server: a PS256 key, and the usual RS256 and ES256 ones."""
    keys = generate_signing_jwks()
    ps256 = RSAKey.generate_key(
        2048, parameters={"alg": "PS256", "use": "sig"}, private=True, auto_kid=True
    )
    keys["keys"].append(dict(ps256.as_dict(private=True)))
    return keys
