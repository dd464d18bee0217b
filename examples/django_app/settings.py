"""Settings of the Django example: sessions in signed cookies (no database needed), the
oauthkit app, and the providers and store from ``$OAUTHKIT_CONFIG``."""

import os

SECRET_KEY = os.environ["OAUTHKIT_EXAMPLE_SECRET"]  # the same in every worker
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
INSTALLED_APPS = ["django.contrib.sessions", "oauthkit.web.django"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_SAMESITE = "Lax"
ROOT_URLCONF = "django_app.urls"
DATABASES: dict = {}
USE_TZ = True

OAUTHKIT = {
    "CURRENT_USER": "django_app.views.current_user",
    "ON_SIGN_IN": "django_app.views.signed_in",
}
