"""From a resource's URL to an authorized call: :func:`for_resource`, the MCP authorization flow.

At the first ``401`` the auth object reads the resource's protected resource metadata
(RFC 9728), the authorization server's metadata (RFC 8414 / OpenID Connect discovery), gets a
client — a client ID metadata document URL when the server accepts one, else a dynamic
registration (RFC 7591) kept in the token store and shared by every process of the program —
signs the user in (authorization code + PKCE with ``resource``, RFC 8707; the loopback browser
flow by default, the device flow when there is no browser, or the application's own hook),
stores the token and sends the request again. After that it is a :class:`~oauthkit.Session`:
the token is renewed once per expiry across threads, tasks, processes and machines.

A restart reads the token, the issuer it came from and the registration from the store: no
metadata is fetched and nothing registered until a renewal or a sign-in needs them. A secret
that has expired is read again (RFC 7592, where the server may issue a new one), else the
client registers again; an ``invalid_client`` answer registers again, once. An
``insufficient_scope`` challenge (RFC 6750 §3.1) signs in again for the wider scope, once;
the old token stays stored until the new one is saved.

The discovery, registration and sign-in run once per program in a worker thread when the
caller is async (they wait for a person anyway); each request's token and its renewals are
the session's own sync or async path.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import webbrowser
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx2

from .clients._lifecycle import new_http
from .clients.oauth2 import OAuth2Client
from .drivers import run
from .errors import (
    ConfigurationError,
    InvalidClient,
    OAuthKitError,
    ReauthenticationRequired,
    StepUpRequired,
)
from .protocol.http import Step
from .protocol.oauth2.authorization import AuthorizationRequest
from .protocol.oauth2.metadata import ServerMetadata, discover
from .protocol.oauth2.registration import ClientRegistration, read_registration, register
from .protocol.oauth2.resource import (
    ResourceChallenge,
    ResourceMetadata,
    discover_resource,
    read_challenge,
)
from .protocol.oauth2.token import Token
from .session import Session
from .stores.base import TokenStore

if TYPE_CHECKING:
    import requests

__all__ = [
    "DeviceSignIn",
    "RequestsResourceAuth",
    "ResourceAuth",
    "SignIn",
    "browser_sign_in",
    "device_sign_in",
    "for_resource",
]

T = TypeVar("T")

#: The device flow's grant type (RFC 8628 §3.4).
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
#: ``Token.extra`` key under which the issuer that granted a resource's token is kept.
ISSUER = "oauthkit_issuer"
#: The redirect URI a native client registers: the loopback, any port (RFC 8252 §7.3).
LOOPBACK_REDIRECT = "http://127.0.0.1/callback"

#: A sign-in: given ``begin(redirect_uri)`` — which makes the authorization request for that
#: redirect URI — send the person to ``request.url`` and return where they came back (the
#: callback URL, or its query parameters).
SignIn = Callable[[Callable[[str], AuthorizationRequest]], "str | Mapping[str, str]"]


def _stderr(line: str) -> None:
    """Where a sign-in talks to the person by default: stderr, not the program's output."""
    print(line, file=sys.stderr, flush=True)


def browser_sign_in(timeout: float = 300.0, say: Callable[[str], None] = _stderr) -> SignIn:
    """The default sign-in of a program run by a person (RFC 8252): a one-shot server on a
    free loopback port takes the redirect; the browser is opened on the authorization URL
    (which is also printed, for a browser on another machine)."""

    def sign_in(begin: Callable[[str], AuthorizationRequest]) -> Mapping[str, str]:
        from .signin.loopback import LoopbackRedirect

        redirect: LoopbackRedirect[Mapping[str, str]] = LoopbackRedirect()
        request = begin(redirect.redirect_uri)
        say(f"Open this address in a browser to sign in: {request.url}")
        with contextlib.suppress(Exception):
            webbrowser.open(request.url)
        return redirect.wait(request.state, lambda params: params, timeout)

    return sign_in


