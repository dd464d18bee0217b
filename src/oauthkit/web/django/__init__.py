"""Django (extra ``django``): an app with the sign-in routes of a
:class:`~oauthkit.web.WebFlow`, as sync views and as async views.

::

    INSTALLED_APPS = [..., "oauthkit.web.django"]
    OAUTHKIT = {
        "CONFIG": None,                       # the TOML file; default $OAUTHKIT_CONFIG
        "CURRENT_USER": "myapp.auth.current_user",   # request -> str | None
        "ON_SIGN_IN": "myapp.auth.signed_in",        # (request, completed) -> None
        "STORE": "django",                    # tokens in the project's database (DjangoStore)
        "DATABASE": "default",                # the DATABASES alias of that store
        "STORE_KEYS_ENV": "OAUTHKIT_STORE_KEYS",  # its entries encrypted with these keys
        "LOGIN_URL": "/login/",               # /connect/… when not logged in: here, ?next=…
    }
    urlpatterns = [path("", include("oauthkit.web.django.urls"))]   # or .async_urls

The settings (``OAUTHKIT``):

- ``CONFIG``: the TOML configuration (:doc:`/reference/configuration`), else
  ``$OAUTHKIT_CONFIG``; its providers, ``[web]`` table and, unless ``STORE`` says otherwise,
  its ``store``.
- ``CURRENT_USER``: the dotted path of ``current_user(request) -> str | None``, the app's
  signed-in user. Without it, ``request.user``'s primary key when ``django.contrib.auth`` says
  it is authenticated — never its username, which a rename frees for someone else
  (``python manage.py oauthkit_rekey_users`` moves the tokens earlier versions saved under
  usernames).
- ``ON_SIGN_IN``: the dotted path of ``signed_in(request, completed)``, called after a "sign
  in with" callback (``completed.user`` is ``"{provider}:{immutable id}"``).
- ``STORE``: ``"django"`` keeps the tokens and pending sign-ins in the project's database
  (``DjangoStore``, table ``oauthkit_tokens``: ``python manage.py migrate oauthkit``); on
  SQLite, its write transactions take the lock up front, so ``startproject``'s settings do.
- ``DATABASE``: the alias of that database (``"default"``).
- ``STORE_KEYS_ENV``: the environment variable that holds that store's keys
  (``kid:key[,kid:key…]``, :mod:`oauthkit.stores.encryption`): every entry is then encrypted
  at rest; ``python manage.py oauthkit_store_rekey`` rewrites them all under the first key.
- ``LOGIN_URL``: where ``/connect/…`` sends a browser that is not logged in to the app (with
  ``?next=`` back); without it, a 401.

The routes (``urls`` sync, ``async_urls`` async): ``GET connect/<provider>``,
``GET signin/<provider>``, ``GET|POST callback/<provider>``, ``POST disconnect/<provider>``
(same-origin only), ``POST backchannel/<provider>`` (a CIBA ping). They run outside
``ATOMIC_REQUESTS``. ``python manage.py check`` reports a configuration that cannot work
(``oauthkit.E001``: no file, no providers, no store) and a store database that wraps requests
in a transaction (``oauthkit.W001``).

In a view, :func:`flow` gives the process's :class:`~oauthkit.web.WebFlow`
(``flow().session(provider, user)``, ``flow().connections(user)``, …), :func:`current_user`
the app user, and :func:`relay` (or :func:`arelay`) calls the provider's API as the current
user. The views only translate: every check is the flow's.
"""

from .views import arelay, current_user, flow, relay

__all__ = ["arelay", "current_user", "flow", "relay"]
