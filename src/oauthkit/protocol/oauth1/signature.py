"""The signature methods of RFC 5849 §3.4.2-3.4.4, plus HMAC-SHA256/512 and RSA-SHA256/512
(the same constructions with a wider digest, as many providers accept), and the body hash of
the OAuth Request Body Hash extension."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Final

from ...errors import ConfigurationError
from .encoding import percent_encode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "HMAC_METHODS",
    "RSA_METHODS",
    "SIGNATURE_METHODS",
    "body_hash",
    "load_rsa_private_key",
    "plaintext_signature",
    "sign_base_string",
]

HMAC_METHODS: Final[dict[str, str]] = {
    "HMAC-SHA1": "sha1",
    "HMAC-SHA256": "sha256",
    "HMAC-SHA512": "sha512",
}
RSA_METHODS: Final[dict[str, str]] = {
    "RSA-SHA1": "sha1",
    "RSA-SHA256": "sha256",
    "RSA-SHA512": "sha512",
}
SIGNATURE_METHODS: Final[tuple[str, ...]] = (*HMAC_METHODS, *RSA_METHODS, "PLAINTEXT")


def plaintext_signature(consumer_secret: str, token_secret: str = "") -> str:
    """RFC 5849 §3.4.4 (also the HMAC key, §3.4.2): both secrets encoded, joined by ``&``."""
    return f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"


def sign_base_string(
    signature_method: str,
    base_string: str,
    *,
    consumer_secret: str = "",
    token_secret: str = "",
    rsa_key: RSAPrivateKey | str | bytes | None = None,
) -> str:
    """Return the base64 signature of ``base_string`` (RFC 5849 §3.4.2-3.4.4).

    HMAC-*: keyed with both secrets (§3.4.2). RSA-*: RSASSA-PKCS1-v1_5 with ``rsa_key``, a PEM
    string or bytes or a loaded key (§3.4.3; load it once and reuse it for speed). PLAINTEXT:
    the key itself, unencoded for the header (§3.4.4).
    """
    digest = HMAC_METHODS.get(signature_method)
    if digest is not None:
        key = plaintext_signature(consumer_secret, token_secret).encode("utf-8", "surrogateescape")
        mac = hmac.digest(key, base_string.encode("utf-8", "surrogateescape"), digest)
        return base64.b64encode(mac).decode("ascii")
    hash_name = RSA_METHODS.get(signature_method)
    if hash_name is not None:
        if rsa_key is None:
            raise ConfigurationError(f"{signature_method} needs rsa_key (an RSA private key)")
        return _rsa_sign(load_rsa_private_key(rsa_key), hash_name, base_string)
    if signature_method == "PLAINTEXT":
        return plaintext_signature(consumer_secret, token_secret)
    raise ConfigurationError(
        f"unknown signature method {signature_method!r}; use one of {', '.join(SIGNATURE_METHODS)}"
    )


def load_rsa_private_key(key: RSAPrivateKey | str | bytes) -> RSAPrivateKey:
    """Return a loaded RSA private key from a PEM (PKCS#1 or PKCS#8) string or bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    if isinstance(key, RSAPrivateKey):
        return key
    if not isinstance(key, str | bytes):
        raise ConfigurationError("rsa_key must be a PEM string or bytes, or an RSAPrivateKey")
    data = key.encode("ascii") if isinstance(key, str) else key
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"rsa_key is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(loaded, RSAPrivateKey):
        raise ConfigurationError("rsa_key must be an RSA key (RSA-SHA* signature methods)")
    return loaded


def _rsa_sign(key: RSAPrivateKey, hash_name: str, base_string: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    algorithm: hashes.HashAlgorithm = {
        "sha1": hashes.SHA1(),  # noqa: S303 - RSA-SHA1 is RFC 5849 §3.4.3
        "sha256": hashes.SHA256(),
        "sha512": hashes.SHA512(),
    }[hash_name]
    signature = key.sign(
        base_string.encode("utf-8", "surrogateescape"), padding.PKCS1v15(), algorithm
    )
    return base64.b64encode(signature).decode("ascii")


def body_hash(signature_method: str, body: bytes) -> str:
    """``oauth_body_hash`` (OAuth Request Body Hash 1.0 §3.1): the base64 digest of the raw
    body, with the digest of the signature method (SHA-1 for HMAC-SHA1 and RSA-SHA1)."""
    if signature_method == "PLAINTEXT":
        raise ConfigurationError(
            "oauth_body_hash protects nothing with PLAINTEXT (Body Hash §4.1); use an HMAC or "
            "RSA signature method"
        )
    name = signature_method.rsplit("-", 1)[-1].lower()
    if name not in ("sha1", "sha256", "sha512"):
        raise ConfigurationError(f"unknown signature method {signature_method!r}")
    return base64.b64encode(hashlib.new(name, body).digest()).decode("ascii")
