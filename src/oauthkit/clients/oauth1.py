"""``OAuth1Client`` and ``AsyncOAuth1Client``: the three-legged flow of RFC 5849 §2 and signed
requests (§3), as thin shells over the steps in :mod:`oauthkit.protocol.oauth1.flow`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import httpx2

from ..auth.oauth1 import OAuth1Auth
from ..drivers import arun, run, transport_error
from ..errors import ConfigurationError
from ..protocol.oauth1 import flow
from ..protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials
from ..protocol.oauth1.signing import Placement, Signer
from ..protocol.url_policy import check_endpoint
from ._lifecycle import AsyncLifecycle, SyncLifecycle, new_http
from ._presets import MadeFromPreset
from .steps import OAuth1Steps

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["AsyncOAuth1Client", "OAuth1Client"]

H = TypeVar("H", httpx2.Client, httpx2.AsyncClient)


class _OAuth1Base(MadeFromPreset, Generic[H]):
    """Configuration and the pure parts of the flow, shared by both clients."""

    _http_class: ClassVar[type[Any]]

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str | None = None,
        *,
        rsa_key: RSAPrivateKey | str | bytes | None = None,
        request_token_url: str | None = None,
        authorize_url: str | None = None,
        access_token_url: str | None = None,
        signature_method: str = "HMAC-SHA1",
        placement: Placement = "header",
        realm: str | None = None,
        body_hash: bool = False,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.time,
        http: H | None = None,
    ) -> None:
        self.consumer = OAuth1Credentials(
            consumer_key=consumer_key, consumer_secret=consumer_secret, rsa_key=rsa_key
        )
        self.signer = Signer(
            signature_method=signature_method,
            placement=placement,
            realm=realm,
            body_hash=body_hash,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
        )
        self.request_token_url = self._endpoint(request_token_url, "the request-token URL")
        self.authorize_url = self._endpoint(authorize_url, "the authorization URL")
        self.access_token_url = self._endpoint(access_token_url, "the access-token URL")
        #: The flow's steps (:class:`~oauthkit.clients.steps.OAuth1Steps`): what the methods
        #: below run, and what a web flow runs itself.
        self.steps = OAuth1Steps(
            self.consumer, self.signer, self.request_token_url, self.access_token_url
        )
        self._owns_http = http is None
        self.http: H = http if http is not None else new_http(self._http_class)

    def _endpoint(self, url: str | None, what: str) -> str | None:
        if url is None:
            return None
        return check_endpoint(url, what=what, allow_insecure_http=self.signer.allow_insecure_http)

    @staticmethod
    def _need(url: str | None, name: str) -> str:
        if url is None:
            raise ConfigurationError(f"this client has no {name}; pass {name}= to the client")
        return url

    @classmethod
    def from_preset(
        cls,
        name: str,
        consumer_key: str,
        consumer_secret: str | None = None,
        **options: Any,
    ) -> Self:
        """A client for an OAuth 1.0a provider preset (``oauthkit.providers``); keyword
        arguments of the constructor in ``options`` win."""
        from ._presets import preset_arguments

        arguments = preset_arguments(cls, name, consumer_secret, options)
        client = cls(consumer_key, consumer_secret, **arguments)
        client._remember(name, options)
        return client

    def credentials(self, token: str, token_secret: str | None) -> OAuth1Credentials:
        """Token credentials you already hold (from a store, say) with this client's consumer."""
        return self.consumer.with_token(token, token_secret)

    def authorization_url(self, temporary: TemporaryCredentials, **params: str) -> str:
        """RFC 5849 §2.2: the URL to send the user to (``params`` are added to its query)."""
        return flow.authorization_url(
            self._need(self.authorize_url, "authorize_url"),
            temporary,
            params,
            allow_insecure_http=self.signer.allow_insecure_http,
        )

    def parse_callback(
        self, temporary: TemporaryCredentials, callback: str | Mapping[str, str]
    ) -> str:
        """RFC 5849 §2.2: check the redirect back (URL, query string or mapping) and return
        the verifier. Raises a :class:`~oauthkit.errors.CallbackError` or
        :class:`~oauthkit.errors.AuthorizationDenied`."""
        return flow.parse_callback(temporary, callback)

    def auth(self, credentials: OAuth1Credentials) -> OAuth1Auth:
        """An ``httpx2.Auth`` signing with ``credentials``' token and this client's own client
        credentials, the way this client signs."""
        return OAuth1Auth(self.steps.signing(credentials), signer=self.signer)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.consumer!r}, {self.signer.signature_method})"


