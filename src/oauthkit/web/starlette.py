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
only translates (:mod:`oauthkit.web.routes` holds every route's checks and answers).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

try:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "oauthkit.web.starlette needs Starlette: pip install 'oauthkit[starlette]'"
    ) from exc

import httpx2

from ..drivers import adrive
from ..errors import OAuthKitError, ReauthenticationRequired
from . import routes
from .flow import WebFlow
from .plans import Completed

__all__ = ["OAuthKitRoutes"]

CurrentUser = Callable[[Request], "str | Awaitable[str | None] | None"]
OnSignIn = Callable[[Request, Completed], "Awaitable[None] | None"]


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _multi(multi: Any) -> dict[str, list[str]]:
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
            Route(f"/{name}/{{provider}}", self._endpoint(route), methods=methods)
            for name, methods, route in routes.table(login_url)
        ]

    def install(self, app: Any) -> None:
        """Add the routes to a Starlette or FastAPI application."""
        app.router.routes.extend(self.routes)

    async def user(self, request: Request) -> str | None:
        """The app's signed-in user of ``request``."""
        return await _maybe(self.current_user(request))  # type: ignore[no-any-return]

    def _endpoint(self, route: routes.Served) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            posted = request.method == "POST"
            body = await request.body() if posted else b""
            incoming = routes.Incoming(
                provider=request.path_params["provider"],
                method=request.method,
                url=str(request.url),
                query=_multi(request.query_params),
                form=_multi(await request.form()) if posted else {},
                cookies=request.cookies,
                origin=request.headers.get("origin"),
                authorization=request.headers.get("authorization"),
                body=body,
                client_address=request.client.host if request.client else None,
            )
            return await self._serve(request, route(incoming))

        return endpoint

    async def _serve(self, request: Request, route: routes.Route) -> Response:
        async def handle(op: routes.Op) -> Any:
            if isinstance(op, routes.CurrentUser):
                return await self.user(request)
            if isinstance(op, routes.Call):
                return await getattr(self.flow, "a" + op.method)(*op.args, **op.kwargs)
            if self.on_sign_in is not None:
                await _maybe(self.on_sign_in(request, op.completed))
            return None

        answer = await adrive(route, handle, failures=(OAuthKitError,))
        response = Response(answer.body, status_code=answer.status)
        for name, value in answer.headers:
            response.headers.append(name, value)
        return response

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

    async def relay(self, request: Request, provider: str, path: str) -> Response:
        """GET ``path`` of the provider's API as the current user: its status and JSON, or
        401 with a reason (:func:`oauthkit.web.routes.relay`)."""
        return await self._serve(request, routes.relay(provider, path))
