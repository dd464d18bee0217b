"""Every message oauthkit can show, read from its source: the text of each error it raises (a
class of :mod:`oauthkit.errors`, or another :class:`~oauthkit.errors.OAuthKitError`) and of each
failure the command prints. A value filled in at run time is shown as ``…``.

Used by the ``oauthkit-messages`` directive (the troubleshooting page) and by the test that
checks the page lists them all (``tests/docs/test_site.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Message", "messages"]

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "oauthkit"
#: How the command's own failures are introduced (``_fail`` in ``oauthkit.cli.app``).
COMMAND = "the oauthkit command"


@dataclass(frozen=True, order=True)
class Message:
    """One message: who says it (an error class, or the command), its text with ``…`` for
    what is filled in, and where in the package."""

    kind: str
    text: str
    where: str


def _error_names() -> set[str]:
    import importlib
    import pkgutil

    import oauthkit
    from oauthkit.errors import OAuthKitError

    for module in pkgutil.walk_packages(oauthkit.__path__, "oauthkit."):
        if module.name.endswith("__main__") or ".web.django." in module.name:
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:
            continue

    def below(cls: type) -> set[type]:
        found: set[type] = set()
        for sub in cls.__subclasses__():
            found |= {sub, *below(sub)}
        return found

    return {c.__name__ for c in below(OAuthKitError) | {OAuthKitError}}


def _text(node: ast.expr) -> str | None:
    """The message a string expression makes, ``…`` for each value; None if it is none."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            else:
                parts.append("…")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is None and right is None:
            return None
        return (left or "…") + (right or "…")
    if isinstance(node, ast.IfExp):
        return "…"
    return None


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def messages(package: Path = PACKAGE) -> list[Message]:
    """Every message of the package, sorted by who says it, then text."""
    errors = _error_names()
    found: set[Message] = set()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(package.parent).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = _called(node)
            if name in errors:
                kind = name
            elif name == "_fail" and where.endswith("cli/app.py"):
                kind = COMMAND
            else:
                continue
            text = _text(node.args[0])
            if text is None or not text.strip("… "):
                continue
            found.add(Message(kind, " ".join(text.split()), f"{where}:{node.lineno}"))
    unique: dict[tuple[str, str], Message] = {}
    for message in sorted(found):
        unique.setdefault((message.kind, message.text), message)
    return sorted(unique.values())
