"""``OAuth2Client`` and ``AsyncOAuth2Client``: every OAuth 2 grant as a thin shell over the
steps in :mod:`oauthkit.protocol.oauth2`."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx2

from ..auth.oauth2 import OAuth2Auth
from ..drivers import ABeforeSend, BeforeSend, arun, run
from ..errors import ConfigurationError
from ..protocol.http import HttpRequest, Step
from ..protocol.oauth2 import ciba, fapi
from ..protocol.oauth2.authorization import (
    AuthorizationCode,
    AuthorizationRequest,
)
from ..protocol.oauth2.client_auth import ClientAuth, load_private_key
from ..protocol.oauth2.config import ClientConfig
from ..protocol.oauth2.device import DeviceAuthorization
from ..protocol.oauth2.hooks import Hook
from ..protocol.oauth2.metadata import ServerMetadata
from ..protocol.oauth2.server import MetadataCache
from ..protocol.oauth2.token import Token
from ..protocol.retry import DEFAULT_RETRY, Retry
from ._lifecycle import AsyncLifecycle, SyncLifecycle, new_http
from ._presets import MadeFromPreset
from .steps import Callback, OAuth2Steps

__all__ = ["AsyncOAuth2Client", "OAuth2Client"]

TLS_AUTH_METHODS = ("tls_client_auth", "self_signed_tls_client_auth")
H = TypeVar("H", httpx2.Client, httpx2.AsyncClient)
T = TypeVar("T")


def _tls_context(cert: tuple[str, str] | str | None) -> ssl.SSLContext | bool:
    if cert is None:
        return True
    context = ssl.create_default_context()
    if isinstance(cert, str):
        context.load_cert_chain(cert)
    else:
        context.load_cert_chain(*cert)
    return context


class _OAuth2Base(MadeFromPreset, Generic[H]):
    """Configuration and the pure parts, shared by both clients; each method builds a step."""

    _http_class: ClassVar[type[Any]]

    def __init__(
        self,
        client_id: str,
        client_secret: str | None = None,
        *,
        private_key: Any = None,
        auth_method: str | None = None,
        issuer: str | None = None,
        authorization_endpoint: str | None = None,
        token_endpoint: str | None = None,
        device_authorization_endpoint: str | None = None,
        revocation_endpoint: str | None = None,
        introspection_endpoint: str | None = None,
        userinfo_endpoint: str | None = None,
        redirect_uri: str | None = None,
        scope: str | None = None,
        pkce: Literal["S256", "plain"] = "S256",
        insecure_no_pkce: bool = False,
        basic_encoding: Literal["form", "raw"] = "form",
        assertion_alg: str | None = None,
        tls_client_cert: tuple[str, str] | str | None = None,
        allow_insecure_http: bool = False,
        allow_private_endpoints: bool = False,
        clock: Callable[[], float] = time.time,
        http: H | None = None,
        hooks: Sequence[Hook] = (),
        dpop: bool | Literal["ES256", "EdDSA"] = False,
        resource: str | None = None,
        profile: Literal["fapi2", "fapi2-message-signing"] | None = None,
        decryption_key: Any = None,
        metadata: ServerMetadata | None = None,
        retry: Retry | None = DEFAULT_RETRY,
    ) -> None:
        if auth_method is None:
            auth_method = (
                "client_secret_basic"
                if client_secret
                else "private_key_jwt"
                if private_key is not None
                else "tls_client_auth"
                if tls_client_cert is not None
                else "none"
            )
        if auth_method in TLS_AUTH_METHODS and (tls_client_cert is None and http is None):
            raise ConfigurationError(
                f"{auth_method} needs tls_client_cert=(certfile, keyfile), or an http client "
                "configured with the certificate"
            )
        endpoints = {
            name: url
            for name, url in (
                ("authorization_endpoint", authorization_endpoint),
                ("token_endpoint", token_endpoint),
                ("device_authorization_endpoint", device_authorization_endpoint),
                ("revocation_endpoint", revocation_endpoint),
                ("introspection_endpoint", introspection_endpoint),
                ("userinfo_endpoint", userinfo_endpoint),
            )
            if url is not None
        }
        if issuer is None and not endpoints:
            raise ConfigurationError("give issuer= (discovery) or the endpoints to use")
        if profile is not None and assertion_alg is None and private_key is not None:
            assertion_alg = fapi.signing_alg(load_private_key(private_key))  # PS256 for RSA
        self.config = ClientConfig(
            auth=ClientAuth(
                client_id=client_id,
                method=auth_method,
                client_secret=client_secret,
                private_key=private_key,
                assertion_alg=assertion_alg,
                basic_encoding=basic_encoding,
            ),
            issuer=issuer,
            endpoints=endpoints,
            redirect_uri=redirect_uri,
            scope=scope,
            pkce=None if insecure_no_pkce else pkce,
            allow_insecure_http=allow_insecure_http,
            allow_private_endpoints=allow_private_endpoints,
            clock=clock,
            hooks=tuple(hooks),
            dpop=("ES256" if dpop is True else dpop or None),
            resource=resource,
            mtls=tls_client_cert is not None or auth_method in TLS_AUTH_METHODS,
            profile=profile,
            decryption_key=(
                None
                if decryption_key is None
                else load_private_key(decryption_key, "decryption_key")
            ),
            retry=retry,
        )
        if profile is not None:
            fapi.check_config(self.config)  # refused when made, not at the first request
        #: Every operation as a protocol step (:class:`~oauthkit.clients.steps.OAuth2Steps`):
        #: what the methods below run, and what a web flow or a custom driver runs itself.
        self.steps = OAuth2Steps(self.config, MetadataCache(metadata))
        self._verify = _tls_context(tls_client_cert)
        self._owns_http = http is None
        self.http: H = http if http is not None else new_http(self._http_class, verify=self._verify)

    @property
    def client_id(self) -> str:
        """The client identifier (RFC 6749 §2.2)."""
        return self.config.auth.client_id

    @classmethod
    def from_preset(
        cls,
        name: str,
        client_id: str,
        client_secret: str | None = None,
        **options: Any,
    ) -> Self:
        """A client for a provider preset (``oauthkit.providers``): its endpoints, scopes,
        client authentication and quirk hooks. ``options`` are the preset's own (a tenant, a
        self-hosted base URL) and any keyword argument of the constructor, which wins."""
        from ._presets import preset_arguments

        arguments = preset_arguments(cls, name, client_secret, options)
        client = cls(client_id, client_secret, **arguments)
        client._remember(name, options)
        return client

    def _sync_http(self) -> httpx2.Client:
        """The synchronous HTTP client the user configured. An async client has none: a
        renewal from sync code (a sync ``httpx2.Client`` with its auth, ``Session.token()``)
        would have to go through a new client without the user's transport, proxies,
        timeouts or certificate, so it is refused."""
        if isinstance(self.http, httpx2.Client):
            return self.http
        raise ConfigurationError(
            "an AsyncOAuth2Client renews tokens with await, through its httpx2.AsyncClient; "
            "from sync code (a sync httpx2.Client, Session.token()) use an OAuth2Client, or "
            "await the async twin (an httpx2.AsyncClient, Session.atoken())"
        )

    def _run_sync(self, step: Step[T], before_send: BeforeSend | None = None) -> T:
        """Run a step synchronously (the async client through a sync twin of its HTTP
        client)."""
        return run(step, self._sync_http(), before_send=before_send)

    async def _run_async(self, step: Step[T], before_send: ABeforeSend | None = None) -> T:
        """Run a step from async code; the sync client runs it in a worker thread."""
        if isinstance(self.http, httpx2.AsyncClient):
            return await arun(step, self.http, before_send=before_send)
        hook: BeforeSend | None = None
        if before_send is not None:
            awaited = before_send

            async def call(request: HttpRequest) -> None:
                await awaited(request)

            def hook(request: HttpRequest) -> None:
                anyio.from_thread.run(call, request)

        return await anyio.to_thread.run_sync(
            functools.partial(run, step, self.http, before_send=hook)
        )

    # The renewer seam (oauthkit.auth.oauth2.TokenRenewer), for auth objects and sessions.

    def can_renew(self, token: Token) -> bool:
        """Whether ``token`` can be renewed: refreshed, or fetched again (client
        credentials)."""
        return self.steps.can_renew(token)

    def renew_token(self, token: Token, *, before_send: BeforeSend | None = None) -> Token:
        """``token`` renewed from sync code, whatever this client's colour (an async one
        refuses); ``before_send`` runs before each request (a session extends its lease)."""
        return self._run_sync(self.steps.renew(token), before_send)

    async def arenew_token(self, token: Token, *, before_send: ABeforeSend | None = None) -> Token:
        """``token`` renewed from async code (a sync client in a worker thread)."""
        return await self._run_async(self.steps.renew(token), before_send)

    def validate_callback(
        self, request: AuthorizationRequest, callback: Callback
    ) -> AuthorizationCode:
        """Check the redirect back (RFC 6749 §4.1.2, RFC 9207) without exchanging the code;
        a JWT-secured response (JARM) is verified first, with the provider's keys."""
        return self._run_sync(self.steps.validate(request, callback))

    def auth(
        self,
        token: Token,
        *,
        leeway: float = 60,
        on_token: Callable[[Token], None] | None = None,
    ) -> OAuth2Auth:
        """An ``httpx2.Auth`` that sends ``token`` (RFC 6750 §2.1) and renews it when due or
        refused as ``invalid_token``; ``on_token`` receives every renewed token."""
        return OAuth2Auth(self, token, leeway=leeway, on_token=on_token)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r})"


