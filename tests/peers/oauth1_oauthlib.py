"""Local OAuth 1.0a provider on oauthlib's ``oauth1`` endpoints (``RequestTokenEndpoint``,
``AuthorizationEndpoint``, ``AccessTokenEndpoint``, ``ResourceEndpoint``).

Storage is in memory.  The :class:`MemoryValidator` relaxes oauthlib's defaults that would
refuse ordinary clients on a loopback test server:

* ``enforce_ssl`` is False (plain ``http://127.0.0.1``);
* keys, tokens, nonces and verifiers may be any 1-256 printable ASCII characters (oauthlib's
  default is 20-30 letters and digits);
* any realm is accepted (oauthlib's default realm list is empty, refusing any ``realm``).

Checked as a real provider would: the timestamp window (oauthlib, ±600 s), nonces
(remembered per client, timestamp and token), the callback (absolute http(s) URL or
``oob``), the verifier (once: the request token is consumed by the exchange), and per client
the signature method family (the HMAC client: HMAC-* and PLAINTEXT; the RSA client: RSA-*).
"""

from __future__ import annotations

import hmac
import string
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oauthlib.common import Request
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    OAuth1Error,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)

from .oauth1_common import (
    HMAC_CONSUMER_KEY,
    HMAC_CONSUMER_SECRET,
    HMAC_METHODS,
    RSA_CONSUMER_KEY,
    RSA_METHODS,
    SIGNATURE_METHODS,
    TIMESTAMP_WINDOW,
    OAuth1Peer,
    ProviderApp,
    RawRequest,
    Response,
    rsa_key_pair,
    start_peer,
    verifier_page,
)

_PRINTABLE = frozenset(string.printable) - frozenset(string.whitespace)
_DUMMY_SECRET = "dummy-secret-never-issued"


@dataclass
class _Client:
    secret: str | None
    rsa_public_pem: str | None
    methods: frozenset[str]


@dataclass
class _RequestToken:
    client_key: str
    secret: str
    callback: str
    realms: list[str]
    verifier: str | None = None


@dataclass
class _AccessToken:
    client_key: str
    secret: str
    realms: list[str]


