"""When a token is due for renewal: one rule, shared by ``Token.renew_at`` and the
``oauthkit token`` fast path (which must not import more than the standard library)."""

from __future__ import annotations

__all__ = ["renew_at"]


def renew_at(expires_at: float, issued_at: float | None, leeway: float) -> float:
    """``leeway`` seconds before ``expires_at`` (epoch seconds), but no earlier than halfway
    through the lifetime when ``issued_at`` is known: a token that lives less than twice the
    leeway would otherwise be renewed at once, on every use."""
    if issued_at is not None:
        leeway = min(leeway, max(expires_at - issued_at, 0) / 2)
    return expires_at - leeway
