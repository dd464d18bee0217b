"""The sandbox's OAuth 1.0a provider on oauthlib's ``oauth1`` endpoints.

oauthlib does the protocol: temporary credentials (RFC 5849 §2.1), the user's authorization
and the verifier (§2.2), token credentials (§2.3) and signed resource requests (§3.2: the
signature, the timestamp window and the mandatory parameters). This module supplies its
``RequestValidator`` over the sandbox store, the consent page and these policies:

* Consumers are the sandbox's ``kind="oauth1"`` clients. HMAC-SHA1/SHA256/SHA512 and PLAINTEXT
  need the consumer secret; RSA-SHA1/SHA256/SHA512 need a registered ``rsa_public_key``
  (oauthlib verifies RSA signatures through PyJWT and cryptography).
* Callbacks must be registered (loopback URIs match any port, RFC 8252 §7.3); ``oob`` gets the
  verifier as a PIN on the page (§2.2).
* Timestamps within ±600 s, each nonce once per client, timestamp and token (§3.3); request
  tokens live ten minutes and are used up by the exchange.

oauthlib percent-decodes ``oauth_*`` values a second time when they travel in the query or
the body (not in the ``Authorization`` header), so a signature over a callback containing
``%`` fails there. The sandbox's own tokens and verifiers are letters and digits only.
"""

from __future__ import annotations

import functools
import hmac
import string
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from oauthlib.oauth1 import (  # type: ignore[import-untyped]
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    OAuth1Error,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)

from ..protocol.http import FORM_TYPE
from . import pages
from .clients import SandboxClient
from .oauth2 import valid_user_name
from .server import Request, Response
from .store import (
    REQUEST_TOKEN_LIFETIME,
    TIMESTAMP_WINDOW,
    OAuth1AccessToken,
    RequestToken,
    Store,
)

__all__ = ["PATHS", "OAuth1Provider", "SandboxOAuth1Validator"]

PATHS: Final = {
    "request_token_url": "/oauth1/request_token",
    "authorize_url": "/oauth1/authorize",
    "access_token_url": "/oauth1/access_token",
    "resource": "/oauth1/api/me",
}
HMAC_METHODS: Final = ("HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512", "PLAINTEXT")
RSA_METHODS: Final = ("RSA-SHA1", "RSA-SHA256", "RSA-SHA512")
_PRINTABLE: Final = frozenset(string.printable) - frozenset(string.whitespace)
# oauthlib signs with a dummy secret for an unknown client or token, so that a refusal takes
# as long as an acceptance; these are never issued.
_DUMMY_SECRET: Final = "sandbox-dummy-secret-never-issued"
_FORM: Final = {"Content-Type": FORM_TYPE, "Cache-Control": "no-store"}


