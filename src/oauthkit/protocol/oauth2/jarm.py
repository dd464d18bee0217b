"""JWT Secured Authorization Response Mode (JARM, OpenID Foundation): with
``response_mode=jwt`` (or ``query.jwt``, ``fragment.jwt``, ``form_post.jwt``) the
authorization server returns the response parameters inside one signed JWT, ``response``.

:func:`response_parameters` verifies it as an ID token is verified — the signature with the
provider's keys (fetched again once for an unknown ``kid``: key rotation), an algorithm from
the allow-list, never ``none`` — then ``iss`` (the issuer the request was made for), ``aud``
(this client) and ``exp`` (JARM §4.4), and only then gives its parameters to the usual
callback checks (state, ``iss`` of RFC 9207, error, code). Anything else is
:class:`~oauthkit.errors.JarmError`. An encrypted response (JWE) is decrypted first with the
client's ``decryption_key`` and must hold the signed JWT (nested, signed then encrypted).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import JarmError
from ..http import Step
from . import fapi
from .authorization import AuthorizationRequest, parse_callback_parameters
from .config import ClientConfig
from .modes import JWT_RESPONSE_MODES, is_jwt_response_mode
from .oidc import (
    DEFAULT_ALGORITHMS,
    JWKS_REFETCH_INTERVAL,
    MAX_ID_TOKEN,
    MAX_LEEWAY,
    IdTokenError,
    _b64json,
    decrypt_nested,
    id_token_alg,
    jwks_step,
    verify_jws,
)
from .server import MetadataCache, server_metadata

__all__ = ["JWT_RESPONSE_MODES", "is_jwt_response_mode", "response_parameters", "unverified_state"]


def unverified_state(response: str, config: ClientConfig | None = None) -> str | None:
    """The ``state`` a response JWT carries, read without verifying anything: only for
    finding the pending sign-in it answers (a web application's lookup); the JWT is verified
    by :func:`response_parameters` before any of its parameters is used. An encrypted one is
    opened with ``config``'s decryption key first (:class:`JarmError` when it cannot be)."""
    if response.count(".") == 4 and config is not None:
        response = decrypt_nested(config, response, what="the response JWT", error=JarmError)
    segments = response.split(".")
    if len(segments) != 3 or len(response) > MAX_ID_TOKEN:
        return None
    try:
        state = _b64json(segments[1], "claims").get("state")
    except IdTokenError:  # an unreadable JWT has no state to offer
        return None
    return state if isinstance(state, str) else None


def response_parameters(
    config: ClientConfig,
    cache: MetadataCache,
    request: AuthorizationRequest,
    callback: str | Mapping[str, str | Iterable[str]],
    *,
    leeway: float = 60.0,
) -> Step[dict[str, str]]:
    """JARM §4.4: verify the ``response`` JWT of ``callback`` and return the authorization
    response parameters it carries (``iss`` included, for RFC 9207's check)."""
    fields = parse_callback_parameters(callback)
    response = fields.get("response")
    if not response:
        said = fields.get("error")
        raise JarmError(
            "the callback has no response JWT although the request asked for "
            f"response_mode={request.response_mode}"
            + (f" (it says error={said[:60]!r}, unsigned: not trusted)" if said else "")
        )
    if response.count(".") == 4:  # encrypted to the client, signed inside (JARM §2.3)
        response = decrypt_nested(config, response, what="the response JWT", error=JarmError)
    metadata = yield from server_metadata(config, cache)
    issuer = request.issuer or metadata.issuer
    if issuer is None:
        raise JarmError("a JWT response needs the issuer to check it against: set issuer=")
    algorithms = fapi.allowed(
        config,
        metadata.raw.get("authorization_signing_alg_values_supported") or DEFAULT_ALGORITHMS,
    )
    fapi.check_jws_alg(config, id_token_alg(response), "the response JWT")
    jwks = cache.jwks
    if not jwks.keys:
        jwks = yield from jwks_step(
            metadata.endpoint("jwks_uri"), jwks, now=config.clock(), retry=config.retry
        )
    for attempt in range(2):
        try:
            _, claims = verify_jws(
                response,
                keys=jwks.keys,
                algorithms=[a for a in algorithms if a != "none"],
                client_secret=config.auth.client_secret,
                what="the response JWT",
                error=JarmError,
                min_rsa_bits=fapi.min_rsa_bits(config),
            )
            break
        except LookupError:
            allowed = config.clock() - jwks.refetched_at >= JWKS_REFETCH_INTERVAL
            if attempt == 1 or not allowed:
                raise JarmError(
                    "no key of the provider's JWKS matches the response JWT's kid"
                ) from None
            jwks.refetched_at = config.clock()
            jwks = yield from jwks_step(
                metadata.endpoint("jwks_uri"), jwks, now=config.clock(), retry=config.retry
            )
    _check(
        claims, issuer=issuer, client_id=config.auth.client_id, leeway=leeway, now=config.clock()
    )
    return {
        name: value
        for name, value in claims.items()
        if name not in ("aud", "exp", "iat", "nbf", "jti") and isinstance(value, str)
    }


def _check(
    claims: Mapping[str, Any], *, issuer: str, client_id: str, leeway: float, now: float
) -> None:
    if claims.get("iss") != issuer:
        raise JarmError(
            f"the response JWT's iss {claims.get('iss')!r:.100} is not {issuer!r} (JARM §4.4)"
        )
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise JarmError("the response JWT's aud does not name this client (JARM §4.4)")
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        raise JarmError("the response JWT has no numeric exp (JARM §4.4)")
    if (time.time() if now is None else now) > float(expires) + min(leeway, MAX_LEEWAY):
        raise JarmError("the response JWT has expired (JARM §4.4)")
