"""Client authentication at the token, revocation and introspection endpoints.

``client_secret_basic`` and ``client_secret_post`` (RFC 6749 §2.3.1), ``none`` (public clients,
RFC 6749 §2.1), ``client_secret_jwt`` and ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9),
and ``tls_client_auth``/``self_signed_tls_client_auth`` (RFC 8705 §2; the certificate itself
travels in the TLS handshake, configured on the HTTP client).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote_plus

from ...errors import ConfigurationError

__all__ = ["AUTH_METHODS", "ClientAuth", "load_private_key"]

AUTH_METHODS: Final = (
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
    "tls_client_auth",
    "self_signed_tls_client_auth",
)
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: How long a client assertion is valid (seconds).
ASSERTION_LIFETIME: Final = 60

_DEFAULT_ALGS = {"RSA": "RS256", "EC": "ES256", "OKP": "Ed25519"}  # RFC 9864 names
_EC_ALGS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def load_private_key(key: Any, what: str = "private_key") -> Any:
    """A joserfc key from a JWK dict, a PEM string or bytes, or a joserfc key (returned as is);
    ``what`` names the argument in errors."""
    from joserfc import jwk

    if isinstance(key, jwk.RSAKey | jwk.ECKey | jwk.OKPKey):
        return key
    try:
        if isinstance(key, Mapping):
            kty = key.get("kty")
            if kty not in ("RSA", "EC", "OKP"):
                raise ValueError(f"unsupported kty {kty!r}")
            return jwk.import_key(dict(key), kty)
        if isinstance(key, str | bytes):
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

            data = key.encode() if isinstance(key, str) else key
            loaded = serialization.load_pem_private_key(data, password=None)
            if isinstance(loaded, rsa.RSAPrivateKey):
                return jwk.RSAKey.import_key(data)
            if isinstance(loaded, ec.EllipticCurvePrivateKey):
                return jwk.ECKey.import_key(data)
            if isinstance(loaded, ed25519.Ed25519PrivateKey):
                return jwk.OKPKey.import_key(data)
            raise ValueError(f"unsupported key type {type(loaded).__name__}")
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{what} is not a usable private key: {exc}") from None
    raise ConfigurationError(f"{what} must be a JWK dict, a PEM string or bytes, or a joserfc key")


def _key_alg(key: Any) -> str:
    """The key's own ``alg`` (RFC 7517 §4.4) when it names one, else the usual one for its
    type and curve."""
    named = key.get("alg")
    if isinstance(named, str) and named:
        return named
    kty = key.key_type
    if kty == "EC":
        return _EC_ALGS.get(key.as_dict().get("crv", ""), "ES256")
    return _DEFAULT_ALGS[kty]


@dataclass(frozen=True, slots=True, repr=False)
class ClientAuth:
    """How a client authenticates (RFC 6749 §2.3), applied to one request's form and headers.

    ``basic_encoding="form"`` form-urlencodes the id and secret before base64 as RFC 6749
    §2.3.1 requires; ``"raw"`` is for servers that expect them as they are.
    """

    client_id: str
    method: str = "none"
    client_secret: str | None = None
    private_key: Any = None
    assertion_alg: str | None = None
    basic_encoding: Literal["form", "raw"] = "form"
    _key: Any = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        if self.method not in AUTH_METHODS:
            raise ConfigurationError(
                f"unknown auth_method {self.method!r}; use one of {', '.join(AUTH_METHODS)}"
            )
        if self.method.startswith("client_secret") and not self.client_secret:
            raise ConfigurationError(f"{self.method} needs client_secret")
        if self.method == "client_secret_jwt" and len(self.client_secret or "") < 32:
            raise ConfigurationError(
                "client_secret_jwt signs with HS256, which needs a secret of at least 32 "
                "bytes (RFC 7518 §3.2); use client_secret_basic for a shorter secret"
            )
        if self.method == "private_key_jwt":
            if self.private_key is None:
                raise ConfigurationError("private_key_jwt needs private_key")
            object.__setattr__(self, "_key", load_private_key(self.private_key))
        if self.basic_encoding not in ("form", "raw"):
            raise ConfigurationError("basic_encoding is 'form' or 'raw'")

    def secrets(self) -> frozenset[str]:
        """The client secret, which no message may show even when it only keys an
        assertion (``client_secret_jwt``) and is never sent."""
        return frozenset({self.client_secret}) if self.client_secret else frozenset()

    def apply(
        self, form: dict[str, str], headers: dict[str, str], *, audience: str, now: float
    ) -> None:
        """Add this client's authentication to a request's ``form`` and ``headers``.

        ``audience`` is the endpoint the assertion is for (OIDC Core §9: the token endpoint).
        """
        method = self.method
        if method == "client_secret_basic":
            secret = self.client_secret or ""
            if self.basic_encoding == "form":
                user, password = quote_plus(self.client_id), quote_plus(secret)
            else:
                user, password = self.client_id, secret
            raw = f"{user}:{password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
            return
        form["client_id"] = self.client_id
        if method == "client_secret_post":
            form["client_secret"] = self.client_secret or ""
        elif method in ("client_secret_jwt", "private_key_jwt"):
            form["client_assertion_type"] = ASSERTION_TYPE
            form["client_assertion"] = self.assertion(audience, now)

    def assertion(self, audience: str, now: float) -> str:
        """RFC 7523 §3: a signed JWT with ``iss``/``sub`` the client id, ``aud`` the endpoint,
        a fresh ``jti`` and a short lifetime."""
        from joserfc import jwk, jwt

        issued = int(now)
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "jti": secrets.token_urlsafe(24),
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME,
        }
        if self.method == "client_secret_jwt":
            alg = self.assertion_alg or "HS256"
            key: Any = jwk.OctKey.import_key(self.client_secret or "")
            header = {"alg": alg, "typ": "JWT"}
        else:
            key = self._key
            alg = self.assertion_alg or _key_alg(key)
            header = {"alg": alg, "typ": "JWT"}
            if key.kid:
                header["kid"] = key.kid
        return jwt.encode(header, claims, key, algorithms=[alg])

    def __repr__(self) -> str:
        return f"ClientAuth(client_id={self.client_id!r}, method={self.method!r})"
