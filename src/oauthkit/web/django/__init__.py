"""Django (extra ``django``): an app with the sign-in routes of a
:class:`~oauthkit.web.WebFlow`, as sync views and as async views.

::

    INSTALLED_APPS = [..., "oauthkit.web.django"]
    OAUTHKIT = {
        "CONFIG": None,                       # the TOML file; default $OAUTHKIT_CONFIG
        "CURRENT_USER": "myapp.auth.current_user",   # request -> str | None
        "ON_SIGN_IN": "myapp.auth.signed_in",        # (request, completed) -> None
        "STORE": "django",                    # tokens in the project's database (DjangoStore)
    }
    urlpatterns = [path("", include("oauthkit.web.django.urls"))]   # or .async_urls

Without ``CURRENT_USER``, the app user is ``request.user``'s primary key when
``django.contrib.auth`` says it is authenticated (never its username: a rename frees the name
for someone else; ``python manage.py oauthkit_rekey_users`` moves the tokens earlier versions
saved under usernames). ``python manage.py check`` warns about settings the store cannot work
with (``oauthkit.W001``, …). In a view, :func:`flow` gives the
process's :class:`~oauthkit.web.WebFlow` (``flow().session(provider, user)``, …) and
:func:`relay` (or :func:`arelay`) calls the provider's API as the current user. The views
only translate: every check is the flow's.
"""

from .views import arelay, current_user, flow, relay

__all__ = ["arelay", "current_user", "flow", "relay"]