@functools.cache
def _throwaway_public_key() -> str:
    """A public key nobody holds the private half of (made once, when first needed)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def _append_query(url: str, params: list[tuple[str, str]]) -> str:
    base, sep, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return base + joiner + urlencode(params) + sep + fragment


class SandboxOAuth1Validator(RequestValidator):  # type: ignore[misc]
    """oauthlib's OAuth 1 ``RequestValidator`` over the sandbox store.

    oauthlib's defaults would refuse the sandbox's clients: ``enforce_ssl`` (the sandbox is
    plain http on loopback), keys of 20-30 letters and digits (``demo-oauth1`` has a dash)
    and an empty realm list. They are relaxed here.
    """

    enforce_ssl = False
    allowed_signature_methods = HMAC_METHODS + RSA_METHODS
    safe_characters = _PRINTABLE
    client_key_length = request_token_length = access_token_length = (1, 256)
    nonce_length = verifier_length = (1, 256)
    timestamp_lifetime = TIMESTAMP_WINDOW
    dummy_client = "sandbox-dummy-client"
    dummy_request_token = "sandbox-dummy-request-token"
    dummy_access_token = "sandbox-dummy-access-token"

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def _consumer(self, client_key: str | None) -> SandboxClient | None:
        return self.store.client(client_key, "oauth1")

    def check_realms(self, realms: list[str]) -> bool:
        """Any realm (the sandbox does not use them)."""
        return True

    # -- consumers ----------------------------------------------------------------------

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        """A registered consumer using a signature method it has a key for."""
        consumer = self._consumer(client_key)
        if consumer is None:
            return False
        if request.signature_method in RSA_METHODS:
            return consumer.rsa_public_key is not None
        return consumer.client_secret is not None

    def get_client_secret(self, client_key: str, request: Any) -> str:
        consumer = self._consumer(client_key)
        return (consumer.client_secret if consumer else None) or _DUMMY_SECRET

    def get_rsa_key(self, client_key: str, request: Any) -> str:
        """The consumer's public key; for an unknown consumer a throwaway one, so that
        oauthlib's verification runs (and fails) the same way."""
        consumer = self._consumer(client_key)
        return (consumer.rsa_public_key if consumer else None) or _throwaway_public_key()

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        """A nonce once per client, timestamp and token (RFC 5849 §3.3); oauthlib already
        refused timestamps outside the window."""
        key = (client_key, timestamp, nonce, request_token or access_token or "")
        return self.store.remember_nonce(key, float(timestamp))

    # -- temporary credentials (RFC 5849 §2.1) ------------------------------------------

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        """A registered callback (loopback: any port), or ``oob`` if registered."""
        consumer = self._consumer(client_key)
        return consumer is not None and consumer.allows_redirect_uri(redirect_uri)

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def validate_requested_realms(self, client_key: str, realms: list[str], request: Any) -> bool:
        return True

    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        record = RequestToken(
            client_key=request.client_key,
            secret=token["oauth_token_secret"],
            callback=request.redirect_uri,
            realms=tuple(request.realms or ()),
            expires_at=self.store.now() + REQUEST_TOKEN_LIFETIME,
        )
        with self.store.lock:
            self.store.prune()
            self.store.request_tokens[token["oauth_token"]] = record

    # -- the user's authorization (RFC 5849 §2.2) ---------------------------------------

    def _pending(self, token: str) -> RequestToken | None:
        with self.store.lock:
            record = self.store.request_tokens.get(token)
        if record is None or record.expires_at <= self.store.now():
            return None
        return record

    def verify_request_token(self, token: str, request: Any) -> bool:
        return self._pending(token) is not None

    def verify_realms(self, token: str, realms: list[str], request: Any) -> bool:
        return True

    def get_realms(self, token: str, request: Any) -> list[str]:
        record = self._pending(token)
        return list(record.realms) if record else []

    def get_redirect_uri(self, token: str, request: Any) -> str:
        record = self._pending(token)
        return record.callback if record else "oob"

    def save_verifier(self, token: str, verifier: dict[str, str], request: Any) -> None:
        with self.store.lock:
            record = self.store.request_tokens.get(token)
            if record is not None:
                record.verifier = verifier["oauth_verifier"]

    # -- token credentials (RFC 5849 §2.3) ----------------------------------------------

    def _request_token(self, client_key: str, token: str) -> RequestToken | None:
        record = self._pending(token)
        return record if record is not None and record.client_key == client_key else None

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        return self._request_token(client_key, token) is not None

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        record = self._request_token(client_key, token)
        return record.secret if record else _DUMMY_SECRET

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        record = self._request_token(client_key, token)
        if record is None or record.verifier is None or record.user is None:
            return False
        return hmac.compare_digest(record.verifier.encode(), verifier.encode())

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        with self.store.lock:
            self.store.request_tokens.pop(request_token, None)

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        """Token credentials for the user who approved the request token (oauthlib calls this
        before it invalidates the request token)."""
        with self.store.lock:
            pending = self.store.request_tokens.get(request.resource_owner_key)
            self.store.oauth1_tokens[token["oauth_token"]] = OAuth1AccessToken(
                client_key=request.client_key,
                secret=token["oauth_token_secret"],
                user=(pending.user if pending else None) or "",
                realms=tuple(request.realms or ()),
            )

    # -- protected resources (RFC 5849 §3) ----------------------------------------------

    def _access_token(self, client_key: str, token: str) -> OAuth1AccessToken | None:
        with self.store.lock:
            record = self.store.oauth1_tokens.get(token)
        return record if record is not None and record.client_key == client_key else None

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return self._access_token(client_key, token) is not None

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        record = self._access_token(client_key, token)
        return record.secret if record else _DUMMY_SECRET

    def validate_realms(
        self,
        client_key: str,
        token: str,
        request: Any,
        uri: str | None = None,
        realms: list[str] | None = None,
    ) -> bool:
        return True


