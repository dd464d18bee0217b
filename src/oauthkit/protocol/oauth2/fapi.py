"""The FAPI 2.0 Security Profile's requirements for clients, as one switch.

``OAuth2Client(..., profile="fapi2")`` makes every step follow the client clauses of the
OpenID FAPI 2.0 Security Profile (final, February 2025), cited here by the sections of its
rendered text:

* §5.2.1 item 1 — TLS to every server: the issuer is https, even on loopback;
  ``allow_insecure_http`` is refused.
* §5.3.3.1 item 1 — sender-constrained access tokens: DPoP (RFC 9449) or mTLS (RFC 8705 §3);
  a token answer that is not DPoP-bound, or a server that does not announce certificate-bound
  tokens, is refused.
* §5.3.3.1 item 2 — client authentication with ``private_key_jwt`` or mTLS, never a secret.
* §5.3.3.1 item 5 — the client assertion's ``aud`` is the issuer, as a string.
* §5.3.3.1 item 7 — with mTLS, the server's ``mtls_endpoint_aliases`` (RFC 8705 §5).
* §5.3.3.1 items 9 and 11 — endpoints only from the metadata document, whose ``issuer``
  equals the configured one: explicit endpoint URLs are refused.
* §5.3.3.2 items 2, 3, 5 and 6 — pushed authorization requests (RFC 9126) always, so that
  only ``client_id`` and ``request_uri`` reach the authorization endpoint; PKCE with S256;
  ``iss`` required in the authorization response (RFC 9207).
* §5.4.1 — JWTs made or accepted only with PS256, ES256 or EdDSA (Ed25519); RSA keys of at
  least 2048 bits (the client's and the server's), elliptic-curve keys of at least 224;
  never ``none``.

``profile="fapi2-message-signing"`` adds FAPI 2.0 Message Signing's authorization request
and response signing: the pushed parameters travel in a signed request object (RFC 9101) and
the response comes as a signed JWT (JARM, ``response_mode=jwt``), verified before use.

A configuration that breaks a clause is a :class:`~oauthkit.errors.ProfileError` when the
client is made; a server answer that breaks one is a
:class:`~oauthkit.errors.ProfileViolation` and is not used. Both name the clause.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ...errors import ConfigurationError, ProfileError, ProfileViolation
from .modes import JWT_RESPONSE_MODES

if TYPE_CHECKING:
    from ..http import HttpResponse
    from .config import ClientConfig
    from .metadata import ServerMetadata
    from .token import Token

__all__ = [
    "ALGORITHMS",
    "MESSAGE_SIGNING",
    "PROFILES",
    "check_config",
    "check_jws_alg",
    "check_server",
    "check_token",
    "clause",
    "signing_alg",
]

#: The profiles ``profile=`` accepts.
PROFILES: Final = ("fapi2", "fapi2-message-signing")
#: The profile that also signs authorization requests and responses.
MESSAGE_SIGNING: Final = "fapi2-message-signing"
#: §5.4.1 item 1.2: PS256, ES256 and EdDSA with Ed25519 (``Ed25519`` is its fully specified
#: name, RFC 9864, which the note under §5.4.1 allows).
ALGORITHMS: Final = ("PS256", "ES256", "EdDSA", "Ed25519")
MIN_RSA_BITS: Final = 2048
MIN_EC_BITS: Final = 224
#: §5.3.3.1 item 2.
AUTH_METHODS: Final = ("private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth")


def clause(section: str, item: int | str | None = None) -> str:
    """How an error names a requirement: ``FAPI 2.0 §5.3.3.1 item 2``."""
    return f"FAPI 2.0 §{section}" + (f" item {item}" if item is not None else "")


def signing_alg(key: Any) -> str:
    """The profile's algorithm for a client key (a joserfc key): PS256 for RSA, ES256 for
    P-256, Ed25519 for an Ed25519 key; any other key is refused (§5.4.1)."""
    kty = key.key_type
    if kty == "RSA":
        bits = key.raw_value.key_size
        if bits < MIN_RSA_BITS:
            raise ProfileError(
                f"the client's RSA key has {bits} bits; the profile needs at least {MIN_RSA_BITS}",
                clause=clause("5.4.1", 2),
            )
        return "PS256"
    if kty == "EC":
        curve = key.as_dict().get("crv")
        if curve != "P-256":
            raise ProfileError(
                f"the client's EC key is on {curve}; the profile signs with ES256 (P-256) only",
                clause=clause("5.4.1", "1.2"),
            )
        return "ES256"
    if kty == "OKP" and key.as_dict().get("crv") == "Ed25519":
        return "Ed25519"
    raise ProfileError(
        "the client's key cannot sign with PS256, ES256 or EdDSA (Ed25519)",
        clause=clause("5.4.1", "1.2"),
    )


def check_config(config: ClientConfig) -> None:
    """Refuse a client configuration the profile forbids, naming the clause."""
    if config.profile not in PROFILES:
        raise ConfigurationError(f"profile is one of {', '.join(PROFILES)} (or None)")
    if (
        config.allow_insecure_http
        or config.issuer is None
        or not config.issuer.startswith("https://")
    ):
        raise ProfileError(
            "the profile talks to servers over TLS only: give an https issuer= and leave "
            "allow_insecure_http off",
            clause=clause("5.2.1", 1),
        )
    if config.endpoints:
        raise ProfileError(
            "the profile takes endpoints only from the server's metadata document; drop "
            + ", ".join(sorted(config.endpoints)),
            clause=clause("5.3.3.1", 9),
        )
    method = config.auth.method
    if method not in AUTH_METHODS:
        raise ProfileError(
            f"the client authenticates with {method}; the profile allows private_key_jwt or "
            "mTLS (tls_client_auth, self_signed_tls_client_auth), never a client secret",
            clause=clause("5.3.3.1", 2),
        )
    if config.dpop is None and not config.mtls:
        raise ProfileError(
            "the profile needs sender-constrained access tokens: dpop=True, or an mTLS "
            "client certificate (tls_client_cert=)",
            clause=clause("5.3.3.1", 1),
        )
    if config.pkce != "S256":
        raise ProfileError("the profile needs PKCE with S256", clause=clause("5.3.3.2", 3))
    if config.auth.private_key is not None:
        from .client_auth import load_private_key

        expected = signing_alg(load_private_key(config.auth.private_key))
        chosen = config.auth.assertion_alg or expected
        if chosen not in ALGORITHMS:
            raise ProfileError(
                f"assertion_alg={chosen!r}: the profile signs with PS256, ES256 or EdDSA",
                clause=clause("5.4.1", "1.2"),
            )
    elif config.profile == MESSAGE_SIGNING:
        raise ProfileError(
            "message signing signs the authorization request: give private_key=",
            clause="FAPI 2.0 Message Signing, signing authorization requests",
        )


def check_server(config: ClientConfig, metadata: ServerMetadata) -> None:
    """Before a user is sent to the server: it must promise what the profile relies on —
    ``iss`` in the authorization response (§5.3.3.2 item 5, RFC 9207), a pushed
    authorization request endpoint (item 2), S256 (item 3) and, for an mTLS-only client,
    certificate-bound tokens (§5.3.3.1 item 1)."""
    raw = metadata.raw
    if not metadata.authorization_response_iss_parameter_supported:
        raise ProfileViolation(
            f"{metadata.issuer} does not announce authorization_response_iss_parameter_"
            "supported; the profile checks iss in every authorization response",
            clause=clause("5.3.3.2", 5),
        )
    if "pushed_authorization_request_endpoint" not in metadata.endpoints:
        raise ProfileViolation(
            f"{metadata.issuer} has no pushed_authorization_request_endpoint",
            clause=clause("5.3.3.2", 2),
        )
    methods = raw.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise ProfileViolation(
            f"{metadata.issuer} does not support PKCE with S256", clause=clause("5.3.3.2", 3)
        )
    _check_bound_tokens(config, metadata)


def _check_bound_tokens(
    config: ClientConfig, metadata: ServerMetadata, response: HttpResponse | None = None
) -> None:
    if (
        config.dpop is None
        and metadata.raw.get("tls_client_certificate_bound_access_tokens") is not True
    ):
        raise ProfileViolation(
            f"{metadata.issuer} does not announce tls_client_certificate_bound_access_tokens; "
            "without DPoP the profile needs certificate-bound tokens (RFC 8705 §3)",
            clause=clause("5.3.3.1", 1),
            response=response,
        )


def check_token(
    config: ClientConfig, metadata: ServerMetadata, token: Token, response: HttpResponse
) -> None:
    """A token answer must be sender-constrained (§5.3.3.1 item 1): DPoP-bound when the
    client proves a DPoP key, certificate-bound (announced by the server) otherwise."""
    if config.dpop is not None and token.token_type != "DPoP":
        raise ProfileViolation(
            f"the token endpoint answered a {token.token_type} token to a DPoP proof; the "
            "profile uses sender-constrained tokens only",
            clause=clause("5.3.3.1", 1),
            response=response,
        )
    _check_bound_tokens(config, metadata, response)


def check_jws_alg(config: ClientConfig, alg: str | None, what: str) -> None:
    """A JWT from the server (an ID token, a JARM response) signed with an algorithm the
    profile forbids is refused before its signature is even looked at (§5.4.1 item 1.2)."""
    if config.profile is not None and alg not in ALGORITHMS:
        raise ProfileViolation(
            f"{what} is signed with {alg!r}; the profile accepts PS256, ES256 or EdDSA only",
            clause=clause("5.4.1", "1.2"),
        )


def min_rsa_bits(config: ClientConfig) -> int:
    """The smallest RSA key accepted from the server: 2048 bits under the profile (§5.4.1
    item 2), any size otherwise."""
    return 0 if config.profile is None else MIN_RSA_BITS


def check_server_key(key: Any, min_bits: int, what: str) -> None:
    """Refuse a server's RSA key (a joserfc key) smaller than ``min_bits`` (§5.4.1 item 2)."""
    if min_bits and key.key_type == "RSA" and key.raw_value.key_size < min_bits:
        raise ProfileViolation(
            f"{what} is signed with a {key.raw_value.key_size}-bit RSA key; the profile "
            f"accepts at least {min_bits} bits",
            clause=clause("5.4.1", 2),
        )


