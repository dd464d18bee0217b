"""Reading what an authorization server answers: JSON objects, RFC 6749 §5.2 errors and
§5.1 token responses, validated field by field."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ...errors import InvalidResponse, TemporarilyUnavailable, server_error_from_response
from ..http import HttpResponse
from ..jsontext import JSONTextError, loads
from ..redaction import redact
from ..retry import retry_after, transient
from .token import Token

__all__ = [
    "MAX_EXPIRES_IN",
    "answer_fields",
    "error_fields",
    "json_object",
    "parse_expires_in",
    "parse_json_object",
    "parse_token_response",
    "raise_for_error",
    "required_string",
]

#: RFC 6749 Appendix A.12, A.17: access-token = 1*VSCHAR, refresh-token = 1*VSCHAR (and a
#: token travels in an HTTP header: nothing else may reach one).
_VSCHARS_RE = re.compile(r"[\x20-\x7e]+")

#: The longest lifetime accepted in ``expires_in`` (ten years); more is treated as nonsense.
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600


def _is_json_object_text(body: bytes) -> bool:
    return body.lstrip()[:1] == b"{"


def parse_json_object(response: HttpResponse, what: str) -> dict[str, Any]:
    """The body as a JSON object, or :class:`InvalidResponse` (HTML, not JSON, an array)."""
    body = response.body
    stripped = body.lstrip()
    if stripped[:1] == b"<":
        raise InvalidResponse(f"{what} answered an HTML page, not JSON", response=response)
    try:
        value = loads(body)
    except JSONTextError as exc:
        raise InvalidResponse(
            f"{what} answered a body that oauthkit does not accept as JSON: {exc}",
            response=response,
        ) from None
    if not isinstance(value, dict):
        raise InvalidResponse(
            f"{what} answered JSON that is not an object ({type(value).__name__})",
            response=response,
        )
    return value


def json_object(response: HttpResponse) -> dict[str, Any] | None:
    """The body as a JSON object, or ``None`` when it is anything else (a caller that needs
    one raises with :func:`parse_json_object` instead)."""
    if not _is_json_object_text(response.body):
        return None
    try:
        value = loads(response.body)
    except JSONTextError:
        return None
    return value if isinstance(value, dict) else None


def error_fields(response: HttpResponse) -> dict[str, Any] | None:
    """The body of an RFC 6749 §5.2 error — a JSON object with a string ``error`` — or
    ``None`` when the body is something else."""
    fields = json_object(response)
    if fields is not None and isinstance(fields.get("error"), str):
        return fields
    return None


def raise_for_error(response: HttpResponse, what: str) -> None:
    """RFC 6749 §5.2: a non-2xx answer becomes the typed error its ``error`` code names, or
    :class:`InvalidResponse` when it carries no OAuth error at all. A "not now" — HTTP 429 or
    5xx, ``temporarily_unavailable``, ``server_error``
    (:func:`~oauthkit.protocol.retry.transient`) — is
    :class:`~oauthkit.errors.TemporarilyUnavailable`, with the server's ``Retry-After``."""
    if 200 <= response.status_code < 300:
        return
    fields = error_fields(response)
    if transient(response):
        raise _not_now(response, fields, what)
    if fields is not None:
        raise server_error_from_response(fields, response)
    raise InvalidResponse(
        f"{what} answered HTTP {response.status_code} without an OAuth error", response=response
    )


def _not_now(
    response: HttpResponse, fields: dict[str, Any] | None, what: str
) -> TemporarilyUnavailable:
    wait = retry_after(response)
    found = fields or {}
    description, uri = found.get("error_description"), found.get("error_uri")
    said = (
        f", {fields['error']}"
        if fields
        else f"; body: {redact(response.body, secrets=response.secrets)}"
    )
    asked = f"; it asks to wait {wait:.0f} s" if wait is not None else ""
    return TemporarilyUnavailable(
        f"{what} cannot answer now (HTTP {response.status_code}{said}{asked})"
        + (f": {' '.join(description.split())[:300]}" if isinstance(description, str) else ""),
        retry_after=wait,
        error=fields["error"] if fields else None,
        error_description=description if isinstance(description, str) else None,
        error_uri=uri if isinstance(uri, str) else None,
        response=response,
    )