class DeviceSignIn:
    """A sign-in with the device flow (RFC 8628), for a program with no browser: the person
    is told where to go and which code to type (``say``), and the program polls."""

    device = True

    def __init__(self, say: Callable[[str], None] = _stderr, timeout: float = 600.0) -> None:
        self.say = say
        self.timeout = timeout

    def __call__(self, begin: Callable[[str], AuthorizationRequest]) -> Mapping[str, str]:
        raise ConfigurationError("the device flow has no redirect; ResourceAuth runs it")


def device_sign_in(say: Callable[[str], None] = _stderr, timeout: float = 600.0) -> DeviceSignIn:
    """The device-flow sign-in (what ``for_resource`` uses by itself when no browser can be
    opened and the server offers the device flow)."""
    return DeviceSignIn(say, timeout)


def _browser_available() -> bool:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


#: How long a step-up sign-in — for a scope (RFC 6750 §3.1 ``insufficient_scope``), or a
#: stronger or more recent authentication (RFC 9470 ``insufficient_user_authentication``) — is
#: not asked for again when the resource still refuses it (seconds).
STEP_UP_MEMORY = 600.0
#: The challenges that ask for more than the token has, and a sign-in that gives it.
_STEP_UPS = ("insufficient_scope", "insufficient_user_authentication")
#: The challenge of a StepUpRequired the session's auth raised.
_STEP_UP = ResourceChallenge(scheme="bearer", error="insufficient_user_authentication")


def _with_openid(scope: str | None, server: ServerMetadata) -> str | None:
    """A step-up's scope at an OpenID provider: with ``openid``, which ``acr_values`` and
    ``max_age`` belong to (OIDC Core §3.1.2.1; oidc-provider refuses them without it) and
    which brings the ID token whose ``auth_time`` and ``acr`` are then checked."""
    supported = server.raw.get("scopes_supported")
    wanted = (scope or "").split()
    if not isinstance(supported, list) or "openid" not in supported or "openid" in wanted:
        return scope
    return " ".join(["openid", *wanted])


def _memory_key(challenge: ResourceChallenge, step_up: StepUpRequired | None) -> str:
    """What a step-up sign-in is remembered by: the scope, or the authentication asked for."""
    if step_up is not None:
        return f"authentication {step_up.acr_values} {step_up.max_age}"
    return challenge.scope or ""


def for_resource(
    url: str,
    *,
    store: TokenStore | None = None,
    client_name: str = "oauthkit",
    scope: str | None = None,
    sign_in: SignIn | None = None,
    client_metadata_url: str | None = None,
    software_statement: str | None = None,
    confidential: bool = False,
    http: httpx2.Client | None = None,
    allow_insecure_http: bool = False,
    allow_private_endpoints: bool = False,
) -> ResourceAuth:
    """An auth object for ``url`` (an MCP server's endpoint, any OAuth-protected resource)
    that does everything at the first 401: discover, register, sign in, store; then renew.

    ``store`` (default the SQLite store) keeps the token under
    ``resource:{client_name}:{url}`` and the registration under
    ``registration:{client_name}:{issuer}``. ``client_name`` is the program's identity at the
    server. ``scope`` overrides the scope taken from the challenge or the metadata.
    ``sign_in`` replaces the loopback browser sign-in (:func:`browser_sign_in`; a web
    application passes its own). ``client_metadata_url`` is an https URL of the program's
    client ID metadata document, used instead of registering where the server supports it.
    ``confidential`` registers a client with a secret (``client_secret_basic``). Where the
    resource and its servers send requests is theirs to say only within their own reach: an
    authorization server, a registration or configuration endpoint named by a server must be
    https and no more local than it (RFC 9728 §7) — ``allow_private_endpoints`` lifts that
    for development.

    The object is an ``httpx2.Auth`` for sync and async clients;
    ``oauthkit.auth.httpx.HttpxAuth(auth)`` serves httpx, and ``auth.requests_auth()``
    requests."""
    if client_metadata_url is not None:
        parts = urlsplit(client_metadata_url)
        if parts.scheme != "https" or parts.path in ("", "/") or parts.fragment:
            raise ConfigurationError(
                "client_metadata_url must be an https URL with a path (the client ID metadata "
                "document draft, §3): the authorization server fetches it as the client's id"
            )
    if store is None:
        from .stores.sqlite import SQLiteStore

        store = SQLiteStore()
    automatic = sign_in is None
    auth = ResourceAuth(
        url,
        store=store,
        client_name=client_name,
        scope=scope,
        sign_in=sign_in or browser_sign_in(),
        client_metadata_url=client_metadata_url,
        software_statement=software_statement,
        confidential=confidential,
        http=http,
        allow_insecure_http=allow_insecure_http,
        allow_private_endpoints=allow_private_endpoints,
    )
    auth.device_when_no_browser = automatic
    return auth


