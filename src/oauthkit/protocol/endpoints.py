"""The names of the endpoints a client is configured with, in one place (standard library
only: the command's configuration reader, on its fast path, uses them too)."""

from __future__ import annotations

from typing import Final

__all__ = ["OAUTH1_ENDPOINTS", "OAUTH2_ENDPOINTS"]

#: The OAuth 2 endpoints a client can be given directly (RFC 8414 §2, RFC 8628 §4,
#: RFC 7009 §4, RFC 7662 §4, OIDC Discovery §3), beside or instead of an issuer.
OAUTH2_ENDPOINTS: Final = (
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
)
#: The three URLs of an OAuth 1.0a provider (RFC 5849 §2).
OAUTH1_ENDPOINTS: Final = ("request_token_url", "authorize_url", "access_token_url")
