"""The record a token store keeps for a key, in one place for the stores
(:mod:`oauthkit.stores.base`) and the command's fast path (:mod:`oauthkit.cli.fast`), which
must read it with the standard library alone: a JSON object ``{"format": "oauthkit/1",
"kind": "oauth2" | "oauth1" | "client", "data": {…}}``, or that record sealed (encrypted at
rest, :mod:`oauthkit.stores.encryption`): ``oauthkit/aes-256-gcm:{key id}:{base64url}``."""

from __future__ import annotations

import json
from typing import Any

from .protocol.jsontext import MAX_TEXT

__all__ = [
    "FORMAT",
    "KINDS",
    "SEALED",
    "SEALED_RAW",
    "read_record",
    "sealed_with",
    "write_record",
]

#: The format of every record this version writes and reads.
FORMAT = "oauthkit/1"
#: What a record can hold: an OAuth 2 token, OAuth 1.0a token credentials, or a client's
#: dynamic registration (RFC 7591).
KINDS = ("oauth2", "oauth1", "client")
#: How a sealed record begins: the cipher, then the id of the key that sealed it. A record in
#: clear begins with ``{``, so the two are told apart by their first character. A store that
#: keeps bytes (SQLite, Redis) keeps the sealed bytes as they are, after :data:`SEALED_RAW`;
#: one that keeps text, in base64 after :data:`SEALED`.
SEALED = "oauthkit/aes-256-gcm:"
SEALED_RAW = b"oauthkit/aes-256-gcm/raw:"


def sealed_with(record: str | bytes) -> str | None:
    """The key id of a sealed record, or ``None`` for a record in clear."""
    if isinstance(record, bytes):
        if record.startswith(SEALED_RAW):
            end = record.find(b":", len(SEALED_RAW))
            return record[len(SEALED_RAW) : end].decode("ascii", "replace") if end > 0 else ""
        if not record.startswith(b"oauthkit/"):
            return None
        record = record[:100].decode("ascii", "replace")
    if not record.startswith(SEALED):
        return None
    end = record.find(":", len(SEALED))
    return record[len(SEALED) : end] if end > 0 else ""


def write_record(kind: str, data: dict[str, Any]) -> str:
    """The record for ``data`` of ``kind``."""
    return json.dumps({"format": FORMAT, "kind": kind, "data": data})


#: The standard decoder, made once: a record is what a store wrote (JSON of ours, read on
#: every request), not a server's answer; :func:`oauthkit.protocol.jsontext.loads` guards
#: those. The length is capped all the same and nesting beyond the interpreter's recursion
#: limit is refused.
_DECODER = json.JSONDecoder()


def read_record(text: str | bytes) -> tuple[str, dict[str, Any]]:
    """``(kind, data)`` of a record, or ``ValueError`` when it is not one of ours."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"a record longer than {MAX_TEXT} bytes")
    try:
        document = _DECODER.decode(text if isinstance(text, str) else text.decode())
    except RecursionError:
        raise ValueError("a record nested too deeply") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not an oauthkit record")
    kind, data = document.get("kind"), document.get("data")
    if kind not in KINDS or not isinstance(data, dict):
        raise ValueError(f"an oauthkit record of unknown kind {kind!r:.40}")
    return kind, data
