"""DPoP: sender-constrained tokens (RFC 9449). Pure functions: keys, proofs, nonces.

A client with ``dpop=True`` makes an ES256 key per grant (``dpop="EdDSA"``: Ed25519),
proves possession of it on every request to the token endpoint (§5) and to resource servers
(§7), and keeps the key with the token (``Token.dpop_key``) so that a refresh from another
process still works. A server that asks for a nonce (``use_dpop_nonce`` with a
``DPoP-Nonce`` header, §8-9) gets one retry.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .bearer import parse_challenges

__all__ = [
    "DPOP_ALG",
    "DPOP_ALGS",
    "access_token_hash",
    "htu",
    "make_key",
    "make_proof",
    "wants_nonce",
]

#: The default algorithm for proofs (widely supported; RFC 9449 §11.1 asks for asymmetric
#: algorithms); ``EdDSA`` (Ed25519) is the other one oauthkit offers.
DPOP_ALG = "ES256"
DPOP_ALGS = ("ES256", "EdDSA")


def make_key(alg: str = DPOP_ALG) -> dict[str, Any]:
    """A fresh private key for ``alg`` (P-256 or Ed25519) as a JWK (RFC 7517), to be kept
    with the token."""
    from joserfc.jwk import ECKey, OKPKey

    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", private=True).as_dict(private=True)
    return ECKey.generate_key("P-256", private=True).as_dict(private=True)


def htu(url: str) -> str:
    """RFC 9449 §4.2: the request URI without query and fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def access_token_hash(access_token: str) -> str:
    """RFC 9449 §4.2 ``ath``: base64url SHA-256 of the access token."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_proof(
    key: Mapping[str, Any],
    method: str,
    url: str,
    *,
    now: float,
    access_token: str | None = None,
    nonce: str | None = None,
) -> str:
    """RFC 9449 §4.2: a DPoP proof JWT (``typ: dpop+jwt``, the public key in ``jwk``) with
    ``htm``, ``htu``, ``iat``, a fresh ``jti``, and ``ath`` and ``nonce`` when given."""
    from joserfc import jwt
    from joserfc.jwk import ECKey, OKPKey

    private: Any
    if key.get("kty") == "OKP":
        private, alg = OKPKey.import_key(dict(key)), "Ed25519"  # RFC 9864: not "EdDSA"
    else:
        private, alg = ECKey.import_key(dict(key)), "ES256"
    public = {
        k: v for k, v in private.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")
    }
    claims: dict[str, Any] = {
        "htm": method.upper(),
        "htu": htu(url),
        "iat": int(now),
        "jti": secrets.token_urlsafe(24),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": public}
    return jwt.encode(header, claims, private, algorithms=[alg])


def wants_nonce(status: int, headers: Mapping[str, str], body_error: str | None) -> str | None:
    """The nonce a server asks for (RFC 9449 §8 at the token endpoint: 400
    ``use_dpop_nonce``; §9 at a resource server: 401 with ``DPoP error="use_dpop_nonce"``),
    or ``None``."""
    nonce = headers.get("dpop-nonce")
    if not nonce:
        return None
    if status == 400 and body_error == "use_dpop_nonce":
        return nonce
    if status == 401 and any(
        scheme == "dpop" and params.get("error") == "use_dpop_nonce"
        for scheme, params in parse_challenges(headers.get("www-authenticate"))
    ):
        return nonce
    return None
