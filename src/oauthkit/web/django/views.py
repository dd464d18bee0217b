"""The views of :mod:`oauthkit.web.django`, sync and async twins over one
:class:`~oauthkit.web.WebFlow` per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ...errors import OAuthKitError
from ..flow import CALLBACK_HEADERS, Begun, Completed, WebFlow, safe_return_path
from ..responses import (
    RELAY_HEADERS,
    error_headers,
    error_page,
    login_redirect,
    notification_answer,
    same_origin,
)
from ..responses import arelay as arelay_api
from ..responses import relay as relay_api

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
    ``"default"``), else in the configuration's store."""
    global _flow
    with _guard:
        if _flow is None:
            store = None
            if _setting("STORE") == "django":
                from .store import DjangoStore

                store = DjangoStore(_setting("DATABASE") or "default")
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


def _signed_in(request: HttpRequest, done: Completed) -> None:
    hook = _setting("ON_SIGN_IN")
    if hook and done.sign_in:
        import_string(hook)(request, done)


def _error(exc: OAuthKitError) -> HttpResponse:
    status, page = error_page(exc)
    response = HttpResponse(page, status=status)
    for name, value in error_headers(exc):
        response[name] = value
    return response


def _redirect(url: str, status: int, cookie_header: str) -> HttpResponse:
    response = HttpResponseRedirect(url, status=status)
    response.status_code = status
    for name, value in CALLBACK_HEADERS:
        response[name] = value
    response.headers["Set-Cookie"] = cookie_header
    return response


def _begun(begun: Begun) -> HttpResponse:
    return _redirect(begun.url, 302, begun.cookie.header())


def _completed(request: HttpRequest, done: Completed) -> HttpResponse:
    _signed_in(request, done)
    return _redirect(done.return_to, 303, done.cookie.header())


def _params(request: HttpRequest) -> dict[str, list[str]]:
    source = request.POST if request.method == "POST" else request.GET
    return {name: source.getlist(name) for name in source}


def _here(request: HttpRequest) -> str:
    return str(request.build_absolute_uri(request.path))


def _unauthorized(request: HttpRequest | None = None) -> HttpResponse:
    """A browser not logged in to the app: to ``OAUTHKIT["LOGIN_URL"]`` (with ``?next=``
    back) when set, else a 401."""
    login_url = _setting("LOGIN_URL")
    if login_url and request is not None:
        return HttpResponseRedirect(login_redirect(login_url, request.get_full_path()))
    return HttpResponse("sign in to the app first", status=401, content_type="text/plain")


def _refused() -> HttpResponse:
    return HttpResponse("cross-site request refused", status=403, content_type="text/plain")


# -- sync views ---------------------------------------------------------------------------


def _begin(request: HttpRequest, provider: str, user: str | None) -> HttpResponse:
    try:
        return _begun(
            flow().begin(
                provider,
                request_url=request.build_absolute_uri(),
                user=user,
                return_to=request.GET.get("next"),
                client_address=request.META.get("REMOTE_ADDR"),
            )
        )
    except OAuthKitError as exc:
        return _error(exc)


@_own_transactions
@require_GET
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    """Begin connecting the app user's account at ``provider``."""
    user = current_user(request)
    return _unauthorized(request) if user is None else _begin(request, provider, user)


@_own_transactions
@require_GET
def signin(request: HttpRequest, provider: str) -> HttpResponse:
    """Begin signing in as ``provider``'s user."""
    return _begin(request, provider, None)


@_own_transactions
@csrf_exempt  # the provider's redirect (or form_post) carries no Django token: the flow checks
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest, provider: str) -> HttpResponse:
    """Complete the flow."""
    try:
        done = flow().complete(
            provider, request_url=_here(request), params=_params(request), cookies=request.COOKIES
        )
    except OAuthKitError as exc:
        return _error(exc)
    return _completed(request, done)


