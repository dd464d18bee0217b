"""The system checks of :mod:`oauthkit.web.django` (``python manage.py check``; silence one with
``SILENCED_SYSTEM_CHECKS``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

__all__ = ["check_configuration", "check_store_database"]


@register("database")
def check_store_database(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """``oauthkit.W001``: the database of ``OAUTHKIT["STORE"] = "django"`` wraps each request in
    a transaction (``ATOMIC_REQUESTS``). A renewal made in a view would then hold its lease and
    its new token uncommitted until the request ends: other workers wait on them (on SQLite
    they fail with "database is locked"), and a crash before the commit loses a rotated
    refresh token. oauthkit's own views are exempt; a view of the app that uses a session
    should be too."""
    options = getattr(settings, "OAUTHKIT", {}) or {}
    if options.get("STORE") != "django":
        return []
    alias = options.get("DATABASE") or "default"
    database = settings.DATABASES.get(alias, {})
    if not database.get("ATOMIC_REQUESTS"):
        return []
    return [
        Warning(
            f"the database {alias!r} that keeps oauthkit's tokens has ATOMIC_REQUESTS on: a "
            "token renewed inside a view stays uncommitted, with its lease, until the request "
            "ends",
            hint="decorate the views that call providers with "
            "@transaction.non_atomic_requests, or keep the tokens in a database alias without "
            'ATOMIC_REQUESTS (OAUTHKIT["DATABASE"])',
            obj="settings.OAUTHKIT",
            id="oauthkit.W001",
        )
    ]


@register()
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """``oauthkit.E001``: the web flow cannot be made from ``OAUTHKIT`` and its configuration
    (no file, no providers, no store named, a mistake in the file) — said by ``manage.py
    check`` at start-up rather than at a user's first sign-in."""
    if not hasattr(settings, "OAUTHKIT"):
        return []
    from ...errors import OAuthKitError
    from .views import flow

    try:
        flow()
    except OAuthKitError as exc:
        return [Error(str(exc), obj="settings.OAUTHKIT", id="oauthkit.E001")]
    return []
