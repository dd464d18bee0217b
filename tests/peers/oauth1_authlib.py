"""Local OAuth 1.0a provider on Authlib's OAuth 1 server (``authlib.oauth1``:
``AuthorizationServer`` and ``ResourceProtector``).

What this module adds to Authlib, and why:

* Signature methods: Authlib verifies only HMAC-SHA1, RSA-SHA1 and PLAINTEXT, and by default
  *allows* only HMAC-SHA1 (``SUPPORTED_SIGNATURE_METHODS``).  HMAC-SHA256/512 and
  RSA-SHA256/512 are registered with ``register_signature_method`` on :class:`_PeerServer`,
  which has its own copy of the method table (Authlib's ``register_signature_method`` writes
  into the class attribute dict, which is shared with every other Authlib server in the
  process unless a subclass brings its own).  The RSA verifiers, Authlib's RSA-SHA1 included,
  are guarded so that a client without an RSA key fails verification instead of crashing.
* Transport: Authlib refuses plain ``http`` unless the URI is a loopback address (Authlib
  1.9 treats ``http://127.0.0.1`` and ``http://localhost`` as secure) or the environment
  variable ``AUTHLIB_INSECURE_TRANSPORT`` is set.  On import this module checks whether this
  Authlib accepts ``http://127.0.0.1`` and, only if it does not (older Authlib), sets that
  variable in ``os.environ`` -- i.e. for this test process only.
* Timestamps: Authlib refuses timestamps older than ``EXPIRY_TIME`` (default 300 s) but any
  timestamp in the future; here the window is ±600 s like oauthlib's.
* Requests are handed over raw (absolute URI with the query as received, the raw form body):
  Authlib parses both itself.  The body is handed over only when it is
  ``application/x-www-form-urlencoded``: Authlib would otherwise parse any body as a form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.common.security import generate_token, is_secure_transport
from authlib.common.urls import url_encode
from authlib.oauth1 import (
    AuthorizationServer,
    ClientMixin,
    OAuth1Request,
    ResourceProtector,
    TemporaryCredential,
    TokenCredentialMixin,
)
from authlib.oauth1.rfc5849.base_server import BaseServer
from authlib.oauth1.rfc5849.errors import InvalidRequestError, OAuth1Error
from authlib.oauth1.rfc5849.signature import generate_signature_base_string, verify_rsa_sha1
from authlib.oauth1.rfc5849.util import escape
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .oauth1_common import (
    HMAC_CONSUMER_KEY,
    HMAC_CONSUMER_SECRET,
    RSA_CONSUMER_KEY,
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

if not is_secure_transport("http://127.0.0.1/"):  # older Authlib: needs the switch for http
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

_USER = "alice"
_ALL_METHODS = list(SIGNATURE_METHODS)
Verifier = Callable[[OAuth1Request], bool]


# --------------------------------------------------------------------------- models


@dataclass
class _Client(ClientMixin):  # type: ignore[misc]
    """A registered client: a shared secret (HMAC/PLAINTEXT) or an RSA public key."""

    secret: str | None
    rsa_public_pem: str | None

    def get_default_redirect_uri(self) -> str | None:
        return None  # unused: this provider handles "oob" itself

    def get_client_secret(self) -> str | None:
        return self.secret

    def get_rsa_public_key(self) -> str | None:
        return self.rsa_public_pem


class _TokenCredential(dict[str, str], TokenCredentialMixin):  # type: ignore[misc]
    """An access token (token credentials)."""

    def get_oauth_token(self) -> str:
        return self["oauth_token"]

    def get_oauth_token_secret(self) -> str:
        return self["oauth_token_secret"]


@dataclass
class _Store:
    """Everything the provider remembers, guarded by one lock (the server is threaded)."""

    clients: dict[str, _Client]
    temporary: dict[str, TemporaryCredential] = field(default_factory=dict)
    tokens: dict[str, _TokenCredential] = field(default_factory=dict)
    nonces: set[tuple[str, str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


# --------------------------------------------------------------------------- signatures


def _hmac_verifier(digest: Callable[..., Any]) -> Verifier:
    """HMAC-SHA* over Authlib's signature base string (RFC 5849 §3.4.2 with another hash)."""

    def verify(request: OAuth1Request) -> bool:
        if not request.client_secret:
            return False
        base_string = generate_signature_base_string(request)
        key = escape(request.client_secret) + "&" + escape(request.token_secret or "")
        mac = hmac.new(key.encode(), base_string.encode(), digest).digest()
        return hmac.compare_digest(base64.b64encode(mac), (request.signature or "").encode())

    return verify


