"""Guards on the shape of the package: the sans-I/O core imports no HTTP library, every
error class is drawn in the tree of ``oauthkit.errors``, and an extra that is missing is
named when its module is imported."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

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
