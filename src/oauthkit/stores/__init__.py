"""Token stores: where tokens live between runs (``TokenStore`` is the protocol).

``MemoryStore`` and ``SQLiteStore`` (the default) are always here; ``KeyringStore``,
``RedisStore`` and ``SQLAlchemyStore`` need the extras ``keyring``, ``redis`` and
``sqlalchemy`` and are imported on first use. ``Encryption`` keeps their entries encrypted at
rest (:mod:`oauthkit.stores.encryption`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Entry, TokenStore
from .encryption import Encryption
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .keyring import KeyringStore
    from .redis import RedisStore
    from .sqlalchemy import SQLAlchemyStore

__all__ = [
    "Encryption",
    "Entry",
    "KeyringStore",
    "MemoryStore",
    "RedisStore",
    "SQLAlchemyStore",
    "SQLiteStore",
    "TokenStore",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from .redis import RedisStore

        return RedisStore
    if name == "SQLAlchemyStore":
        from .sqlalchemy import SQLAlchemyStore

        return SQLAlchemyStore
    if name == "KeyringStore":
        from .keyring import KeyringStore

        return KeyringStore
    raise AttributeError(name)