def _rsa_verifier(algorithm: hashes.HashAlgorithm) -> Verifier:
    """RSASSA-PKCS1-v1_5 over Authlib's signature base string (RFC 5849 §3.4.3)."""

    def verify(request: OAuth1Request) -> bool:
        key = load_pem_public_key(request.rsa_public_key.encode())
        if not isinstance(key, RSAPublicKey):
            return False
        base_string = generate_signature_base_string(request)
        try:
            signature = base64.b64decode(request.signature or "", validate=True)
            key.verify(signature, base_string.encode(), padding.PKCS1v15(), algorithm)
        except (InvalidSignature, binascii.Error):
            return False
        return True

    return verify


def _needs_rsa_key(verify: Verifier) -> Verifier:
    """Fail (instead of raising) when the client has no RSA public key."""

    def guarded(request: OAuth1Request) -> bool:
        return bool(request.rsa_public_key) and verify(request)

    return guarded


# --------------------------------------------------------------------------- servers


class _PeerServer(BaseServer):  # type: ignore[misc]
    """What the authorization server and the resource protector share."""

    # its own table, see the module docstring; and allow all seven methods
    SIGNATURE_METHODS: ClassVar[dict[str, Verifier]] = dict(BaseServer.SIGNATURE_METHODS)
    SUPPORTED_SIGNATURE_METHODS: ClassVar[list[str]] = _ALL_METHODS
    EXPIRY_TIME = TIMESTAMP_WINDOW

    def __init__(self, store: _Store) -> None:
        self.store = store

    def get_client_by_id(self, client_id: str) -> _Client | None:
        return self.store.clients.get(client_id)

    def exists_nonce(self, nonce: str, request: OAuth1Request) -> bool:
        """True if seen before with this client, timestamp and token; remembers it otherwise."""
        key = (request.client_id, request.timestamp or "", nonce, request.token or "")
        with self.store.lock:
            if key in self.store.nonces:
                return True
            self.store.nonces.add(key)
            return False

    def validate_timestamp_and_nonce(self, request: OAuth1Request) -> None:
        """Authlib's check, plus: refuse timestamps too far in the future."""
        super().validate_timestamp_and_nonce(request)
        if request.timestamp and int(request.timestamp) - time.time() > self.EXPIRY_TIME:
            raise InvalidRequestError('Invalid "oauth_timestamp" value')


for _name, _verify in {
    "HMAC-SHA256": _hmac_verifier(hashlib.sha256),
    "HMAC-SHA512": _hmac_verifier(hashlib.sha512),
    "RSA-SHA1": _needs_rsa_key(verify_rsa_sha1),
    "RSA-SHA256": _needs_rsa_key(_rsa_verifier(hashes.SHA256())),
    "RSA-SHA512": _needs_rsa_key(_rsa_verifier(hashes.SHA512())),
}.items():
    _PeerServer.register_signature_method(_name, _verify)


