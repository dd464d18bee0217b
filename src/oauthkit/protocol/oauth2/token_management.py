"""What a client may ask about or do to a token after it got it: revocation (RFC 7009) and
introspection (RFC 7662), both client-authenticated like a token request."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...errors import InvalidResponse
from ..http import HttpResponse, Step
from ..retry import retrying
from .config import ClientConfig
from .hooks import fetch_with_hooks
from .response import answer_fields, raise_for_error
from .server import MetadataCache, server_metadata
from .token import Token
from .token_endpoint import authenticated_post, token_form

__all__ = ["introspect", "revoke"]


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
    form = token_form({"token": value, "token_type_hint": hint}, None)
    response = yield from _idempotent(config, endpoint, form, "revocation")
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
    form = token_form({"token": value, "token_type_hint": hint}, None)
    response = yield from _idempotent(config, endpoint, form, "introspection")
    what = "the introspection endpoint"
    fields = answer_fields(response, what)
    if not isinstance(fields.get("active"), bool):
        raise InvalidResponse(f"{what} answered without a boolean active", response=response)
    return fields


def _idempotent(
    config: ClientConfig, endpoint: str, form: dict[str, str], operation: str
) -> Step[HttpResponse]:
    """A request the server may act on twice without harm (RFC 7009 §2.2, RFC 7662 §2.1),
    tried again under the client's policy; the client assertion made anew each time."""

    def send(attempt: int) -> Step[HttpResponse]:
        request = authenticated_post(config, endpoint, form)
        return fetch_with_hooks(
            config.hooks, dataclasses.replace(request, operation=operation, attempt=attempt)
        )

    return retrying(config.retry, send, "idempotent")
