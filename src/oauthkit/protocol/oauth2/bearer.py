"""Using a bearer token (RFC 6750): the Authorization header and the resource server's
``WWW-Authenticate`` challenges (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9449 §7.1)."""

from __future__ import annotations

import re

__all__ = [
    "MAX_CHALLENGE",
    "authorization_header",
    "bearer_challenge_error",
    "challenge_error",
    "parse_challenges",
]

#: How much of a ``WWW-Authenticate`` header is read; the rest is ignored.
MAX_CHALLENGE = 8 * 1024

#: One lexical unit of a challenge list. Each alternative consumes at least one character
#: and never overlaps another, so scanning is linear in the header's length, whatever it
#: holds (an unterminated quoted string runs to the end; any other character is skipped).
_LEXEME_RE = re.compile(
    r"""(?P<token>[!#$%&'*+.^_`|~0-9A-Za-z-]+)"""
    r"""|(?P<quoted>"(?:[^"\\]|\\.)*"?)"""
    r"""|(?P<equals>=)"""
    r"""|(?P<other>[^!#$%&'*+.^_`|~0-9A-Za-z="-]+)""",
    re.DOTALL,
)
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def authorization_header(token_type: str, access_token: str) -> str:
    """RFC 6750 §2.1: ``Bearer <token>`` (or the token's own scheme, such as ``DPoP``)."""
    return f"{token_type} {access_token}"


def _lexemes(header: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for match in _LEXEME_RE.finditer(header[:MAX_CHALLENGE]):
        kind = match.lastgroup or "other"
        if kind == "other":
            if "," in match.group():
                found.append(("comma", ","))
            continue
        value = match.group()
        if kind == "quoted":
            value = _ESCAPE_RE.sub(r"\1", value[1:-1] if value.endswith('"') else value[1:])
        found.append((kind, value))
    return found


def parse_challenges(header: str | None) -> list[tuple[str, dict[str, str]]]:
    """The challenges of a ``WWW-Authenticate`` header (RFC 9110 §11.6.1): each scheme,
    lower-cased, with its auth-params (names lower-cased, quoted values unescaped, the first
    of a repeated name kept). A token68 credential is skipped. Reads at most
    :data:`MAX_CHALLENGE` characters, in linear time."""
    if not header:
        return []
    lexemes = _lexemes(header)
    challenges: list[tuple[str, dict[str, str]]] = []
    params: dict[str, str] | None = None
    i, count = 0, len(lexemes)
    while i < count:
        kind, value = lexemes[i]
        if kind != "token":
            i += 1
            continue
        after = lexemes[i + 1][0] if i + 1 < count else None
        following = lexemes[i + 2][0] if i + 2 < count else None
        if params is not None and after == "equals" and following in ("token", "quoted"):
            params.setdefault(value.lower(), lexemes[i + 2][1])
            i += 3
            continue
        if after == "equals" and params is not None:  # token68 ("abc=="): not a parameter
            i += 1
            while i < count and lexemes[i][0] == "equals":
                i += 1
            continue
        params = {}
        challenges.append((value.lower(), params))
        i += 1
    return challenges


def challenge_error(www_authenticate: str | None, scheme: str = "Bearer") -> str | None:
    """The ``error`` of the ``scheme`` challenge — ``Bearer`` (RFC 6750 §3) or ``DPoP``
    (RFC 9449 §7.1), the token's own type — such as ``invalid_token`` or
    ``insufficient_scope``; ``None`` when there is no such challenge or no error."""
    wanted = scheme.lower()
    for name, params in parse_challenges(www_authenticate):
        if name == wanted and "error" in params:
            return params["error"]
    return None


def step_up(
    www_authenticate: str | None, scheme: str = "Bearer"
) -> tuple[tuple[str, ...] | None, int | None] | None:
    """RFC 9470 §3: ``(acr_values, max_age)`` of an ``insufficient_user_authentication``
    challenge of ``scheme`` (either ``None`` when absent or unreadable), else ``None``."""
    wanted = scheme.lower()
    for name, params in parse_challenges(www_authenticate):
        if name != wanted or params.get("error") != "insufficient_user_authentication":
            continue
        acr = tuple(params.get("acr_values", "").split()) or None
        age = params.get("max_age", "").strip()
        return acr, int(age) if age.isdigit() and len(age) < 10 else None
    return None


def bearer_challenge_error(www_authenticate: str | None) -> str | None:
    """:func:`challenge_error` of a ``Bearer`` challenge."""
    return challenge_error(www_authenticate, "Bearer")
