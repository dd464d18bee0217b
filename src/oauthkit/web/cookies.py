"""The cookies of a web flow: the one that binds a pending flow to the browser that began it,
and the sealed one (AES-GCM) that carries the pending flow itself for an app with no store.

A flow's cookie is named after its handle, so that flows begun in several tabs do not
overwrite each other; it lives as long as the flow (``Max-Age``), is ``HttpOnly`` and
``SameSite=Lax``, and its ``Path`` is the callback's. On https it is ``Secure`` and carries
the ``__Host-`` prefix, which the browser accepts only with ``Path=/`` and no ``Domain``
(RFC 6265bis §4.1.3.2): the prefix's guarantee — no other host or path can set it — is worth
more than the narrower path. A flow answered by ``form_post`` arrives as a cross-site POST,
which carries ``SameSite=Lax`` cookies only from the same site: on https its cookie is
``SameSite=None``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, replace

from ..errors import ConfigurationError

__all__ = ["COOKIE_PREFIX", "Cookie", "Sealer", "flow_cookie_name"]

#: The name of a flow's cookie starts with this (after ``__Host-`` on https).
COOKIE_PREFIX = "oauthkit-flow-"


@dataclass(frozen=True, slots=True)
class Cookie:
    """A cookie for the adapter to set (``Set-Cookie``, RFC 6265 §4.1); ``repr`` hides the
    value."""

    name: str
    value: str
    path: str
    max_age: int
    secure: bool
    same_site: str = "Lax"
    http_only: bool = True

    def header(self) -> str:
        """The ``Set-Cookie`` header's value."""
        parts = [f"{self.name}={self.value}", f"Path={self.path}", f"Max-Age={self.max_age}"]
        if self.secure:
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        parts.append(f"SameSite={self.same_site}")
        return "; ".join(parts)

    def cleared(self) -> Cookie:
        """The same cookie, removed (empty, ``Max-Age=0``)."""
        return replace(self, value="", max_age=0)

    def __repr__(self) -> str:
        return f"Cookie({self.name!r}, path={self.path!r}, max_age={self.max_age})"


def flow_cookie_name(handle: str, secure: bool) -> str:
    """The cookie of the flow with this handle (hex): a prefix and 16 hex digits of it."""
    return ("__Host-" if secure else "") + COOKIE_PREFIX + handle[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """AES-256-GCM under a key the application gives (32 bytes, or a passphrase of at least
    32 characters, hashed to 32 bytes): what it seals, the browser can neither read nor
    change. A sealed value is bound to the name it is sealed for (the associated data)."""

    def __init__(self, key: bytes | str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if isinstance(key, str):
            if len(key) < 32:
                raise ConfigurationError("a cookie key given as text needs 32 characters or more")
            key = hashlib.sha256(key.encode()).digest()
        if len(key) != 32:
            raise ConfigurationError("a cookie key is 32 random bytes (or a long passphrase)")
        self._aead = AESGCM(key)

    def seal(self, text: str, name: str) -> str:
        """``text`` encrypted and authenticated for the cookie ``name``."""
        nonce = os.urandom(12)
        return _b64(nonce + self._aead.encrypt(nonce, text.encode(), name.encode()))

    def open(self, value: str, name: str) -> str | None:
        """What :meth:`seal` sealed for ``name``, or ``None`` if ``value`` is not that."""
        from cryptography.exceptions import InvalidTag

        try:
            raw = _unb64(value)
            return self._aead.decrypt(raw[:12], raw[12:], name.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
            return None

    def __repr__(self) -> str:
        return "Sealer(AES-256-GCM)"
