"""Flask (extra ``flask``): an extension whose blueprint serves the sign-in routes of a
:class:`~oauthkit.web.WebFlow`.

::

    oauth = OAuthKit(app, WebFlow.from_config(),
                     current_user=lambda: session.get("user"),
                     on_sign_in=lambda done: session.update(user=done.user))

``GET /connect/<provider>`` (for the signed-in app user) and ``GET /signin/<provider>`` begin
(``?next=/path`` says where to return); ``GET``/``POST /callback/<provider>`` completes;
``POST /disconnect/<provider>`` revokes and forgets; ``POST /backchannel/<provider>`` takes a
CIBA ping (:meth:`~oauthkit.web.WebFlow.begin_backchannel`). ``oauth.auth(provider)`` and
``oauth.relay(provider, path)`` call the provider's API as the current user. The adapter only
translates (:mod:`oauthkit.web.routes` holds every route's checks and answers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import flask
    from werkzeug.wrappers import Response
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("oauthkit.web.flask needs Flask: pip install 'oauthkit[flask]'") from exc

import httpx2

from ..drivers import drive
from ..errors import OAuthKitError, ReauthenticationRequired
from . import routes
from .flow import WebFlow
from .plans import Completed

__all__ = ["OAuthKit"]


def _multi(multi: Any) -> dict[str, list[str]]:
    return {name: multi.getlist(name) for name in multi}


class OAuthKit:
    """The extension: ``current_user()`` names the app's signed-in user (or ``None``);
    ``on_sign_in(completed)`` runs after a "sign in with" callback (typically stores
    ``completed.user`` in the app's session); ``login_url`` is where ``/connect/…`` sends a
    browser that is not logged in to the app (with ``?next=`` back; else a 401)."""

    def __init__(
        self,
        app: flask.Flask | None = None,
        flow: WebFlow | None = None,
        *,
        current_user: Callable[[], str | None],
        on_sign_in: Callable[[Completed], None] | None = None,
        url_prefix: str = "",
        login_url: str | None = None,
    ) -> None:
        self.flow = flow if flow is not None else WebFlow.from_config()
        self.current_user = current_user
        self.on_sign_in = on_sign_in
        self.login_url = login_url
        self.blueprint = self._blueprint(url_prefix)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Register the routes with ``app``."""
        app.register_blueprint(self.blueprint)
        app.extensions["oauthkit"] = self

    def _blueprint(self, url_prefix: str) -> flask.Blueprint:
        bp = flask.Blueprint("oauthkit", __name__, url_prefix=url_prefix or None)
        for name, methods, route in routes.table(self.login_url):
            bp.add_url_rule(f"/{name}/<provider>", name, self._view(route), methods=methods)
        return bp

    def _view(self, route: routes.Served) -> Callable[[str], Response]:
        def view(provider: str) -> Response:
            request = flask.request
            posted = request.method == "POST"
            incoming = routes.Incoming(
                provider=provider,
                method=request.method,
                url=request.url,
                query=_multi(request.args),
                form=_multi(request.form) if posted else {},
                cookies=request.cookies,
                origin=request.headers.get("Origin"),
                authorization=request.headers.get("Authorization"),
                body=request.get_data() if posted else b"",
                client_address=request.remote_addr,
            )
            return self._serve(route(incoming))

        return view

    def _serve(self, route: routes.Route) -> Response:
        def handle(op: routes.Op) -> Any:
            if isinstance(op, routes.CurrentUser):
                return self.current_user()
            if isinstance(op, routes.Call):
                return getattr(self.flow, op.method)(*op.args, **op.kwargs)
            if self.on_sign_in is not None:
                self.on_sign_in(op.completed)
            return None

        answer = drive(route, handle, failures=(OAuthKitError,))
        return Response(answer.body, status=answer.status, headers=list(answer.headers))

    # -- the current user's API -----------------------------------------------------------

    def auth(self, provider: str) -> httpx2.Auth:
        """An ``httpx2.Auth`` with the current user's credentials at ``provider``."""
        user = self.current_user()
        if user is None:
            raise ReauthenticationRequired("no one is signed in to the app")
        return self.flow.auth(provider, user)

    def relay(self, provider: str, path: str) -> Response:
        """GET ``path`` of the provider's API as the current user: its status and JSON, or
        401 with a reason (:func:`oauthkit.web.routes.relay`)."""
        return self._serve(routes.relay(provider, path))
