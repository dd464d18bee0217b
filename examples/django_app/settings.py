"""Settings of the Django example: sessions in signed cookies, the oauthkit app with the
users' tokens and pending sign-ins in the project's own database (``DjangoStore``), and the
providers from ``$OAUTHKIT_CONFIG``. The database is ``$OAUTHKIT_EXAMPLE_DATABASE``: a
``postgresql://user@host:port/name`` URL or an SQLite file (``./run example django`` makes
one and migrates it)."""

import os

SECRET_KEY = os.environ["OAUTHKIT_EXAMPLE_SECRET"]  # the same in every worker
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
INSTALLED_APPS = ["django.contrib.sessions", "oauthkit.web.django"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_SAMESITE = "Lax"
ROOT_URLCONF = "django_app.urls"
DATABASE = os.environ.get("OAUTHKIT_EXAMPLE_DATABASE", "example.sqlite3")
if DATABASE.startswith("postgresql://"):
    from urllib.parse import urlsplit

    _url = urlsplit(DATABASE)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.lstrip("/"),
            "USER": _url.username or "",
            "HOST": _url.hostname or "",
            "PORT": str(_url.port or 5432),
        }
    }
else:
    # As startproject makes it: oauthkit's store needs nothing more of SQLite.
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATABASE}}
USE_TZ = True

OAUTHKIT = {
    "CURRENT_USER": "django_app.views.current_user",
    "ON_SIGN_IN": "django_app.views.signed_in",
    "STORE": "django",
}
