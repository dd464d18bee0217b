"""The web flow, framework-neutral: *begin* sends the user to the provider, *complete* takes
the callback back, and the user's tokens live in the store under their key.

::

    flow = WebFlow({"github": OAuth2Client.from_preset("github", ID, SECRET)}, store)
    begun = flow.begin("github", request_url=url, user="42")          # → redirect + cookie
    done = flow.complete("github", request_url=url, params=query, cookies=cookies)
    done.key, done.token, done.identity, done.return_to                # saved already

What the redirect and the callback need between them (``state``, the PKCE verifier, the
``nonce``; for OAuth 1.0a the request-token secret) stays on the server, in the store
(:class:`~oauthkit.stores.base.PendingFlows`): under a hash of the ``state`` (or of the
request token), for :data:`PENDING_SECONDS`, taken exactly once — a replayed callback, or one
after an ``error=``, finds nothing. A cookie named after the flow binds it to the browser
that began it (see :mod:`oauthkit.web.cookies`), so several tabs can sign in at once and the
app's own session cookie never carries any of it. Without a store that can keep pending
flows, ``cookie_key=`` seals the flow into that cookie instead (AES-GCM): bound to the
browser all the same, but not single-use.

The callback is checked before any token request, each failure a typed
:class:`~oauthkit.errors.CallbackError`: a flow exists for its state and has not expired
(:class:`~oauthkit.errors.FlowNotFound`, :class:`~oauthkit.errors.FlowExpired`); it began
with the provider whose route received it (:class:`~oauthkit.errors.ProviderMismatch`, RFC
9700 §4.4); the binding cookie matches, compared in constant time
(:class:`~oauthkit.errors.BrowserMismatch`); it arrived at the redirect URI it was sent to
(:class:`~oauthkit.errors.RedirectMismatch`); then RFC 6749 §4.1.2 and RFC 9207 (``iss``,
``state``, ``error``, ``code``) or RFC 5849 §2.2. A :class:`Completed` flow's token is saved
under ``key.format(user=…, provider=…)`` before it is returned, and from then on renewed once
per expiry by every worker that shares the store (:class:`~oauthkit.Session`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit

import anyio.to_thread
import httpx2

from ..clients._lifecycle import new_http
from ..drivers import arun, run
from ..errors import (
    BrowserMismatch,
    ConfigurationError,
    FlowExpired,
    FlowNotFound,
    InvalidNotification,
    NotificationRefused,
    OAuthKitError,
    ProviderMismatch,
    ReauthenticationRequired,
    RedirectMismatch,
    StateMismatch,
    TokenMismatch,
    UnsafeReturnPath,
)
from ..protocol.http import HttpRequest, HttpResponse, Wait, fetch
from ..protocol.jsontext import JSONTextError, loads
from ..protocol.oauth1 import flow as oauth1_flow
from ..protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials
from ..protocol.oauth2 import ciba, grants, token_management
from ..protocol.oauth2.authorization import (
    AuthorizationRequest,
    build_authorization_request,
    parse_callback_parameters,
    validate_callback,
)
from ..protocol.oauth2.jarm import is_jwt_response_mode, response_parameters, unverified_state
from ..protocol.oauth2.server import server_metadata
from ..protocol.oauth2.token import Token
from ..protocol.url_policy import under
from ..providers.identity import Identity
from ..session import Session, refused_at
from ..stores.base import PendingFlows, TokenStore
from .cookies import Cookie, Sealer, flow_cookie_name
from .limits import SignInLimit
from .providers import WebProvider, identity_step

__all__ = [
    "CALLBACK_HEADERS",
    "PENDING_SECONDS",
    "Begun",
    "Completed",
    "Connection",
    "Notified",
    "WebFlow",
    "safe_return_path",
]

#: How long a begun flow waits for its callback (seconds).
PENDING_SECONDS = 600
#: The headers of every callback response (the URL carries a code; the page may show why a
#: callback failed): not cached, no referrer.
CALLBACK_HEADERS = (("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"))

log = logging.getLogger("oauthkit.web")
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


# -- what a flow asks its driver to do ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Put:
    handle: str
    record: str
    ttl: int | None = None  # seconds; None: the flow's pending_seconds


@dataclass(frozen=True, slots=True)
class _Take:
    handle: str


@dataclass(frozen=True, slots=True)
class _Save:
    provider: str
    key: str
    value: Token | OAuth1Credentials


_Op = HttpRequest | Wait | _Put | _Take | _Save
#: What :meth:`WebFlow.connections` says of a provider a user holds credentials for.
Connection = Literal["connected", "reconnect"]
Plan = Generator[_Op, Any, T]


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


def _mix_up(began_with: str, arrived_at: str) -> ProviderMismatch:
    return ProviderMismatch(
        f"this callback belongs to a sign-in with {began_with!r}, not {arrived_at!r}: a mix-up "
        "(RFC 9700 §4.4) or a misrouted redirect"
    )


def value_of(kind: str, request: Mapping[str, Any]) -> str:
    """The value a pending flow's handle hashes: the ``state`` or the request token."""
    return str(request["state"] if kind == "oauth2" else request["token"])


