"""Keeping secrets out of every message: previews of server bodies and scrubbing of the
values a request carried (DESIGN rule 3).

Two layers, because a hostile or buggy server can echo a secret anywhere:

- by name: in a JSON object or a form body, the value of a field in :data:`SECRET_FIELDS`
  is replaced by ``[redacted]`` wherever it sits;
- by value: every secret the request carried or was keyed with — client and consumer
  secrets, codes, verifiers, tokens, assertions, the Authorization header's credentials —
  is known (:func:`request_secrets`), and :func:`scrub` replaces it wherever it appears:
  as sent, percent-encoded, JSON-escaped, inside HTML or plain text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus, urlsplit

from .jsontext import JSONTextError, loads

__all__ = ["BODY_PREVIEW", "SECRET_FIELDS", "redact", "request_secrets", "scrub"]

#: How many characters of a server body a message shows.
BODY_PREVIEW = 300

#: Field names whose values never appear in a message.
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "assertion",
        "device_code",
        "subject_token",
        "actor_token",
        "password",
        "registration_access_token",
        "oauth_token",
        "oauth_token_secret",
        "oauth_verifier",
        "oauth_signature",
        "oauth_consumer_secret",
    }
)

#: Shorter values are not scrubbed by value (they would blank out ordinary words); every
#: secret oauthkit or a provider makes is far longer.
MIN_SECRET = 6

#: Bodies longer than this are cut before redaction (the preview shows far less anyway).
_REDACT_INPUT = 64 * 1024

#: A secret field's string value in text that is not valid JSON; an unterminated string runs
#: to the end (and is redacted whole), so scanning stays linear.
_SECRET_JSON_RE = re.compile(
    r'("(?:' + "|".join(sorted(SECRET_FIELDS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"?',
    re.DOTALL,
)
_OAUTH_PARAM_RE = re.compile(r'([A-Za-z0-9_]+)="([^"]*)"')


def redact(body: bytes | str, limit: int = BODY_PREVIEW, secrets: Iterable[str] = ()) -> str:
    """Return a short, secret-free preview of a server body for an error message.

    JSON objects and form-encoded bodies have the values of :data:`SECRET_FIELDS` replaced by
    ``"[redacted]"``; then every value in ``secrets`` is scrubbed wherever it appears. The
    preview is cut at ``limit`` characters (after redaction, so a cut can never expose half a
    secret).
    """
    text = body[:_REDACT_INPUT] if len(body) > _REDACT_INPUT else body
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    stripped = text.strip()
    if not stripped:
        return "(empty body)"
    redacted = scrub(_redact_fields(stripped), secrets)
    if len(redacted) > limit:
        return redacted[:limit] + f"… ({len(redacted)} characters)"
    return redacted


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (as sent, percent-encoded or JSON-escaped) replaced by
    ``[redacted]``; the longest first, so a secret that contains another goes whole."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < MIN_SECRET:
            continue
        forms.update(
            {secret, quote(secret, safe=""), quote_plus(secret, safe=""), json.dumps(secret)[1:-1]}
        )
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, "[redacted]")
    return text


def _redact_fields(text: str) -> str:
    if text.startswith(("{", "[")):
        try:
            value = loads(text)
        except JSONTextError:
            return _SECRET_JSON_RE.sub(r'\1"[redacted]"', text)
        return json.dumps(_redact_json(value), ensure_ascii=False)
    if "=" in text and "<" not in text and " " not in text:
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            return "&".join(f"{k}={'[redacted]' if k in SECRET_FIELDS else v}" for k, v in pairs)
    return text


def _redact_json(value: Any) -> Any:
    """Recursive, on a value whose depth :func:`~oauthkit.protocol.jsontext.loads` bounded."""
    if isinstance(value, dict):
        return {
            k: "[redacted]" if k in SECRET_FIELDS else _redact_json(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def _form_values(text: str) -> Iterable[str]:
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in SECRET_FIELDS:
            yield value


def request_secrets(
    secrets: Iterable[str], authorization: str | None, url: str, form_body: bytes
) -> frozenset[str]:
    """Every secret a request carries or was keyed with: ``secrets`` (those it knows without
    showing them), the credentials of its ``authorization`` header (and, for Basic, the
    decoded password; for OAuth 1.0a, the signature), and the values of
    :data:`SECRET_FIELDS` in the query of ``url`` and in ``form_body`` (its body when it is
    form-encoded)."""
    found = set(secrets)
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        found.add(credentials)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            _, _, password = decoded.partition(":")
            found.update({password, unquote_plus(password)})
        elif scheme.lower() == "oauth":
            for name, value in _OAUTH_PARAM_RE.findall(credentials):
                if name in SECRET_FIELDS:
                    found.update({value, unquote_plus(value)})
    query = urlsplit(url).query
    if query:
        found.update(_form_values(query))
    if form_body:
        found.update(_form_values(form_body.decode("utf-8", "replace")))
    return frozenset(s for s in found if len(s) >= MIN_SECRET)