class OAuth1Provider:
    """The OAuth 1.0a routes of the sandbox."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.validator = SandboxOAuth1Validator(store)
        self.request_token_endpoint = RequestTokenEndpoint(self.validator)
        self.authorization_endpoint = AuthorizationEndpoint(self.validator)
        self.access_token_endpoint = AccessTokenEndpoint(self.validator)
        self.resource_endpoint = ResourceEndpoint(self.validator)

    def request_token(self, req: Request) -> Response:
        """RFC 5849 §2.1 (POST, as the RFC requires)."""
        return _credentials(req, self.request_token_endpoint.create_request_token_response)

    def access_token(self, req: Request) -> Response:
        """RFC 5849 §2.3 (POST)."""
        return _credentials(req, self.access_token_endpoint.create_access_token_response)

    def authorize_page(self, req: Request) -> Response:
        """RFC 5849 §2.2: the sign-in and consent page for a request token."""
        token = req.query_params().get("oauth_token", "")
        record = self._pending(token)
        if record is None:
            return pages.message_page(
                400,
                "This request cannot be completed",
                "The request token is unknown or has expired. Start again in the application.",
            )
        consumer = self.store.client(record.client_key, "oauth1")
        name = consumer.name if consumer else record.client_key
        where = "a code shown here (out of band)" if record.callback == "oob" else record.callback
        return pages.consent_page(
            action=PATHS["authorize_url"],
            csrf=self.store.issue_ticket("oauth1", token),
            client_name=name,
            details=[("Consumer key", record.client_key), ("Returns you to", where)],
        )

    def authorize_decision(self, req: Request) -> Response:
        """Approve: oauthlib makes the verifier and the redirect (or the PIN for ``oob``).
        Deny: the request token is forgotten and the callback gets ``denied=<token>`` (as
        Twitter and others do; RFC 5849 does not say)."""
        form = req.form()
        token = self.store.take_ticket(form.get("csrf_token", ""), "oauth1")
        if token is None:
            return pages.message_page(
                400, "This page has expired", "Go back to the application and start again."
            )
        action, user = form.get("action"), form.get("user", "").strip()
        if action == "deny":
            with self.store.lock:
                record = self.store.request_tokens.pop(token, None)
            if record is None or record.callback == "oob":
                return pages.message_page(
                    200,
                    "Request denied",
                    "The application was not given access.",
                    element_id="denied",
                )
            return self._redirect(_append_query(record.callback, [("denied", token)]))
        if action != "approve":
            return pages.message_page(400, "Unknown action", "Choose Approve or Deny.")
        if not valid_user_name(user):
            return pages.message_page(
                400, "A user name is needed", "Go back to the application and start again."
            )
        with self.store.lock:
            record = self.store.request_tokens.get(token)
            if record is not None:
                record.user = user
        uri = req.origin + PATHS["authorize_url"] + "?" + urlencode([("oauth_token", token)])
        try:
            headers, body, status = self.authorization_endpoint.create_authorization_response(
                uri, http_method="GET", body="", headers={}
            )
        except OAuth1Error as error:  # this endpoint raises instead of answering
            return pages.message_page(
                error.status_code, "This request cannot be completed", error.description
            )
        if status == 200:  # oob: oauthlib answers with a form body; show the verifier
            return pages.pin_page(dict(parse_qsl(body or ""))["oauth_verifier"])
        return self._redirect(headers["Location"])

    @staticmethod
    def _redirect(location: str) -> Response:
        return Response(
            302,
            [
                ("Location", location),
                ("Cache-Control", "no-store"),
                ("Referrer-Policy", "no-referrer"),
            ],
        )

    def _pending(self, token: str) -> RequestToken | None:
        with self.store.lock:
            record = self.store.request_tokens.get(token)
        if record is None or record.expires_at <= self.store.now():
            return None
        return record

    def me(self, req: Request) -> Response:
        """A signed resource request (RFC 5849 §3.2): who the token credentials stand for."""
        valid, request = self.resource_endpoint.validate_protected_resource_request(
            **req.oauthlib_args()
        )
        if not valid or request is None:
            return Response(
                401,
                [("WWW-Authenticate", 'OAuth realm="oauthkit-sandbox"'), *_FORM.items()],
                b"oauth_problem=signature_invalid_or_token_rejected",
            )
        record = self.validator._access_token(request.client_key, request.resource_owner_key)
        user = record.user if record else ""
        return Response.json(200, {"user": user, "consumer_key": request.client_key})


def _credentials(req: Request, create: Callable[..., Any]) -> Response:
    """A POST to a credentials endpoint (RFC 5849 §2.1, §2.3), answered uncached."""
    if req.method != "POST":
        return Response(405, [("Allow", "POST")])
    response = Response.from_oauthlib(*create(**req.oauthlib_args()))
    response.set_header("Cache-Control", "no-store")
    return response