def _pending_sealer(handle: str, value: str, binding: str) -> Sealer:
    """AES-256-GCM under a key that only the callback can make: a hash of the ``state`` (or
    request token) it carries and the binding cookie of the browser that began the flow.
    The handle it is stored under is another hash of the value, which opens nothing."""
    secret = hashlib.sha256(b"oauthkit pending v1\0" + f"{handle}\0{value}\0{binding}".encode())
    return Sealer(secret.digest())


class WebFlow:
    """Begin and complete sign-ins for a web application; see the module docstring.

    ``providers`` maps a route name to a :class:`~oauthkit.web.providers.WebProvider` or a
    client (OAuth 2 or OAuth 1.0a). ``store`` keeps the tokens and the pending flows: the
    app names it (:class:`~oauthkit.stores.SQLiteStore` with a path of the app's,
    :class:`~oauthkit.stores.RedisStore`, :class:`~oauthkit.stores.SQLAlchemyStore`, the
    Django store; :class:`~oauthkit.stores.MemoryStore` only for one process). ``base_url``
    fixes the site's origin (behind a proxy); without it the callback URL is the request's
    origin + ``callback_path``. ``key`` names each user's token. ``on_token(key, token)``
    learns of every token a flow saves. ``signin_limit`` bounds the anonymous sign-ins one
    client address may begin (:class:`~oauthkit.web.limits.SignInLimit`; ``False``: none).
    """

    def __init__(
        self,
        providers: Mapping[str, WebProvider | Any],
        store: TokenStore | None = None,
        *,
        cookie_key: bytes | str | None = None,
        base_url: str | None = None,
        callback_path: str = "/callback/{provider}",
        key: str = "user:{user}:{provider}",
        pending_seconds: int = PENDING_SECONDS,
        on_token: Callable[[str, Token | OAuth1Credentials], None] | None = None,
        signin_limit: SignInLimit | bool = True,
    ) -> None:
        if store is None:
            raise ConfigurationError(
                "WebFlow needs the store of the app's users' tokens: pass store= "
                '(SQLiteStore("app-tokens.sqlite3"), RedisStore(url), SQLAlchemyStore(url), '
                "the Django store) — the command's personal store is not for a web app's users"
            )
        self.providers: dict[str, WebProvider] = {
            name: p if isinstance(p, WebProvider) else WebProvider.of(name, p)
            for name, p in providers.items()
        }
        self.store = store
        self._sealer = Sealer(cookie_key) if cookie_key is not None else None
        self.base_url = base_url.rstrip("/") if base_url else None
        self.callback_path = callback_path
        self.key_template = key
        self.pending_seconds = pending_seconds
        self.on_token = on_token
        if signin_limit is True:
            signin_limit = SignInLimit()
        self.signin_limit = signin_limit or None
        self._http: httpx2.Client | None = None
        self._ahttp: httpx2.AsyncClient | None = None

    @classmethod
    def from_config(
        cls,
        path: str | None = None,
        *,
        store: TokenStore | None = None,
        require_providers: bool = True,
        **options: Any,
    ) -> WebFlow:
        """The providers of the command's TOML configuration (``path``, else
        ``$OAUTHKIT_CONFIG``, else the default file), its ``store`` (which it must name unless
        ``store`` is given) and its ``[web]`` table (``base_url``, ``pending_seconds``,
        ``callback_path``, ``key``); ``options`` as for the constructor, and they win. No file,
        or a file without providers, is a :class:`~oauthkit.errors.ConfigurationError` at
        start-up naming where it looked — unless ``require_providers=False`` (an app that
        adds its providers in code)."""
        import os
        from pathlib import Path

        from ..cli.config import load_config
        from ..cli.flows import open_store
        from ..cli.provider import ResolvedProvider

        config = load_config(Path(path) if path else None)
        if require_providers and not config.providers:
            how = (
                "the path given"
                if path
                else "$OAUTHKIT_CONFIG"
                if os.environ.get("OAUTHKIT_CONFIG", "").strip()
                else "the default file ($OAUTHKIT_CONFIG is not set)"
            )
            found = "has no [providers.NAME] table" if config.path.exists() else "does not exist"
            raise ConfigurationError(
                f"the web flow's configuration {config.path} ({how}) {found}: name the file "
                "(WebFlow.from_config(path), $OAUTHKIT_CONFIG), or pass require_providers=False "
                "to add providers in code"
            )
        if store is None and config.store is None:
            raise ConfigurationError(
                f"{config.path} names no store for the app's users' tokens: add  store = "
                '"app-tokens.sqlite3"  (beside the file; or a redis:// or database URL) at its '
                "top, or pass store= — the command's personal store is not for a web app"
            )
        providers = {
            name: WebProvider.from_resolved(ResolvedProvider(table))
            for name, table in config.providers.items()
        }
        return cls(providers, store or open_store(config.store), **{**config.web, **options})

    # -- names ----------------------------------------------------------------------------

    def provider(self, name: str) -> WebProvider:
        """The provider ``name``, or a :class:`~oauthkit.errors.ConfigurationError`."""
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigurationError(f"no provider named {name[:60]!r}") from None

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

    # -- begin ----------------------------------------------------------------------------

    def begin(
        self,
        provider: str,
        *,
        request_url: str,
        user: str | None,
        return_to: str | None = "/",
        client_address: str | None = None,
    ) -> Begun:
        """Start a flow for ``user`` (``None``: sign in as the provider's user); RFC 6749
        §4.1.1 with PKCE, state and nonce, or RFC 5849 §2.1-2.2. An anonymous sign-in counts
        against ``client_address``'s share of :attr:`signin_limit`
        (:class:`~oauthkit.errors.TooManySignIns`)."""
        self._limit(user, client_address)
        plan = self._begin(self.provider(provider), request_url, user, return_to)
        return self._drive(plan, self.provider(provider))

    async def abegin(
        self,
        provider: str,
        *,
        request_url: str,
        user: str | None,
        return_to: str | None = "/",
        client_address: str | None = None,
    ) -> Begun:
        """The ``await`` twin of :meth:`begin`."""
        self._limit(user, client_address)
        plan = self._begin(self.provider(provider), request_url, user, return_to)
        return await self._adrive(plan, self.provider(provider))

    def _limit(self, user: str | None, client_address: str | None) -> None:
        if user is None and client_address and self.signin_limit is not None:
            self.signin_limit.take(client_address)

    def _begin(
        self, p: WebProvider, request_url: str, user: str | None, return_to: str | None
    ) -> Plan[Begun]:
        back = safe_return_path(return_to)
        redirect_uri = self.redirect_uri(p.name, request_url)
        secure = redirect_uri.startswith("https:")
        request: dict[str, Any]
        if p.kind == "oauth2":
            client: Any = p.client
            extra = {"response_mode": p.response_mode} if p.response_mode else None
            authorization: AuthorizationRequest = yield from build_authorization_request(
                client.config,
                client._cache,
                scope=p.scope,
                redirect_uri=redirect_uri,
                extra=extra,
                par=p.par,
                jar=p.jar,
            )
            handle, url = _handle("oauth2", authorization.state), authorization.url
            # The URL without its query: the exchange checks the endpoint, not the parameters.
            request = authorization.to_dict() | {"url": url.split("?", 1)[0]}
        else:
            client = p.client
            temporary: TemporaryCredentials = yield from client._request_token_step(
                redirect_uri, {}
            )
            handle, url = _handle("oauth1", temporary.token), client.authorization_url(temporary)
            request = temporary.to_dict()
        name = flow_cookie_name(handle, secure)
        binding = secrets.token_urlsafe(32)
        record = {
            "handle": handle,
            "provider": p.name,
            "user": user,
            "return_to": back,
            "redirect_uri": redirect_uri,
            "expires_at": time.time() + self.pending_seconds,
            "request": request,
        }
        text = json.dumps(record, separators=(",", ":"))
        if self._sealer is not None:
            value = self._sealer.seal(text, name)
        else:
            # Kept encrypted under the state (or request token) and the browser's binding
            # cookie: the store never holds a usable state, verifier, nonce or secret. The
            # provider's name stays readable, so that a mix-up is told as one (RFC 9700 §4.4)
            # even when the cookie (scoped to the right callback) does not come along.
            sealed = _pending_sealer(handle, value_of(p.kind, request), binding).seal(text, handle)
            yield _Put(handle, f"{p.name}\n{sealed}")
            value = binding
        posted = p.response_mode in ("form_post", "form_post.jwt")
        same_site = "None" if secure and posted else "Lax"
        path = "/" if secure else urlsplit(redirect_uri).path
        return Begun(url, Cookie(name, value, path, self.pending_seconds, secure, same_site))

    # -- complete -------------------------------------------------------------------------

    def complete(
        self,
        provider: str,
        *,
        request_url: str,
        params: str | Params,
        cookies: Mapping[str, str],
    ) -> Completed:
        """Check the callback (query or ``form_post`` body, as a mapping or a query string),
        exchange it, learn who signed in, save the token; see the module docstring."""
        p = self.provider(provider)
        return self._drive(self._complete(p, request_url, params, cookies), p)

    async def acomplete(
        self,
        provider: str,
        *,
        request_url: str,
        params: str | Params,
        cookies: Mapping[str, str],
    ) -> Completed:
        """The ``await`` twin of :meth:`complete`."""
        p = self.provider(provider)
        return await self._adrive(self._complete(p, request_url, params, cookies), p)

    def _complete(
        self, p: WebProvider, request_url: str, params: str | Params, cookies: Mapping[str, str]
    ) -> Plan[Completed]:
        fields = parse_callback_parameters(params)
        redirect_uri = self.redirect_uri(p.name, request_url)
        secure = redirect_uri.startswith("https:")
        if p.kind == "oauth2":
            value = fields.get("state")
            if not value and fields.get("response"):  # JARM: the state is inside the JWT
                oauth2: Any = p.client
                value = unverified_state(fields["response"], oauth2.config)
            if not value:
                raise StateMismatch("the callback has no state (RFC 6749 §10.12)")
        else:
            value = fields.get("oauth_token") or fields.get("denied")
            if not value:
                raise TokenMismatch("the callback has no oauth_token (RFC 5849 §2.2)")
        handle = _handle(p.kind, value)
        name = flow_cookie_name(handle, secure)
        if self._sealer is not None:
            sealed = cookies.get(name)
            text = self._sealer.open(sealed, name) if sealed else None
            if text is None:
                raise BrowserMismatch(
                    "this browser holds no flow for this callback (its cookie is missing or "
                    "not ours): begun in another browser, cookies blocked, or forged"
                )
        else:
            taken = yield _Take(handle)
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
        record = json.loads(text)
        if record.get("handle") != handle:
            raise BrowserMismatch("the flow cookie belongs to another sign-in")
        if record["expires_at"] <= time.time():
            raise FlowExpired(
                f"this sign-in was begun more than {self.pending_seconds // 60} minutes ago; "
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
            client: Any = p.client
            request = AuthorizationRequest.from_dict(record["request"])
            if is_jwt_response_mode(request.response_mode):  # JARM: verified before use
                fields = yield from response_parameters(
                    client.config, client._cache, request, fields
                )
            code = validate_callback(request, fields)
            credentials = yield from grants.exchange_code(client.config, client._cache, code)
        else:
            client = p.client
            temporary = TemporaryCredentials.from_dict(record["request"])
            verifier = oauth1_flow.parse_callback(temporary, fields)
            credentials = yield from client._access_token_step(temporary, verifier)
        # A sign-in keys its user on the provider's immutable account id (OIDC Core §5.7),
        # asked for when the answer does not carry it; never on a name or an e-mail.
        identity = yield from identity_step(p, credentials, ask=user is None)
        if user is None:
            assert identity is not None
            user = f"{p.name}:{identity.id}"
        key = self.key_for(p.name, user)
        yield _Save(p.name, key, credentials)
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

    # -- CIBA in ping mode -----------------------------------------------------------------

    def begin_backchannel(
        self, provider: str, *, user: str, **params: Any
    ) -> ciba.BackchannelAuthentication:
        """CIBA Core §7.1 in ping mode for the app's ``user``: the provider authenticates
        them on their own device (``login_hint=`` or another hint, ``binding_message=``, …
        as for :meth:`oauthkit.OAuth2Client.backchannel_authentication`). Its notification
        comes to :meth:`backchannel_notification` (the adapters' ``POST
        /backchannel/<provider>``, registered as the client's
        ``backchannel_client_notification_endpoint``), in any worker: the request waits in
        the store, under a hash of its ``auth_req_id`` and ``client_notification_token``,
        until then or its expiry."""
        p = self.provider(provider)
        return self._drive(self._begin_backchannel(p, user, params), p)

    async def abegin_backchannel(
        self, provider: str, *, user: str, **params: Any
    ) -> ciba.BackchannelAuthentication:
        """The ``await`` twin of :meth:`begin_backchannel`."""
        p = self.provider(provider)
        return await self._adrive(self._begin_backchannel(p, user, params), p)

    def backchannel_notification(
        self, provider: str, *, authorization: str | None, body: bytes | str
    ) -> Notified:
        """CIBA Core §10.2: the provider's ping — ``authorization`` is its ``Authorization``
        header, ``body`` its JSON ``{"auth_req_id": …}``. Only the bearer token this flow
        sent for that request finds it (:class:`~oauthkit.errors.NotificationRefused`
        otherwise, which leaves the request waiting); then the token request, once, and the
        token saved under the user's key. After a denial or an expiry the provider pings
        too: the token request then raises its error (``AccessDenied``, ``ExpiredToken``)."""
        p = self.provider(provider)
        return self._drive(self._notified(p, authorization, body), p)

    async def abackchannel_notification(
        self, provider: str, *, authorization: str | None, body: bytes | str
    ) -> Notified:
        """The ``await`` twin of :meth:`backchannel_notification`."""
        p = self.provider(provider)
        return await self._adrive(self._notified(p, authorization, body), p)

    def _begin_backchannel(
        self, p: WebProvider, user: str, params: Mapping[str, Any]
    ) -> Plan[ciba.BackchannelAuthentication]:
        if p.kind != "oauth2":
            raise ConfigurationError(f"{p.name} is an OAuth 1.0a provider: it has no CIBA")
        if "ping" in params:
            raise ConfigurationError("begin_backchannel always asks for ping mode")
        client: Any = p.client
        request: ciba.BackchannelAuthentication = yield from ciba.backchannel_authentication(
            client.config, client._cache, ping=True, **params
        )
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
        yield _Put(handle, _pending_sealer(handle, secret, "").seal(text, handle), ttl)
        return request

    def _notified(
        self, p: WebProvider, authorization: str | None, body: bytes | str
    ) -> Plan[Notified]:
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
        sealed = yield _Take(handle)
        text = _pending_sealer(handle, secret, "").open(sealed, handle) if sealed else None
        if text is None:
            raise NotificationRefused(
                "no backchannel request waits for this notification: a wrong bearer token, "
                "an unknown auth_req_id, or answered already (CIBA Core §10.2)"
            )
        record = json.loads(text)
        if record["provider"] != p.name:
            raise ProviderMismatch(
                f"this notification is for a request made with {record['provider']!r}, not "
                f"{p.name!r}"
            )
        request = ciba.BackchannelAuthentication(
            auth_req_id=auth_req_id,
            expires_at=datetime.fromtimestamp(record["expires_at"], UTC),
            interval=record["interval"],
            scope=record["scope"],
            client_notification_token=bearer,
        )
        client: Any = p.client
        token: Token = yield from ciba.token_after_ping(client.config, client._cache, request)
        key = self.key_for(p.name, record["user"])
        yield _Save(p.name, key, token)
        return Notified(provider=p.name, user=record["user"], key=key, token=token)

    # -- the drivers ----------------------------------------------------------------------

    def _drive(self, plan: Plan[T], p: WebProvider) -> T:
        answer: Any = None
        while True:
            try:
                op = plan.send(answer)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(op, HttpRequest):
                answer = run(fetch(op), _sync_http(p))
            elif isinstance(op, Wait):
                time.sleep(op.seconds)
                answer = None
            elif isinstance(op, _Put):
                ttl = op.ttl or self.pending_seconds
                self._pending().put_pending(op.handle, op.record, ttl=ttl)
                answer = None
            elif isinstance(op, _Take):
                answer = self._pending().take_pending(op.handle)
            else:
                self._save(op)
                answer = None

    async def _adrive(self, plan: Plan[T], p: WebProvider) -> T:
        answer: Any = None
        while True:
            try:
                op = plan.send(answer)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(op, HttpRequest):
                answer = await _asend(p, op)
            elif isinstance(op, Wait):
                await anyio.sleep(op.seconds)
                answer = None
            elif isinstance(op, _Put):
                ttl = op.ttl or self.pending_seconds
                await self._pending().aput_pending(op.handle, op.record, ttl=ttl)
                answer = None
            elif isinstance(op, _Take):
                answer = await self._pending().atake_pending(op.handle)
            else:
                await self._asave(op)
                answer = None

    def _pending(self) -> PendingFlows:
        store: Any = self.store
        if not hasattr(store, "take_pending"):
            raise ConfigurationError(
                f"{store!r} cannot keep pending web flows: use SQLiteStore, RedisStore or "
                "SQLAlchemyStore, or pass cookie_key= to seal them into a cookie"
            )
        return store  # type: ignore[no-any-return]

    def _save(self, op: _Save) -> None:
        if isinstance(op.value, Token):
            self.session(op.provider, key=op.key).save(op.value)
        else:
            self.store.put(op.key, op.value)
        if self.on_token is not None:
            self.on_token(op.key, op.value)

    async def _asave(self, op: _Save) -> None:
        if isinstance(op.value, Token):
            await self.session(op.provider, key=op.key).asave(op.value)
        else:
            await self.store.aput(op.key, op.value)
        if self.on_token is not None:
            self.on_token(op.key, op.value)

    # -- the user's tokens ----------------------------------------------------------------

    def session(self, provider: str, user: str | None = None, *, key: str | None = None) -> Session:
        """The :class:`~oauthkit.Session` of ``user``'s OAuth 2 token at ``provider``:
        renewed once per expiry across every worker that shares the store.

        A new one each call, which reads the token from the store on first use: the store
        is the one truth every worker shares, so a token saved by another worker (a new
        connect) is the one used next — a session kept across requests would go on sending
        the token it holds in memory."""
        p = self.provider(provider)
        if p.kind != "oauth2":
            raise ConfigurationError(f"{provider} is an OAuth 1.0a provider: use auth()")
        if key is None:
            if user is None:
                raise ConfigurationError("session() needs the user (or the key)")
            key = self.key_for(provider, user)
        return Session(p.client, self.store, key)  # type: ignore[arg-type]

    def identity(self, provider: str, user: str) -> Identity:
        """Who the credentials stored for ``user`` at ``provider`` belong to, asked of the
        provider (its ID token's claims when the stored token has them): the immutable id
        a sign-in keys its user on. For a migration from names to ids, and for linking an
        account the user connected (see the security notes)."""
        p = self.provider(provider)
        stored = self.store.get(self.key_for(provider, user))
        if isinstance(stored, Token):
            stored = self.session(provider, user).token()  # renewed first when due
        return self._drive(self._identity(p, stored), p)

    async def aidentity(self, provider: str, user: str) -> Identity:
        """The ``await`` twin of :meth:`identity`."""
        p = self.provider(provider)
        stored = await self.store.aget(self.key_for(provider, user))
        if isinstance(stored, Token):
            stored = await self.session(provider, user).atoken()
        return await self._adrive(self._identity(p, stored), p)

    def _identity(self, p: WebProvider, stored: object) -> Plan[Identity]:
        if not isinstance(stored, Token | OAuth1Credentials):
            raise ReauthenticationRequired(f"not connected to {p.name}")
        found = yield from identity_step(p, stored)
        assert found is not None
        return found

    def auth(self, provider: str, user: str) -> httpx2.Auth:
        """An ``httpx2.Auth`` (sync and async) for ``user`` at ``provider``: the session's
        for OAuth 2, signing for OAuth 1.0a; :class:`~oauthkit.errors.ReauthenticationRequired`
        when nothing is stored."""
        p = self.provider(provider)
        if p.kind == "oauth2":
            return self.session(provider, user).auth()
        return self._oauth1_auth(p, self.store.get(self.key_for(provider, user)))

    async def aauth(self, provider: str, user: str) -> httpx2.Auth:
        """The ``await`` twin of :meth:`auth` (reads the store without blocking the loop)."""
        p = self.provider(provider)
        if p.kind == "oauth2":
            return self.session(provider, user).auth()
        return self._oauth1_auth(p, await self.store.aget(self.key_for(provider, user)))

    def _oauth1_auth(self, p: WebProvider, stored: object) -> httpx2.Auth:
        if not isinstance(stored, OAuth1Credentials):
            raise ReauthenticationRequired(f"not connected to {p.name}")
        client: Any = p.client
        return client.auth(stored)  # type: ignore[no-any-return]

    def connections(self, user: str) -> dict[str, Connection]:
        """Each provider ``user`` holds credentials for: ``"connected"``, or ``"reconnect"``
        when they cannot be used again without a new sign-in (the provider refused the
        refresh token; an expired token with none)."""
        found = {n: self.store.get(self.key_for(n, user)) for n in self.providers}
        return {n: _state(self.providers[n], v) for n, v in found.items() if v is not None}

    async def aconnections(self, user: str) -> dict[str, Connection]:
        """The ``await`` twin of :meth:`connections`."""
        found = {n: await self.store.aget(self.key_for(n, user)) for n in self.providers}
        return {n: _state(self.providers[n], v) for n, v in found.items() if v is not None}

    def connected(self, user: str) -> list[str]:
        """The providers ``user`` is connected to (whose credentials still work)."""
        return [n for n, state in self.connections(user).items() if state == "connected"]

    async def aconnected(self, user: str) -> list[str]:
        """The ``await`` twin of :meth:`connected`."""
        states = await self.aconnections(user)
        return [n for n, state in states.items() if state == "connected"]

    def api_url(self, provider: str, path: str) -> str:
        """``path`` under the provider's ``api_base``, normalized as the server will read it
        (RFC 3986 §5.2.4 after decoding ``%2E``); anything that leaves it (``..``, ``%2e%2e``,
        a backslash, another host) is a :class:`~oauthkit.errors.ConfigurationError`."""
        base = self.provider(provider).api_base
        if not base:
            raise ConfigurationError(f"{provider} has no api_base")
        base = base if base.endswith("/") else base + "/"
        url = under(urljoin(base, path.lstrip("/")), base) if "\\" not in path else None
        if url is None:
            raise ConfigurationError(f"{path[:80]!r} is outside {provider}'s api_base")
        return url

    def api(self, provider: str, user: str, path: str, method: str = "GET") -> httpx2.Response:
        """``method`` ``path`` (under ``api_base``) with ``user``'s credentials, renewed
        first when due."""
        if self._http is None:
            self._http = new_http(httpx2.Client)
        url = self.api_url(provider, path)
        return _sent(lambda: self._http.request(method, url, auth=self.auth(provider, user)))  # type: ignore[union-attr]

    async def aapi(
        self, provider: str, user: str, path: str, method: str = "GET"
    ) -> httpx2.Response:
        """The ``await`` twin of :meth:`api`."""
        if self._ahttp is None:
            self._ahttp = new_http(httpx2.AsyncClient)
        url = self.api_url(provider, path)
        auth = await self.aauth(provider, user)
        try:
            return await self._ahttp.request(method, url, auth=auth)
        except httpx2.RequestError as exc:
            from ..drivers import transport_error

            raise transport_error(exc, method, url) from exc

    def disconnect(self, provider: str, user: str) -> None:
        """Revoke ``user``'s token where the provider supports it (RFC 7009), then forget it
        (a failed revocation is logged; the token is forgotten all the same)."""
        p = self.provider(provider)
        key = self.key_for(provider, user)
        stored = self.store.get(key)
        if isinstance(stored, Token):
            try:
                self._drive(self._revoke(p, stored), p)
            except OAuthKitError as exc:
                log.warning("revoking %r at %s failed: %s", key, provider, exc)
        self.store.delete(key)

    async def adisconnect(self, provider: str, user: str) -> None:
        """The ``await`` twin of :meth:`disconnect`."""
        p = self.provider(provider)
        key = self.key_for(provider, user)
        stored = await self.store.aget(key)
        if isinstance(stored, Token):
            try:
                await self._adrive(self._revoke(p, stored), p)
            except OAuthKitError as exc:
                log.warning("revoking %r at %s failed: %s", key, provider, exc)
        await self.store.adelete(key)

    def _revoke(self, p: WebProvider, token: Token) -> Plan[None]:
        client: Any = p.client
        metadata = yield from server_metadata(client.config, client._cache)
        if metadata.endpoints.get("revocation_endpoint"):
            yield from token_management.revoke(client.config, client._cache, token)

    def close(self) -> None:
        """Close the HTTP client of :meth:`api`."""
        if self._http is not None:
            self._http.close()

    def __repr__(self) -> str:
        return f"WebFlow(providers={sorted(self.providers)!r}, store={self.store!r})"


def _state(provider: WebProvider, stored: object) -> Connection:
    if isinstance(stored, Token):
        if refused_at(stored) is not None:
            return "reconnect"
        client: Any = provider.client
        if stored.is_expired() and not client._can_renew(stored):
            return "reconnect"
    return "connected"


def _sync_http(p: WebProvider) -> httpx2.Client:
    http = p.client.http
    if isinstance(http, httpx2.Client):
        return http
    raise ConfigurationError(
        f"{p.name}'s client is async: use the await twins (abegin, acomplete, …)"
    )


async def _asend(p: WebProvider, request: HttpRequest) -> HttpResponse:
    http = p.client.http
    if isinstance(http, httpx2.AsyncClient):
        return await arun(fetch(request), http)
    return await anyio.to_thread.run_sync(run, fetch(request), http)


def _sent(send: Callable[[], httpx2.Response]) -> httpx2.Response:
    try:
        return send()
    except httpx2.RequestError as exc:
        from ..drivers import transport_error

        raise transport_error(exc, exc.request.method, str(exc.request.url)) from exc
