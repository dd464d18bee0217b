"""A ``[providers.NAME]`` table merged with its preset once: the one object the command's
flows use to build a client, find the API base and ask who signed in. Its preset is looked
up once, its options gathered once, and each secret read once (an environment variable, a
command or the keyring) — not again on every step of a sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .file import ProviderConfig

if TYPE_CHECKING:
    from ..providers.preset import Preset

__all__ = ["ResolvedProvider"]


class ResolvedProvider:
    """``config`` with its preset (``None`` without one), the preset's options (from
    ``options = {…}`` and from keys of the table itself) and its secrets, read on first use."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = config.name
        self.type = config.type
        self.source = config.source
        self.preset: Preset | None = None
        self.options: dict[str, Any] = dict(config.get("options", {}))
        if config.get("preset"):
            from ..providers import get

            self.preset = get(config.get("preset"))
            for option in self.preset.placeholders():
                if config.get(option) is not None:
                    self.options[option] = config.get(option)
        self._secrets: dict[str, str | None] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """A value of the table."""
        return self.config.get(key, default)

    def secret(self, prefix: str) -> str | None:
        """``client_secret`` / ``consumer_secret``, read once from wherever the table says."""
        if prefix not in self._secrets:
            self._secrets[prefix] = self.config.secret(prefix)
        return self._secrets[prefix]

    def __repr__(self) -> str:
        preset = f", preset={self.preset.name!r}" if self.preset else ""
        return f"ResolvedProvider({self.name!r}, {self.type}{preset})"
