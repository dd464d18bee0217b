"""The sandbox's :class:`SandboxValidator`: oauthlib's RFC 6749/7009/7636/7662/8628
``RequestValidator`` over the sandbox's in-memory :class:`~oauthkit.sandbox.store.Store`
(clients, codes, grants, tokens, device codes) and its policies; the HTTP routes that use it
are :mod:`oauthkit.sandbox.oauth2`."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from oauthlib.oauth2 import (  # type: ignore[import-untyped]
    DeviceCodeGrant,
    InvalidGrantError,
)
from oauthlib.oauth2.rfc8628.request_validator import (  # type: ignore[import-untyped]
    RequestValidator,
)

from .clients import SandboxClient
from .store import (
    CODE_LIFETIME,
    AccessToken,
    AuthorizationCode,
    Grant,
    RefreshToken,
    Store,
)

__all__ = ["SandboxValidator", "basic_credentials", "new_token"]


def new_token(request: object) -> str:
    """An opaque token: 256 random bits, URL-safe (no ``%`` ever needed)."""
    return secrets.token_urlsafe(32)


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
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
        basic = basic_credentials(request.headers)
        client = self._client(basic[0] if basic else request.client_id)
        return client is None or not client.is_public

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """A confidential client's id and secret: HTTP Basic, or the form for a client
        registered as ``client_secret_post``; one method only (RFC 6749 §2.3)."""
        basic = basic_credentials(request.headers)
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
