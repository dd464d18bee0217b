"""The routes every adapter serves, written once: what each checks, which flow call it makes,
what it answers. An adapter turns its framework's request into an :class:`Incoming`, drives
the route (a plan, through :func:`oauthkit.drivers.drive` or
:func:`~oauthkit.drivers.adrive`) and turns the :class:`Answer` into its framework's response.

A route yields three kinds of operation: :class:`CurrentUser` (the adapter asks the app who is
signed in), :class:`Call` (a :class:`~oauthkit.web.WebFlow` method, or its ``a``-prefixed
``await`` twin; an :class:`~oauthkit.errors.OAuthKitError` it raises is thrown back into the
route, which answers it) and :class:`SignedIn` (the app's "signed in" hook, after a sign-in's
callback).

``GET /connect/{provider}``: begin connecting the signed-in app user's account (else to the
app's login page with ``?next=`` back, or 401). ``GET /signin/{provider}``: begin a sign-in.
``GET``/``POST /callback/{provider}``: complete either. ``POST /disconnect/{provider}``: revoke
and forget (same origin only: 403 otherwise). ``POST /backchannel/{provider}``: a CIBA ping.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    ConfigurationError,
    OAuthKitError,
    ReauthenticationRequired,
    StepUpRequired,
    TemporarilyUnavailable,
    TransportError,
)
from .plans import CALLBACK_HEADERS, Completed, safe_return_path
from .responses import (
    RELAY_HEADERS,
    error_headers,
    error_page,
    login_redirect,
    notification_answer,
    same_origin,
)

__all__ = [
    "Answer",
    "Call",
    "CurrentUser",
    "Incoming",
    "SignedIn",
    "backchannel",
    "callback",
    "connect",
    "disconnect",
    "relay",
    "signin",
    "table",
]

#: A browser that is not logged in to the app, and a state-changing POST from another site.
SIGN_IN_FIRST = "sign in to the app first"
CROSS_SITE = "cross-site request refused"


@dataclass(frozen=True)
class Incoming:
    """What a route reads of a request: ``url`` is absolute, with its query; ``query`` and
    ``form`` (a POST's form fields) map names to every value; ``origin`` and
    ``authorization`` are those headers; ``body`` is a POST's raw body."""

    provider: str
    method: str
    url: str
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    form: Mapping[str, Sequence[str]] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    origin: str | None = None
    authorization: str | None = None
    body: bytes = b""
    client_address: str | None = None

    @property
    def path_url(self) -> str:
        """:attr:`url` without its query (the callback's URL as the flow compares it)."""
        return self.url.split("?", 1)[0]

    @property
    def local_path(self) -> str:
        """The path and query of :attr:`url` (where to come back to)."""
        rest = self.url.split("://", 1)[-1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"

    def arg(self, name: str) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Answer:
    """The response: ``status``, ``headers`` (``Location``, ``Set-Cookie`` and
    ``Content-Type`` among them) and ``body``."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """Ask the app who is signed in (the user's key, or ``None``)."""


@dataclass(frozen=True, slots=True)
class Call:
    """Call :class:`~oauthkit.web.WebFlow`'s ``method`` (or, in an async app, its
    ``a``-prefixed twin) with ``args`` and ``kwargs``."""

    method: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A sign-in completed: run the app's hook (which typically puts ``completed.user`` in
    the app's session) before answering."""

    completed: Completed


Op = CurrentUser | Call | SignedIn
Route = Generator[Op, Any, Answer]
#: A route, given its request.
Served = Callable[[Incoming], Route]


def _text(status: int, text: str) -> Answer:
    return Answer(status, (("Content-Type", "text/plain; charset=utf-8"),), text)


def _redirect(url: str, status: int, *headers: tuple[str, str]) -> Answer:
    return Answer(status, (("Location", url), *headers))


def _failed(exc: OAuthKitError) -> Answer:
    status, page = error_page(exc)
    return Answer(status, tuple(error_headers(exc)), page)


def connect(incoming: Incoming, login_url: str | None = None) -> Route:
    """``GET /connect/{provider}``: begin connecting the signed-in app user's account; a
    browser not logged in to the app goes to ``login_url`` (with ``?next=`` back), else
    401."""
    user = yield CurrentUser()
    if user is None:
        if login_url:
            try:
                return _redirect(login_redirect(login_url, incoming.local_path), 302)
            except OAuthKitError as exc:
                return _failed(exc)
        return _text(401, SIGN_IN_FIRST)
    return (yield from _begin(incoming, user))


def signin(incoming: Incoming) -> Route:
    """``GET /signin/{provider}``: begin signing in as the provider's user."""
    return (yield from _begin(incoming, None))


def _begin(incoming: Incoming, user: str | None) -> Route:
    try:
        begun = yield Call(
            "begin",
            (incoming.provider,),
            {
                "request_url": incoming.url,
                "user": user,
                "return_to": incoming.arg("next"),
                "client_address": incoming.client_address,
                "step_up": step_up_asked(incoming.arg("acr_values"), incoming.arg("max_age")),
            },
        )
    except OAuthKitError as exc:
        return _failed(exc)
    return _redirect(begun.url, 302, ("Set-Cookie", begun.cookie.header()), *CALLBACK_HEADERS)


def step_up_asked(acr_values: str | None, max_age: str | None) -> dict[str, str] | None:
    """``?acr_values=…&max_age=…`` of ``/connect`` or ``/signin`` (what a relay's
    ``step_up_required`` answer named, RFC 9470 §4), checked: they only ever ask the provider
    for a stronger or more recent sign-in."""
    asked: dict[str, str] = {}
    if acr_values:
        if len(acr_values) > 512 or not acr_values.isprintable():
            raise ConfigurationError("acr_values: at most 512 printable characters")
        asked["acr_values"] = acr_values
    if max_age:
        if not (max_age.isdigit() and len(max_age) < 10):
            raise ConfigurationError("max_age: a number of seconds")
        asked["max_age"] = max_age
    return asked or None


def callback(incoming: Incoming) -> Route:
    """``GET``/``POST /callback/{provider}``: complete the flow (the query, or a
    ``form_post`` body), then back to where it began."""
    params = incoming.form if incoming.method == "POST" else incoming.query
    try:
        done = yield Call(
            "complete",
            (incoming.provider,),
            {"request_url": incoming.path_url, "params": params, "cookies": incoming.cookies},
        )
    except OAuthKitError as exc:
        return _failed(exc)
    if done.sign_in:
        yield SignedIn(done)
    return _redirect(done.return_to, 303, ("Set-Cookie", done.cookie.header()), *CALLBACK_HEADERS)


def disconnect(incoming: Incoming) -> Route:
    """``POST /disconnect/{provider}``: revoke and forget the app user's token, from this
    site only (its ``Origin``); then to ``?next=``."""
    if not same_origin(incoming.origin, incoming.url):
        return _text(403, CROSS_SITE)
    user = yield CurrentUser()
    if user is None:
        return _text(401, SIGN_IN_FIRST)
    try:
        back = safe_return_path(incoming.arg("next"))
        yield Call("disconnect", (incoming.provider, user))
    except OAuthKitError as exc:
        return _failed(exc)
    return _redirect(back, 303)


def backchannel(incoming: Incoming) -> Route:
    """``POST /backchannel/{provider}``: the provider's CIBA ping (CIBA Core §10.2)."""
    failure: OAuthKitError | None = None
    try:
        yield Call(
            "backchannel_notification",
            (incoming.provider,),
            {"authorization": incoming.authorization, "body": incoming.body},
        )
    except OAuthKitError as exc:
        failure = exc
    status, headers = notification_answer(incoming.provider, failure)
    return Answer(status, tuple(headers.items()))


def relay(provider: str, path: str) -> Route:
    """GET ``path`` under the provider's ``api_base`` as the signed-in app user (renewed
    first when due): the provider's status and JSON, with its ``Retry-After`` (a 429 or 503
    passes through, RFC 6585 §4); 401 with a reason when no one is signed in, nothing is
    connected or the provider wants a new sign-in; 503 with ``Retry-After`` when the
    provider cannot renew the token now (nothing was lost)."""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"), *RELAY_HEADERS)
    user = yield CurrentUser()
    if user is None:
        status, body = 401, {"error": "not_signed_in"}
    else:
        try:
            response = yield Call("api", (provider, user, path))
        except OAuthKitError as exc:
            status, body = _relay_refused(provider, exc)
            wait = _waited_for(exc)
        else:
            status, body = _relay_answer(response)
            wait = response.headers.get("retry-after") if status in (429, 503) else None
        if wait:
            headers = (*headers, ("Retry-After", wait[:40]))
    return Answer(status, headers, json.dumps(body))


def _waited_for(exc: OAuthKitError) -> str | None:
    if isinstance(exc, TemporarilyUnavailable) and exc.retry_after is not None:
        return str(max(1, math.ceil(exc.retry_after)))
    return None


def table(login_url: str | None = None) -> list[tuple[str, list[str], Served]]:
    """Every route an adapter serves under ``/{name}/{provider}``: its name, its HTTP
    methods, and the route of a request (``login_url`` as for :func:`connect`)."""
    return [
        ("connect", ["GET"], lambda incoming: connect(incoming, login_url)),
        ("signin", ["GET"], signin),
        ("callback", ["GET", "POST"], callback),
        ("disconnect", ["POST"], disconnect),
        ("backchannel", ["POST"], backchannel),
    ]


def _relay_answer(response: Any) -> tuple[int, Any]:
    try:
        return response.status_code, response.json()
    except (ValueError, RecursionError):
        return 502, {"error": "not_json", "status": response.status_code}


def _relay_refused(provider: str, exc: OAuthKitError) -> tuple[int, Any]:
    if isinstance(exc, TemporarilyUnavailable | TransportError):
        return 503, {"error": "temporarily_unavailable", "provider": provider, "reason": str(exc)}
    if isinstance(exc, StepUpRequired):  # RFC 9470: connect again with these
        body: dict[str, Any] = {
            "error": "step_up_required",
            "provider": provider,
            "reason": str(exc),
        }
        if exc.acr_values:
            body["acr_values"] = " ".join(exc.acr_values)
        if exc.max_age is not None:
            body["max_age"] = exc.max_age
        return 401, body
    if isinstance(exc, ReauthenticationRequired):
        return 401, {"error": "sign_in_required", "provider": provider, "reason": str(exc)}
    if isinstance(exc, ConfigurationError):
        return 404, {"error": "not_found", "reason": str(exc)}
    return 502, {"error": "provider_failed", "reason": str(exc)}