class OAuth2Client(_OAuth2Base[httpx2.Client], SyncLifecycle):
    """An OAuth 2.x client over a synchronous ``httpx2.Client`` (one is made if ``http`` is
    None, and closed by :meth:`close`). ``resource`` names the resource server its tokens are
    for (RFC 8707): sent on the authorization request and on every token request.
    ``profile="fapi2"`` enforces the FAPI 2.0 client profile (:mod:`oauthkit.protocol.oauth2.fapi`;
    ``"fapi2-message-signing"`` also signs requests and asks for signed responses).
    ``decryption_key`` opens responses encrypted to the client (JARM, ID tokens).
    ``allow_private_endpoints`` lets a public issuer's metadata name endpoints on this
    machine or a private network (refused otherwise: RFC 8414 §6). ``retry``
    (:class:`~oauthkit.Retry`; ``None``: off) tries token, metadata, JWKS, userinfo,
    introspection and revocation requests again after HTTP 429, 5xx or
    ``temporarily_unavailable``, honouring ``Retry-After`` — never an authorization code's
    exchange, a pushed request, a poll or a registration (:mod:`oauthkit.protocol.retry`)."""

    _http_class = httpx2.Client

    def metadata(self) -> ServerMetadata:
        """The server's metadata (RFC 8414 / OIDC Discovery), fetched once."""
        return run(self.steps.metadata(), self.http)

    def authorization_request(
        self,
        scope: str | None = None,
        *,
        redirect_uri: str | None = None,
        par: bool | None = None,
        jar: bool | None = None,
        **extra: Any,
    ) -> AuthorizationRequest:
        """RFC 6749 §4.1.1 with PKCE, ``state`` and (for ``openid``) ``nonce``: ``.url`` is
        where to send the user; keep the request for :meth:`exchange_code`. ``par=True``
        pushes the parameters first (RFC 9126; automatic when the server requires it);
        ``jar=True`` signs them into a request object (RFC 9101)."""
        step = self.steps.authorization_request(
            scope, redirect_uri=redirect_uri, extra=extra, par=par, jar=jar
        )
        return run(step, self.http)

    def exchange_code(
        self, request: AuthorizationRequest | AuthorizationCode, callback: Callback | None = None
    ) -> Token:
        """RFC 6749 §4.1.3: validate the callback (error, state, iss first), then exchange
        its code — or exchange a code :meth:`validate_callback` already returned."""
        return run(self.steps.exchange(request, callback), self.http)

    def refresh(self, token: Token, *, scope: str | None = None) -> Token:
        """RFC 6749 §6; the old refresh token is kept when the server returns none."""
        return run(self.steps.refresh(token, scope=scope), self.http)

    def client_credentials(self, scope: str | None = None, **extra: str) -> Token:
        """RFC 6749 §4.4."""
        step = self.steps.client_credentials(scope, extra)
        return run(step, self.http)

    def password(self, username: str, password: str, *, scope: str | None = None) -> Token:
        """RFC 6749 §4.3. Discouraged (RFC 9700 §2.4): for legacy servers only."""
        step = self.steps.password(username, password, scope=scope)
        return run(step, self.http)

    def jwt_bearer(self, assertion: str, *, scope: str | None = None) -> Token:
        """RFC 7523 §2.1: a token for a signed JWT assertion."""
        return run(self.steps.jwt_bearer(assertion, scope=scope), self.http)

    def token_exchange(self, **params: Any) -> Token:
        """RFC 8693: ``subject_token=``, ``subject_token_type=`` and the optional parameters
        of :func:`oauthkit.protocol.oauth2.grants.token_exchange`."""
        return run(self.steps.token_exchange(**params), self.http)

    def device_authorization(self, scope: str | None = None, **extra: str) -> DeviceAuthorization:
        """RFC 8628 §3.1: show ``user_code`` and ``verification_uri`` to the user."""
        step = self.steps.device_authorization(scope, extra)
        return run(step, self.http)

    def poll_device(
        self,
        device: DeviceAuthorization,
        timeout: float | None = None,
        *,
        wait: Callable[[float], None] = time.sleep,
    ) -> Token:
        """RFC 8628 §3.4: wait for the user's approval (honours pending and slow_down);
        ``wait`` does the pauses between polls (a command line shows a countdown in it)."""
        step = self.steps.poll_device(device, timeout)
        return run(step, self.http, wait=wait)

    def backchannel_authentication(
        self, *, scope: str | None = None, ping: bool = False, **params: Any
    ) -> ciba.BackchannelAuthentication:
        """CIBA Core §7.1: ask the server to authenticate a user on their own device —
        exactly one of ``login_hint``, ``id_token_hint``, ``login_hint_token``; and
        ``binding_message``, ``requested_expiry``, ``acr_values``, ``user_code`` as needed.
        ``ping=True`` for a client registered for ping mode."""
        step = self.steps.backchannel_authentication(scope=scope, ping=ping, **params)
        return run(step, self.http)

    def poll_backchannel(
        self,
        request: ciba.BackchannelAuthentication,
        timeout: float | None = None,
        *,
        wait: Callable[[float], None] = time.sleep,
    ) -> Token:
        """CIBA Core §7.3 (poll mode): wait for the user's decision, as :meth:`poll_device`
        does (the same ``wait`` hook, ``slow_down``, ``access_denied``, ``expired_token``)."""
        step = self.steps.poll_backchannel(request, timeout)
        return run(step, self.http, wait=wait)

    def backchannel_token(self, request: ciba.BackchannelAuthentication) -> Token:
        """CIBA Core §10.2 (ping mode): the token, once the server's notification came (check
        it with :func:`oauthkit.protocol.oauth2.ciba.check_notification`)."""
        return run(self.steps.backchannel_token(request), self.http)

    def revoke(self, token: Token | str, *, hint: str | None = None) -> None:
        """RFC 7009: revoke the refresh token if there is one, else the access token."""
        run(self.steps.revoke(token, hint=hint), self.http)

    def userinfo(self, token: Token) -> dict[str, Any]:
        """OIDC Core §5.3: the user's claims, ``sub`` checked against the ID token."""
        return run(self.steps.userinfo(token), self.http)

    def introspect(self, token: Token | str, *, hint: str | None = None) -> dict[str, Any]:
        """RFC 7662: the server's view of the token (``active`` and more)."""
        return run(self.steps.introspect(token, hint=hint), self.http)


