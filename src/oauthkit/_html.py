"""What every HTML page oauthkit serves (the command's loopback page, the sandbox's pages)
is sent with: not cached, no referrer, no sniffing, no framing, and a Content-Security-Policy
that the page passes in (what style it carries)."""

from __future__ import annotations

__all__ = ["page_headers"]


def page_headers(content_security_policy: str) -> tuple[tuple[str, str], ...]:
    """The headers of an HTML page with this Content-Security-Policy."""
    return (
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", content_security_policy),
    )
