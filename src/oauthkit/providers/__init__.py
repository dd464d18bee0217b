"""Provider presets: the endpoints, scopes, client authentication and quirks of the common
APIs, as data.

``get("github")`` gives a :class:`~oauthkit.providers.preset.Preset`;
``OAuth2Client.from_preset("github", client_id=…)`` and
``OAuth1Client.from_preset("x-oauth1", consumer_key=…)`` build clients from one. Names are
case-insensitive and have aliases (``twitter`` → ``x``, ``entra`` → ``microsoft``). The table
(:mod:`oauthkit.providers.presets`) and the quirk hooks (:mod:`oauthkit.providers.quirks`) are
imported on first use, so ``import oauthkit.providers`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .preset import Preset

__all__ = ["all_presets", "get", "names"]

_INDEX: dict[str, Preset] | None = None


def _index() -> dict[str, Preset]:
    global _INDEX
    if _INDEX is None:
        from .presets import PRESETS

        index: dict[str, Preset] = {}
        for preset in PRESETS:
            for key in (preset.name, *preset.aliases):
                if key.lower() in index:
                    raise RuntimeError(f"two presets are named {key!r}")
                index[key.lower()] = preset
        _INDEX = index
    return _INDEX


def get(name: str) -> Preset:
    """The preset ``name`` (case-insensitive; aliases accepted), or a
    :class:`~oauthkit.errors.ConfigurationError` naming the closest known names."""
    index = _index()
    key = name.strip().lower() if isinstance(name, str) else ""
    try:
        return index[key]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(key, list(index), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ConfigurationError(
            f"unknown provider preset {name!r}; {hint}known presets: {', '.join(names())}"
        ) from None


def names() -> list[str]:
    """The presets' names (not their aliases), sorted."""
    return sorted({preset.name for preset in _index().values()})


def all_presets() -> list[Preset]:
    """Every preset, sorted by name."""
    return [get(name) for name in names()]