@dataclass
class _Store:
    """Everything the provider remembers, guarded by one lock (the server is threaded)."""

    clients: dict[str, _Client]
    request_tokens: dict[str, _RequestToken] = field(default_factory=dict)
    access_tokens: dict[str, _AccessToken] = field(default_factory=dict)
    nonces: set[tuple[str, str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class MemoryValidator(RequestValidator):  # type: ignore[misc]
    """oauthlib ``RequestValidator`` over an in-memory :class:`_Store`."""

    def __init__(self, store: _Store) -> None:
        super().__init__()
        self.store = store

    # -- policy -----------------------------------------------------------------------

    enforce_ssl = False
    allowed_signature_methods = SIGNATURE_METHODS
    safe_characters = _PRINTABLE
    client_key_length = request_token_length = access_token_length = (1, 256)
    nonce_length = verifier_length = (1, 256)
    timestamp_lifetime = TIMESTAMP_WINDOW
    dummy_client = "dummy-client-key"
    dummy_request_token = "dummy-request-token"
    dummy_access_token = "dummy-access-token"

    def check_realms(self, realms: list[str]) -> bool:
        """Any realm is fine."""
        return True

    # -- clients ----------------------------------------------------------------------

    def validate_client_key(self, client_key: str, request: Request) -> bool:
        """Known client, using a signature method of its family."""
        client = self.store.clients.get(client_key)
        return client is not None and request.signature_method in client.methods

    def get_client_secret(self, client_key: str, request: Request) -> str:
        client = self.store.clients.get(client_key)
        return (client.secret if client else None) or _DUMMY_SECRET

    def get_rsa_key(self, client_key: str, request: Request) -> str:
        client = self.store.clients.get(client_key)
        return (client.rsa_public_pem if client else None) or rsa_key_pair()[1]

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Request,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        """Refuse a nonce already seen with this client, timestamp and token.

        oauthlib itself has already refused timestamps outside ``timestamp_lifetime``.
        """
        key = (client_key, timestamp, nonce, request_token or access_token or "")
        with self.store.lock:
            if key in self.store.nonces:
                return False
            self.store.nonces.add(key)
            return True

    # -- temporary credentials ----------------------------------------------------------

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Request) -> bool:
        """``oob`` or an absolute http(s) URL."""
        if redirect_uri == "oob":
            return True
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and bool(parts.netloc)

    def get_default_realms(self, client_key: str, request: Request) -> list[str]:
        return []

    def validate_requested_realms(
        self, client_key: str, realms: list[str], request: Request
    ) -> bool:
        return True

    def save_request_token(self, token: dict[str, str], request: Request) -> None:
        record = _RequestToken(
            client_key=request.client_key,
            secret=token["oauth_token_secret"],
            callback=request.redirect_uri,
            realms=list(request.realms or []),
        )
        with self.store.lock:
            self.store.request_tokens[token["oauth_token"]] = record

    # -- the user's authorization -----------------------------------------------------

    def verify_request_token(self, token: str, request: Request) -> bool:
        return token in self.store.request_tokens

    def verify_realms(self, token: str, realms: list[str], request: Request) -> bool:
        return True

    def get_realms(self, token: str, request: Request) -> list[str]:
        record = self.store.request_tokens.get(token)
        return list(record.realms) if record else []

    def get_redirect_uri(self, token: str, request: Request) -> str:
        return self.store.request_tokens[token].callback

    def save_verifier(self, token: str, verifier: dict[str, str], request: Request) -> None:
        with self.store.lock:
            self.store.request_tokens[token].verifier = verifier["oauth_verifier"]

    # -- token credentials --------------------------------------------------------------

    def _request_token(self, client_key: str, token: str) -> _RequestToken | None:
        record = self.store.request_tokens.get(token)
        return record if record is not None and record.client_key == client_key else None

    def validate_request_token(self, client_key: str, token: str, request: Request) -> bool:
        return self._request_token(client_key, token) is not None

    def get_request_token_secret(self, client_key: str, token: str, request: Request) -> str:
        record = self._request_token(client_key, token)
        return record.secret if record else _DUMMY_SECRET

    def validate_verifier(
        self, client_key: str, token: str, verifier: str, request: Request
    ) -> bool:
        record = self._request_token(client_key, token)
        if record is None or record.verifier is None:
            return False
        return hmac.compare_digest(record.verifier.encode(), verifier.encode())

    def invalidate_request_token(
        self, client_key: str, request_token: str, request: Request
    ) -> None:
        with self.store.lock:
            self.store.request_tokens.pop(request_token, None)

    def save_access_token(self, token: dict[str, str], request: Request) -> None:
        record = _AccessToken(
            client_key=request.client_key,
            secret=token["oauth_token_secret"],
            realms=list(request.realms or []),
        )
        with self.store.lock:
            self.store.access_tokens[token["oauth_token"]] = record

    # -- protected resources ------------------------------------------------------------

    def _access_token(self, client_key: str, token: str) -> _AccessToken | None:
        record = self.store.access_tokens.get(token)
        return record if record is not None and record.client_key == client_key else None

    def validate_access_token(self, client_key: str, token: str, request: Request) -> bool:
        return self._access_token(client_key, token) is not None

    def get_access_token_secret(self, client_key: str, token: str, request: Request) -> str:
        record = self._access_token(client_key, token)
        return record.secret if record else _DUMMY_SECRET

    def validate_realms(
        self,
        client_key: str,
        token: str,
        request: Request,
        uri: str | None = None,
        realms: list[str] | None = None,
    ) -> bool:
        return True


def _response(headers: dict[str, str], body: str | None, status: int) -> Response:
    """oauthlib's ``(headers, body, status)`` as a :class:`Response`."""
    return Response(status, list(headers.items()), (body or "").encode())


class OAuthlibProvider(ProviderApp):
    """The provider's WSGI application on oauthlib's endpoints."""

    def __init__(self, peer: OAuth1Peer) -> None:
        super().__init__(peer)
        clients = {
            HMAC_CONSUMER_KEY: _Client(HMAC_CONSUMER_SECRET, None, HMAC_METHODS),
            RSA_CONSUMER_KEY: _Client(None, rsa_key_pair()[1], RSA_METHODS),
        }
        self.store = _Store(clients=clients)
        validator = MemoryValidator(self.store)
        self.request_token_endpoint = RequestTokenEndpoint(validator)
        self.authorization_endpoint = AuthorizationEndpoint(validator)
        self.access_token_endpoint = AccessTokenEndpoint(validator)
        self.resource_endpoint = ResourceEndpoint(validator)

    @staticmethod
    def _args(req: RawRequest) -> dict[str, Any]:
        return {
            "uri": req.uri,
            "http_method": req.method,
            "body": req.form_body,
            "headers": req.headers,
        }

    def issue_request_token(self, req: RawRequest) -> Response:
        endpoint = self.request_token_endpoint
        return _response(*endpoint.create_request_token_response(**self._args(req)))

    def approve(self, req: RawRequest) -> Response:
        try:
            headers, body, status = self.authorization_endpoint.create_authorization_response(
                **self._args(req)
            )
        except OAuth1Error as error:  # this endpoint raises instead of answering
            headers = [("Content-Type", "application/x-www-form-urlencoded")]
            return Response(error.status_code, headers, error.urlencoded.encode())
        if status == 200:  # "oob": oauthlib answers a form body; show it as the PIN page
            verifier = dict(parse_qsl(body or ""))["oauth_verifier"]
            return verifier_page(verifier)
        return _response(headers, body, status)

    def deny(self, token: str) -> str | None:
        with self.store.lock:
            record = self.store.request_tokens.pop(token, None)
        return record.callback if record else None

    def issue_access_token(self, req: RawRequest) -> Response:
        endpoint = self.access_token_endpoint
        return _response(*endpoint.create_access_token_response(**self._args(req)))

    def verify_resource_request(self, req: RawRequest) -> tuple[str, str] | Response:
        valid, request = self.resource_endpoint.validate_protected_resource_request(
            **self._args(req)
        )
        if not valid or request is None:
            return Response(401)  # oauthlib gives no body for a refused resource request
        return request.client_key, request.resource_owner_key


def start() -> OAuth1Peer:
    """Start the oauthlib provider on a free loopback port."""
    return start_peer("oauthlib", OAuthlibProvider)