class PeerAuthorizationServer(_PeerServer, AuthorizationServer):  # type: ignore[misc]
    """Authlib ``AuthorizationServer`` over the in-memory store, answering :class:`Response`."""

    def create_oauth1_request(self, request: RawRequest | OAuth1Request) -> OAuth1Request:
        if isinstance(request, OAuth1Request):
            return request
        return OAuth1Request(request.method, request.uri, request.form_body, request.headers)

    def handle_response(
        self, status_code: int, payload: Any, headers: list[tuple[str, str]]
    ) -> Response:
        body = url_encode(payload) if isinstance(payload, list) else str(payload or "")
        return Response(status_code, list(headers), body.encode())

    def create_temporary_credential(self, request: OAuth1Request) -> TemporaryCredential:
        credential = TemporaryCredential(
            oauth_token=generate_token(30),
            oauth_token_secret=generate_token(40),
            client_id=request.client_id,
            oauth_callback=request.redirect_uri,
        )
        with self.store.lock:
            self.store.temporary[credential.get_oauth_token()] = credential
        return credential

    def get_temporary_credential(self, request: OAuth1Request) -> TemporaryCredential | None:
        """The request token, if it exists and (on signed requests) belongs to the client."""
        credential = self.store.temporary.get(request.token or "")
        if credential is None:
            return None
        if request.client_id and credential.get_client_id() != request.client_id:
            return None
        return credential

    def delete_temporary_credential(self, request: OAuth1Request) -> None:
        with self.store.lock:
            self.store.temporary.pop(request.token or "", None)

    def create_authorization_verifier(self, request: OAuth1Request) -> str:
        verifier: str = generate_token(30)
        with self.store.lock:
            request.credential["oauth_verifier"] = verifier
            request.credential["user_id"] = request.user
        return verifier

    def create_token_credential(self, request: OAuth1Request) -> _TokenCredential:
        credential = _TokenCredential(
            oauth_token=generate_token(30),
            oauth_token_secret=generate_token(40),
            client_id=request.client_id,
            user_id=str(request.credential.get_user_id()),
        )
        with self.store.lock:
            self.store.tokens[credential.get_oauth_token()] = credential
        return credential


class PeerResourceProtector(_PeerServer, ResourceProtector):  # type: ignore[misc]
    """Authlib ``ResourceProtector`` over the in-memory store."""

    def get_token_credential(self, request: OAuth1Request) -> _TokenCredential | None:
        credential = self.store.tokens.get(request.token or "")
        if credential is None or credential["client_id"] != request.client_id:
            return None
        return credential


# --------------------------------------------------------------------------- application


class AuthlibProvider(ProviderApp):
    """The provider's WSGI application on Authlib's OAuth 1 server."""

    def __init__(self, peer: OAuth1Peer) -> None:
        super().__init__(peer)
        self.store = _Store(
            clients={
                HMAC_CONSUMER_KEY: _Client(HMAC_CONSUMER_SECRET, None),
                RSA_CONSUMER_KEY: _Client(None, rsa_key_pair()[1]),
            }
        )
        self.server = PeerAuthorizationServer(self.store)
        self.protector = PeerResourceProtector(self.store)

    def issue_request_token(self, req: RawRequest) -> Response:
        response: Response = self.server.create_temporary_credentials_response(req)
        return response

    def approve(self, req: RawRequest) -> Response:
        try:
            request = self.server.create_oauth1_request(req)
            self.server.validate_authorization_request(request)
        except OAuth1Error as error:
            response: Response = self.server.handle_error_response(error)
            return response
        if request.credential.get_redirect_uri() == "oob":
            # Authlib would redirect "oob" to the client's default redirect URI: show the PIN.
            request.user = _USER
            return verifier_page(self.server.create_authorization_verifier(request))
        response = self.server.create_authorization_response(request, grant_user=_USER)
        return response

    def deny(self, token: str) -> str | None:
        with self.store.lock:
            credential = self.store.temporary.pop(token, None)
        return str(credential.get_redirect_uri()) if credential else None

    def issue_access_token(self, req: RawRequest) -> Response:
        response: Response = self.server.create_token_response(req)
        return response

    def verify_resource_request(self, req: RawRequest) -> tuple[str, str] | Response:
        try:
            request = self.protector.validate_request(
                req.method, req.uri, req.form_body, req.headers
            )
        except OAuth1Error as error:
            body = url_encode(error.get_body()).encode()
            return Response(error.status_code, list(error.get_headers()), body)
        return request.client_id, request.token


def start() -> OAuth1Peer:
    """Start the Authlib provider on a free loopback port."""
    return start_peer("authlib", AuthlibProvider)
