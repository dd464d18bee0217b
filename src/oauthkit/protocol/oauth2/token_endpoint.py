"""Talking to the token endpoint (RFC 6749 §3.2): the client-authenticated form POST, and
a token request read into a :class:`~oauthkit.protocol.oauth2.token.Token` (RFC 6749 §5),
with DPoP proofs and one nonce retry when the client is DPoP-bound (RFC 9449 §5, §8). Every
grant (:mod:`.grants`, :mod:`.device`) goes through here."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from ...errors import ConfigurationError
from ..http import FORM_TYPE, HttpRequest, HttpResponse, Step
from ..retry import RetryClass, retrying
from . import fapi
from .config import ClientConfig
from .dpop import make_key, make_proof, wants_nonce
from .hooks import fetch_with_hooks
from .response import error_fields, parse_token_response
from .server import MetadataCache, server_metadata
from .token import Token

__all__ = ["RENEWABLE_GRANTS", "authenticated_post", "token_form", "token_request"]

#: Grants whose request may be sent again after an answer that says "not now" (HTTP 429,
#: 5xx, ``temporarily_unavailable``) or a connection that never reached the server
#: (:mod:`oauthkit.protocol.retry`): the server acted on nothing. An authorization code, a
#: device code and a CIBA request are single-use or paced by their own protocol: never.
RENEWABLE_GRANTS = frozenset(
    {
        "refresh_token",
        "client_credentials",
        "password",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
)


def authenticated_post(config: ClientConfig, endpoint: str, form: dict[str, str]) -> HttpRequest:
    """A form POST to ``endpoint`` with the client's authentication and
    ``Accept: application/json``."""
    headers = {"Accept": "application/json", "Content-Type": FORM_TYPE}
    config.auth.apply(
        form, headers, audience=config.assertion_audience(endpoint), now=config.clock()
    )
    return HttpRequest(
        "POST",
        endpoint,
        tuple(headers.items()),
        urlencode(form).encode(),
        secrets=config.auth.secrets(),
    )


def token_form(
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
    """POST ``form`` to the token endpoint and parse the answer (RFC 6749 §5), with the
    client's ``resource`` (RFC 8707 §2.2) unless the form names one. With DPoP
    (RFC 9449 §5) every request carries a proof of ``dpop_key`` (a new key for a new grant),
    a server's ``use_dpop_nonce`` gets one retry, and a DPoP-bound token keeps its key. Under
    the FAPI 2.0 profile a token that is not sender-constrained is refused."""
    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("token_endpoint")
    if config.resource is not None and "resource" not in form:
        form = {**form, "resource": config.resource}  # RFC 8707 §2.2
    key = (dpop_key or make_key(config.dpop)) if config.dpop else None
    nonce: str | None = None
    grant_type = form.get("grant_type")

    def send(attempt: int) -> Step[HttpResponse]:
        # Made anew for each send: a client assertion or a DPoP proof is never sent twice.
        request = authenticated_post(config, endpoint, dict(form))
        request = dataclasses.replace(
            request, operation="token", grant_type=grant_type, attempt=attempt
        )
        if key is not None:
            proof = make_proof(key, "POST", endpoint, now=config.clock(), nonce=nonce)
            request = dataclasses.replace(request, headers=(*request.headers, ("DPoP", proof)))
        return fetch_with_hooks(config.hooks, request)

    for _ in range(2):
        what: RetryClass = "unsent" if grant_type in RENEWABLE_GRANTS else "never"
        response = yield from retrying(config.retry, send, what)
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
    if config.profile is not None:
        fapi.check_token(config, metadata, token, response)
    if key is not None and token.token_type == "DPoP":
        token = token.replace(dpop_key=key)
    return token
