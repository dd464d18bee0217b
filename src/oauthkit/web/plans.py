"""The web flow's plans, written once for sync and async apps: begin a sign-in, complete it at
the callback, begin a CIBA request and take its ping, revoke, ask who signed in.

A plan is a generator (driven by :func:`oauthkit.drivers.drive` or
:func:`~oauthkit.drivers.adrive` in :class:`~oauthkit.web.WebFlow`): it yields a provider's
protocol steps' requests, and :class:`Put`, :class:`Take` and :class:`Save` for the store.

What the redirect and the callback need between them (``state``, the PKCE verifier, the
``nonce``; for OAuth 1.0a the request-token secret) stays on the server, in the store
(:class:`~oauthkit.stores.base.PendingFlows`): under a hash of the ``state`` (or of the
request token), for :data:`PENDING_SECONDS`, taken exactly once — a replayed callback, or one
after an ``error=``, finds nothing — and encrypted under a key made from the ``state`` and
the browser's binding cookie, so that the store holds nothing usable. The cookie, named after
the flow, binds it to the browser that began it (see :mod:`oauthkit.web.cookies`). Without a
store that can keep pending flows, ``cookie_key=`` seals the flow into that cookie instead
(AES-GCM): bound to the browser all the same, but not single-use.

The callback is checked before any token request, each failure a typed
:class:`~oauthkit.errors.CallbackError`: a flow exists for its state and has not expired
(:class:`~oauthkit.errors.FlowNotFound`, :class:`~oauthkit.errors.FlowExpired`); it began
with the provider whose route received it (:class:`~oauthkit.errors.ProviderMismatch`, RFC
9700 §4.4); the binding cookie opens it (:class:`~oauthkit.errors.BrowserMismatch`); it
arrived at the redirect URI it was sent to (:class:`~oauthkit.errors.RedirectMismatch`); then
RFC 6749 §4.1.2 and RFC 9207 (``iss``, ``state``, ``error``, ``code``) or RFC 5849 §2.2.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..errors import (
    BrowserMismatch,
    ConfigurationError,
    FlowExpired,
    FlowNotFound,
    InvalidNotification,
    NotificationRefused,
    ProviderMismatch,
    RedirectMismatch,
    StateMismatch,
    TokenMismatch,
    UnsafeReturnPath,
)
from ..protocol.http import HttpRequest, Wait
from ..protocol.jsontext import JSONTextError, loads
from ..protocol.oauth1 import flow as oauth1_flow
from ..protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials
from ..protocol.oauth2 import ciba
from ..protocol.oauth2.authorization import AuthorizationRequest, parse_callback_parameters
from ..protocol.oauth2.token import Token
from ..providers.identity import Identity
from .cookies import Cookie, Sealer, flow_cookie_name
from .providers import WebProvider, identity_step

__all__ = [
    "CALLBACK_HEADERS",
    "PENDING_SECONDS",
    "Begun",
    "Completed",
    "Notified",
    "Put",
    "Save",
    "Settings",
    "Take",
    "safe_return_path",
]

#: How long a begun flow waits for its callback (seconds).
PENDING_SECONDS = 600
#: The headers of every callback response (the URL carries a code; the page may show why a
#: callback failed): not cached, no referrer.
CALLBACK_HEADERS = (("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"))

T = TypeVar("T")
Params = Mapping[str, str | Iterable[str]]


@dataclass(frozen=True)
class Begun:
    """Where to send the browser (``url``) and the cookie to set on that redirect."""

    url: str
    cookie: Cookie


@dataclass(frozen=True)
class Completed:
    """A finished flow: the ``token`` (a :class:`~oauthkit.Token`, or OAuth 1.0a
    credentials) already saved under ``key`` for ``user`` — the app user the flow was begun
    for, or after a sign-in ``"{provider}:{identity.id}"``: the provider's immutable account
    id, never a name or an e-mail (OIDC Core §5.7). ``identity``
    (:class:`~oauthkit.providers.identity.Identity`) says who signed in at the provider, with
    the e-mail, name and picture to show; a connect flow has it when the answer carried it
    (an ID token), else ``None``. ``return_to`` is the local path to go to; ``cookie``
    clears the flow's cookie."""

    provider: str
    user: str
    key: str
    token: Token | OAuth1Credentials = field(repr=False)
    identity: Identity | None = field(repr=False)
    return_to: str
    sign_in: bool
    cookie: Cookie


@dataclass(frozen=True)
class Notified:
    """A CIBA ping answered (CIBA Core §10.2): ``user``'s token at ``provider``, already
    saved under ``key``."""

    provider: str
    user: str
    key: str
    token: Token = field(repr=False)


