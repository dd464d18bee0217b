"""``from_preset`` for both clients: a preset gives its own arguments (endpoints, scope,
client authentication, hooks), the caller's keyword arguments of the constructor win, and
the preset's options (a tenant, a base URL) fill its templates. Presets are data and know
nothing of the clients; this is the one place that knows both."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..providers.preset import Preset

__all__ = ["MadeFromPreset", "preset_arguments"]


@functools.cache
def _keywords(cls: type) -> frozenset[str]:
    """The keyword-only arguments of ``cls``'s constructor, read from it (never a copy)."""
    parameters = inspect.signature(cls).parameters
    return frozenset(n for n, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)


class MadeFromPreset:
    """What a client made by ``from_preset`` remembers of it: ``preset`` (else ``None``) and
    the preset's own ``preset_options`` (a tenant, a base URL) — so that a web flow given
    the client finds the preset's API base and who-am-I request."""

    preset: Preset | None = None
    preset_options: Mapping[str, str] = MappingProxyType({})

    def _remember(self, name: str, options: Mapping[str, Any]) -> None:
        from ..providers import get

        preset = get(name)
        self.preset = preset
        self.preset_options = MappingProxyType(
            {k: options[k] for k in preset.placeholders() if k in options}
        )


def preset_arguments(
    cls: type, name: str, secret: str | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The constructor's keyword arguments for preset ``name`` with ``options``."""
    from ..providers import get

    preset = get(name)
    own = {k: options[k] for k in preset.placeholders() if k in options}
    rest = {k: v for k, v in options.items() if k not in own}
    unknown = sorted(set(rest) - _keywords(cls))
    if unknown:
        known = ", ".join(preset.placeholders()) or "none"
        raise ConfigurationError(
            f"unknown option(s) for the {preset.name} preset: {', '.join(unknown)} (its own "
            f"options: {known}; any keyword argument of {cls.__name__} is accepted too)"
        )
    if preset.protocol == "oauth2":
        arguments = preset.oauth2_arguments(client_secret=secret, **own)
    else:
        arguments = preset.oauth1_arguments(**own)
    arguments.update(rest)
    return arguments