class ResourceAuth(httpx2.Auth):
    """See :func:`for_resource`. ``requests`` counts the metadata, registration and probe
    requests it made itself (not the sign-in's token request, nor renewals)."""

    requires_request_body = True
    requires_response_body = True

    def __init__(
        self,
        resource: str,
        *,
        store: TokenStore,
        client_name: str,
        scope: str | None,
        sign_in: SignIn,
        client_metadata_url: str | None,
        software_statement: str | None,
        confidential: bool,
        http: httpx2.Client | None,
        allow_insecure_http: bool,
        allow_private_endpoints: bool = False,
    ) -> None:
        if urlsplit(resource).fragment:
            raise ConfigurationError("a resource URL has no fragment (RFC 8707 §2)")
        self.resource = resource
        self.store = store
        self.client_name = client_name
        self.scope = scope
        self.sign_in = sign_in
        self.client_metadata_url = client_metadata_url
        self.software_statement = software_statement
        self.confidential = confidential
        self.allow_insecure_http = allow_insecure_http
        self.allow_private_endpoints = allow_private_endpoints
        self.http = http if http is not None else new_http(httpx2.Client, follow_redirects=False)
        self.key = f"resource:{client_name}:{resource}"
        self._guard = threading.Lock()
        self._session: Session | None = None
        self._resource_metadata: ResourceMetadata | None = None
        self._server_metadata: dict[str, ServerMetadata] = {}
        self.requests = 0
        #: When a step-up sign-in last asked for a scope (``insufficient_scope``): the same
        #: refusal within STEP_UP_MEMORY seconds is answered, not signed in for again.
        self._stepped_up: dict[str, float] = {}
        #: Use the device flow when no browser can be opened (the default sign-in only).
        self.device_when_no_browser = False

    # -- the request flows --------------------------------------------------------------------
    #
    # Each flow sends the request with the stored token (or, with none, without one); on a
    # challenge that asks for a sign-in it authorizes and sends it once more. The session's
    # own flow does the token, its renewal when due and one retry on invalid_token.

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        if not self._ours(request.url):
            yield request
            return
        session = self._stored_session()
        response: Any
        if session is None:
            response = yield request
            challenge = self._challenge(response)
            if challenge is None:
                return
            session = self._authorize(challenge, None)
        for attempt in range(2):
            try:
                response = yield from session.auth().sync_auth_flow(request)
            except StepUpRequired as exc:
                if attempt == 1 or self._asked_lately(_STEP_UP, exc):
                    raise
                session = self._authorize(_STEP_UP, session, exc)
                continue
            except (ReauthenticationRequired, InvalidClient) as exc:
                if attempt == 1:
                    raise
                self._forget(session, exc)
                response = _NEEDS_SIGN_IN
            challenge = self._challenge(response)
            if challenge is None or attempt == 1:
                return
            session = self._authorize(challenge, session)

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        if not self._ours(request.url):
            yield request
            return
        session = self._stored_session()
        response: Any
        if session is None:
            response = yield request
            challenge = self._challenge(response)
            if challenge is None:
                return
            session = await anyio.to_thread.run_sync(self._authorize, challenge, None)
        for attempt in range(2):
            # An async generator cannot ``yield from``: the one delegation loop left.
            response = _NEEDS_SIGN_IN
            flow = session.auth().async_auth_flow(request)
            try:
                outgoing = await flow.__anext__()
                while True:
                    response = yield outgoing
                    outgoing = await flow.asend(response)
            except StopAsyncIteration:
                pass
            except StepUpRequired as exc:
                if attempt == 1 or self._asked_lately(_STEP_UP, exc):
                    raise
                session = await anyio.to_thread.run_sync(self._authorize, _STEP_UP, session, exc)
                continue
            except (ReauthenticationRequired, InvalidClient) as exc:
                if attempt == 1:
                    raise
                self._forget(session, exc)
            challenge = self._challenge(response)
            if challenge is None or attempt == 1:
                return
            session = await anyio.to_thread.run_sync(self._authorize, challenge, session)

    def _ours(self, url: Any) -> bool:
        """Whether a request goes to the resource's origin: the token goes nowhere else."""
        try:
            target = urlsplit(str(url))
            own = urlsplit(self.resource)
            return (target.scheme, target.netloc.lower()) == (own.scheme, own.netloc.lower())
        except ValueError:
            return False

    # -- deciding -----------------------------------------------------------------------------

    def _challenge(self, response: Any) -> ResourceChallenge | None:
        """The challenge that asks for a (new) sign-in: a 401 with a Bearer or DPoP challenge,
        or a 403 ``insufficient_scope`` (RFC 6750 §3.1); else None."""
        if response is _NEEDS_SIGN_IN:
            return ResourceChallenge(scheme="bearer", error="invalid_token")
        status = response.status_code
        if status not in (401, 403):
            return None
        challenge = read_challenge(response.headers.get("www-authenticate"))
        if challenge is None:
            return ResourceChallenge(scheme="bearer") if status == 401 else None
        if status == 403 and challenge.error != "insufficient_scope":
            return None
        if challenge.error == "insufficient_scope" and self._asked_lately(challenge, None):
            # Signed in for this scope a moment ago and still refused: the user (or the
            # server) does not grant it. The 403 is the answer, not one sign-in per call.
            return None
        return challenge

    def _asked_lately(self, challenge: ResourceChallenge, step_up: StepUpRequired | None) -> bool:
        asked = self._stepped_up.get(_memory_key(challenge, step_up))
        return asked is not None and time.monotonic() - asked < STEP_UP_MEMORY

    # -- without a request of the caller's ------------------------------------------------------

    def login(self) -> Token:
        """Sign in now (again, if a token is stored): ask the resource for its challenge with
        an unauthenticated GET (or, if it gives none, use its well-known metadata), then
        discover, register and sign in as at a 401. Returns the stored token."""
        response = self.http.get(self.resource, headers={"Accept": "application/json"})
        self.requests += 1
        challenge = self._challenge(response) or ResourceChallenge(scheme="bearer")
        session = self._authorize(challenge, self._stored_session())
        return session.token()

    def token(self) -> Token:
        """The stored token for the resource, renewed first when due;
        :class:`~oauthkit.errors.ReauthenticationRequired` when nothing is stored."""
        session = self._stored_session()
        if session is None:
            raise ReauthenticationRequired(
                f"no token for {self.resource} is stored for {self.client_name!r}: sign in first"
            )
        return session.token()

    # -- the stored state -----------------------------------------------------------------------

    def _stored_session(self) -> Session | None:
        """The session of a token signed in before (by this process or another), built from
        the store alone: the token names its issuer, the store holds the registration."""
        if self._session is not None:
            return self._session
        token = self.store.get(self.key, Token)
        issuer = token.extra.get(ISSUER) if token is not None else None
        if not isinstance(issuer, str):
            return None
        registration = self._stored_registration(issuer)
        if registration is None:
            return None
        with self._guard:
            if self._session is None:
                self._session = Session(self._client(registration), self.store, key=self.key)
            return self._session

    def _registration_key(self, issuer: str) -> str:
        return f"registration:{self.client_name}:{issuer}"

    def _stored_registration(self, issuer: str) -> ClientRegistration | None:
        if self.client_metadata_url is not None:
            return self._metadata_document_client(issuer)
        return self.store.get(self._registration_key(issuer), ClientRegistration)

    def _client(self, registration: ClientRegistration, scope: str | None = None) -> OAuth2Client:
        """The OAuth 2 client of ``registration``, with the server's metadata already
        discovered here (so that it is not fetched twice)."""
        client = OAuth2Client(
            registration.client_id,
            registration.client_secret,
            auth_method=registration.token_endpoint_auth_method,
            issuer=registration.issuer,
            scope=scope,
            resource=self.resource,
            http=self.http,
            allow_insecure_http=self.allow_insecure_http,
            allow_private_endpoints=self.allow_private_endpoints,
            metadata=self._server_metadata.get(registration.issuer),
        )
        return client

    def _forget(self, session: Session, failure: BaseException) -> None:
        """The session can no longer renew: a refused refresh, or a client the server no
        longer knows (then its registration is dropped, so that the next one is new)."""
        with self._guard:
            if self._session is session:
                self._session = None
        if isinstance(failure, InvalidClient):
            client = session.client
            issuer = client.config.issuer  # type: ignore[attr-defined]
            if isinstance(issuer, str):
                self._drop_registration(issuer, client.client_id)  # type: ignore[attr-defined]

    def _drop_registration(self, issuer: str, client_id: str) -> None:
        """Forget the stored registration of ``client_id``, the one the server refused — not
        one that another process has registered since."""
        if self.client_metadata_url is not None:
            return
        key = self._registration_key(issuer)
        held = self.store.get(key, ClientRegistration)
        if held is not None and held.client_id == client_id:
            self.store.delete(key)

    # -- authorizing ------------------------------------------------------------------------------

    def _authorize(
        self,
        challenge: ResourceChallenge,
        before: Session | None,
        step_up: StepUpRequired | None = None,
    ) -> Session:
        """Discover, get a client, sign in, save: the session to retry with. One at a time
        in this process; a second caller finds the first one's session. A step-up (RFC 9470
        §4) signs in with the ``acr_values`` and ``max_age`` the resource asked for."""
        with self._guard:
            current = self._session
            if current is not None and current is not before:
                return current
            if challenge.error in _STEP_UPS:
                self._stepped_up[_memory_key(challenge, step_up)] = time.monotonic()
            extra = step_up.authorization_params() if step_up is not None else {}
            resource = self._discover_resource(challenge)
            issuer = resource.authorization_servers[0]
            server = self._discover_server(issuer)
            scope = self._scope(challenge, resource, before)
            if step_up is not None:
                scope = _with_openid(scope, server)
            registration = self._registration(issuer, server, scope)
            try:
                token = self._sign_in(registration, scope, extra)
            except InvalidClient:
                # The registration is gone at the server (deleted, or its secret expired
                # early): register again, once, and sign in with the new client.
                self._drop_registration(issuer, registration.client_id)
                registration = self._registration(issuer, server, scope)
                token = self._sign_in(registration, scope, extra)
            session = Session(self._client(registration, scope), self.store, key=self.key)
            session.save(token.replace(extra={**token.extra, ISSUER: issuer}))
            self._session = session
            return session

    def _discover_resource(self, challenge: ResourceChallenge) -> ResourceMetadata:
        cached = self._resource_metadata
        if cached is not None and not challenge.resource_metadata:
            return cached
        step = discover_resource(
            self.resource,
            challenge,
            allow_insecure_http=self.allow_insecure_http,
            allow_private_endpoints=self.allow_private_endpoints,
        )
        metadata = self._run(step)
        if cached is not None and cached.authorization_servers != metadata.authorization_servers:
            self._server_metadata.clear()  # the resource moved to another server
        self._resource_metadata = metadata
        return metadata

    def _discover_server(self, issuer: str) -> ServerMetadata:
        if issuer not in self._server_metadata:
            step = discover(
                issuer,
                allow_insecure_http=self.allow_insecure_http,
                allow_private_endpoints=self.allow_private_endpoints,
            )
            self._server_metadata[issuer] = self._run(step)
        return self._server_metadata[issuer]

    def _scope(
        self, challenge: ResourceChallenge, resource: ResourceMetadata, before: Session | None
    ) -> str | None:
        """The scope to ask for: the caller's, else the challenge's (RFC 6750 §3), else what
        the resource supports (RFC 9728 §2); widened by the scope the old token had when a
        step-up asks for more (MCP's scope selection)."""
        if self.scope is not None:
            return self.scope
        wanted = (challenge.scope or " ".join(resource.scopes_supported)).split()
        if challenge.error in _STEP_UPS and before is not None:
            held = self.store.get(self.key, Token)
            wanted = [*(held.scope.split() if held and held.scope else []), *wanted]
        return " ".join(dict.fromkeys(wanted)) or None

    def _registration(
        self, issuer: str, server: ServerMetadata, scope: str | None
    ) -> ClientRegistration:
        """The program's client at ``issuer``: its metadata document, or the registration the
        store holds (unless its secret has expired), else a new one — registered by one
        process while the others wait on the store's lock for the key, then read it."""
        supported = server.raw.get("client_id_metadata_document_supported") is True
        if self.client_metadata_url is not None and supported:
            return self._metadata_document_client(issuer)
        key = self._registration_key(issuer)
        stored = self.store.get(key, ClientRegistration)
        if stored is not None and not stored.secret_expired():
            return stored
        endpoint = server.raw.get("registration_endpoint")
        if not isinstance(endpoint, str):
            raise ConfigurationError(
                f"{issuer} offers no dynamic client registration (RFC 7591) and no client ID "
                "metadata documents: register a client there and use OAuth2Client"
            )
        with self.store.lock(key) as transaction:
            entry = transaction.load()
            held = entry.value if entry is not None else None
            if isinstance(held, ClientRegistration):
                current = held if not held.secret_expired() else self._reread(held)
                if current is not None:
                    if current is not held:
                        transaction.save(current, entry.version if entry else None)
                    return current
            step = register(
                issuer,
                endpoint,
                self._client_metadata(server),
                allow_insecure_http=self.allow_insecure_http,
                allow_private_endpoints=self.allow_private_endpoints,
            )
            registration = self._run(step)
            transaction.save(registration, entry.version if entry is not None else None)
            return registration

    def _reread(self, expired: ClientRegistration) -> ClientRegistration | None:
        """An expired secret: read the registration (RFC 7592 §2.1, where the server may
        issue a new secret); ``None`` when that gives no usable one (register anew)."""
        if not expired.registration_client_uri or not expired.registration_access_token:
            return None
        try:
            current: ClientRegistration = self._run(read_registration(expired))
        except OAuthKitError:
            return None
        return None if current.secret_expired() else current

    def _client_metadata(self, server: ServerMetadata) -> dict[str, Any]:
        """RFC 7591 §2 metadata of a native client on the loopback redirect. No ``scope``:
        what a resource's scopes are is the resource server's business, and servers refuse
        registrations naming scopes they do not list themselves."""
        grants = ["authorization_code", "refresh_token"]
        offered = server.raw.get("grant_types_supported")
        if isinstance(offered, list):
            if "refresh_token" not in offered:
                grants.remove("refresh_token")
            if DEVICE_CODE in offered and "device_authorization_endpoint" in server.endpoints:
                grants.append(DEVICE_CODE)  # for the device flow, where there is no browser
        metadata: dict[str, Any] = {
            "client_name": self.client_name,
            "redirect_uris": [LOOPBACK_REDIRECT],
            "grant_types": grants,
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic" if self.confidential else "none",
            "application_type": "native",
        }
        if self.software_statement:
            metadata["software_statement"] = self.software_statement
        return metadata

    def _metadata_document_client(self, issuer: str) -> ClientRegistration:
        assert self.client_metadata_url is not None
        return ClientRegistration(issuer=issuer, client_id=self.client_metadata_url)

    def _sign_in(
        self, registration: ClientRegistration, scope: str | None, extra: Mapping[str, str]
    ) -> Token:
        client = self._client(registration, scope)
        device = self.sign_in if isinstance(self.sign_in, DeviceSignIn) else None
        offered = "device_authorization_endpoint" in client.metadata().endpoints
        automatic = device is None and self.device_when_no_browser and offered
        if automatic and not _browser_available():
            device = DeviceSignIn()
        if device is not None:
            if not offered:
                raise ConfigurationError(
                    f"{registration.issuer} offers no device flow (RFC 8628): sign in with a "
                    "browser"
                )
            authorization = client.device_authorization(scope=scope)
            device.say(f"On any device, open {authorization.verification_uri}")
            device.say(f"and enter the code:  {authorization.user_code}")
            if authorization.verification_uri_complete:
                device.say(f"(or open {authorization.verification_uri_complete})")
            return client.poll_device(authorization, timeout=device.timeout)
        made: list[AuthorizationRequest] = []

        def begin(redirect_uri: str) -> AuthorizationRequest:
            asked: dict[str, Any] = dict(extra)  # acr_values, max_age of a step-up
            request = client.authorization_request(redirect_uri=redirect_uri, **asked)
            made.append(request)
            return request

        callback = self.sign_in(begin)
        if not made:
            raise ConfigurationError("the sign-in returned without making the request")
        return client.exchange_code(made[-1], callback)

    def _run(self, step: Step[T]) -> T:
        self.requests += 1
        return run(step, self.http)

    # -- other HTTP libraries ---------------------------------------------------------------------

    def requests_auth(self) -> RequestsResourceAuth:
        """A ``requests`` auth that does the same (extra ``requests``)."""
        return RequestsResourceAuth(self)

    def __repr__(self) -> str:
        return f"ResourceAuth({self.resource!r}, client_name={self.client_name!r})"