# -- what a plan asks of its driver, besides a provider's requests --------------------------


@dataclass(frozen=True, slots=True)
class Put:
    """Keep a pending record under ``handle`` for ``ttl`` seconds (``None``: the flow's
    ``pending_seconds``)."""

    handle: str
    record: str
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class Take:
    """Take the pending record under ``handle`` (``None`` when there is none)."""

    handle: str


@dataclass(frozen=True, slots=True)
class Save:
    """Save ``value`` under ``key`` (a token through the user's session)."""

    provider: str
    key: str
    value: Token | OAuth1Credentials


Op = HttpRequest | Wait | Put | Take | Save
Plan = Generator[Op, Any, T]


@dataclass(frozen=True)
class Settings:
    """What the plans need of their :class:`~oauthkit.web.WebFlow`."""

    callback_path: str
    key_template: str
    pending_seconds: int
    base_url: str | None = None
    sealer: Sealer | None = None

    def key_for(self, provider: str, user: str) -> str:
        """The store key of ``user``'s token at ``provider``."""
        return self.key_template.format(user=user, provider=provider)

    def redirect_uri(self, provider: str, request_url: str) -> str:
        """The callback URL of ``provider``: ``base_url`` (else the origin of
        ``request_url``) + the callback path."""
        path = self.callback_path.format(provider=provider)
        if self.base_url:
            return self.base_url + path
        parts = urlsplit(request_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("request_url must be the absolute URL of the request")
        return f"{parts.scheme}://{parts.netloc}{path}"


def safe_return_path(path: str | None) -> str:
    """``path`` if it is a path of this site (``/…``, not ``//host`` or ``/\\host``, no
    scheme, no control character), else :class:`~oauthkit.errors.UnsafeReturnPath`."""
    if not path:
        return "/"
    if (
        len(path) > 2048
        or not path.startswith("/")
        or path.startswith(("//", "/\\"))
        or any(ord(c) < 0x21 or c == "\\" for c in path)
        or urlsplit(path).netloc
    ):
        raise UnsafeReturnPath(f"the return path {path[:80]!r} is not a path of this site")
    return path


def _handle(kind: str, value: str) -> str:
    """The store key of a flow: a hash, so the store never holds a usable ``state``."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _pending_sealer(handle: str, value: str, binding: str) -> Sealer:
    """AES-256-GCM under a key that only the callback can make: a hash of the ``state`` (or
    request token) it carries and the binding cookie of the browser that began the flow.
    The handle it is stored under is another hash of the value, which opens nothing."""
    secret = hashlib.sha256(b"oauthkit pending v1\0" + f"{handle}\0{value}\0{binding}".encode())
    return Sealer(secret.digest())


def _mix_up(began_with: str, arrived_at: str) -> ProviderMismatch:
    return ProviderMismatch(
        f"this callback belongs to a sign-in with {began_with!r}, not {arrived_at!r}: a mix-up "
        "(RFC 9700 §4.4) or a misrouted redirect"
    )


# -- begin and complete -----------------------------------------------------------------------


def begin(
    settings: Settings,
    p: WebProvider,
    request_url: str,
    user: str | None,
    return_to: str | None,
    step_up: Mapping[str, str] | None = None,
) -> Plan[Begun]:
    """RFC 6749 §4.1.1 with PKCE, state and nonce, or RFC 5849 §2.1-2.2, for ``user``
    (``None``: sign in as the provider's user); the pending flow kept, the cookie made.
    ``step_up``: the ``acr_values`` and ``max_age`` a resource asked for (RFC 9470 §4; OAuth
    2 only)."""
    back = safe_return_path(return_to)
    redirect_uri = settings.redirect_uri(p.name, request_url)
    secure = redirect_uri.startswith("https:")
    request: dict[str, Any]
    if p.kind == "oauth2":
        extra = {"response_mode": p.response_mode} if p.response_mode else {}
        extra |= {k: v for k, v in (step_up or {}).items() if k in ("acr_values", "max_age")}
        authorization = yield from p.oauth2.steps.authorization_request(
            p.scope, redirect_uri=redirect_uri, extra=extra, par=p.par, jar=p.jar
        )
        value, url = authorization.state, authorization.url
        # The URL without its query: the exchange checks the endpoint, not the parameters.
        request = authorization.to_dict() | {"url": url.split("?", 1)[0]}
    else:
        oauth1 = p.oauth1
        temporary = yield from oauth1.steps.request_token(redirect_uri)
        value, url = temporary.token, oauth1.authorization_url(temporary)
        request = temporary.to_dict()
    handle = _handle(p.kind, value)
    name = flow_cookie_name(handle, secure)
    binding = secrets.token_urlsafe(32)
    record = {
        "handle": handle,
        "provider": p.name,
        "user": user,
        "return_to": back,
        "redirect_uri": redirect_uri,
        "expires_at": time.time() + settings.pending_seconds,
        "request": request,
    }
    text = json.dumps(record, separators=(",", ":"))
    if settings.sealer is not None:
        cookie_value = settings.sealer.seal(text, name)
    else:
        # The provider's name stays readable, so that a mix-up is told as one (RFC 9700
        # §4.4) even when the cookie (scoped to the right callback) does not come along.
        sealed = _pending_sealer(handle, value, binding).seal(text, handle)
        yield Put(handle, f"{p.name}\n{sealed}")
        cookie_value = binding
    posted = p.response_mode in ("form_post", "form_post.jwt")
    same_site = "None" if secure and posted else "Lax"
    path = "/" if secure else urlsplit(redirect_uri).path
    cookie = Cookie(name, cookie_value, path, settings.pending_seconds, secure, same_site)
    return Begun(url, cookie)


def complete(
    settings: Settings,
    p: WebProvider,
    request_url: str,
    params: str | Params,
    cookies: Mapping[str, str],
) -> Plan[Completed]:
    """Check the callback (see the module docstring), exchange it, learn who signed in, save
    the credentials under the user's key."""
    fields = parse_callback_parameters(params)
    redirect_uri = settings.redirect_uri(p.name, request_url)
    secure = redirect_uri.startswith("https:")
    if p.kind == "oauth2":
        value = fields.get("state")
        if not value and fields.get("response"):  # JARM: the state is inside the JWT
            value = p.oauth2.steps.unverified_state(fields["response"])
        if not value:
            raise StateMismatch("the callback has no state (RFC 6749 §10.12)")
    else:
        value = fields.get("oauth_token") or fields.get("denied")
        if not value:
            raise TokenMismatch("the callback has no oauth_token (RFC 5849 §2.2)")
    handle = _handle(p.kind, value)
    name = flow_cookie_name(handle, secure)
    record = yield from _pending(settings, p, handle, name, value, cookies)
    if record["expires_at"] <= time.time():
        raise FlowExpired(
            f"this sign-in was begun more than {settings.pending_seconds // 60} minutes ago; "
            "start again"
        )
    if record["provider"] != p.name:
        raise _mix_up(record["provider"], p.name)
    if record["redirect_uri"] != redirect_uri:
        raise RedirectMismatch(
            f"the callback arrived at {redirect_uri}, not at the redirect URI the sign-in "
            f"sent ({record['redirect_uri']})"
        )
    user = record["user"]
    credentials: Token | OAuth1Credentials
    if p.kind == "oauth2":
        request = AuthorizationRequest.from_dict(record["request"])
        credentials = yield from p.oauth2.steps.exchange(request, fields)  # JARM verified first
    else:
        temporary = TemporaryCredentials.from_dict(record["request"])
        verifier = oauth1_flow.parse_callback(temporary, fields)
        credentials = yield from p.oauth1.steps.access_token(temporary, verifier)
    # A sign-in keys its user on the provider's immutable account id (OIDC Core §5.7),
    # asked for when the answer does not carry it; never on a name or an e-mail.
    identity = yield from identity_step(p, credentials, ask=user is None)
    if user is None:
        assert identity is not None
        user = f"{p.name}:{identity.id}"
    key = settings.key_for(p.name, user)
    yield Save(p.name, key, credentials)
    return Completed(
        provider=p.name,
        user=user,
        key=key,
        token=credentials,
        identity=identity,
        return_to=record["return_to"],
        sign_in=record["user"] is None,
        cookie=Cookie(name, "", "/" if secure else urlsplit(redirect_uri).path, 0, secure),
    )


def _pending(
    settings: Settings,
    p: WebProvider,
    handle: str,
    name: str,
    value: str,
    cookies: Mapping[str, str],
) -> Plan[dict[str, Any]]:
    """The record of the pending flow a callback answers, taken (or opened from its cookie),
    only by the browser that began it."""
    if settings.sealer is not None:
        sealed = cookies.get(name)
        text = settings.sealer.open(sealed, name) if sealed else None
        if text is None:
            raise BrowserMismatch(
                "this browser holds no flow for this callback (its cookie is missing or "
                "not ours): begun in another browser, cookies blocked, or forged"
            )
    else:
        taken = yield Take(handle)
        if taken is None:
            raise FlowNotFound(
                "no sign-in is pending for this callback: it was used already, expired, "
                "or its state was never ours"
            )
        began_with, _, sealed = taken.partition("\n")
        if began_with != p.name:
            raise _mix_up(began_with, p.name)
        held = cookies.get(name, "")
        text = _pending_sealer(handle, value, held).open(sealed, handle) if held else None
        if text is None:
            raise BrowserMismatch(
                "this callback did not come from the browser that began the sign-in "
                "(its binding cookie is "
                + ("missing" if not held else "different")
                + "): a login CSRF attempt, or cookies blocked"
            )
    record: dict[str, Any] = json.loads(text)
    if record.get("handle") != handle:
        raise BrowserMismatch("the flow cookie belongs to another sign-in")
    return record


# -- CIBA in ping mode -------------------------------------------------------------------------


def begin_backchannel(
    p: WebProvider, user: str, params: Mapping[str, Any]
) -> Plan[ciba.BackchannelAuthentication]:
    """CIBA Core §7.1 in ping mode for ``user``: the request waits in the store, under a hash
    of its ``auth_req_id`` and ``client_notification_token``, encrypted under both."""
    if p.kind != "oauth2":
        raise ConfigurationError(f"{p.name} is an OAuth 1.0a provider: it has no CIBA")
    if "ping" in params:
        raise ConfigurationError("begin_backchannel always asks for ping mode")
    request = yield from p.oauth2.steps.backchannel_authentication(ping=True, **params)
    assert request.client_notification_token is not None
    record = {
        "provider": p.name,
        "user": user,
        "auth_req_id": request.auth_req_id,
        "expires_at": request.expires_at.timestamp(),
        "interval": request.interval,
        "scope": request.scope,
    }
    secret = f"{request.auth_req_id} {request.client_notification_token}"
    handle = _handle("ciba", secret)
    ttl = max(1, int(request.expires_at.timestamp() - time.time()) + 1)
    text = json.dumps(record, separators=(",", ":"))
    yield Put(handle, _pending_sealer(handle, secret, "").seal(text, handle), ttl)
    return request


def notified(
    settings: Settings, p: WebProvider, authorization: str | None, body: bytes | str
) -> Plan[Notified]:
    """CIBA Core §10.2: only the bearer token sent for that request finds it; then the token
    request, once, and the token saved under the user's key."""
    scheme, _, bearer = (authorization or "").partition(" ")
    bearer = bearer.strip()
    if scheme.lower() != "bearer" or not bearer:
        raise NotificationRefused("the notification has no bearer token (CIBA Core §10.2)")
    try:
        fields = loads(body)  # bounded: a deeply nested body is refused, not a crash
    except JSONTextError:
        fields = None
    auth_req_id = fields.get("auth_req_id") if isinstance(fields, dict) else None
    if not isinstance(auth_req_id, str) or not auth_req_id:
        raise InvalidNotification(
            "the notification's body is not a JSON object with an auth_req_id (CIBA Core §10.2)"
        )
    secret = f"{auth_req_id} {bearer}"
    handle = _handle("ciba", secret)
    sealed = yield Take(handle)
    text = _pending_sealer(handle, secret, "").open(sealed, handle) if sealed else None
    if text is None:
        raise NotificationRefused(
            "no backchannel request waits for this notification: a wrong bearer token, "
            "an unknown auth_req_id, or answered already (CIBA Core §10.2)"
        )
    record = json.loads(text)
    if record["provider"] != p.name:
        raise ProviderMismatch(
            f"this notification is for a request made with {record['provider']!r}, not {p.name!r}"
        )
    request = ciba.BackchannelAuthentication(
        auth_req_id=auth_req_id,
        expires_at=datetime.fromtimestamp(record["expires_at"], UTC),
        interval=record["interval"],
        scope=record["scope"],
        client_notification_token=bearer,
    )
    token = yield from p.oauth2.steps.backchannel_token(request)
    key = settings.key_for(p.name, record["user"])
    yield Save(p.name, key, token)
    return Notified(provider=p.name, user=record["user"], key=key, token=token)


# -- a user's credentials ---------------------------------------------------------------------


def revoke(p: WebProvider, token: Token) -> Plan[None]:
    """RFC 7009, where the provider has a revocation endpoint."""
    steps = p.oauth2.steps
    metadata = yield from steps.metadata()
    if metadata.endpoints.get("revocation_endpoint"):
        yield from steps.revoke(token)


def identity(p: WebProvider, stored: object) -> Plan[Identity]:
    """Who the stored credentials belong to, asked of the provider."""
    if not isinstance(stored, Token | OAuth1Credentials):
        from ..errors import ReauthenticationRequired

        raise ReauthenticationRequired(f"not connected to {p.name}")
    found = yield from identity_step(p, stored)
    assert found is not None
    return found
