"""The grants at the token endpoint as protocol steps: the authorization code (RFC 6749
§4.1.3, with the mix-up check of RFC 9207), refresh (§6), client credentials (§4.4), the
password grant (§4.3), JWT bearer (RFC 7523) and token exchange (RFC 8693). The device grant
is :mod:`.device`; revocation and introspection :mod:`.token_management`; the token request
itself :mod:`.token_endpoint`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ...errors import (
    ConfigurationError,
    InvalidClient,
    InvalidGrant,
    InvalidResponse,
    IssuerMismatch,
    ProfileError,
)
from ..http import Step
from . import fapi
from .authorization import AuthorizationCode, AuthorizationRequest
from .config import ClientConfig
from .metadata import ServerMetadata
from .oidc import IdTokenError, checked_id_token
from .server import MetadataCache, server_metadata
from .token import Token
from .token_endpoint import token_form, token_request

__all__ = [
    "client_credentials",
    "exchange_code",
    "jwt_bearer",
    "password",
    "refresh",
    "token_exchange",
]

#: RFC 8628 §3.2: the polling interval when the server gives none.
TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"


def exchange_code(
    config: ClientConfig, cache: MetadataCache, code: AuthorizationCode
) -> Step[Token]:
    """RFC 6749 §4.1.3 (with RFC 7636 §4.5): exchange a validated code. The request is used up
    before the token request is sent.

    A code goes only to the client and server that made its request (RFC 9207 §2.4, RFC 9700
    §4.4.2): an authorization request made by another client, for another issuer or another
    authorization endpoint, is refused with :class:`~oauthkit.errors.IssuerMismatch` before
    anything is sent, and stays unused."""
    request = code.request
    metadata = yield from server_metadata(config, cache)
    _check_same_client(config, metadata, request)
    request.mark_used()
    form = token_form(
        {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
        },
        None,
    )
    token = yield from token_request(
        config, cache, form, grant="authorization_code", requested_scope=request.scope
    )
    asked = "openid" in (request.scope or "").split()
    if asked and token.id_token is None and "openid" in (token.scope or "").split():
        raise IdTokenError(
            "the token endpoint granted the openid scope but sent no ID token; OpenID Connect "
            "Core §3.1.3.3 requires one (the authorization server is not acting as an OpenID "
            "provider)"
        )
    return (
        yield from checked_id_token(
            config, cache, token, nonce=request.nonce, authentication=request.authentication
        )
    )


def _check_same_client(
    config: ClientConfig, metadata: ServerMetadata, request: AuthorizationRequest
) -> None:
    if request.client_id != config.auth.client_id:
        raise IssuerMismatch(
            f"this authorization request was made by client {request.client_id!r:.80}, not by "
            f"{config.auth.client_id!r:.80}: exchange the code with the client that made it "
            "(RFC 9700 §4.4.2)"
        )
    if request.issuer != metadata.issuer:
        raise IssuerMismatch(
            f"this authorization request was made for the issuer {request.issuer!r:.120}, and "
            f"this client's issuer is {metadata.issuer!r:.120}: its code goes only to the server "
            "that issued it (RFC 9207 §2.4, a mix-up attack)"
        )
    endpoint = metadata.endpoints.get("authorization_endpoint")
    if endpoint and request.url.split("?", 1)[0] != endpoint.split("?", 1)[0]:
        raise IssuerMismatch(
            "this authorization request was sent to another authorization endpoint than this "
            "client's: its code goes only to the server that issued it (RFC 9700 §4.4.2)"
        )


def refresh(
    config: ClientConfig,
    cache: MetadataCache,
    token: Token,
    *,
    scope: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Step[Token]:
    """RFC 6749 §6: a new access token for ``token.refresh_token``. When the server returns no
    new refresh token the old one is kept (§6: it MAY issue a new one). A 400 or 401 without
    an OAuth error body is a refusal, as ``invalid_grant`` is."""
    if not token.refresh_token:
        raise ConfigurationError("this token has no refresh token; sign in again")
    form = token_form(
        {"grant_type": "refresh_token", "refresh_token": token.refresh_token, "scope": scope},
        extra,
    )
    try:
        new = yield from token_request(
            config,
            cache,
            form,
            grant=token.grant or "refresh_token",
            requested_scope=scope or token.scope,
            dpop_key=token.dpop_key,
        )
    except InvalidResponse as exc:
        if exc.status_code not in (400, 401) or exc.response is None:
            raise
        headers = getattr(exc.response, "headers", {})
        if exc.status_code == 401 and "www-authenticate" in headers:
            # RFC 6749 §5.2: a challenge is the client's authentication refused, not the
            # user's grant: the refresh token stays.
            raise InvalidClient(
                "the token endpoint refused this client's credentials (HTTP 401 with a "
                "challenge and no OAuth error body)",
                error="invalid_client",
                response=exc.response,
            ) from exc
        # A refusal without an RFC 6749 §5.2 body (servers that answer a revoked grant with
        # a bare 400): the refresh token is as dead as after invalid_grant, and sending it
        # again each time would only be refused again.
        raise InvalidGrant(
            f"the token endpoint refused the refresh token with HTTP {exc.status_code} and "
            "no OAuth error: taken as invalid_grant (RFC 6749 §5.2)",
            error="invalid_grant",
            response=exc.response,
        ) from exc
    if new.refresh_token is None:
        new = new.replace(refresh_token=token.refresh_token)
    if new.id_token is None and token.id_token is not None:
        return new.replace(id_token=token.id_token, id_claims=token.id_claims)
    return (yield from checked_id_token(config, cache, new, previous=token.id_claims))


def client_credentials(
    config: ClientConfig,
    cache: MetadataCache,
    *,
    scope: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Step[Token]:
    """RFC 6749 §4.4: a token for the client itself."""
    if config.auth.method == "none":
        raise ConfigurationError("the client credentials grant needs an authenticated client")
    scope = scope if scope is not None else config.scope
    form = token_form({"grant_type": "client_credentials", "scope": scope}, extra)
    return (
        yield from token_request(
            config, cache, form, grant="client_credentials", requested_scope=scope
        )
    )


def password(
    config: ClientConfig,
    cache: MetadataCache,
    username: str,
    password: str,
    *,
    scope: str | None = None,
) -> Step[Token]:
    """RFC 6749 §4.3, the resource owner password credentials grant. Discouraged: RFC 9700
    §2.4 says it MUST NOT be used; it exists for legacy servers that offer nothing else, and
    is refused under the FAPI 2.0 profile (§5.3.2.1 item 2)."""
    if config.profile is not None:
        raise ProfileError(
            "the password grant is not part of the profile", clause=fapi.clause("5.3.2.1", 2)
        )
    scope = scope if scope is not None else config.scope
    form = token_form(
        {"grant_type": "password", "username": username, "password": password, "scope": scope},
        None,
    )
    return (yield from token_request(config, cache, form, grant="password", requested_scope=scope))


def jwt_bearer(
    config: ClientConfig, cache: MetadataCache, assertion: str, *, scope: str | None = None
) -> Step[Token]:
    """RFC 7523 §2.1: a token for a JWT assertion (signed by the caller)."""
    scope = scope if scope is not None else config.scope
    form = token_form({"grant_type": JWT_BEARER, "assertion": assertion, "scope": scope}, None)
    return (yield from token_request(config, cache, form, grant=JWT_BEARER, requested_scope=scope))


def token_exchange(
    config: ClientConfig,
    cache: MetadataCache,
    *,
    subject_token: str,
    subject_token_type: str = ACCESS_TOKEN_TYPE,
    actor_token: str | None = None,
    actor_token_type: str | None = None,
    requested_token_type: str | None = None,
    audience: str | None = None,
    resource: str | None = None,
    scope: str | None = None,
) -> Step[Token]:
    """RFC 8693 §2.1: exchange ``subject_token`` for another token. The response's
    ``issued_token_type`` is required (§2.2.1) and kept in ``Token.extra``; a ``token_type``
    of ``N_A`` (a token that is not an access token) is accepted."""
    if (actor_token is None) != (actor_token_type is None):
        raise ConfigurationError("actor_token and actor_token_type go together (RFC 8693 §2.1)")
    form = token_form(
        {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": subject_token_type,
            "actor_token": actor_token,
            "actor_token_type": actor_token_type,
            "requested_token_type": requested_token_type,
            "audience": audience,
            "resource": resource,
            "scope": scope,
        },
        None,
    )
    token = yield from token_request(
        config,
        cache,
        form,
        grant=TOKEN_EXCHANGE,
        requested_scope=scope,
        token_types=("bearer", "N_A"),
    )
    if not isinstance(token.extra.get("issued_token_type"), str):
        raise InvalidResponse(
            "the token exchange response has no issued_token_type (RFC 8693 §2.2.1)"
        )
    return token
