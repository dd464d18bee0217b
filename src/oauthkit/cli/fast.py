"""``oauthkit token NAME`` without the HTTP stack: read the stored token straight from the
default SQLite store and print it when it is not due. Standard library only.

Whenever anything is unusual (a store configured elsewhere, a token due for renewal, another
platform's folders, any error) it returns ``None`` and the full command takes over, which
gives the same answer or the proper error.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from datetime import datetime
from pathlib import Path

from .._timing import renew_at

__all__ = ["fresh_token"]

#: The leeway of ``oauthkit token`` (seconds before expiry that it renews), as in Session.
LEEWAY = 60.0


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def _paths() -> tuple[Path, Path] | None:
    """The config file and the default store, as platformdirs gives them on Linux."""
    if not sys.platform.startswith("linux"):
        return None
    config = _xdg("XDG_CONFIG_HOME", ".config") / "oauthkit" / "config.toml"
    data = _xdg("XDG_DATA_HOME", ".local/share") / "oauthkit" / "tokens.sqlite3"
    return config, data


def _store_setting(config: Path) -> str | None:
    """The ``store =`` line of the configuration, if any (parsed by tomllib only then)."""
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if "store" not in text:
        return None
    import tomllib

    value = tomllib.loads(text).get("store")
    return str(value) if value is not None else None


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).timestamp()


def fresh_token(name: str) -> str | None:
    """The access token stored under ``name`` when it is fresh, else ``None``."""
    try:
        paths = _paths()
        if paths is None:
            return None
        config, data = paths
        store = _store_setting(config)
        if store is not None:
            store_path = Path(os.path.expanduser(store))
            if store.startswith(("redis://", "rediss://", "keyring", "memory")):
                return None
            data = store_path
        if not data.exists():
            return None
        connection = sqlite3.connect(f"file:{data}?mode=ro", uri=True, timeout=1)
        try:
            row = connection.execute("SELECT value FROM tokens WHERE key = ?", (name,)).fetchone()
        finally:
            connection.close()
        if row is None:
            return None
        document = json.loads(row[0])
        if document.get("format") != "oauthkit/1" or document.get("kind") != "oauth2":
            return None
        token = document["data"]
        access = token.get("access_token")
        expires = _timestamp(token.get("expires_at"))
        if not isinstance(access, str) or not access:
            return None
        if expires is not None and time.time() >= renew_at(
            expires, _timestamp(token.get("issued_at")), LEEWAY
        ):
            return None
        return access
    except Exception:
        return None
