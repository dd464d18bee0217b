"""What a client knows of its authorization server: the metadata (RFC 8414 / OpenID Connect
Discovery 1.0), fetched once and kept, and the JWKS with its rotation (OIDC Core §10.1.1).
Every step of a client begins with :func:`server_metadata`; a client under a security profile
(FAPI 2.0) has its configuration checked there, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..http import Step
from . import fapi
from .config import ClientConfig
from .metadata import ServerMetadata, discover

__all__ = ["JwksCache", "MetadataCache", "server_metadata"]


@dataclass
class JwksCache:
    """The provider's keys, when they were last fetched, and when an unknown ``kid`` last
    made oauthkit fetch them again (at most once per ``oidc.JWKS_REFETCH_INTERVAL``)."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    fetched_at: float = 0.0
    refetched_at: float = float("-inf")


class MetadataCache:
    """Server metadata, fetched once per client and kept (RFC 8414), and the JWKS."""

    __slots__ = ("jwks", "value")

    def __init__(self, value: ServerMetadata | None = None) -> None:
        self.value = value
        self.jwks = JwksCache()


def server_metadata(config: ClientConfig, cache: MetadataCache) -> Step[ServerMetadata]:
    """The server's metadata: from the cache, from discovery when an issuer is configured, or
    from the explicit endpoints alone (no request). Explicit endpoints take precedence."""
    if cache.value is not None:
        return cache.value
    if config.profile is not None:
        fapi.check_config(config)  # a profile's rules, before anything is sent
    if config.issuer is None:
        metadata = ServerMetadata(endpoints=config.endpoints)
    else:
        discovered = yield from discover(
            config.issuer,
            allow_insecure_http=config.allow_insecure_http,
            allow_private_endpoints=config.allow_private_endpoints,
            configured=frozenset(config.endpoints),
            retry=config.retry,
        )
        if config.mtls:
            discovered = discovered.with_overrides(discovered.mtls_endpoint_aliases())
        metadata = discovered.with_overrides(config.endpoints)
    cache.value = metadata
    return metadata
