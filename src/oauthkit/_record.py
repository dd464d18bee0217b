"""The record a token store keeps for a key, in one place for the stores
(:mod:`oauthkit.stores.base`) and the command's fast path (:mod:`oauthkit.cli.fast`), which
must read it with the standard library alone: a JSON object ``{"format": "oauthkit/1",
"kind": "oauth2" | "oauth1" | "client", "data": {…}}``."""

from __future__ import annotations

import json
from typing import Any

from .protocol.jsontext import loads

__all__ = ["FORMAT", "KINDS", "read_record", "write_record"]

#: The format of every record this version writes and reads.
FORMAT = "oauthkit/1"
#: What a record can hold: an OAuth 2 token, OAuth 1.0a token credentials, or a client's
#: dynamic registration (RFC 7591).
KINDS = ("oauth2", "oauth1", "client")


def write_record(kind: str, data: dict[str, Any]) -> str:
    """The record for ``data`` of ``kind``."""
    return json.dumps({"format": FORMAT, "kind": kind, "data": data})


def read_record(text: str | bytes) -> tuple[str, dict[str, Any]]:
    """``(kind, data)`` of a record, or ``ValueError`` when it is not one of ours."""
    document = loads(text)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not an oauthkit record")
    kind, data = document.get("kind"), document.get("data")
    if kind not in KINDS or not isinstance(data, dict):
        raise ValueError(f"an oauthkit record of unknown kind {kind!r:.40}")
    return kind, data
