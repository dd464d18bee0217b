"""The web flow, framework-neutral: *begin* sends the user to the provider, *complete* takes
the callback back, and the user's tokens live in the store under their key.

::

    flow = WebFlow({"github": OAuth2Client.from_preset("github", ID, SECRET)}, store)
    begun = flow.begin("github", request_url=url, user="42")          # → redirect + cookie
    done = flow.complete("github", request_url=url, params=query, cookies=cookies)
    done.key, done.token, done.identity, done.return_to                # saved already

The steps are written once, as plans (:mod:`oauthkit.web.plans`: what is checked, kept
and sent, and why); :class:`WebFlow` drives them, sync or async, over the providers' HTTP
clients and the store, and holds the users' credentials
(:class:`~oauthkit.web.accounts.Accounts`: their sessions, who they belong to, requests with
them, disconnecting). A :class:`Completed` flow's token is saved under
``key.format(user=…, provider=…)`` before it is returned, and from then on renewed once per
expiry by every worker that shares the store (:class:`~oauthkit.Session`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import telemetry
from ..errors import ConfigurationError, OAuthKitError
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2 import ciba
from ..protocol.oauth2.token import Token
from ..stores.base import TokenStore
from . import plans
from .accounts import Accounts, Connection
from .cookies import Sealer
from .limits import SignInLimit
from .plans import PENDING_SECONDS, Begun, Completed, Notified, Params, Settings
from .providers import WebProvider

__all__ = ["Connection", "WebFlow"]


class WebFlow(Accounts):
    """Begin and complete sign-ins for a web application; see the module docstring.

    ``providers`` maps a route name to a :class:`~oauthkit.web.providers.WebProvider` or a
    client (OAuth 2 or OAuth 1.0a). ``store`` keeps the tokens and the pending flows: the
    app names it (:class:`~oauthkit.stores.SQLiteStore` with a path of the app's,
    :class:`~oauthkit.stores.RedisStore`, :class:`~oauthkit.stores.SQLAlchemyStore`, the
    Django store; :class:`~oauthkit.stores.MemoryStore` only for one process). Without a
    store that can keep pending flows, ``cookie_key=`` seals them into the flow's cookie
    (AES-GCM; bound to the browser, but not single-use). ``base_url`` fixes the site's
    origin (behind a proxy); without it the callback URL is the request's origin +
    ``callback_path``. ``key`` names each user's token. ``on_token(key, token)`` learns of
    every token a flow saves. ``signin_limit`` bounds the anonymous sign-ins one client
    address may begin (:class:`~oauthkit.web.limits.SignInLimit`; ``False``: none).
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
        providers_ = {
            name: p if isinstance(p, WebProvider) else WebProvider.of(name, p)
            for name, p in providers.items()
        }
        settings = Settings(
            callback_path=callback_path,
            key_template=key,
            pending_seconds=pending_seconds,
            base_url=base_url.rstrip("/") if base_url else None,
            sealer=Sealer(cookie_key) if cookie_key is not None else None,
        )
        super().__init__(providers_, store, settings, on_token)
        if signin_limit is True:
            signin_limit = SignInLimit()
        self.signin_limit = signin_limit or None

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

        from ..config.factories import open_store
        from ..config.file import load_config
        from ..config.provider import ResolvedProvider

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
        return cls(
            providers,
            store or open_store(config.store, keys_env=config.store_keys_env),
            **{**config.web, **options},
        )

    # -- names ----------------------------------------------------------------------------

    def key_for(self, provider: str, user: str) -> str:
        """The store key of ``user``'s token at ``provider``."""
        return self.settings.key_for(provider, user)

    def redirect_uri(self, provider: str, request_url: str) -> str:
        """The callback URL of ``provider`` (:meth:`Settings.redirect_uri
        <oauthkit.web.plans.Settings.redirect_uri>`)."""
        return self.settings.redirect_uri(provider, request_url)

    # -- begin and complete ---------------------------------------------------------------

    def begin(
        self,
        provider: str,
        *,
        request_url: str,
        user: str | None,
        return_to: str | None = "/",
        client_address: str | None = None,
        step_up: Mapping[str, str] | None = None,
    ) -> Begun:
        """Start a flow for ``user`` (``None``: sign in as the provider's user); RFC 6749
        §4.1.1 with PKCE, state and nonce, or RFC 5849 §2.1-2.2 (:func:`plans.begin
        <oauthkit.web.plans.begin>`). An anonymous sign-in counts against
        ``client_address``'s share of :attr:`signin_limit`
        (:class:`~oauthkit.errors.TooManySignIns`). ``step_up`` (``acr_values``,
        ``max_age``) asks for the stronger or more recent sign-in a resource wanted
        (RFC 9470 §4)."""
        self._limit(user, client_address)
        p = self.provider(provider)
        plan = plans.begin(self.settings, p, request_url, user, return_to, step_up)
        return self._drive(plan, p)

    async def abegin(
        self,
        provider: str,
        *,
        request_url: str,
        user: str | None,
        return_to: str | None = "/",
        client_address: str | None = None,
        step_up: Mapping[str, str] | None = None,
    ) -> Begun:
        """The ``await`` twin of :meth:`begin`."""
        self._limit(user, client_address)
        p = self.provider(provider)
        plan = plans.begin(self.settings, p, request_url, user, return_to, step_up)
        return await self._adrive(plan, p)

    def _limit(self, user: str | None, client_address: str | None) -> None:
        if user is None and client_address and self.signin_limit is not None:
            self.signin_limit.take(client_address)

    def complete(
        self,
        provider: str,
        *,
        request_url: str,
        params: str | Params,
        cookies: Mapping[str, str],
    ) -> Completed:
        """Check the callback (query or ``form_post`` body, as a mapping or a query string),
        exchange it, learn who signed in, save the token (:func:`plans.complete
        <oauthkit.web.plans.complete>`: every check, and the typed error of each)."""
        p = self.provider(provider)
        with _traced(p):
            return self._drive(plans.complete(self.settings, p, request_url, params, cookies), p)

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
        with _traced(p):
            plan = plans.complete(self.settings, p, request_url, params, cookies)
            return await self._adrive(plan, p)

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
        return self._drive(plans.begin_backchannel(p, user, params), p)

    async def abegin_backchannel(
        self, provider: str, *, user: str, **params: Any
    ) -> ciba.BackchannelAuthentication:
        """The ``await`` twin of :meth:`begin_backchannel`."""
        p = self.provider(provider)
        return await self._adrive(plans.begin_backchannel(p, user, params), p)

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
        return self._drive(plans.notified(self.settings, p, authorization, body), p)

    async def abackchannel_notification(
        self, provider: str, *, authorization: str | None, body: bytes | str
    ) -> Notified:
        """The ``await`` twin of :meth:`backchannel_notification`."""
        p = self.provider(provider)
        return await self._adrive(plans.notified(self.settings, p, authorization, body), p)


@contextlib.contextmanager
def _traced(p: WebProvider) -> Iterator[None]:
    """The span of a callback (:mod:`oauthkit.telemetry`): its provider and its outcome,
    ``completed`` or the class of the error that ended it."""
    with telemetry.span("oauthkit callback", {"oauthkit.provider": p.name}) as span:
        try:
            yield
        except OAuthKitError as exc:
            span.set_attribute("oauthkit.outcome", type(exc).__name__)
            raise
        span.set_attribute("oauthkit.outcome", "completed")
