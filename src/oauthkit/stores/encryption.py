"""Tokens encrypted at rest: every record a store keeps — tokens, ID tokens, DPoP keys,
OAuth 1.0a token secrets, client registrations, pending web flows — sealed with AES-256-GCM
(NIST SP 800-38D) before it reaches the disk, the database or Redis.

::

    enc = Encryption.from_env("OAUTHKIT_STORE_KEYS")  # "k2:<base64url of 32 bytes>,k1:<…>"
    store = SQLiteStore(path, encryption=enc)          # likewise RedisStore, SQLAlchemyStore,
                                                       # DjangoStore
    store.rekey()                                      # every entry under k2 now

The first key seals every write; every key listed opens what it sealed, so a new key is put
in front, ``rekey()`` rewrites the entries, and the old key is dropped afterwards. A sealed
record is ``oauthkit/aes-256-gcm:{key id}:{base64(nonce ‖ ciphertext ‖ tag)}`` in a store of
text (PostgreSQL, Django's databases), and the same bytes unencoded after
``oauthkit/aes-256-gcm/raw:{key id}:`` in a store of bytes (SQLite, Redis): the key id in
clear so that the right key opens it (and a missing one is named), a random 96-bit nonce per
write (§8.2.2), and as associated data the kind of entry and the store key it was
written under, so that a record copied to another user's key, or a pending flow passed off
as a token, fails authentication. What stays in clear is what the stores query: the key, the
kind, the version and the expiry.

A key held elsewhere (a KMS, Vault's transit engine) plugs in as ``unwrap``: the environment
then holds each data key wrapped, and ``unwrap(key_id, wrapped)`` returns the 32 bytes — once,
when the store's keys are read (see docs/howto/encrypt-tokens.md).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._record import SEALED, SEALED_RAW, sealed_with
from ..errors import ConfigurationError, StoreError

__all__ = ["KEY_BYTES", "PENDING", "TOKEN", "Encryption", "Unwrap", "describe"]

#: AES-256: a key is 32 bytes.
KEY_BYTES = 32
#: The nonce of AES-GCM that needs no derivation (SP 800-38D §5.2.1.1): 96 bits.
NONCE_BYTES = 12
#: The kinds of entry a store seals (the associated data names which).
TOKEN, PENDING = "token", "pending"
#: What a key id may be: short, and free of the separators of the key list and the record.
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Given a key id and the bytes the environment holds for it, the 32-byte data key.
Unwrap = Callable[[str, bytes], bytes]


def _bound(kind: str, key: str) -> bytes:
    """The associated data of an entry: what it is and where it belongs (the kind comes
    first and has no ``\\x00``, so no two pairs give the same bytes)."""
    return f"oauthkit/1\x00{kind}\x00{key}".encode()


def describe(kind: str, key: str) -> str:
    """An entry as messages name it (a pending sign-in's handle is nobody's business)."""
    return f"the entry {key!r:.200}" if kind == TOKEN else "a pending sign-in"


def _decoded(text: str, kid: str, source: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"{source}: the key {kid!r} is not base64url (make one with Encryption.generate)"
        ) from None


class Encryption:
    """The keys of a store: ``keys`` in order (a mapping or ``(key id, 32 bytes)`` pairs), the
    first sealing every write, all of them opening. ``source`` names where they came from in
    errors (never the keys themselves)."""

    __slots__ = ("_ciphers", "_invalid", "_raw_prefix", "_text_prefix", "kid", "source")

    def __init__(
        self,
        keys: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
        *,
        source: str = "the store's keys",
    ) -> None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        pairs = list(keys.items() if isinstance(keys, Mapping) else keys)
        if not pairs:
            raise ConfigurationError(f"{source}: no key (at least one kid:key is needed)")
        self._ciphers: dict[str, Any] = {}
        for kid, key in pairs:
            if not isinstance(kid, str) or not _KID.fullmatch(kid):
                raise ConfigurationError(
                    f"{source}: a key id is 1 to 64 letters, digits, '.', '_' or '-', "
                    f"not {str(kid)!r:.70}"
                )
            if kid in self._ciphers:
                raise ConfigurationError(f"{source}: the key id {kid!r} is listed twice")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                size = len(key) if isinstance(key, bytes) else type(key).__name__
                raise ConfigurationError(
                    f"{source}: the key {kid!r} must be {KEY_BYTES} bytes (AES-256), not {size}"
                )
            self._ciphers[kid] = AESGCM(key)
        #: The id of the key that seals every write.
        self.kid: str = pairs[0][0]
        self.source = source
        self._invalid = InvalidTag
        self._text_prefix = f"{SEALED}{self.kid}:"
        self._raw_prefix = SEALED_RAW + self.kid.encode() + b":"

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, the sealing one first."""
        return tuple(self._ciphers)

    @classmethod
    def parse(
        cls, text: str, *, unwrap: Unwrap | None = None, source: str = "the store's keys"
    ) -> Encryption:
        """The keys of ``kid:key[,kid:key…]`` (each key base64url; with ``unwrap``, the
        wrapped data key that ``unwrap(kid, wrapped)`` turns into 32 bytes)."""
        pairs = []
        for number, item in enumerate(text.split(","), 1):
            kid, colon, encoded = item.strip().partition(":")
            if not colon or not kid or not encoded.strip():
                raise ConfigurationError(
                    f"{source}: entry {number} is not kid:key (keys are listed as "
                    "kid:key[,kid:key…], the first one sealing)"
                )
            key = _decoded(encoded, kid, source)
            if unwrap is not None:
                try:
                    key = unwrap(kid, key)
                except Exception as exc:
                    raise ConfigurationError(
                        f"{source}: unwrapping the key {kid!r} failed: {type(exc).__name__}"
                    ) from None
            pairs.append((kid, key))
        return cls(pairs, source=source)

    @classmethod
    def from_env(cls, name: str, *, unwrap: Unwrap | None = None) -> Encryption:
        """The keys in the environment variable ``name`` (see :meth:`parse`); a variable that
        is not set is a :class:`~oauthkit.errors.ConfigurationError` — never a store in
        clear."""
        text = os.environ.get(name, "").strip()
        if not text:
            raise ConfigurationError(
                f"${name} is not set: it holds the token store's keys, kid:key[,kid:key…] "
                "(make one with  oauthkit store keygen KID)"
            )
        return cls.parse(text, unwrap=unwrap, source=f"${name}")

    @staticmethod
    def generate(kid: str) -> str:
        """A new ``kid:key`` entry (32 random bytes), to put in front of the list."""
        if not _KID.fullmatch(kid):
            raise ConfigurationError(
                f"a key id is 1 to 64 letters, digits, '.', '_' or '-', not {kid!r:.70}"
            )
        return f"{kid}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()}"

    def _sealed(self, text: str, kind: str, key: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed: bytes = self._ciphers[self.kid].encrypt(nonce, text.encode(), _bound(kind, key))
        return nonce + sealed

    def seal(self, text: str, kind: str, key: str) -> str:
        """``text`` (a record in clear) sealed under the first key, bound to ``kind`` and
        ``key``, as text (base64)."""
        sealed = binascii.b2a_base64(self._sealed(text, kind, key), newline=False)
        return self._text_prefix + sealed.decode("ascii")

    def seal_raw(self, text: str, kind: str, key: str) -> bytes:
        """:meth:`seal` for a store that keeps bytes: the sealed bytes as they are (no
        base64 to encode now or decode on every read)."""
        raw: bytes = self._raw_prefix + self._sealed(text, kind, key)
        return raw

    def open(self, record: str | bytes, kind: str, key: str) -> str:
        """The record in clear that :meth:`seal` or :meth:`seal_raw` sealed as ``kind``
        under ``key``; a key id not given, or a record that fails authentication (altered,
        or copied from another key, kind or store), is a
        :class:`~oauthkit.errors.StoreError` naming the key id and the entry — never the
        record."""
        return self.opened(record, sealed_with(record) or "", kind, key)

    def opened(self, record: str | bytes, kid: str, kind: str, key: str) -> str:
        """:meth:`open` of a record whose key id (:func:`~oauthkit._record.sealed_with`) the
        caller has read already."""
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise StoreError(
                f"{describe(kind, key)} is encrypted with the key id {kid!r:.70}, which is not "
                f"among this store's keys ({', '.join(self._ciphers)}): add it to {self.source}"
            )
        try:
            if isinstance(record, bytes) and record.startswith(SEALED_RAW):
                blob = record[len(SEALED_RAW) + len(kid) + 1 :]
            else:
                text = record.decode("ascii") if isinstance(record, bytes) else record
                blob = binascii.a2b_base64(text[len(SEALED) + len(kid) + 1 :])
            nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
            return str(cipher.decrypt(nonce, sealed, _bound(kind, key)).decode())
        except (self._invalid, ValueError, binascii.Error):
            raise StoreError(
                f"{describe(kind, key)} fails authentication under the key id {kid!r}: it was "
                "altered, or copied from another entry or store (nothing of it is used)"
            ) from None

    def __repr__(self) -> str:
        return f"Encryption(key_ids={self.key_ids!r}, source={self.source!r})"