def allowed(config: ClientConfig, algorithms: Iterable[str]) -> list[str]:
    """``algorithms`` as the profile narrows them (unchanged without a profile)."""
    if config.profile is None:
        return list(algorithms)
    return [alg for alg in algorithms if alg in ALGORITHMS] or list(ALGORITHMS)


def authorization_options(
    config: ClientConfig, *, par: bool | None, jar: bool | None, extra: Mapping[str, Any]
) -> tuple[bool | None, bool, dict[str, Any]]:
    """``par``, ``jar`` and the extra parameters of an authorization request as the profile
    wants them: pushed always (§5.3.3.2 item 2); with message signing, a signed request
    object and ``response_mode=jwt`` unless the caller chose another JWT mode."""
    extra = dict(extra)
    if config.profile is None:
        return par, bool(jar), extra
    if par is False:
        raise ProfileError(
            "par=False: the profile pushes every authorization request (RFC 9126)",
            clause=clause("5.3.3.2", 2),
        )
    if config.profile != MESSAGE_SIGNING:
        return True, bool(jar), extra
    if jar is False:
        raise ProfileError(
            "jar=False: message signing sends the authorization request as a signed request "
            "object (RFC 9101)",
            clause="FAPI 2.0 Message Signing, signing authorization requests",
        )
    mode = extra.setdefault("response_mode", "jwt")
    if mode not in JWT_RESPONSE_MODES:
        raise ProfileError(
            f"response_mode={mode!r}: message signing asks for a signed response (JARM)",
            clause="FAPI 2.0 Message Signing, signing authorization responses",
        )
    return True, True, extra
