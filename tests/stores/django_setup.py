"""Django configured in this process for the DjangoStore tests: the oauthkit app and two
databases, an SQLite file (``sqlite``) and a PostgreSQL database (``postgres``), both
migrated. Django can be configured once per process; :func:`configure` is idempotent."""

from __future__ import annotations

from typing import Any

_done: dict[str, Any] = {}


def databases(
    sqlite_path: str, postgres_port: int | None, postgres_db: str | None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        # startproject's settings, nothing more: the store takes SQLite's write lock first
        # by itself (several processes writing at once must never see "database is locked").
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path},
    }
    found["sqlite"] = dict(found["default"])
    if postgres_port is not None:
        found["postgres"] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": postgres_db,
            "USER": "oauthkit",
            "HOST": "127.0.0.1",
            "PORT": str(postgres_port),
        }
    return found


def configure(dbs: dict[str, Any]) -> dict[str, Any]:
    """Configure Django with ``dbs`` and migrate each (once per process); the databases
    Django was configured with."""
    if _done:
        return dict(_done["databases"])
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        DATABASES=dbs,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "oauthkit.web.django",
        ],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    for alias in dbs:
        call_command("migrate", database=alias, verbosity=0)
    _done["databases"] = dbs
    return dbs
