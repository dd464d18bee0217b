"""Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0 §4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from ...errors import ConfigurationError, InvalidResponse
from ..endpoints import OAUTH2_ENDPOINTS
from ..http import HttpRequest, Step
from ..retry import DEFAULT_RETRY, Retry, fetched, transient
from ..url_policy import check_endpoint, check_named_endpoint
from .response import parse_json_object, raise_for_error

__all__ = ["ENDPOINTS", "ServerMetadata", "discover", "metadata_urls"]

#: The endpoint fields oauthkit uses, as named in RFC 8414 §2 and its extensions.
ENDPOINTS: Final = (
    *OAUTH2_ENDPOINTS,
    "jwks_uri",
    "pushed_authorization_request_endpoint",
    "backchannel_authentication_endpoint",
)


@dataclass(frozen=True, slots=True)
class ServerMetadata:
    """What a client needs to know about an authorization server: its issuer, endpoints and
    the flags that change the client's behaviour. ``raw`` is the whole document."""

    issuer: str | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)
    authorization_response_iss_parameter_supported: bool = False
    require_pushed_authorization_requests: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))
        object.__setattr__(self, "raw", MappingProxyType(dict(self.raw)))

    def endpoint(self, name: str) -> str:
        """The URL of endpoint ``name`` (``"token_endpoint"``, …) or a clear error."""
        url = self.endpoints.get(name)
        if url is None:
            where = f"the metadata of {self.issuer}" if self.issuer else "this client"
            raise ConfigurationError(f"{where} has no {name}; pass {name}= to the client")
        return url

    def mtls_endpoint_aliases(self) -> dict[str, str]:
        """RFC 8705 §5: the endpoints a client with a TLS client certificate calls instead,
        from ``mtls_endpoint_aliases`` (checked like the others when discovered; the
        authorization endpoint, which a browser visits, is never aliased)."""
        aliases = self.raw.get("mtls_endpoint_aliases")
        if not isinstance(aliases, Mapping):
            return {}
        return {
            name: url
            for name, url in aliases.items()
            if name in ENDPOINTS and name != "authorization_endpoint" and isinstance(url, str)
        }

    def with_overrides(self, endpoints: Mapping[str, str]) -> ServerMetadata:
        """The same metadata with explicitly configured endpoints taking precedence."""
        return ServerMetadata(
            issuer=self.issuer,
            endpoints={**self.endpoints, **endpoints},
            authorization_response_iss_parameter_supported=(
                self.authorization_response_iss_parameter_supported
            ),
            require_pushed_authorization_requests=self.require_pushed_authorization_requests,
            raw=self.raw,
        )


def metadata_urls(issuer: str) -> tuple[str, str]:
    """The OpenID Connect Discovery URL (issuer + ``/.well-known/openid-configuration``) and
    the RFC 8414 §3.1 URL (``/.well-known/oauth-authorization-server`` inserted before the
    issuer's path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oidc = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    rfc8414 = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"
    return oidc, rfc8414


def discover(
    issuer: str,
    *,
    allow_insecure_http: bool = False,
    allow_private_endpoints: bool = False,
    configured: frozenset[str] = frozenset(),
    retry: Retry | None = DEFAULT_RETRY,
) -> Step[ServerMetadata]:
    """Fetch and validate the metadata of ``issuer``: OpenID Connect Discovery first, then
    RFC 8414 when that is not found. The document's ``issuer`` must equal ``issuer`` exactly
    (RFC 8414 §3.3, OIDC Discovery §4.3) and every endpoint must be https (loopback excepted)
    and no more local than the issuer (RFC 8414 §6: a public issuer does not send our
    requests to this machine or a private network), unless ``allow_private_endpoints``.
    Endpoints the client was ``configured`` with replace the document's: those are not
    checked. A transient failure is tried again under ``retry``."""
    check_endpoint(issuer, what="the issuer", allow_insecure_http=allow_insecure_http)
    oidc_url, rfc8414_url = metadata_urls(issuer)
    accept = (("Accept", "application/json"),)
    request = HttpRequest("GET", oidc_url, accept, operation="discovery")
    response = yield from fetched(retry, request, "idempotent")
    if response.status_code == 404:
        request = replace(request, url=rfc8414_url)
        response = yield from fetched(retry, request, "idempotent")
    if response.status_code != 200:
        if transient(response):
            raise_for_error(response, f"the metadata endpoint of {issuer}")
        raise InvalidResponse(f"the metadata of {issuer} could not be read", response=response)
    document = parse_json_object(response, "the metadata endpoint")
    if document.get("issuer") != issuer:
        raise InvalidResponse(
            f"the metadata names issuer {document.get('issuer')!r:.100}, not {issuer!r}; "
            "refusing it (RFC 8414 §3.3: a mix-up or a misconfigured server)",
            response=response,
        )

    def checked(url: str, what: str) -> str:
        if allow_private_endpoints:
            return check_endpoint(url, what=what, allow_insecure_http=allow_insecure_http)
        return check_named_endpoint(
            url, named_by=issuer, what=what, allow_insecure_http=allow_insecure_http
        )

    endpoints: dict[str, str] = {}
    for name in ENDPOINTS:
        value = document.get(name)
        if value is None or name in configured:
            continue
        if not isinstance(value, str):
            raise InvalidResponse(f"the metadata's {name} is not a URL", response=response)
        endpoints[name] = checked(value, f"the metadata's {name}")

    aliases = document.get("mtls_endpoint_aliases")
    if aliases is not None:
        if not isinstance(aliases, dict):
            raise InvalidResponse("the metadata's mtls_endpoint_aliases is not an object")
        for name, value in aliases.items():
            if name in ENDPOINTS:
                if not isinstance(value, str):
                    raise InvalidResponse(f"the metadata's mTLS alias of {name} is not a URL")
                checked(value, f"the metadata's mTLS alias of {name}")
    return ServerMetadata(
        issuer=issuer,
        endpoints=endpoints,
        authorization_response_iss_parameter_supported=(
            document.get("authorization_response_iss_parameter_supported") is True
        ),
        require_pushed_authorization_requests=(
            document.get("require_pushed_authorization_requests") is True
        ),
        raw=document,
    )
