"""What the routes answer (:mod:`oauthkit.web.routes`), decided here once: the page of a
failed begin or callback, the check of a state-changing POST, the answer to a CIBA ping, the
way to the app's login page, the headers of a relayed API answer."""

from __future__ import annotations

import html
import logging
import math
from urllib.parse import urlsplit

from ..errors import (
    AuthorizationDenied,
    ConfigurationError,
    InvalidNotification,
    NotificationRefused,
    OAuthKitError,
    OAuthServerError,
    TemporarilyUnavailable,
    TooManySignIns,
    TransportError,
)
from .plans import CALLBACK_HEADERS, safe_return_path

__all__ = [
    "ERROR_HEADERS",
    "RELAY_HEADERS",
    "error_headers",
    "error_page",
    "login_redirect",
    "notification_answer",
    "same_origin",
]

log = logging.getLogger("oauthkit.web")

#: The headers of an error page: those of a callback, and no script, style or framing.
ERROR_HEADERS = (
    *CALLBACK_HEADERS,
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
)


def error_headers(exc: OAuthKitError) -> list[tuple[str, str]]:
    """The headers of :func:`error_page`'s answer: :data:`ERROR_HEADERS`, and
    ``Retry-After`` when the client is to wait (RFC 9110 §10.2.3)."""
    wait = _retry_after(exc)
    if wait is not None:
        return [*ERROR_HEADERS, ("Retry-After", str(wait))]
    return list(ERROR_HEADERS)


def _retry_after(exc: OAuthKitError) -> int | None:
    if isinstance(exc, TooManySignIns):
        return exc.retry_after
    if isinstance(exc, TemporarilyUnavailable) and exc.retry_after is not None:
        return max(1, math.ceil(exc.retry_after))
    return None


def error_page(exc: OAuthKitError) -> tuple[int, str]:
    """The status and HTML page of a failed begin or callback: 400 naming the check that
    failed (the messages of oauthkit's errors hold no secret); 503 "try again" when the
    provider could not answer now (unreachable, HTTP 429 or 5xx: nothing was refused, and a
    new sign-in may succeed); 502 when it answered wrongly; 429 when one client began too
    many sign-ins. Its headers are :func:`error_headers`."""
    again = isinstance(exc, TransportError | TemporarilyUnavailable)
    status = 503 if again else 502 if isinstance(exc, OAuthServerError) else 400
    if isinstance(exc, TooManySignIns):
        status, title = 429, "Too many sign-ins"
    elif isinstance(exc, AuthorizationDenied):
        title = "You did not authorize the app"
    elif again:
        title = "The provider cannot answer now: try again in a moment"
    elif status == 502:
        title = "The provider did not complete the sign-in"
    else:
        title = "This sign-in cannot be completed"
    body = (
        "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p id=cause>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</p>"
        '<p><a href="/">Back</a></p>'
    )
    return status, body


def notification_answer(provider: str, exc: OAuthKitError | None) -> tuple[int, dict[str, str]]:
    """The status and headers of the answer to a CIBA ping (CIBA Core §10.2): 204 once it is
    genuine — also when the token request that follows fails (a denial, an expiry: the
    provider has done its part; the failure is logged) —; 401 with a ``Bearer`` challenge
    when its token is not one this app sent (RFC 6750 §3); 400 for a malformed body; 404 for
    an unknown provider."""
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, NotificationRefused):
        return 401, headers | {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if isinstance(exc, InvalidNotification):
        return 400, headers
    if isinstance(exc, ConfigurationError):
        return 404, headers
    if exc is not None:
        log.warning("the backchannel sign-in at %s ended without a token: %s", provider, exc)
    return 204, headers


def login_redirect(login_url: str, back: str) -> str:
    """Where to send a browser that must log in to the app before connecting an account:
    ``login_url`` with ``next=`` the local path (and query) to come back to."""
    from urllib.parse import urlencode

    separator = "&" if "?" in login_url else "?"
    return f"{login_url}{separator}{urlencode({'next': safe_return_path(back)})}"


def same_origin(origin: str | None, request_url: str) -> bool:
    """Whether a state-changing POST comes from this site: its ``Origin`` (sent by every
    current browser on a POST) is the request's own; no ``Origin`` (a non-browser client)
    passes, since a cross-site form always sends one."""
    if origin is None:
        return True
    here = urlsplit(request_url)
    return origin.rstrip("/") == f"{here.scheme}://{here.netloc}"


#: The headers of every relayed answer: a user's API data is never kept by a cache between
#: the app and the browser, nor shown to the next user of a shared one.
RELAY_HEADERS = (("Cache-Control", "no-store"),)
