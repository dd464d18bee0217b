"""Guards on the shape of the package: the layers (no upward import, no circle, imports
inside functions included), the sans-I/O core imports no HTTP library, every error class is
drawn in the tree of ``oauthkit.errors``, and an extra that is missing is named when its
module is imported."""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

import oauthkit
from oauthkit import errors


def test_the_protocol_layer_loads_no_http_library_and_no_anyio() -> None:
    probe = (
        "import sys, pkgutil, importlib, oauthkit.protocol as p\n"
        "for m in pkgutil.walk_packages(p.__path__, 'oauthkit.protocol.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in ('httpx2', 'httpx', 'httpcore2', 'requests', 'anyio', 'redis')"
        " if n in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_error_class_is_drawn_in_the_tree() -> None:
    for module in pkgutil.walk_packages(oauthkit.__path__, "oauthkit."):
        if module.name.endswith("__main__"):
            continue
        if module.name.startswith(("oauthkit.web.django.models", "oauthkit.web.django.store")):
            continue  # Django models need a configured project; they define no error
        importlib.import_module(module.name)
    tree = errors.__doc__ or ""
    for cls in _all_subclasses(errors.OAuthKitError):
        if cls.__module__.startswith("oauthkit"):
            assert f" {cls.__name__} " in tree or f" {cls.__name__}\n" in tree, cls


@pytest.mark.slow
def test_a_missing_extra_is_named() -> None:
    """Without the extra's package, importing the module says which extra to install."""
    cases = {
        "oauthkit.sandbox": ("oauthlib", "oauthkit[cli]"),
        "oauthkit.auth.requests": ("requests", "oauthkit[requests]"),
        "oauthkit.auth.httpx": ("httpx", "oauthkit[httpx]"),
        "oauthkit.web.flask": ("flask", "oauthkit[flask]"),
        "oauthkit.web.starlette": ("starlette", "oauthkit[starlette]"),
        "oauthkit.stores.sqlalchemy": ("sqlalchemy", "oauthkit[sqlalchemy]"),
    }
    for module, (package, extra) in cases.items():
        probe = (
            f"import sys; sys.modules[{package!r}] = None\n"
            f"try:\n    import {module}\nexcept ImportError as exc:\n    print(exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
        )
        assert extra in done.stdout, (module, done.stdout, done.stderr)


# -- the layers ------------------------------------------------------------------------------

#: The package's layers, from the top down: a module imports from its own layer or a lower
#: one, never from a higher one — at the top of a file, inside a function or under
#: ``TYPE_CHECKING`` alike. The longest matching prefix names a module's layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("the command", ("oauthkit.__main__", "oauthkit.cli")),
    ("the public modules", ("oauthkit", "oauthkit.oauth1", "oauthkit.oauth2")),
    ("web applications", ("oauthkit.web",)),
    ("from a URL to a call", ("oauthkit.resource",)),
    ("sessions", ("oauthkit.session",)),
    ("configuration", ("oauthkit.config",)),
    ("sign-in on this machine", ("oauthkit.signin",)),
    ("clients", ("oauthkit.clients",)),
    ("auth objects", ("oauthkit.auth",)),
    ("stores", ("oauthkit.stores", "oauthkit._record")),
    ("drivers", ("oauthkit.drivers",)),
    ("providers", ("oauthkit.providers",)),
    ("the sandbox", ("oauthkit.sandbox",)),
    ("the protocol", ("oauthkit.protocol",)),
    (
        "errors and leaves",
        (
            "oauthkit.errors",
            "oauthkit.protocol.redaction",
            "oauthkit.protocol.jsontext",
            "oauthkit._paths",
            "oauthkit._html",
            "oauthkit._timing",
            "oauthkit._version",
            "oauthkit.telemetry",
        ),
    ),
]


def _modules() -> dict[str, tuple[Path, bool]]:
    root = Path(oauthkit.__file__).parent.parent
    found = {}
    for path in (root / "oauthkit").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _imports(name: str, path: Path, package: bool, known: Mapping[str, object]) -> set[str]:
    """Every oauthkit module ``name`` imports, wherever the import statement stands."""
    here = name if package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, *where, modules) for name, where in modules.items()}


def _layer(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or (prefix != "oauthkit" and module.startswith(prefix + "."))
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS"
    return max(matches)[1]


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for module, targets in sorted(_graph().items())
        for target in sorted(targets)
        if _layer(target) < _layer(module)
    ]
    assert upward == []


def test_no_import_circles() -> None:
    """Tarjan's strongly connected components of the import graph: none of two or more."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert circles == []


def test_the_layers_test_sees_imports_inside_functions() -> None:
    """The graph is not blind: the command's lazy imports and a TYPE_CHECKING one are in it."""
    graph = _graph()
    assert "oauthkit.session" in graph["oauthkit.cli.app"]  # imported inside a function
    assert "oauthkit.auth.requests" in graph["oauthkit.session.session"]  # TYPE_CHECKING
    assert _layer("oauthkit.protocol.redaction") == len(LAYERS) - 1