@_own_transactions
@csrf_exempt  # checked by Origin instead, as in the other adapters
@require_POST
def disconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """Revoke and forget the app user's token at ``provider``."""
    if not same_origin(request.headers.get("Origin"), request.build_absolute_uri()):
        return _refused()
    user = current_user(request)
    if user is None:
        return _unauthorized()
    try:
        back = safe_return_path(request.GET.get("next"))
        flow().disconnect(provider, user)
    except OAuthKitError as exc:
        return _error(exc)
    return HttpResponseRedirect(back, status=303)


def _notified(provider: str, failure: OAuthKitError | None) -> HttpResponse:
    status, headers = notification_answer(provider, failure)
    return HttpResponse(status=status, headers=headers)


@_own_transactions
@csrf_exempt  # the provider's server calls it; its bearer token is the check (CIBA Core §10.2)
@require_POST
def backchannel(request: HttpRequest, provider: str) -> HttpResponse:
    """Take the provider's CIBA ping (see :meth:`~oauthkit.web.WebFlow.begin_backchannel`)."""
    try:
        flow().backchannel_notification(
            provider, authorization=request.headers.get("Authorization"), body=request.body
        )
    except OAuthKitError as exc:
        return _notified(provider, exc)
    return _notified(provider, None)


def relay(request: HttpRequest, provider: str, path: str) -> JsonResponse:
    """GET ``path`` of the provider's API as the current user: its status and JSON, or 401
    with a reason."""
    status, body = relay_api(flow(), provider, current_user(request), path)
    return JsonResponse(body, status=status, safe=False, headers=dict(RELAY_HEADERS))


# -- async views --------------------------------------------------------------------------


async def _auser(request: HttpRequest) -> str | None:
    from asgiref.sync import sync_to_async

    return await sync_to_async(current_user)(request)


async def _abegin(request: HttpRequest, provider: str, user: str | None) -> HttpResponse:
    try:
        return _begun(
            await flow().abegin(
                provider,
                request_url=request.build_absolute_uri(),
                user=user,
                return_to=request.GET.get("next"),
                client_address=request.META.get("REMOTE_ADDR"),
            )
        )
    except OAuthKitError as exc:
        return _error(exc)


@require_GET
async def aconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`connect`."""
    user = await _auser(request)
    return _unauthorized(request) if user is None else await _abegin(request, provider, user)


@require_GET
async def asignin(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`signin`."""
    return await _abegin(request, provider, None)


@csrf_exempt
@require_http_methods(["GET", "POST"])
async def acallback(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`callback`."""
    from asgiref.sync import sync_to_async

    try:
        done = await flow().acomplete(
            provider, request_url=_here(request), params=_params(request), cookies=request.COOKIES
        )
    except OAuthKitError as exc:
        return _error(exc)
    return await sync_to_async(_completed)(request, done)


@csrf_exempt
@require_POST
async def adisconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`disconnect`."""
    if not same_origin(request.headers.get("Origin"), request.build_absolute_uri()):
        return _refused()
    user = await _auser(request)
    if user is None:
        return _unauthorized()
    try:
        back = safe_return_path(request.GET.get("next"))
        await flow().adisconnect(provider, user)
    except OAuthKitError as exc:
        return _error(exc)
    return HttpResponseRedirect(back, status=303)


@csrf_exempt
@require_POST
async def abackchannel(request: HttpRequest, provider: str) -> HttpResponse:
    """The async twin of :func:`backchannel`."""
    try:
        await flow().abackchannel_notification(
            provider, authorization=request.headers.get("Authorization"), body=request.body
        )
    except OAuthKitError as exc:
        return _notified(provider, exc)
    return _notified(provider, None)


async def arelay(request: HttpRequest, provider: str, path: str) -> JsonResponse:
    """The async twin of :func:`relay`."""
    status, body = await arelay_api(flow(), provider, await _auser(request), path)
    return JsonResponse(body, status=status, safe=False, headers=dict(RELAY_HEADERS))
