"""Where oauthkit keeps its files by default, one answer for the library, the command and the
command's fast path (``oauthkit token NAME``, which must start without heavy imports).

On Linux and the BSDs this is the XDG Base Directory rule that platformdirs applies there,
written out with the standard library; elsewhere it asks platformdirs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["config_file", "data_file"]

_APP = "oauthkit"


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    return Path(value if value.strip() else os.path.expanduser(fallback)) / _APP


def _unix() -> bool:
    return sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))


def config_file() -> Path:
    """``$OAUTHKIT_CONFIG`` when set, else ``config.toml`` in the user's config folder for
    oauthkit."""
    chosen = os.environ.get("OAUTHKIT_CONFIG", "")
    if chosen.strip():
        return Path(os.path.expanduser(chosen))
    if _unix():
        return _xdg("XDG_CONFIG_HOME", "~/.config") / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir(_APP, appauthor=False)) / "config.toml"


def data_file() -> Path:
    """``tokens.sqlite3`` (the default store) in the user's data folder for oauthkit."""
    if _unix():
        return _xdg("XDG_DATA_HOME", "~/.local/share") / "tokens.sqlite3"
    import platformdirs

    return Path(platformdirs.user_data_dir(_APP, appauthor=False)) / "tokens.sqlite3"