class OAuth1Client(_OAuth1Base[httpx2.Client], SyncLifecycle):
    """An OAuth 1.0a client (RFC 5849) over a synchronous ``httpx2.Client``.

    ``http`` is the client to use; one is made (and closed by :meth:`close`) if it is None.
    """

    _http_class = httpx2.Client

    def fetch_request_token(self, callback: str = "oob", **params: str) -> TemporaryCredentials:
        """RFC 5849 §2.1: temporary credentials for ``callback`` (a URL, or ``"oob"``)."""
        return run(self.steps.request_token(callback, params), self.http)

    def fetch_access_token(
        self, temporary: TemporaryCredentials, verifier: str
    ) -> OAuth1Credentials:
        """RFC 5849 §2.3: token credentials for the verifier (or the PIN, for ``oob``)."""
        return run(self.steps.access_token(temporary, verifier), self.http)

    def request(
        self, method: str, url: str, *, credentials: OAuth1Credentials, **kwargs: Any
    ) -> httpx2.Response:
        """Send a request signed with ``credentials``; other arguments are httpx2's. A network
        failure is :class:`~oauthkit.errors.TransportError` (the httpx2 error its cause)."""
        try:
            return self.http.request(method, url, auth=self.auth(credentials), **kwargs)
        except httpx2.RequestError as exc:
            raise transport_error(exc, method, url) from exc

    def get(self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any) -> httpx2.Response:
        """A signed GET."""
        return self.request("GET", url, credentials=credentials, **kwargs)

    def post(self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any) -> httpx2.Response:
        """A signed POST."""
        return self.request("POST", url, credentials=credentials, **kwargs)

    def put(self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any) -> httpx2.Response:
        """A signed PUT."""
        return self.request("PUT", url, credentials=credentials, **kwargs)

    def patch(self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any) -> httpx2.Response:
        """A signed PATCH."""
        return self.request("PATCH", url, credentials=credentials, **kwargs)

    def delete(self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any) -> httpx2.Response:
        """A signed DELETE."""
        return self.request("DELETE", url, credentials=credentials, **kwargs)


class AsyncOAuth1Client(_OAuth1Base[httpx2.AsyncClient], AsyncLifecycle):
    """The ``await`` twin of :class:`OAuth1Client`, over an ``httpx2.AsyncClient``."""

    _http_class = httpx2.AsyncClient

    async def fetch_request_token(
        self, callback: str = "oob", **params: str
    ) -> TemporaryCredentials:
        """RFC 5849 §2.1: temporary credentials for ``callback`` (a URL, or ``"oob"``)."""
        return await arun(self.steps.request_token(callback, params), self.http)

    async def fetch_access_token(
        self, temporary: TemporaryCredentials, verifier: str
    ) -> OAuth1Credentials:
        """RFC 5849 §2.3: token credentials for the verifier (or the PIN, for ``oob``)."""
        return await arun(self.steps.access_token(temporary, verifier), self.http)

    async def request(
        self, method: str, url: str, *, credentials: OAuth1Credentials, **kwargs: Any
    ) -> httpx2.Response:
        """Send a request signed with ``credentials``; other arguments are httpx2's. A network
        failure is :class:`~oauthkit.errors.TransportError` (the httpx2 error its cause)."""
        try:
            return await self.http.request(method, url, auth=self.auth(credentials), **kwargs)
        except httpx2.RequestError as exc:
            raise transport_error(exc, method, url) from exc

    async def get(
        self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any
    ) -> httpx2.Response:
        """A signed GET."""
        return await self.request("GET", url, credentials=credentials, **kwargs)

    async def post(
        self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any
    ) -> httpx2.Response:
        """A signed POST."""
        return await self.request("POST", url, credentials=credentials, **kwargs)

    async def put(
        self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any
    ) -> httpx2.Response:
        """A signed PUT."""
        return await self.request("PUT", url, credentials=credentials, **kwargs)

    async def patch(
        self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any
    ) -> httpx2.Response:
        """A signed PATCH."""
        return await self.request("PATCH", url, credentials=credentials, **kwargs)

    async def delete(
        self, url: str, *, credentials: OAuth1Credentials, **kwargs: Any
    ) -> httpx2.Response:
        """A signed DELETE."""
        return await self.request("DELETE", url, credentials=credentials, **kwargs)
