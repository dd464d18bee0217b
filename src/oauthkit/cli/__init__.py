"""The ``oauthkit`` command (extra ``cli``).

``oauthkit token NAME`` with a fresh token is answered by :mod:`oauthkit.cli.fast`, which
imports only the standard library, so that it costs little inside shell scripts; everything
else goes through the click application in :mod:`oauthkit.cli.app`.

Exit codes: 0 success; 1 an error (its message on stderr); 2 a usage mistake; 3 sign in
again (``oauthkit login NAME``); 4 the server could not be reached; 5 the server refused;
22 ``request --fail`` got an HTTP error status; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "token" and not args[1].startswith("-"):
        from .fast import fresh_token

        token = fresh_token(args[1])
        if token is not None:
            sys.stdout.write(token + "\n")
            return 0
    missing = _missing_extra()
    if missing is None:
        try:
            from .app import run
        except ImportError as exc:
            if exc.name not in _CLI_EXTRA:
                raise
            missing = exc.name
        else:
            return run(args)
    sys.stderr.write(
        f"oauthkit: the command needs the cli extra ({missing} is not installed): "
        "pip install 'oauthkit[cli]'\n"
    )
    return 1


def _missing_extra() -> str | None:
    """The first module of the ``cli`` extra that is not installed (looked up, not imported:
    a web app's extra may bring click without the rest, and the command would then fail in
    the middle of a sub-command)."""
    from importlib.util import find_spec

    for name in sorted(_CLI_EXTRA):
        try:
            if find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # ValueError: sys.modules[name] is None
            return name
    return None


#: The modules that the ``cli`` extra installs and the command imports.
_CLI_EXTRA = frozenset({"click", "rich", "segno", "oauthlib"})