def answer_fields(response: HttpResponse, what: str) -> dict[str, Any]:
    """A successful answer's JSON object: :func:`raise_for_error`, then
    :func:`parse_json_object`."""
    raise_for_error(response, what)
    return parse_json_object(response, what)


def required_string(fields: dict[str, Any], name: str, response: HttpResponse, what: str) -> str:
    """``fields[name]``, a non-empty string, or :class:`InvalidResponse` naming it."""
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidResponse(f"{what} answered without {name}", response=response)
    return value


def parse_expires_in(value: Any, response: HttpResponse) -> timedelta | None:
    """RFC 6749 §5.1 ``expires_in``: a positive number of seconds, also accepted as a string of
    digits; absent means unknown. Anything else is :class:`InvalidResponse`."""
    if value is None:
        return None
    seconds: float
    if isinstance(value, bool):
        raise InvalidResponse("expires_in is a boolean, not a number", response=response)
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        seconds = int(value)
    elif (
        isinstance(value, str)
        and value.strip().isdigit()
        and value.strip().isascii()
        and len(value.strip()) <= len(str(MAX_EXPIRES_IN))
    ):
        seconds = int(value.strip())
    else:
        raise InvalidResponse(
            f"expires_in is not a number of seconds: {value!r:.40}", response=response
        )
    if not 0 < seconds <= MAX_EXPIRES_IN:
        raise InvalidResponse(
            f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds, got {seconds!r:.40}",
            response=response,
        )
    return timedelta(seconds=seconds)


def _optional_string(fields: dict[str, Any], name: str, response: HttpResponse) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _VSCHARS_RE.fullmatch(value):
        raise InvalidResponse(
            f"{name} must be a non-empty string of visible ASCII characters", response=response
        )
    return value


def parse_token_response(
    response: HttpResponse,
    *,
    requested_scope: str | None,
    grant: str,
    now: datetime | None = None,
    token_types: Iterable[str] = ("bearer",),
    what: str = "the token endpoint",
) -> Token:
    """RFC 6749 §5.1-5.2: turn a token endpoint answer into a :class:`Token` or a typed error.

    ``access_token`` must be a non-empty string and ``token_type`` one of ``token_types``
    (compared case-insensitively, RFC 6749 §7.1); ``expires_in`` becomes an absolute,
    timezone-aware ``expires_at``; a granted ``scope`` that differs from the requested one is
    recorded as granted, not raised (§3.3). No message shows a secret.
    """
    fields = answer_fields(response, what)
    access_token = fields.pop("access_token", None)
    if not isinstance(access_token, str) or not _VSCHARS_RE.fullmatch(access_token):
        problem = "has no access_token" if access_token is None else "has a malformed access_token"
        raise InvalidResponse(f"{what} answered JSON that {problem}", response=response)
    token_type = fields.pop("token_type", None)
    if not isinstance(token_type, str) or not token_type:
        raise InvalidResponse(f"{what} answered without a token_type", response=response)
    allowed = {t.lower(): t for t in token_types}
    if token_type.lower() not in allowed:
        raise InvalidResponse(
            f"{what} answered token_type {token_type!r:.40}, expected "
            f"{' or '.join(sorted(allowed.values()))}",
            response=response,
        )
    canonical_type = {"bearer": "Bearer", "dpop": "DPoP"}.get(token_type.lower(), token_type)
    lifetime = parse_expires_in(fields.pop("expires_in", None), response)
    refresh_lifetime = parse_expires_in(fields.pop("refresh_token_expires_in", None), response)
    scope = fields.pop("scope", None)
    if scope is not None and not isinstance(scope, str):
        raise InvalidResponse("scope must be a space-delimited string", response=response)
    refresh_token = _optional_string(fields, "refresh_token", response)
    id_token = _optional_string(fields, "id_token", response)
    fields.pop("refresh_token", None)
    fields.pop("id_token", None)
    issued = now or datetime.now(UTC)
    return Token(
        access_token=access_token,
        token_type=canonical_type,
        expires_at=issued + lifetime if lifetime is not None else None,
        refresh_token=refresh_token,
        scope=scope if scope is not None else requested_scope,
        id_token=id_token,
        extra=fields,
        grant=grant,
        issued_at=issued,
        refresh_token_expires_at=issued + refresh_lifetime if refresh_lifetime else None,
    )
