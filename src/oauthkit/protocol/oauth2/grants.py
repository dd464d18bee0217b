"""The grants at the token endpoint as protocol steps (RFC 6749 §4-6, RFC 8628, RFC 8693,
RFC 7523), and revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from ...errors import (
    AuthorizationPending,
    ConfigurationError,
    InvalidResponse,
    IssuerMismatch,
    PollingTimeout,
    SlowDown,
)
from ..http import FORM_TYPE, HttpRequest, Step, Wait
from .authorization import AuthorizationCode, AuthorizationRequest
from .config import ClientConfig, MetadataCache, server_metadata
from .dpop import make_key, make_proof, wants_nonce
from .hooks import fetch_with_hooks
from .metadata import ServerMetadata
from .oidc import (
    DEFAULT_ALGORITHMS,
    JWKS_REFETCH_INTERVAL,
    IdTokenError,
    id_token_alg,
    jwks_step,
    validate_id_token,
)
from .response import (
    error_fields,
    parse_expires_in,
    parse_json_object,
    parse_token_response,
    raise_for_error,
)
from .token import Token

__all__ = [
    "DEFAULT_DEVICE_INTERVAL",
    "DeviceAuthorization",
    "client_credentials",
    "device_authorization",
    "exchange_code",
    "introspect",
    "jwt_bearer",
    "password",
    "poll_device",
    "refresh",
    "revoke",
    "token_exchange",
    "userinfo",
]

#: RFC 8628 §3.2: the polling interval when the server gives none.
DEFAULT_DEVICE_INTERVAL: Final = 5
TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_CODE: Final = "urn:ietf:params:oauth:grant-type:device_code"
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"


def authenticated_post(config: ClientConfig, endpoint: str, form: dict[str, str]) -> HttpRequest:
    """A form POST to ``endpoint`` with the client's authentication and
    ``Accept: application/json``."""
    headers = {"Accept": "application/json", "Content-Type": FORM_TYPE}
    config.auth.apply(form, headers, audience=endpoint, now=config.clock())
    return HttpRequest(
        "POST",
        endpoint,
        tuple(headers.items()),
        urlencode(form).encode(),
        secrets=config.auth.secrets(),
    )


def _form(
    base: Mapping[str, str | None], extra: Mapping[str, str | Iterable[str]] | None
) -> dict[str, str]:
    form = {k: v for k, v in base.items() if v is not None}
    for name, value in (extra or {}).items():
        if name in form:
            raise ConfigurationError(f"{name!r} is set by oauthkit for this grant")
        if not isinstance(value, str):
            raise ConfigurationError(
                f"{name!r} must be a string (repeat values in the authorization request only)"
            )
        form[name] = value
    return form


def token_request(
    config: ClientConfig,
    cache: MetadataCache,
    form: dict[str, str],
    *,
    grant: str,
    requested_scope: str | None,
    token_types: Iterable[str] = ("bearer",),
    dpop_key: Mapping[str, Any] | None = None,
) -> Step[Token]:
    """POST ``form`` to the token endpoint and parse the answer (RFC 6749 §5). With DPoP
    (RFC 9449 §5) every request carries a proof of ``dpop_key`` (a new key for a new grant),
    a server's ``use_dpop_nonce`` gets one retry, and a DPoP-bound token keeps its key."""
    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("token_endpoint")
    key = (dpop_key or make_key(config.dpop)) if config.dpop else None
    nonce: str | None = None
    for _ in range(2):
        request = authenticated_post(config, endpoint, dict(form))
        if key is not None:
            proof = make_proof(key, "POST", endpoint, now=config.clock(), nonce=nonce)
            request = dataclasses.replace(request, headers=(*request.headers, ("DPoP", proof)))
        response = yield from fetch_with_hooks(config.hooks, request)
        error = (error_fields(response) or {}).get("error")
        nonce = wants_nonce(response.status_code, response.headers, error)
        if key is None or nonce is None:
            break
    token = parse_token_response(
        response,
        requested_scope=requested_scope,
        grant=grant,
        now=config.now(),
        token_types=(*token_types, "dpop") if key is not None else token_types,
    )
    if key is not None and token.token_type == "DPoP":
        token = token.replace(dpop_key=key)
    return token


