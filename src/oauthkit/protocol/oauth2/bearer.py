"""Using a bearer token (RFC 6750): the Authorization header and the resource server's
``WWW-Authenticate`` challenge."""

from __future__ import annotations

import re

__all__ = ["authorization_header", "bearer_challenge_error"]

_PARAM_RE = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def authorization_header(token_type: str, access_token: str) -> str:
    """RFC 6750 §2.1: ``Bearer <token>`` (or the token's own scheme, such as ``DPoP``)."""
    return f"{token_type} {access_token}"


def bearer_challenge_error(www_authenticate: str | None) -> str | None:
    """The ``error`` of a ``Bearer`` challenge (RFC 6750 §3), such as ``invalid_token`` or
    ``insufficient_scope``; ``None`` when there is no Bearer challenge or no error."""
    if not www_authenticate:
        return None
    lowered = www_authenticate.lower()
    start = lowered.find("bearer")
    if start < 0:
        return None
    rest = www_authenticate[start + len("bearer") :]
    for match in _PARAM_RE.finditer(rest):
        name, quoted, bare = match.groups()
        if name.lower() == "error":
            return quoted if quoted is not None else bare
    return None