class RequestsResourceAuth:
    """The ``requests`` twin of :func:`oauthkit.for_resource`'s auth object
    (``auth.requests_auth()``): the stored token when there is one (renewed through its
    session); on a 401 or ``insufficient_scope`` challenge it discovers, registers and signs
    in as the httpx2 flow does, then sends the request once more. (A callable is all
    ``requests`` asks of an auth: this module does not import it.)"""

    def __init__(self, auth: ResourceAuth) -> None:
        self.auth = auth

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Authorize with the stored token, if any; watch the response for a challenge."""
        if not self.auth._ours(r.url):
            return r
        session = self.auth._stored_session()
        if session is not None:
            r = session.requests_auth()(r)
        r.register_hook("response", self._after)  # type: ignore[no-untyped-call]
        return r

    def _after(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        request = response.request
        if getattr(request, "_oauthkit_signed_in", False):
            return response
        challenge = self.auth._challenge(response)
        replayable = request.body is None or isinstance(request.body, bytes | str)
        if challenge is None or not replayable:
            return response
        session = self.auth._authorize(challenge, self.auth._session)
        response.content  # noqa: B018 - read it so the connection can be reused
        response.close()
        retry = request.copy()
        retry.headers.pop("Authorization", None)
        retry.headers.pop("DPoP", None)
        retry = session.requests_auth()(retry)
        retry._oauthkit_signed_in = True  # type: ignore[attr-defined]
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again

    def __repr__(self) -> str:
        return f"RequestsResourceAuth({self.auth!r})"


class _NeedsSignIn:
    """Stands for the response of a session that can no longer renew its token."""

    status_code = 401
    headers: Mapping[str, str] = MappingProxyType({})


_NEEDS_SIGN_IN: Any = _NeedsSignIn()
