"""The views of :mod:`oauthkit.web.django`, sync and async twins over one
:class:`~oauthkit.web.WebFlow` per process: each translates a request into the route of
:mod:`oauthkit.web.routes` (which holds every check and answer) and its answer back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ...drivers import adrive, drive
from ...errors import ConfigurationError, OAuthKitError
from .. import routes
from ..flow import WebFlow

__all__ = [
    "abackchannel",
    "acallback",
    "aconnect",
    "adisconnect",
    "arelay",
    "asignin",
    "backchannel",
    "callback",
    "connect",
    "current_user",
    "disconnect",
    "flow",
    "relay",
    "signin",
]

_flow: WebFlow | None = None
_guard = threading.Lock()


def _setting(name: str) -> Any:
    return getattr(settings, "OAUTHKIT", {}).get(name)


def flow() -> WebFlow:
    """This process's :class:`~oauthkit.web.WebFlow`, made on first use from
    ``OAUTHKIT["CONFIG"]`` (else ``$OAUTHKIT_CONFIG``); with ``OAUTHKIT["STORE"] = "django"``
    its tokens and pending sign-ins live in the project's database
    (:class:`~oauthkit.web.django.store.DjangoStore`, on ``OAUTHKIT["DATABASE"]``, default
    ``"default"``; encrypted at rest with the keys in the environment variable
    ``OAUTHKIT["STORE_KEYS_ENV"]`` names), else in the configuration's store."""
    global _flow
    with _guard:
        if _flow is None:
            store = None
            keys_env = _setting("STORE_KEYS_ENV")
            if _setting("STORE") == "django":
                from ...stores.encryption import Encryption
                from .store import DjangoStore

                encryption = Encryption.from_env(keys_env) if keys_env else None
                store = DjangoStore(_setting("DATABASE") or "default", encryption=encryption)
            elif keys_env:
                raise ConfigurationError(
                    'OAUTHKIT["STORE_KEYS_ENV"] is for OAUTHKIT["STORE"] = "django"; the '
                    "configuration file's store takes store_keys_env in the file"
                )
            _flow = WebFlow.from_config(_setting("CONFIG"), store=store)
        return _flow


class _EveryDatabase(set[str]):
    """The databases a view is exempt from ``ATOMIC_REQUESTS`` on: every one (read by Django
    at each request, so the settings need not be configured when this module is imported)."""

    def __contains__(self, alias: object) -> bool:
        return True


def _own_transactions(view: Any) -> Any:
    """Never inside the request's transaction (``ATOMIC_REQUESTS``): the store commits its
    leases and renewed tokens at once, in short transactions of its own (see
    ``oauthkit.W001``)."""
    view._non_atomic_requests = _EveryDatabase()
    return view


def current_user(request: HttpRequest) -> str | None:
    """The app user of ``request``: ``OAUTHKIT["CURRENT_USER"](request)``, else the
    authenticated ``request.user``'s primary key — never the username, which a rename frees
    for someone else (``python manage.py oauthkit_rekey_users`` moves tokens saved under
    usernames by earlier versions)."""
    hook = _setting("CURRENT_USER")
    if hook:
        found: Callable[[HttpRequest], str | None] = import_string(hook)
        return found(request)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.pk)
    return None


def _incoming(request: HttpRequest, provider: str) -> routes.Incoming:
    posted = request.method == "POST"
    body = request.body if posted else b""  # read before the form, which may stream it
    return routes.Incoming(
        provider=provider,
        method=request.method or "GET",
        url=request.build_absolute_uri(),
        query={name: request.GET.getlist(name) for name in request.GET},
        form={name: request.POST.getlist(name) for name in request.POST} if posted else {},
        cookies=request.COOKIES,
        origin=request.headers.get("Origin"),
        authorization=request.headers.get("Authorization"),
        body=body,
        client_address=request.META.get("REMOTE_ADDR"),
    )


def _response(answer: routes.Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response.headers[name] = value
    return response


def _handle(request: HttpRequest, op: routes.Op) -> Any:
    if isinstance(op, routes.CurrentUser):
        return current_user(request)
    if isinstance(op, routes.Call):
        return getattr(flow(), op.method)(*op.args, **op.kwargs)
    hook = _setting("ON_SIGN_IN")
    if hook:
        import_string(hook)(request, op.completed)
    return None


def _serve(request: HttpRequest, route: routes.Route) -> HttpResponse:
    answer = drive(route, lambda op: _handle(request, op), failures=(OAuthKitError,))
    return _response(answer)


async def _aserve(request: HttpRequest, route: routes.Route) -> HttpResponse:
    from asgiref.sync import sync_to_async

    async def handle(op: routes.Op) -> Any:
        if isinstance(op, routes.Call):
            return await getattr(flow(), "a" + op.method)(*op.args, **op.kwargs)
        return await sync_to_async(_handle)(request, op)  # the app's hooks may use the ORM

    return _response(await adrive(route, handle, failures=(OAuthKitError,)))


# -- sync views ---------------------------------------------------------------------------


@_own_transactions
@require_GET
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    """Begin connecting the app user's account at ``provider`` (to ``OAUTHKIT["LOGIN_URL"]``
    with ``?next=`` back when no one is logged in, else 401)."""
    route = routes.connect(_incoming(request, provider), _setting("LOGIN_URL"))
    return _serve(request, route)


@_own_transactions
@require_GET
def signin(request: HttpRequest, provider: str) -> HttpResponse:
    """Begin signing in as ``provider``'s user."""
    return _serve(request, routes.signin(_incoming(request, provider)))


@_own_transactions
@csrf_exempt  # the provider's redirect (or form_post) carries no Django token: the flow checks
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest, provider: str) -> HttpResponse:
    """Complete the flow."""
    return _serve(request, routes.callback(_incoming(request, provider)))


@_own_transactions
@csrf_exempt  # checked by Origin instead, as in the other adapters
@require_POST
def disconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """Revoke and forget the app user's token at ``provider``."""
    return _serve(request, routes.disconnect(_incoming(request, provider)))


@_own_transactions
@csrf_exempt  # the provider's server calls it; its bearer token is the check (CIBA Core §10.2)
@require_POST
def backchannel(request: HttpRequest, provider: str) -> HttpResponse:
    """Take the provider's CIBA ping (see :meth:`~oauthkit.web.WebFlow.begin_backchannel`)."""
    return _serve(request, routes.backchannel(_incoming(request, provider)))


def relay(request: HttpRequest, provider: str, path: str) -> HttpResponse:
    """GET ``path`` of the provider's API as the current user: its status and JSON, or 401
    with a reason."""
    return _serve(request, routes.relay(provider, path))


# -- async views --------------------------------------------------------------------------


@require_GET
async def aconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`connect`."""
    route = routes.connect(_incoming(request, provider), _setting("LOGIN_URL"))
    return await _aserve(request, route)


@require_GET
async def asignin(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`signin`."""
    return await _aserve(request, routes.signin(_incoming(request, provider)))


@csrf_exempt
@require_http_methods(["GET", "POST"])
async def acallback(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`callback`."""
    return await _aserve(request, routes.callback(_incoming(request, provider)))


@csrf_exempt
@require_POST
async def adisconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`disconnect`."""
    return await _aserve(request, routes.disconnect(_incoming(request, provider)))


@csrf_exempt
@require_POST
async def abackchannel(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`backchannel`."""
    return await _aserve(request, routes.backchannel(_incoming(request, provider)))


async def arelay(request: HttpRequest, provider: str, path: str) -> HttpResponse:
    """The async twin of :func:`relay`."""
    return await _aserve(request, routes.relay(provider, path))
