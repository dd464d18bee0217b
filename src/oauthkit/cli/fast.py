"""``oauthkit token NAME`` without the HTTP stack: read the stored token straight from the
SQLite store and print it when it is not due. Standard library only (and oauthkit's own
stdlib-only modules) — but for a store encrypted at rest (``store_keys_env``), whose entry is
opened with :class:`~oauthkit.stores.encryption.Encryption` (AES-GCM of ``cryptography``).

It reads the configuration and resolves the store exactly as the full command does
(:func:`~oauthkit.config.file.load_config`, :func:`~oauthkit.config.file.store_file`), so the
two cannot disagree: a name that is not a configured provider, a store that is not a file, a
token due for renewal, or any error at all returns ``None`` and the full command takes over,
which gives the answer or the proper error.
"""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import datetime

from .._record import read_record, sealed_with
from .._timing import renew_at

__all__ = ["fresh_token"]

#: The leeway of ``oauthkit token`` (seconds before expiry that it renews), as in Session.
LEEWAY = 60.0


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).timestamp()


def fresh_token(name: str) -> str | None:
    """The access token stored under ``name`` when it is fresh, else ``None``."""
    try:
        from ..config.file import load_config, store_file

        config = load_config()
        if name not in config.providers:
            return None
        keys_env = config.store_keys_env
        if keys_env is not None and not os.environ.get(keys_env, "").strip():
            return None  # the keys are missing: the full command says so
        path = store_file(config.store)
        if path is None or not path.is_file() or path.is_symlink():
            return None
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = connection.execute("SELECT value FROM tokens WHERE key = ?", (name,)).fetchone()
        finally:
            connection.close()
        if row is None:
            return None
        text = row[0]
        if sealed_with(text) is not None:
            if keys_env is None:
                return None  # the full command says the store has no keys
            from ..stores.encryption import TOKEN, Encryption

            text = Encryption.from_env(keys_env).open(text, TOKEN, name)
        kind, token = read_record(text)
        if kind != "oauth2":
            return None
        if (token.get("extra") or {}).get("oauthkit_refused_at"):
            return None  # the provider refused its refresh: the full command says so
        access = token.get("access_token")
        if not isinstance(access, str) or not access.isascii() or not access.isprintable():
            return None
        expires = _timestamp(token.get("expires_at"))
        if expires is not None and time.time() >= renew_at(
            expires, _timestamp(token.get("issued_at")), LEEWAY
        ):
            return None
        return access
    except Exception:
        return None
