"""The sandbox's OAuth 2 authorization server on oauthlib's endpoints.

oauthlib does the protocol: the authorization endpoint (RFC 6749 §4.1.1-4.1.2, PKCE RFC 7636
§4.4-4.6), the token endpoint (authorization code §4.1.3, refresh §6, client credentials §4.4,
device code RFC 8628 §3.4-3.5), the device authorization endpoint (RFC 8628 §3.1-3.2),
revocation (RFC 7009), introspection (RFC 7662), bearer resource checks (RFC 6750) and the
metadata document (RFC 8414). This module supplies its ``RequestValidator`` over the in-memory
:class:`~oauthkit.sandbox.store.Store`, the consent pages, and these policies:

* PKCE with ``S256`` is required from every client (RFC 9700 §2.1.1); ``plain`` is refused.
* Every redirect from the authorization endpoint carries ``iss`` (RFC 9207 §2).
* Authorization codes are single-use; a reused code revokes what it bought (RFC 6749 §4.1.2).
* Refresh tokens rotate; presenting a rotated one revokes the whole grant (RFC 9700 §4.14.2).
* A confidential client may always authenticate with HTTP Basic (RFC 6749 §2.3.1), with the
  form only when registered as ``client_secret_post``, never with both (§2.3).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from oauthlib.common import Request as OAuthlibRequest  # type: ignore[import-untyped]
from oauthlib.oauth2 import (  # type: ignore[import-untyped]
    AccessDeniedError,
    AuthorizationCodeGrant,
    AuthorizationEndpoint,
    BearerToken,
    ClientCredentialsGrant,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    FatalClientError,
    IntrospectEndpoint,
    InvalidGrantError,
    MetadataEndpoint,
    OAuth2Error,
    RefreshTokenGrant,
    ResourceEndpoint,
    RevocationEndpoint,
    Server,
    TokenEndpoint,
    UnauthorizedClientError,
)
from oauthlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
    UnsupportedCodeChallengeMethodError,
)
from oauthlib.oauth2.rfc8628.request_validator import (  # type: ignore[import-untyped]
    RequestValidator,
)

from . import pages
from .clients import AUTH_METHODS, DEVICE_CODE_GRANT, SCOPES, SandboxClient
from .server import Request, Response
from .store import (
    CODE_LIFETIME,
    DEVICE_CODE_LIFETIME,
    AccessToken,
    AuthorizationCode,
    DeviceAuthorization,
    Grant,
    RefreshToken,
    Store,
    new_user_code,
)

__all__ = ["PATHS", "OAuth2Provider", "SandboxValidator", "add_iss", "valid_user_name"]

#: Where each endpoint lives, relative to the issuer.
PATHS: Final = {
    "metadata": "/.well-known/oauth-authorization-server",
    "authorization_endpoint": "/oauth2/authorize",
    "token_endpoint": "/oauth2/token",
    "device_authorization_endpoint": "/oauth2/device",
    "revocation_endpoint": "/oauth2/revoke",
    "introspection_endpoint": "/oauth2/introspect",
    "device_page": "/device",
    "resource": "/api/me",
}
#: RFC 8628 §3.2: seconds between polls the client is asked to wait.
DEVICE_INTERVAL: Final = 5
#: The protection space named in ``WWW-Authenticate`` challenges (RFC 9110 §11.5).
REALM: Final = "oauthkit-sandbox"

_JSON_HEADERS: Final = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def valid_user_name(user: str) -> bool:
    """A user name the sign-in form accepts: 1-64 printable characters."""
    return 0 < len(user) <= 64 and user.isprintable()


def add_iss(location: str, issuer: str) -> str:
    """RFC 9207 §2: add ``iss`` to an authorization response, next to ``code`` or ``error``
    (the query, or the fragment for ``response_mode=fragment``)."""
    parts = urlsplit(location)
    extra = urlencode([("iss", issuer)])
    fragment_keys = {k for k, _ in parse_qsl(parts.fragment, keep_blank_values=True)}
    if fragment_keys & {"code", "error"}:
        return urlunsplit(parts._replace(fragment=f"{parts.fragment}&{extra}"))
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def _new_token(request: object) -> str:
    """An opaque token: 256 random bits, URL-safe (no ``%`` ever needed)."""
    return secrets.token_urlsafe(32)


def _basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The client id and secret of an HTTP Basic ``Authorization`` header, form-decoded
    (RFC 6749 §2.3.1); ``("", "")`` for a malformed one; None without one."""
    value = headers.get("Authorization", "")
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, sep, password = decoded.partition(":")
    if not sep:
        return "", ""
    return unquote_plus(user), unquote_plus(password)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SandboxValidator(RequestValidator):  # type: ignore[misc]
    """oauthlib's ``RequestValidator`` (with the RFC 8628 additions) over the sandbox store.

    Besides the documented attributes, it leaves ``sandbox_grant`` (code exchange),
    ``sandbox_refresh`` (refresh) and ``sandbox_access`` (resource requests) on oauthlib's
    request for the next step to use.
    """

    def __init__(self, store: Store, issuer: str, *, rotate_refresh_tokens: bool) -> None:
        super().__init__()
        self.store = store
        self.issuer = issuer
        self.rotate = rotate_refresh_tokens

    def _client(self, client_id: str | None) -> SandboxClient | None:
        return self.store.client(client_id, "oauth2")

    # -- client authentication (RFC 6749 §2.3, §3.2.1) ---------------------------------

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """True unless the client making the request is public."""
        basic = _basic_credentials(request.headers)
        client = self._client(basic[0] if basic else request.client_id)
        return client is None or not client.is_public

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """A confidential client's id and secret: HTTP Basic, or the form for a client
        registered as ``client_secret_post``; one method only (RFC 6749 §2.3)."""
        basic = _basic_credentials(request.headers)
        posted = request.client_secret
        if basic is not None:
            if posted is not None or (request.client_id and request.client_id != basic[0]):
                return False
            client_id, secret = basic
            client = self._client(client_id)
        else:
            client_id, secret = request.client_id, posted
            client = self._client(client_id)
            if client is None or client.token_endpoint_auth_method != "client_secret_post":
                return False
        if client is None or client.is_public or not client.client_secret or secret is None:
            return False
        if not _same(secret, client.client_secret):
            return False
        request.client = client
        request.client_id = client.client_id
        return True

    def authenticate_client_id(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """A public client identifies itself with ``client_id`` only (RFC 6749 §2.1)."""
        client = self._client(client_id)
        if client is None or not client.is_public or request.client_secret is not None:
            return False
        request.client = client
        return True

    def validate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        """A registered OAuth 2 client."""
        client = self._client(client_id)
        if client is None:
            return False
        request.client = client
        return True

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """The client is registered for this grant (RFC 7591 §2 ``grant_types``)."""
        return isinstance(client, SandboxClient) and grant_type in client.grant_types

    # -- authorization requests (RFC 6749 §4.1.1, §3.1.2, §3.3) -------------------------

    def get_default_redirect_uri(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> str | None:
        """The single registered redirect URI, if there is exactly one; else the request must
        name one (RFC 6749 §3.1.2.3). A loopback URI is no default: its port is the app's."""
        client = self._client(client_id)
        if client is None or len(client.redirect_uris) != 1:
            return None
        (uri,) = client.redirect_uris
        host = urlsplit(uri).hostname
        return None if host in ("127.0.0.1", "::1") else uri

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """Registered, with the RFC 8252 §7.3 loopback rule (any port)."""
        client = self._client(client_id)
        return client is not None and client.allows_redirect_uri(redirect_uri)

    def validate_response_type(
        self,
        client_id: str,
        response_type: str,
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Only ``code``, for clients with the authorization code grant."""
        return (
            response_type == "code"
            and isinstance(client, SandboxClient)
            and "authorization_code" in client.grant_types
        )

    def get_default_scopes(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        """RFC 6749 §3.3: the client's first scope when it asks for none."""
        client = self._client(client_id)
        return list(client.scopes[:1]) if client else []

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Only scopes the client is registered for."""
        registered = client if isinstance(client, SandboxClient) else self._client(client_id)
        return registered is not None and all(s in registered.scopes for s in scopes)

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        """RFC 9700 §2.1.1: PKCE for every client."""
        return True

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Bind the code to its client, redirect URI, user, scopes and PKCE challenge."""
        now = self.store.now()
        record = AuthorizationCode(
            client_id=client_id,
            redirect_uri=request.redirect_uri,
            user=request.user,
            scopes=tuple(request.scopes or ()),
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            expires_at=now + CODE_LIFETIME,
            grant=Grant(client_id, request.user),
        )
        with self.store.lock:
            self.store.prune()
            self.store.codes[code["code"]] = record

    # -- the code exchange (RFC 6749 §4.1.3, RFC 7636 §4.6) ------------------------------

    def _code(self, code: str) -> AuthorizationCode | None:
        with self.store.lock:
            return self.store.codes.get(code)

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """Use the code up at once (two concurrent exchanges cannot both win); a code used
        before revokes every token it bought (RFC 6749 §4.1.2)."""
        with self.store.lock:
            record = self.store.codes.get(code)
            if record is None or record.client_id != client_id:
                return False
            if record.used:
                self.store.revoke_grant(record.grant)
                return False
            if record.expires_at <= self.store.now():
                return False
            record.used = True
        request.user = record.user
        request.scopes = list(record.scopes)
        request.sandbox_grant = record.grant
        return True

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        record = self._code(code)
        return record.code_challenge if record else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        record = self._code(code)
        return record.code_challenge_method if record else None

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """The same redirect URI as in the authorization request (RFC 6749 §4.1.3)."""
        record = self._code(code)
        return (
            record is not None and redirect_uri is not None and record.redirect_uri == redirect_uri
        )

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Nothing to do: :meth:`validate_code` used the code up already."""

    # -- refresh (RFC 6749 §6, RFC 9700 §4.14.2) ----------------------------------------

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """An active refresh token of this client. A rotated one presented again means it
        leaked: the whole grant is revoked."""
        with self.store.lock:
            record = self.store.refresh_tokens.get(refresh_token)
            if record is None or not isinstance(client, SandboxClient):
                return False
            if record.client_id != client.client_id:
                return False
            if record.rotated and not record.grant.revoked:
                self.store.revoke_grant(record.grant)
                return False
            if not record.active():
                return False
        request.user = record.user
        request.sandbox_refresh = record
        return True

    def get_original_scopes(
        self, refresh_token: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        with self.store.lock:
            record = self.store.refresh_tokens.get(refresh_token)
        return list(record.scopes) if record else []

    def rotate_refresh_token(self, request: Any) -> bool:
        """The sandbox's ``rotate_refresh_tokens`` setting."""
        return self.rotate

    # -- the device flow (RFC 8628 §3.4-3.5) --------------------------------------------

    def validate_device_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> str | None:
        """Where the user's decision stands; an approved device code is used up here."""
        with self.store.lock:
            record = self.store.devices.get(code)
            if record is None or record.client_id != client_id or record.status == "used":
                return None
            if record.expires_at <= self.store.now():
                return str(DeviceCodeGrant.DEVICE_CODE_EXPIRED)
            if record.status == "denied":
                return str(DeviceCodeGrant.DEVICE_CODE_DENIED)
            if record.status == "pending":
                return str(DeviceCodeGrant.DEVICE_CODE_PENDING)
            record.status = "used"
        request.user = record.user
        request.scopes = list(record.scopes)
        return str(DeviceCodeGrant.DEVICE_CODE_AUTHORIZED)

    # -- issuing tokens -----------------------------------------------------------------

    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Record the access token (and refresh token) under the grant it came from.

        A refresh that rotates marks the old refresh token; if another request rotated it
        first, this one is refused and the grant revoked (only one may win). A client not
        registered for ``refresh_token`` gets no refresh token (oauthlib issues one with
        every code and device grant; the token dict is the response, so removing it here
        removes it from the answer).
        """
        client: SandboxClient = request.client
        now = self.store.now()
        scopes = tuple(request.scopes or ())
        with self.store.lock:
            if request.grant_type == "refresh_token":
                old: RefreshToken = request.sandbox_refresh
                grant = old.grant
                if token.get("refresh_token") != request.refresh_token:
                    if not old.active():
                        self.store.revoke_grant(grant)
                        raise InvalidGrantError(
                            description="the refresh token was already used", request=request
                        )
                    old.rotated = True
            elif request.grant_type == "authorization_code":
                grant = request.sandbox_grant
            else:
                grant = Grant(client.client_id, request.user)
            if "refresh_token" not in client.grant_types:
                token.pop("refresh_token", None)
            self.store.prune()
            self.store.access_tokens[token["access_token"]] = AccessToken(
                client_id=client.client_id,
                user=request.user,
                scopes=scopes,
                issued_at=now,
                expires_at=now + int(token["expires_in"]),
                grant=grant,
            )
            refresh = token.get("refresh_token")
            if refresh and refresh not in self.store.refresh_tokens:
                self.store.refresh_tokens[refresh] = RefreshToken(
                    client_id=client.client_id,
                    user=request.user,
                    scopes=scopes,
                    issued_at=now,
                    grant=grant,
                )

    # -- the protected resource (RFC 6750) ----------------------------------------------

    def validate_bearer_token(self, token: str | None, scopes: list[str], request: Any) -> bool:
        """Known, unexpired, not revoked."""
        if not token:
            return False
        with self.store.lock:
            record = self.store.access_tokens.get(token)
            if record is None or not record.active(self.store.now()):
                return False
        request.user = record.user
        request.scopes = list(record.scopes)
        request.client = self._client(record.client_id)
        request.sandbox_access = record
        return True

    # -- revocation (RFC 7009) and introspection (RFC 7662) -----------------------------

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Revoke an access token, or a refresh token with every token of its grant
        (RFC 7009 §2.1). An unknown token is fine (§2.2); another client's is refused."""
        caller = request.client.client_id
        with self.store.lock:
            refresh = self.store.refresh_tokens.get(token)
            access = self.store.access_tokens.get(token)
            record = refresh or access
            if record is None:
                return
            if record.client_id != caller:
                raise InvalidGrantError(
                    description="the token was issued to another client", request=request
                )
            if refresh is not None:
                self.store.revoke_grant(refresh.grant)
            elif access is not None:
                access.revoked = True

    def introspect_token(
        self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any
    ) -> dict[str, Any] | None:
        """RFC 7662 §2.2 claims of an active token of the calling client; None (``active:
        false``) for anything else, another client's token included."""
        caller = request.client.client_id
        now = self.store.now()
        with self.store.lock:
            access = self.store.access_tokens.get(token)
            refresh = self.store.refresh_tokens.get(token)
            if access is not None and access.client_id == caller and access.active(now):
                claims = self._claims(access.client_id, access.user, access.scopes)
                claims.update(
                    token_type="Bearer", exp=int(access.expires_at), iat=int(access.issued_at)
                )
                return claims
            if refresh is not None and refresh.client_id == caller and refresh.active():
                claims = self._claims(refresh.client_id, refresh.user, refresh.scopes)
                claims["iat"] = int(refresh.issued_at)
                return claims
        return None

    def _claims(self, client_id: str, user: str | None, scopes: tuple[str, ...]) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "scope": " ".join(scopes),
            "client_id": client_id,
            "sub": user or client_id,
            "iss": self.issuer,
        }
        if user:
            claims["username"] = user
        return claims


class _Endpoints(Server):  # type: ignore[misc]
    """oauthlib's all-in-one ``Server`` (the authorization, token, resource, revocation and
    introspection endpoints) with exactly the sandbox's grants: its ``__init__`` is replaced
    to leave out the implicit and password grants."""

    def __init__(self, validator: SandboxValidator, expires_in: int) -> None:
        self.auth_grant = AuthorizationCodeGrant(validator)
        self.refresh_grant = RefreshTokenGrant(validator)
        self.credentials_grant = ClientCredentialsGrant(validator)
        self.device_grant = DeviceCodeGrant(validator)
        self.bearer = BearerToken(validator, _new_token, expires_in, _new_token)
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": self.auth_grant},
            default_token_type=self.bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={
                "authorization_code": self.auth_grant,
                "refresh_token": self.refresh_grant,
                "client_credentials": self.credentials_grant,
                DEVICE_CODE_GRANT: self.device_grant,
            },
            default_token_type=self.bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": self.bearer})
        RevocationEndpoint.__init__(self, validator)
        IntrospectEndpoint.__init__(self, validator)


def _after_validation(request: Any) -> dict[str, Any]:
    """A ``post_auth`` validator of oauthlib's code grant: ``S256`` only (RFC 9700 §2.1.1;
    oauthlib also takes ``plain`` and defaults to it), then the user's denial, which oauthlib
    turns into the ``access_denied`` redirect (RFC 6749 §4.1.2.1)."""
    if request.code_challenge_method != "S256":
        raise UnsupportedCodeChallengeMethodError(
            description="code_challenge_method must be S256", request=request
        )
    if getattr(request, "sandbox_denied", False):
        raise AccessDeniedError(description="the user denied the request", request=request)
    return {}


def _error_response(error: Any) -> Response:
    """An oauthlib ``OAuth2Error`` as an RFC 6749 §5.2 answer."""
    return Response.from_oauthlib({**_JSON_HEADERS, **error.headers}, error.json, error.status_code)


def _basic_challenge(response: Response) -> Response:
    """RFC 6749 §5.2: ``invalid_client`` answers 401 with a challenge for the scheme the
    client used, HTTP Basic (oauthlib sends a ``Bearer`` one)."""
    if response.status == 401:
        response.set_header("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
    return response


class OAuth2Provider:
    """The OAuth 2 routes of the sandbox."""

    def __init__(
        self,
        store: Store,
        issuer: str,
        *,
        access_token_ttl: int,
        rotate_refresh_tokens: bool,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.validator = SandboxValidator(
            store, issuer, rotate_refresh_tokens=rotate_refresh_tokens
        )
        self.endpoints = _Endpoints(self.validator, access_token_ttl)
        self.endpoints.auth_grant.custom_validators.post_auth.append(_after_validation)
        self.device_endpoint = DeviceAuthorizationEndpoint(
            self.validator,
            verification_uri=issuer + PATHS["device_page"],
            expires_in=DEVICE_CODE_LIFETIME,
            interval=DEVICE_INTERVAL,
            verification_uri_complete=issuer + PATHS["device_page"] + "?user_code={user_code}",
            user_code_generator=self._user_code,
        )
        claims: dict[str, Any] = {
            "issuer": issuer,
            **{name: issuer + path for name, path in PATHS.items() if name.endswith("_endpoint")},
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "authorization_response_iss_parameter_supported": True,
        }
        # raise_errors=False: oauthlib's checks insist on an https issuer (the sandbox is
        # plain http on loopback); with them off it still derives grant_types_supported.
        self.metadata_endpoint = MetadataEndpoint([self.endpoints], claims, raise_errors=False)

    def _user_code(self) -> str:
        while True:
            code = new_user_code()
            if not self.store.user_code_taken(code):
                return code

    @staticmethod
    def _call(method: Callable[..., Any], **kwargs: Any) -> Response:
        try:
            headers, body, status = method(**kwargs)
        except OAuth2Error as error:
            return _error_response(error)
        return Response.from_oauthlib(headers, body, status)

    # -- metadata (RFC 8414 §3) ---------------------------------------------------------

    def metadata(self, req: Request) -> Response:
        """The authorization server metadata document."""
        response = self._call(
            self.metadata_endpoint.create_metadata_response, uri=req.url, http_method="GET"
        )
        response.set_header("Cache-Control", "no-cache")
        return response

    # -- the authorization endpoint (RFC 6749 §4.1.1-4.1.2) -----------------------------

    def authorize_page(self, req: Request) -> Response:
        """Check the request; show the sign-in and consent page, or redirect an error back
        (a bad client or redirect URI is shown here, never redirected, §4.1.2.1)."""
        try:
            scopes, info = self.endpoints.validate_authorization_request(**req.oauthlib_args())
        except FatalClientError as error:
            return pages.message_page(
                400, "This request cannot be completed", f"{error.error}: {error.description}"
            )
        except OAuth2Error:
            return self._respond(req.origin + req.path + "?" + req.query, {})
        client: SandboxClient = info["request"].client
        hint = req.query_params().get("login_hint", "")
        return pages.consent_page(
            action=PATHS["authorization_endpoint"],
            csrf=self.store.issue_ticket("oauth2", req.query),
            client_name=client.name,
            details=[("Client ID", client.client_id), ("Returns you to", info["redirect_uri"])],
            scopes=scopes,
            user=hint if valid_user_name(hint) else "alice",
        )

    def authorize_decision(self, req: Request) -> Response:
        """The consent form was sent: redirect with a code, or with ``access_denied``."""
        form = req.form()
        query = self.store.take_ticket(form.get("csrf_token", ""), "oauth2")
        if query is None:
            return pages.message_page(
                400, "This page has expired", "Go back to the application and start again."
            )
        action, user = form.get("action"), form.get("user", "").strip()
        if action not in ("approve", "deny"):
            return pages.message_page(400, "Unknown action", "Choose Approve or Deny.")
        if action == "approve" and not valid_user_name(user):
            return pages.message_page(
                400, "A user name is needed", "Go back to the application and start again."
            )
        credentials = {"user": user or None, "sandbox_denied": action == "deny"}
        return self._respond(req.origin + req.path + "?" + query, credentials)

    def _respond(self, uri: str, credentials: dict[str, Any]) -> Response:
        try:
            headers, body, status = self.endpoints.create_authorization_response(
                uri=uri, http_method="GET", body="", headers={}, credentials=credentials
            )
        except OAuth2Error as error:
            return pages.message_page(
                400, "This request cannot be completed", f"{error.error}: {error.description}"
            )
        response = Response.from_oauthlib(headers, body, status)
        location = response.header("Location")
        if location:
            response.set_header("Location", add_iss(location, self.issuer))
        response.set_header("Cache-Control", "no-store")
        response.set_header("Referrer-Policy", "no-referrer")
        return response

    # -- the token endpoint and friends ---------------------------------------------------

    def token(self, req: Request) -> Response:
        """RFC 6749 §3.2: every grant."""
        response = self._call(self.endpoints.create_token_response, **req.oauthlib_args())
        return _basic_challenge(response)

    def revoke(self, req: Request) -> Response:
        """RFC 7009 §2."""
        response = self._call(self.endpoints.create_revocation_response, **req.oauthlib_args())
        return _basic_challenge(response)

    def introspect(self, req: Request) -> Response:
        """RFC 7662 §2."""
        response = self._call(self.endpoints.create_introspect_response, **req.oauthlib_args())
        return _basic_challenge(response)

    def device_authorization(self, req: Request) -> Response:
        """RFC 8628 §3.1-3.2. oauthlib checks the request and makes the codes; the sandbox
        keeps them (oauthlib's endpoint stores nothing) and requires the client to be
        registered for the device grant."""
        if req.method != "POST":
            return Response.json(405, {"error": "invalid_request"}, [("Allow", "POST")])
        args = req.oauthlib_args()
        basic = _basic_credentials(req.headers)
        if basic and "client_id" not in dict(parse_qsl(args["body"])):
            # oauthlib wants client_id in the form even from a client that authenticates
            # with HTTP Basic (RFC 8628 §3.1 requires it only without client authentication).
            args["body"] += ("&" if args["body"] else "") + urlencode([("client_id", basic[0])])
        request = OAuthlibRequest(args["uri"], "POST", args["body"], args["headers"])
        try:
            self.device_endpoint.validate_device_authorization_request(request)
            client: SandboxClient = request.client
            if DEVICE_CODE_GRANT not in client.grant_types:
                raise UnauthorizedClientError(
                    description="this client is not registered for the device grant",
                    request=request,
                )
            _, data, _ = self.device_endpoint.create_device_authorization_response(**args)
        except OAuth2Error as error:
            return _basic_challenge(_error_response(error))
        record = DeviceAuthorization(
            client_id=client.client_id,
            user_code=data["user_code"],
            scopes=tuple(str(data.get("scope", "")).split()),
            expires_at=self.store.now() + int(data["expires_in"]),
        )
        self.store.add_device(data["device_code"], record)
        return Response.json(200, data)

    # -- the user's side of the device flow (RFC 8628 §3.3) -------------------------------

    def device_page(self, req: Request) -> Response:
        """The code entry page; with ``?user_code=`` (``verification_uri_complete``) the
        consent page for that code at once."""
        user_code = req.query_params().get("user_code", "")
        if user_code:
            return self._device_consent_or_retry(user_code)
        return pages.device_entry_page(csrf=self.store.issue_ticket("device-entry", ""))

    def device_decision(self, req: Request) -> Response:
        """The code entry form, or the consent form, was sent."""
        form = req.form()
        action = form.get("action")
        csrf = form.get("csrf_token", "")
        expired = pages.message_page(
            400, "This page has expired", "Open the address your device shows and start again."
        )
        if action == "lookup":
            if self.store.take_ticket(csrf, "device-entry") is None:
                return expired
            return self._device_consent_or_retry(form.get("user_code", ""))
        if action not in ("approve", "deny"):
            return pages.message_page(400, "Unknown action", "Choose Approve or Deny.")
        device_code = self.store.take_ticket(csrf, "device")
        if device_code is None:
            return expired
        user = form.get("user", "").strip()
        if action == "approve" and not valid_user_name(user):
            return pages.message_page(400, "A user name is needed", "Start again on your device.")
        with self.store.lock:
            record = self.store.devices.get(device_code)
            if (
                record is None
                or record.status != "pending"
                or record.expires_at <= self.store.now()
            ):
                return expired
            if action == "approve":
                record.status, record.user = "approved", user
            else:
                record.status = "denied"
        if action == "approve":
            return pages.message_page(
                200, "Device connected", "You can return to your device.", element_id="done"
            )
        return pages.message_page(
            200, "Request denied", "The device was not given access.", element_id="denied"
        )

    def _device_consent_or_retry(self, user_code: str) -> Response:
        found = self.store.device_by_user_code(user_code)
        if found is None:
            return pages.device_entry_page(
                csrf=self.store.issue_ticket("device-entry", ""),
                user_code=user_code,
                error="That code is unknown or has expired. Check your device and try again.",
            )
        device_code, record = found
        client = self.store.client(record.client_id, "oauth2")
        name = client.name if client else record.client_id
        return pages.consent_page(
            action=PATHS["device_page"],
            csrf=self.store.issue_ticket("device", device_code),
            client_name=name,
            details=[
                ("Client ID", record.client_id),
                ("Code on your device", record.user_code),
            ],
            scopes=record.scopes,
        )

    # -- the protected resource (RFC 6750 §2.1, §3) -------------------------------------

    def me(self, req: Request) -> Response:
        """Who the bearer token stands for. Only the ``Authorization`` header is read (RFC
        9700 §2.5 discourages tokens in the query)."""
        scheme, _, value = req.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return Response.json(
                401,
                {"error": "unauthorized", "error_description": "send a bearer token"},
                [("WWW-Authenticate", f'Bearer realm="{REALM}"')],
            )
        headers = {"Authorization": f"Bearer {value.strip()}"}
        valid, request = self.endpoints.verify_request(
            req.url, http_method=req.method, body="", headers=headers, scopes=[]
        )
        if not valid:
            description = "the access token is invalid, expired or revoked"
            challenge = (
                f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'
            )
            return Response.json(
                401,
                {"error": "invalid_token", "error_description": description},
                [("WWW-Authenticate", challenge)],
            )
        record: AccessToken = request.sandbox_access
        return Response.json(
            200,
            {
                "sub": record.user or record.client_id,
                "client_id": record.client_id,
                "scope": " ".join(record.scopes),
            },
        )