class AsyncOAuth2Client(_OAuth2Base[httpx2.AsyncClient], AsyncLifecycle):
    """The ``await`` twin of :class:`OAuth2Client`, over an ``httpx2.AsyncClient``."""

    _http_class = httpx2.AsyncClient

    async def metadata(self) -> ServerMetadata:
        """The server's metadata (RFC 8414 / OIDC Discovery), fetched once."""
        return await arun(self.steps.metadata(), self.http)

    async def authorization_request(
        self,
        scope: str | None = None,
        *,
        redirect_uri: str | None = None,
        par: bool | None = None,
        jar: bool | None = None,
        **extra: Any,
    ) -> AuthorizationRequest:
        """RFC 6749 §4.1.1 with PKCE, ``state`` and (for ``openid``) ``nonce``; ``par`` and
        ``jar`` as in :meth:`OAuth2Client.authorization_request` (RFC 9126, RFC 9101)."""
        step = self.steps.authorization_request(
            scope, redirect_uri=redirect_uri, extra=extra, par=par, jar=jar
        )
        return await arun(step, self.http)

    async def exchange_code(
        self, request: AuthorizationRequest | AuthorizationCode, callback: Callback | None = None
    ) -> Token:
        """The ``await`` twin of :meth:`OAuth2Client.exchange_code`."""
        return await arun(self.steps.exchange(request, callback), self.http)

    async def refresh(self, token: Token, *, scope: str | None = None) -> Token:
        """RFC 6749 §6; the old refresh token is kept when the server returns none."""
        return await arun(self.steps.refresh(token, scope=scope), self.http)

    async def client_credentials(self, scope: str | None = None, **extra: str) -> Token:
        """RFC 6749 §4.4."""
        step = self.steps.client_credentials(scope, extra)
        return await arun(step, self.http)

    async def password(self, username: str, password: str, *, scope: str | None = None) -> Token:
        """RFC 6749 §4.3. Discouraged (RFC 9700 §2.4): for legacy servers only."""
        step = self.steps.password(username, password, scope=scope)
        return await arun(step, self.http)

    async def jwt_bearer(self, assertion: str, *, scope: str | None = None) -> Token:
        """RFC 7523 §2.1: a token for a signed JWT assertion."""
        step = self.steps.jwt_bearer(assertion, scope=scope)
        return await arun(step, self.http)

    async def token_exchange(self, **params: Any) -> Token:
        """RFC 8693 (see :meth:`OAuth2Client.token_exchange`)."""
        return await arun(self.steps.token_exchange(**params), self.http)

    async def device_authorization(
        self, scope: str | None = None, **extra: str
    ) -> DeviceAuthorization:
        """RFC 8628 §3.1: show ``user_code`` and ``verification_uri`` to the user."""
        step = self.steps.device_authorization(scope, extra)
        return await arun(step, self.http)

    async def poll_device(
        self,
        device: DeviceAuthorization,
        timeout: float | None = None,
        *,
        wait: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> Token:
        """RFC 8628 §3.4: wait for the user's approval (honours pending and slow_down);
        ``wait`` awaits the pauses between polls (a countdown can be shown in it)."""
        step = self.steps.poll_device(device, timeout)
        return await arun(step, self.http, wait=wait)

    async def backchannel_authentication(
        self, *, scope: str | None = None, ping: bool = False, **params: Any
    ) -> ciba.BackchannelAuthentication:
        """CIBA Core §7.1: see :meth:`OAuth2Client.backchannel_authentication`."""
        step = self.steps.backchannel_authentication(scope=scope, ping=ping, **params)
        return await arun(step, self.http)

    async def poll_backchannel(
        self,
        request: ciba.BackchannelAuthentication,
        timeout: float | None = None,
        *,
        wait: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> Token:
        """CIBA Core §7.3 (poll mode): wait for the user's decision, as :meth:`poll_device`."""
        step = self.steps.poll_backchannel(request, timeout)
        return await arun(step, self.http, wait=wait)

    async def backchannel_token(self, request: ciba.BackchannelAuthentication) -> Token:
        """CIBA Core §10.2 (ping mode): the token, once the server's notification came."""
        return await arun(self.steps.backchannel_token(request), self.http)

    async def revoke(self, token: Token | str, *, hint: str | None = None) -> None:
        """RFC 7009: revoke the refresh token if there is one, else the access token."""
        await arun(self.steps.revoke(token, hint=hint), self.http)

    async def userinfo(self, token: Token) -> dict[str, Any]:
        """OIDC Core §5.3: the user's claims, ``sub`` checked against the ID token."""
        return await arun(self.steps.userinfo(token), self.http)

    async def introspect(self, token: Token | str, *, hint: str | None = None) -> dict[str, Any]:
        """RFC 7662: the server's view of the token (``active`` and more)."""
        step = self.steps.introspect(token, hint=hint)
        return await arun(step, self.http)
