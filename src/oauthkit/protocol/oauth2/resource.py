"""From a resource server's URL to its authorization server: OAuth 2.0 Protected Resource
Metadata (RFC 9728), read from the ``WWW-Authenticate`` challenge of a 401 (§5.1) or from the
well-known location derived from the resource's URL (§3.1).

The document is used only when its ``resource`` is the URL asked for (§3.3, §7.3: metadata
impersonating another resource is refused), its ``authorization_servers`` are https
(loopback excepted), and — for a URL named by a challenge — it lives on the resource's own
origin. Anything else is :class:`~oauthkit.errors.InvalidResourceMetadata`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import ConfigurationError, InvalidResourceMetadata
from ..http import HttpRequest, Step
from ..retry import DEFAULT_RETRY, fetched
from ..url_policy import check_endpoint, check_named_endpoint
from .bearer import parse_challenges
from .response import parse_json_object

__all__ = [
    "WELL_KNOWN",
    "ResourceChallenge",
    "ResourceMetadata",
    "discover_resource",
    "read_challenge",
    "resource_metadata_urls",
    "same_resource",
]

#: RFC 9728 §3: the well-known URI suffix.
WELL_KNOWN = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True, slots=True)
class ResourceChallenge:
    """What a resource server's ``WWW-Authenticate`` challenge says (RFC 6750 §3, RFC 9728
    §5.1): the scheme (``bearer`` or ``dpop``), ``resource_metadata``, ``scope`` and
    ``error`` (``invalid_token``, ``insufficient_scope``, …), each when present."""

    scheme: str
    resource_metadata: str | None = None
    scope: str | None = None
    error: str | None = None


def read_challenge(www_authenticate: str | None) -> ResourceChallenge | None:
    """The first ``Bearer`` or ``DPoP`` challenge of a ``WWW-Authenticate`` header, or
    ``None`` when there is none."""
    for scheme, params in parse_challenges(www_authenticate):
        if scheme in ("bearer", "dpop"):
            return ResourceChallenge(
                scheme=scheme,
                resource_metadata=params.get("resource_metadata") or None,
                scope=params.get("scope") or None,
                error=params.get("error") or None,
            )
    return None


@dataclass(frozen=True, slots=True)
class ResourceMetadata:
    """A protected resource's metadata (RFC 9728 §2): its identifier, the issuers of the
    authorization servers that protect it, the scopes it knows; ``raw`` is the document."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()
    resource_name: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)


def _canonical(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query)


def same_resource(a: str, b: str) -> bool:
    """Whether two resource identifiers name the same resource: equal but for the case of
    scheme and host and an empty path standing for ``/`` (RFC 3986 §6.2.2-6.2.3)."""
    try:
        return _canonical(a) == _canonical(b)
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def resource_metadata_urls(resource: str) -> list[str]:
    """RFC 9728 §3.1: the well-known URI inserted between the host and the path of the
    resource (a trailing slash after the host dropped, the query kept); for a resource with a
    path, the origin's own well-known URI after it (as MCP clients fall back to)."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/") if parts.path != "/" else ""
    first = urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + path, parts.query, ""))
    root = urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN, "", ""))
    return [first] if first == root else [first, root]


def discover_resource(
    resource: str,
    challenge: ResourceChallenge | None = None,
    *,
    allow_insecure_http: bool = False,
    allow_private_endpoints: bool = False,
) -> Step[ResourceMetadata]:
    """Fetch and check the metadata of ``resource`` (RFC 9728): at the challenge's
    ``resource_metadata`` when it names one (§5.1; on the resource's origin only), else at
    the well-known locations (§3.1), the next one tried only after a 404. The authorization
    servers it names are https and no more local than the resource (§7), unless
    ``allow_private_endpoints``."""
    check_endpoint(resource, what="the resource", allow_insecure_http=allow_insecure_http)
    if challenge is not None and challenge.resource_metadata:
        named = challenge.resource_metadata
        try:
            foreign = _origin(named) != _origin(resource)
        except ValueError:
            foreign = True
        if foreign:
            raise InvalidResourceMetadata(
                f"the challenge of {resource!r:.120} points at metadata on another origin "
                f"({named!r:.120}); refusing it (RFC 9728 §7.3: a resource speaks for itself)"
            )
        urls = [named]
    else:
        urls = resource_metadata_urls(resource)
    accept = (("Accept", "application/json"),)
    response = None
    for url in urls:
        request = HttpRequest("GET", url, accept, operation="resource_metadata")
        response = yield from fetched(DEFAULT_RETRY, request, "idempotent")
        if response.status_code != 404:
            break
    assert response is not None
    if response.status_code != 200:
        raise InvalidResourceMetadata(
            f"the protected resource metadata of {resource!r:.120} could not be read "
            f"(HTTP {response.status_code})",
            response=response,
        )
    document = parse_json_object(response, "the protected resource metadata")
    return _checked(
        resource,
        document,
        response,
        allow_insecure_http=allow_insecure_http,
        allow_private_endpoints=allow_private_endpoints,
    )


def _checked(
    resource: str,
    document: dict[str, Any],
    response: Any,
    *,
    allow_insecure_http: bool,
    allow_private_endpoints: bool,
) -> ResourceMetadata:
    named = document.get("resource")
    if not isinstance(named, str) or not same_resource(named, resource):
        raise InvalidResourceMetadata(
            f"the metadata is for the resource {named!r:.120}, not {resource!r:.120}; "
            "refusing it (RFC 9728 §3.3)",
            response=response,
        )
    servers = document.get("authorization_servers")
    if (
        not isinstance(servers, list)
        or not servers
        or not all(isinstance(s, str) and s for s in servers)
    ):
        raise InvalidResourceMetadata(
            "the protected resource metadata names no authorization server "
            "(authorization_servers, RFC 9728 §2)",
            response=response,
        )
    for server in servers:
        try:
            if allow_private_endpoints:
                check_endpoint(
                    server, what="an authorization server", allow_insecure_http=allow_insecure_http
                )
            else:  # RFC 9728 §7: no more local than the resource that names it
                check_named_endpoint(
                    server,
                    named_by=resource,
                    what="an authorization server",
                    allow_insecure_http=allow_insecure_http,
                )
        except ConfigurationError as exc:
            raise InvalidResourceMetadata(
                f"the protected resource metadata's authorization server is refused: {exc}",
                response=response,
            ) from None
    scopes = document.get("scopes_supported")
    name = document.get("resource_name")
    return ResourceMetadata(
        resource=resource,
        authorization_servers=tuple(servers),
        scopes_supported=tuple(s for s in scopes if isinstance(s, str))
        if isinstance(scopes, list)
        else (),
        resource_name=name if isinstance(name, str) else None,
        raw=document,
    )
