"""Proof Key for Code Exchange (RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from ...errors import ConfigurationError

__all__ = ["CODE_CHALLENGE_METHODS", "code_challenge", "make_code_verifier"]

CODE_CHALLENGE_METHODS = ("S256", "plain")
_VERIFIER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def make_code_verifier(length: int = 64) -> str:
    """RFC 7636 §4.1: a high-entropy verifier of ``length`` (43-128) unreserved characters,
    here base64url from :mod:`secrets` (``length`` 64 carries 384 bits)."""
    if not 43 <= length <= 128:
        raise ConfigurationError("a code verifier has 43 to 128 characters (RFC 7636 §4.1)")
    return secrets.token_urlsafe(length)[:length]


def code_challenge(verifier: str, method: str = "S256") -> str:
    """RFC 7636 §4.2: ``BASE64URL(SHA256(ASCII(verifier)))`` for S256, the verifier itself for
    plain."""
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _VERIFIER_CHARS:
        raise ConfigurationError(
            "a code verifier has 43 to 128 unreserved characters (RFC 7636 §4.1)"
        )
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if method == "plain":
        return verifier
    raise ConfigurationError(f"unknown code challenge method {method!r}; use S256 or plain")
