"""A client's configuration, shared by every OAuth 2 step (what it knows of its server is in
:mod:`.server`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ...errors import ConfigurationError
from ..retry import Retry
from ..url_policy import check_endpoint
from .client_auth import ClientAuth
from .hooks import Hook
from .metadata import ENDPOINTS
from .pkce import CODE_CHALLENGE_METHODS

__all__ = ["ClientConfig", "check_resource_indicator"]


def check_resource_indicator(resource: str) -> str:
    """RFC 8707 §2: a resource indicator is an absolute URI with no fragment (and SHOULD have
    no query); anything else is a :class:`~oauthkit.errors.ConfigurationError`."""
    parts = urlsplit(resource)
    if not parts.scheme or not parts.netloc or parts.fragment or "#" in resource:
        raise ConfigurationError(
            f"the resource {resource!r:.120} is not an absolute URI without a fragment "
            "(RFC 8707 §2)"
        )
    return resource


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a step needs to know about the client: how it authenticates, where the
    server is, its redirect URI and default scope, and its security settings. A profile's
    rules (``profile="fapi2"``: :func:`.fapi.check_config`) are checked before the first
    request (:func:`.server.server_metadata`) and by the clients when they are made."""

    auth: ClientAuth
    issuer: str | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)
    redirect_uri: str | None = None
    scope: str | None = None
    pkce: str | None = "S256"
    allow_insecure_http: bool = False
    #: Let the server's metadata name endpoints on this machine or a private network although
    #: the issuer is not there (RFC 8414 §6; url_policy.check_named_endpoint): development only.
    allow_private_endpoints: bool = False
    hooks: tuple[Hook, ...] = ()
    dpop: str | None = None  # the DPoP proof algorithm, or None: no DPoP (RFC 9449)
    #: RFC 8707: the resource server the tokens are for, sent as ``resource`` on the
    #: authorization request and every token request (an absolute URI without a fragment).
    resource: str | None = None
    #: True when the client holds a TLS client certificate (RFC 8705): it then calls the
    #: server's ``mtls_endpoint_aliases`` (§5).
    mtls: bool = False
    #: ``"fapi2"`` or ``"fapi2-message-signing"``: the FAPI 2.0 client profile, enforced
    #: by every step (:mod:`.fapi`); ``None``: none.
    profile: str | None = None
    #: The client's private key for responses encrypted to it (a joserfc key): JWT-secured
    #: authorization responses (JARM §2.3) and ID tokens (OIDC Core §10.2).
    decryption_key: Any = None
    #: How transient failures are tried again (:class:`~oauthkit.protocol.retry.Retry`);
    #: ``None``: never.
    retry: Retry | None = field(default_factory=Retry)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.endpoints) - set(ENDPOINTS)
        if unknown:
            raise ConfigurationError(f"unknown endpoint names: {', '.join(sorted(unknown))}")
        for name, url in self.endpoints.items():
            check_endpoint(url, what=f"the {name}", allow_insecure_http=self.allow_insecure_http)
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))
        if self.issuer is not None:
            check_endpoint(
                self.issuer, what="the issuer", allow_insecure_http=self.allow_insecure_http
            )
        if self.redirect_uri is not None and self.redirect_uri.lower().startswith("http"):
            # Plain http only on loopback (RFC 8252 §7.3) or by opt-out; private-use schemes
            # of native apps (RFC 8252 §7.1) are the caller's to choose.
            check_endpoint(
                self.redirect_uri,
                what="the redirect_uri",
                allow_insecure_http=self.allow_insecure_http,
            )
        if self.resource is not None:
            check_resource_indicator(self.resource)
        if self.dpop is not None and self.dpop not in ("ES256", "EdDSA"):
            raise ConfigurationError("dpop is True (ES256), 'ES256' or 'EdDSA'")
        if self.pkce is not None and self.pkce not in CODE_CHALLENGE_METHODS:
            raise ConfigurationError("pkce is 'S256', 'plain' or None (no PKCE)")

    def assertion_audience(self, endpoint: str) -> str:
        """The ``aud`` of a client assertion sent to ``endpoint``: the endpoint (OIDC Core
        §9), or under the FAPI 2.0 profile the issuer, as a string (FAPI 2.0 §5.3.3.1
        item 5)."""
        if self.profile is not None and self.issuer is not None:
            return self.issuer
        return endpoint

    def now(self) -> datetime:
        """The client's clock as an aware datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)
