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
translates: every check is the flow's.
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

from ..errors import OAuthKitError, ReauthenticationRequired
from .flow import CALLBACK_HEADERS, Completed, WebFlow, safe_return_path
from .responses import (
    RELAY_HEADERS,
    error_headers,
    error_page,
    login_redirect,
    notification_answer,
    relay,
    same_origin,
)

__all__ = ["OAuthKit"]


def _params(multi: Any) -> dict[str, list[str]]:
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
        bp.add_url_rule("/connect/<provider>", "connect", self._connect)
        bp.add_url_rule("/signin/<provider>", "signin", self._signin)
        bp.add_url_rule("/callback/<provider>", "callback", self._callback, methods=["GET", "POST"])
        bp.add_url_rule("/disconnect/<provider>", "disconnect", self._disconnect, methods=["POST"])
        bp.add_url_rule(
            "/backchannel/<provider>", "backchannel", self._backchannel, methods=["POST"]
        )
        return bp

    # -- routes ---------------------------------------------------------------------------

    def _begin(self, provider: str, user: str | None) -> Response:
        request = flask.request
        try:
            begun = self.flow.begin(
                provider,
                request_url=request.url,
                user=user,
                return_to=request.args.get("next"),
                client_address=request.remote_addr,
            )
        except OAuthKitError as exc:
            return self._error(exc)
        response = flask.redirect(begun.url, code=302)
        response.headers.add("Set-Cookie", begun.cookie.header())
        response.headers.update(CALLBACK_HEADERS)
        return response

    def _connect(self, provider: str) -> Response:
        user = self.current_user()
        if user is None:
            if self.login_url:
                request = flask.request
                back = request.full_path if request.query_string else request.path
                return flask.redirect(login_redirect(self.login_url, back), code=302)
            return flask.Response("sign in to the app first", status=401)
        return self._begin(provider, user)

    def _signin(self, provider: str) -> Response:
        return self._begin(provider, None)

    def _callback(self, provider: str) -> Response:
        request = flask.request
        params = request.form if request.method == "POST" else request.args
        try:
            done = self.flow.complete(
                provider,
                request_url=request.base_url,
                params=_params(params),
                cookies=request.cookies,
            )
        except OAuthKitError as exc:
            return self._error(exc)
        if done.sign_in and self.on_sign_in is not None:
            self.on_sign_in(done)
        response = flask.redirect(done.return_to, code=303)
        response.headers.add("Set-Cookie", done.cookie.header())
        response.headers.update(CALLBACK_HEADERS)
        return response

    def _disconnect(self, provider: str) -> Response:
        request = flask.request
        if not same_origin(request.headers.get("Origin"), request.url):
            return flask.Response("cross-site request refused", status=403)
        user = self.current_user()
        if user is None:
            return flask.Response("sign in to the app first", status=401)
        try:
            self.flow.disconnect(provider, user)
        except OAuthKitError as exc:
            return self._error(exc)
        try:
            back = safe_return_path(request.args.get("next"))
        except OAuthKitError as exc:
            return self._error(exc)
        return flask.redirect(back, code=303)

    def _backchannel(self, provider: str) -> Response:
        request = flask.request
        failure: OAuthKitError | None = None
        try:
            self.flow.backchannel_notification(
                provider,
                authorization=request.headers.get("Authorization"),
                body=request.get_data(),
            )
        except OAuthKitError as exc:
            failure = exc
        status, headers = notification_answer(provider, failure)
        return flask.Response(status=status, headers=headers)

    @staticmethod
    def _error(exc: OAuthKitError) -> Response:
        status, page = error_page(exc)
        return flask.Response(page, status=status, headers=error_headers(exc))

    # -- the current user's API -----------------------------------------------------------

    def auth(self, provider: str) -> httpx2.Auth:
        """An ``httpx2.Auth`` with the current user's credentials at ``provider``."""
        user = self.current_user()
        if user is None:
            raise ReauthenticationRequired("no one is signed in to the app")
        return self.flow.auth(provider, user)

    def relay(self, provider: str, path: str) -> Response:
        """GET ``path`` of the provider's API as the current user: its status and JSON, or
        401 with a reason (see :func:`oauthkit.web.responses.relay`)."""
        status, body = relay(self.flow, provider, self.current_user(), path)
        return flask.Response(
            flask.json.dumps(body),
            status=status,
            mimetype="application/json",
            headers=list(RELAY_HEADERS),
        )
