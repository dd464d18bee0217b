"""Starlette and FastAPI (extra ``starlette``): the sign-in routes of a
:class:`~oauthkit.web.WebFlow` and a dependency that gives the current user's credentials.

::

    oauth = OAuthKitRoutes(WebFlow.from_config(),
                           current_user=lambda request: request.session.get("user"),
                           on_sign_in=lambda request, done: request.session.update(user=done.user))
    oauth.install(app)                       # a Starlette or FastAPI app

    @app.get("/repos")
    async def repos(auth: httpx2.Auth = Depends(oauth.auth_dependency("github"))): ...

The routes are those of :mod:`oauthkit.web.flask` (the CIBA ping's included); everything
async (the store and the provider are awaited, never blocking the event loop). The adapter
only translates: every check is the flow's.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

try:
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
    from starlette.responses import Response as StarletteResponse
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "oauthkit.web.starlette needs Starlette: pip install 'oauthkit[starlette]'"
    ) from exc

import httpx2

from ..errors import OAuthKitError, ReauthenticationRequired
from .flow import CALLBACK_HEADERS, Completed, WebFlow, safe_return_path
from .responses import (
    RELAY_HEADERS,
    arelay,
    error_headers,
    error_page,
    login_redirect,
    notification_answer,
    same_origin,
)

__all__ = ["OAuthKitRoutes"]

CurrentUser = Callable[[Request], "str | Awaitable[str | None] | None"]
OnSignIn = Callable[[Request, Completed], "Awaitable[None] | None"]


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _params(multi: Any) -> dict[str, list[str]]:
    return {name: [str(v) for v in multi.getlist(name)] for name in multi}


class OAuthKitRoutes:
    """``current_user(request)`` names the app's signed-in user (or ``None``);
    ``on_sign_in(request, completed)`` runs after a "sign in with" callback. Both may be
    plain functions or coroutines. ``login_url`` is where ``/connect/…`` sends a browser that
    is not logged in to the app (with ``?next=`` back; else a 401)."""

    def __init__(
        self,
        flow: WebFlow | None = None,
        *,
        current_user: CurrentUser,
        on_sign_in: OnSignIn | None = None,
        login_url: str | None = None,
    ) -> None:
        self.flow = flow if flow is not None else WebFlow.from_config()
        self.current_user = current_user
        self.on_sign_in = on_sign_in
        self.login_url = login_url
        self.routes = [
            Route("/connect/{provider}", self._connect, methods=["GET"]),
            Route("/signin/{provider}", self._signin, methods=["GET"]),
            Route("/callback/{provider}", self._callback, methods=["GET", "POST"]),
            Route("/disconnect/{provider}", self._disconnect, methods=["POST"]),
            Route("/backchannel/{provider}", self._backchannel, methods=["POST"]),
        ]

    def install(self, app: Any) -> None:
        """Add the routes to a Starlette or FastAPI application."""
        app.router.routes.extend(self.routes)

    async def user(self, request: Request) -> str | None:
        """The app's signed-in user of ``request``."""
        return await _maybe(self.current_user(request))  # type: ignore[no-any-return]

    # -- routes ---------------------------------------------------------------------------

    async def _begin(self, request: Request, user: str | None) -> StarletteResponse:
        try:
            begun = await self.flow.abegin(
                request.path_params["provider"],
                request_url=str(request.url),
                user=user,
                return_to=request.query_params.get("next"),
                client_address=request.client.host if request.client else None,
            )
        except OAuthKitError as exc:
            return self._error(exc)
        response = RedirectResponse(begun.url, status_code=302, headers=dict(CALLBACK_HEADERS))
        response.headers.append("Set-Cookie", begun.cookie.header())
        return response

    async def _connect(self, request: Request) -> StarletteResponse:
        user = await self.user(request)
        if user is None:
            if self.login_url:
                query = request.url.query
                back = request.url.path + (f"?{query}" if query else "")
                return RedirectResponse(login_redirect(self.login_url, back), status_code=302)
            return PlainTextResponse("sign in to the app first", status_code=401)
        return await self._begin(request, user)

    async def _signin(self, request: Request) -> StarletteResponse:
        return await self._begin(request, None)

    async def _callback(self, request: Request) -> StarletteResponse:
        params = await request.form() if request.method == "POST" else request.query_params
        try:
            done = await self.flow.acomplete(
                request.path_params["provider"],
                request_url=str(request.url.replace(query="")),
                params=_params(params),
                cookies=request.cookies,
            )
        except OAuthKitError as exc:
            return self._error(exc)
        if done.sign_in and self.on_sign_in is not None:
            await _maybe(self.on_sign_in(request, done))
        response = RedirectResponse(done.return_to, status_code=303, headers=dict(CALLBACK_HEADERS))
        response.headers.append("Set-Cookie", done.cookie.header())
        return response

    async def _disconnect(self, request: Request) -> StarletteResponse:
        if not same_origin(request.headers.get("origin"), str(request.url)):
            return PlainTextResponse("cross-site request refused", status_code=403)
        user = await self.user(request)
        if user is None:
            return PlainTextResponse("sign in to the app first", status_code=401)
        try:
            back = safe_return_path(request.query_params.get("next"))
            await self.flow.adisconnect(request.path_params["provider"], user)
        except OAuthKitError as exc:
            return self._error(exc)
        return RedirectResponse(back, status_code=303)

    async def _backchannel(self, request: Request) -> StarletteResponse:
        provider = request.path_params["provider"]
        failure: OAuthKitError | None = None
        try:
            await self.flow.abackchannel_notification(
                provider,
                authorization=request.headers.get("authorization"),
                body=await request.body(),
            )
        except OAuthKitError as exc:
            failure = exc
        status, headers = notification_answer(provider, failure)
        return StarletteResponse(status_code=status, headers=headers)

    @staticmethod
    def _error(exc: OAuthKitError) -> StarletteResponse:
        status, page = error_page(exc)
        return HTMLResponse(page, status_code=status, headers=dict(error_headers(exc)))

    # -- the current user's API -----------------------------------------------------------

    def auth_dependency(self, provider: str) -> Callable[[Request], Awaitable[httpx2.Auth]]:
        """A FastAPI dependency giving the current user's ``httpx2.Auth`` at ``provider``
        (:class:`~oauthkit.errors.ReauthenticationRequired` when there is none)."""

        async def dependency(request: Request) -> httpx2.Auth:
            user = await self.user(request)
            if user is None:
                raise ReauthenticationRequired("no one is signed in to the app")
            return await self.flow.aauth(provider, user)

        return dependency

    async def relay(self, request: Request, provider: str, path: str) -> JSONResponse:
        """GET ``path`` of the provider's API as the current user: its status and JSON, or
        401 with a reason (see :func:`oauthkit.web.responses.relay`)."""
        status, body = await arelay(self.flow, provider, await self.user(request), path)
        return JSONResponse(body, status_code=status, headers=dict(RELAY_HEADERS))
