"""A web app's users' credentials at its providers, kept in the app's store under each user's
key: the :class:`~oauthkit.Session` that renews a token once per expiry across workers, who
they belong to, what state they are in, requests with them, and disconnecting. The base of
:class:`~oauthkit.web.WebFlow`, which adds the flows that obtain them; it drives the web
plans (:mod:`oauthkit.web.plans`) over the providers' HTTP clients and the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin

import anyio
import anyio.to_thread
import httpx2

from ..clients._lifecycle import new_http
from ..drivers import adrive, asend, drive, send, transport_error
from ..errors import ConfigurationError, OAuthKitError, ReauthenticationRequired
from ..protocol.http import HttpRequest, HttpResponse, Wait
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2.token import Token
from ..protocol.url_policy import under
from ..providers.identity import Identity
from ..session import Session, refused_at
from ..stores.base import PendingFlows, TokenStore
from . import plans
from .plans import Plan, Put, Save, Settings, Take
from .providers import WebProvider

__all__ = ["Accounts", "Connection"]

log = logging.getLogger("oauthkit.web")
T = TypeVar("T")
#: What :meth:`Accounts.connections` says of a provider a user holds credentials for.
Connection = Literal["connected", "reconnect"]
OnToken = Callable[[str, Token | OAuth1Credentials], None]


class Accounts:
    """The credentials of the app's users at ``providers``, in ``store`` under
    ``settings.key_for(provider, user)``; ``on_token(key, token)`` learns of every one a
    plan saves."""

    def __init__(
        self,
        providers: Mapping[str, WebProvider],
        store: TokenStore,
        settings: Settings,
        on_token: OnToken | None = None,
    ) -> None:
        self.providers = dict(providers)
        self.store = store
        self.settings = settings
        self.on_token = on_token
        self._http: httpx2.Client | None = None
        self._ahttp: httpx2.AsyncClient | None = None

    def provider(self, name: str) -> WebProvider:
        """The provider ``name``, or a :class:`~oauthkit.errors.ConfigurationError`."""
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigurationError(f"no provider named {name[:60]!r}") from None

    # -- the plan loops --------------------------------------------------------------------

    def _drive(self, plan: Plan[T], p: WebProvider) -> T:
        http = p.client.http
        if not isinstance(http, httpx2.Client):
            raise ConfigurationError(
                f"{p.name}'s client is async: use the await twins (abegin, acomplete, …)"
            )

        def handle(op: Any) -> Any:
            if isinstance(op, HttpRequest):
                return send(http, op)
            if isinstance(op, Wait):
                time.sleep(op.seconds)
            elif isinstance(op, Put):
                ttl = op.ttl or self.settings.pending_seconds
                self._pending().put_pending(op.handle, op.record, ttl=ttl)
            elif isinstance(op, Take):
                return self._pending().take_pending(op.handle)
            else:
                self._save(op)
            return None

        return drive(plan, handle)

    async def _adrive(self, plan: Plan[T], p: WebProvider) -> T:
        http = p.client.http

        async def handle(op: Any) -> Any:
            if isinstance(op, HttpRequest):
                return await _asend(http, op)
            if isinstance(op, Wait):
                await anyio.sleep(op.seconds)
            elif isinstance(op, Put):
                ttl = op.ttl or self.settings.pending_seconds
                await self._pending().aput_pending(op.handle, op.record, ttl=ttl)
            elif isinstance(op, Take):
                return await self._pending().atake_pending(op.handle)
            else:
                await self._asave(op)
            return None

        return await adrive(plan, handle)

    def _pending(self) -> PendingFlows:
        store: Any = self.store
        if not hasattr(store, "take_pending"):
            raise ConfigurationError(
                f"{store!r} cannot keep pending web flows: use SQLiteStore, RedisStore or "
                "SQLAlchemyStore, or pass cookie_key= to seal them into a cookie"
            )
        return store  # type: ignore[no-any-return]

    def _save(self, op: Save) -> None:
        if isinstance(op.value, Token):
            self.session(op.provider, key=op.key).save(op.value)
        else:
            self.store.put(op.key, op.value)
        if self.on_token is not None:
            self.on_token(op.key, op.value)

    async def _asave(self, op: Save) -> None:
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
            key = self.settings.key_for(provider, user)
        return Session(p.client, self.store, key)  # type: ignore[arg-type]

    def identity(self, provider: str, user: str) -> Identity:
        """Who the credentials stored for ``user`` at ``provider`` belong to, asked of the
        provider (its ID token's claims when the stored token has them): the immutable id
        a sign-in keys its user on. For a migration from names to ids, and for linking an
        account the user connected (see the security notes)."""
        p = self.provider(provider)
        stored = self.store.get(self.settings.key_for(provider, user))
        if isinstance(stored, Token):
            stored = self.session(provider, user).token()  # renewed first when due
        return self._drive(plans.identity(p, stored), p)

    async def aidentity(self, provider: str, user: str) -> Identity:
        """The ``await`` twin of :meth:`identity`."""
        p = self.provider(provider)
        stored = await self.store.aget(self.settings.key_for(provider, user))
        if isinstance(stored, Token):
            stored = await self.session(provider, user).atoken()
        return await self._adrive(plans.identity(p, stored), p)

    def auth(self, provider: str, user: str) -> httpx2.Auth:
        """An ``httpx2.Auth`` (sync and async) for ``user`` at ``provider``: the session's
        for OAuth 2, signing for OAuth 1.0a; :class:`~oauthkit.errors.ReauthenticationRequired`
        when nothing is stored."""
        p = self.provider(provider)
        if p.kind == "oauth2":
            return self.session(provider, user).auth()
        return self._oauth1_auth(p, self.store.get(self.settings.key_for(provider, user)))

    async def aauth(self, provider: str, user: str) -> httpx2.Auth:
        """The ``await`` twin of :meth:`auth` (reads the store without blocking the loop)."""
        p = self.provider(provider)
        if p.kind == "oauth2":
            return self.session(provider, user).auth()
        return self._oauth1_auth(p, await self.store.aget(self.settings.key_for(provider, user)))

    def _oauth1_auth(self, p: WebProvider, stored: object) -> httpx2.Auth:
        if not isinstance(stored, OAuth1Credentials):
            raise ReauthenticationRequired(f"not connected to {p.name}")
        return p.oauth1.auth(stored)

    def connections(self, user: str) -> dict[str, Connection]:
        """Each provider ``user`` holds credentials for: ``"connected"``, or ``"reconnect"``
        when they cannot be used again without a new sign-in (the provider refused the
        refresh token; an expired token with none)."""
        found = {n: self.store.get(self.settings.key_for(n, user)) for n in self.providers}
        return {n: _state(self.providers[n], v) for n, v in found.items() if v is not None}

    async def aconnections(self, user: str) -> dict[str, Connection]:
        """The ``await`` twin of :meth:`connections`."""
        found = {n: await self.store.aget(self.settings.key_for(n, user)) for n in self.providers}
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
        auth = self.auth(provider, user)
        try:
            return self._http.request(method, url, auth=auth)
        except httpx2.RequestError as exc:
            raise transport_error(exc, method, url) from exc

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
            raise transport_error(exc, method, url) from exc

    def disconnect(self, provider: str, user: str) -> None:
        """Revoke ``user``'s token where the provider supports it (RFC 7009), then forget it
        (a failed revocation is logged; the token is forgotten all the same)."""
        p = self.provider(provider)
        key = self.settings.key_for(provider, user)
        stored = self.store.get(key)
        if isinstance(stored, Token):
            try:
                self._drive(plans.revoke(p, stored), p)
            except OAuthKitError as exc:
                log.warning("revoking %r at %s failed: %s", key, provider, exc)
        self.store.delete(key)

    async def adisconnect(self, provider: str, user: str) -> None:
        """The ``await`` twin of :meth:`disconnect`."""
        p = self.provider(provider)
        key = self.settings.key_for(provider, user)
        stored = await self.store.aget(key)
        if isinstance(stored, Token):
            try:
                await self._adrive(plans.revoke(p, stored), p)
            except OAuthKitError as exc:
                log.warning("revoking %r at %s failed: %s", key, provider, exc)
        await self.store.adelete(key)

    def close(self) -> None:
        """Close the HTTP client of :meth:`api`."""
        if self._http is not None:
            self._http.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(providers={sorted(self.providers)!r}, store={self.store!r})"


def _state(provider: WebProvider, stored: object) -> Connection:
    if isinstance(stored, Token):
        if refused_at(stored) is not None:
            return "reconnect"
        if stored.is_expired() and not provider.oauth2.can_renew(stored):
            return "reconnect"
    return "connected"


async def _asend(http: httpx2.Client | httpx2.AsyncClient, request: HttpRequest) -> HttpResponse:
    if isinstance(http, httpx2.AsyncClient):
        return await asend(http, request)
    return await anyio.to_thread.run_sync(send, http, request)