def checked_id_token(
    config: ClientConfig,
    cache: MetadataCache,
    token: Token,
    *,
    nonce: str | None = None,
    previous: Mapping[str, Any] | None = None,
) -> Step[Token]:
    """OIDC Core §3.1.3.7: validate the token's ID token (when there is one and the issuer
    is known) and keep its claims in ``Token.id_claims``; fetch the JWKS when needed, and
    once more — rate-limited — for an unknown ``kid`` (key rotation)."""
    if token.id_token is None:
        return token
    metadata = yield from server_metadata(config, cache)
    issuer = metadata.issuer or config.issuer
    if issuer is None:
        return token  # nothing to check it against: id_claims stays None
    algorithms = metadata.raw.get("id_token_signing_alg_values_supported") or DEFAULT_ALGORITHMS
    alg = id_token_alg(token.id_token) or ""
    jwks = cache.jwks
    needs_keys = not alg.startswith("HS") and alg != "none"
    if needs_keys and not jwks.keys:
        jwks = yield from jwks_step(metadata.endpoint("jwks_uri"), jwks, now=config.clock())
    for attempt in range(2):
        try:
            claims = validate_id_token(
                token.id_token,
                issuer=issuer,
                client_id=config.auth.client_id,
                keys=jwks.keys,
                algorithms=list(algorithms),
                client_secret=config.auth.client_secret,
                nonce=nonce,
                access_token=token.access_token,
                now=config.clock(),
                previous=previous,
            )
        except LookupError:
            allowed = config.clock() - jwks.refetched_at >= JWKS_REFETCH_INTERVAL
            if attempt == 0 and allowed:
                jwks.refetched_at = config.clock()
                jwks = yield from jwks_step(metadata.endpoint("jwks_uri"), jwks, now=config.clock())
                continue
            raise IdTokenError("no key of the provider's JWKS matches the ID token's kid") from None
        return token.replace(id_claims=claims)
    raise IdTokenError("no key of the provider's JWKS matches the ID token's kid")


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
    form = _form(
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
    return (yield from checked_id_token(config, cache, token, nonce=request.nonce))


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
    new refresh token the old one is kept (§6: it MAY issue a new one)."""
    if not token.refresh_token:
        raise ConfigurationError("this token has no refresh token; sign in again")
    form = _form(
        {"grant_type": "refresh_token", "refresh_token": token.refresh_token, "scope": scope},
        extra,
    )
    new = yield from token_request(
        config,
        cache,
        form,
        grant=token.grant or "refresh_token",
        requested_scope=scope or token.scope,
        dpop_key=token.dpop_key,
    )
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
    form = _form({"grant_type": "client_credentials", "scope": scope}, extra)
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
    §2.4 says it MUST NOT be used; it exists for legacy servers that offer nothing else."""
    scope = scope if scope is not None else config.scope
    form = _form(
        {"grant_type": "password", "username": username, "password": password, "scope": scope},
        None,
    )
    return (yield from token_request(config, cache, form, grant="password", requested_scope=scope))


def jwt_bearer(
    config: ClientConfig, cache: MetadataCache, assertion: str, *, scope: str | None = None
) -> Step[Token]:
    """RFC 7523 §2.1: a token for a JWT assertion (signed by the caller)."""
    scope = scope if scope is not None else config.scope
    form = _form({"grant_type": JWT_BEARER, "assertion": assertion, "scope": scope}, None)
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
    form = _form(
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


@dataclass(frozen=True, slots=True, repr=False)
class DeviceAuthorization:
    """RFC 8628 §3.2: what to show the user (``user_code``, ``verification_uri``, maybe
    ``verification_uri_complete``) and what polling needs. ``interval`` is 5 s when the server
    gave none."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: datetime
    interval: int
    scope: str | None = None

    def __repr__(self) -> str:
        return (
            f"DeviceAuthorization(user_code={self.user_code!r}, "
            f"verification_uri={self.verification_uri!r}, interval={self.interval})"
        )


def device_authorization(
    config: ClientConfig,
    cache: MetadataCache,
    *,
    scope: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Step[DeviceAuthorization]:
    """RFC 8628 §3.1-3.2: ask for a device code and a user code."""
    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("device_authorization_endpoint")
    scope = scope if scope is not None else config.scope
    form = _form({"scope": scope}, extra)
    response = yield from fetch_with_hooks(config.hooks, authenticated_post(config, endpoint, form))
    what = "the device authorization endpoint"
    raise_for_error(response, what)
    fields = parse_json_object(response, what)
    strings = {}
    for name in ("device_code", "user_code", "verification_uri"):
        value = fields.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidResponse(f"{what} answered without {name}", response=response)
        strings[name] = value
    complete = fields.get("verification_uri_complete")
    lifetime = parse_expires_in(fields.get("expires_in"), response)
    if lifetime is None:
        raise InvalidResponse(f"{what} answered without expires_in", response=response)
    interval = fields.get("interval", DEFAULT_DEVICE_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int) or not 0 < interval <= 3600:
        raise InvalidResponse(f"{what} answered an invalid interval", response=response)
    return DeviceAuthorization(
        device_code=strings["device_code"],
        user_code=strings["user_code"],
        verification_uri=strings["verification_uri"],
        verification_uri_complete=complete if isinstance(complete, str) else None,
        expires_at=config.now() + lifetime,
        interval=interval,
        scope=scope,
    )


def poll_device(
    config: ClientConfig,
    cache: MetadataCache,
    device: DeviceAuthorization,
    *,
    timeout: float | None = None,
) -> Step[Token]:
    """RFC 8628 §3.4-3.5: poll the token endpoint until the user approves. Waits ``interval``
    seconds before each poll; ``authorization_pending`` polls again, ``slow_down`` adds 5 s,
    ``access_denied`` and ``expired_token`` end it with their errors. Past the device code's
    expiry or ``timeout`` seconds, :class:`PollingTimeout`."""
    interval = device.interval
    deadline = device.expires_at.timestamp()
    if timeout is not None:
        deadline = min(deadline, config.clock() + timeout)
    form = {"grant_type": DEVICE_CODE, "device_code": device.device_code}
    if device.scope and any(hook.device_poll_scope for hook in config.hooks):
        form["scope"] = device.scope
    while True:
        if config.clock() + interval > deadline:
            raise PollingTimeout(
                "the user did not finish the device authorization in time (RFC 8628 §3.5)"
            )
        yield Wait(interval)
        try:
            return (
                yield from token_request(
                    config, cache, dict(form), grant=DEVICE_CODE, requested_scope=device.scope
                )
            )
        except AuthorizationPending:
            continue
        except SlowDown:
            interval += 5


def revoke(
    config: ClientConfig, cache: MetadataCache, token: Token | str, *, hint: str | None = None
) -> Step[None]:
    """RFC 7009 §2.1: revoke the refresh token when there is one (which also ends its access
    tokens, §2.1), else the access token. A plain string is revoked with ``hint``."""
    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("revocation_endpoint")
    if isinstance(token, Token):
        value, hint = (
            (token.refresh_token, "refresh_token")
            if token.refresh_token
            else (token.access_token, "access_token")
        )
    else:
        value = token
    form = _form({"token": value, "token_type_hint": hint}, None)
    response = yield from fetch_with_hooks(config.hooks, authenticated_post(config, endpoint, form))
    raise_for_error(response, "the revocation endpoint")


def introspect(
    config: ClientConfig, cache: MetadataCache, token: Token | str, *, hint: str | None = None
) -> Step[dict[str, Any]]:
    """RFC 7662 §2: the server's view of a token (the access token of a :class:`Token`). The
    answer must be a JSON object with a boolean ``active``."""
    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("introspection_endpoint")
    if isinstance(token, Token):
        value, hint = token.access_token, hint or "access_token"
    else:
        value = token
    form = _form({"token": value, "token_type_hint": hint}, None)
    response = yield from fetch_with_hooks(config.hooks, authenticated_post(config, endpoint, form))
    what = "the introspection endpoint"
    raise_for_error(response, what)
    fields = parse_json_object(response, what)
    if not isinstance(fields.get("active"), bool):
        raise InvalidResponse(f"{what} answered without a boolean active", response=response)
    return fields


def userinfo(config: ClientConfig, cache: MetadataCache, token: Token) -> Step[dict[str, Any]]:
    """OIDC Core §5.3: the claims about the user; ``sub`` must equal the ID token's (§5.3.2),
    or the answer is refused (a token substitution)."""
    from .bearer import authorization_header

    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("userinfo_endpoint")
    headers = (
        ("Accept", "application/json"),
        ("Authorization", authorization_header(token.token_type, token.access_token)),
    )
    nonce: str | None = None
    for _ in range(2):  # RFC 9449 §7.1: a DPoP-bound token goes with a proof (§9: one nonce)
        request = HttpRequest("GET", endpoint, headers)
        if token.dpop_key is not None:
            proof = make_proof(
                token.dpop_key,
                "GET",
                endpoint,
                now=config.clock(),
                access_token=token.access_token,
                nonce=nonce,
            )
            request = dataclasses.replace(request, headers=(*headers, ("DPoP", proof)))
        response = yield from fetch_with_hooks(config.hooks, request)
        nonce = wants_nonce(response.status_code, response.headers, None)
        if token.dpop_key is None or nonce is None:
            break
    what = "the userinfo endpoint"
    raise_for_error(response, what)
    claims = parse_json_object(response, what)
    if not isinstance(claims.get("sub"), str):
        raise InvalidResponse(f"{what} answered without sub", response=response)
    expected = token.id_claims.get("sub") if token.id_claims else None
    if expected is not None and claims["sub"] != expected:
        raise InvalidResponse(
            f"{what} describes another user than the ID token (OIDC Core §5.3.2)",
            response=response,
        )
    return claims
