"""OAuth 2.0 Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592).

:func:`register` posts the client's metadata to the registration endpoint and reads the
answer into a :class:`ClientRegistration`: any 2xx with a JSON object and a ``client_id`` is
a registration (RFC 7591 §3.2.1 says 201; servers answer 200 too); an error body becomes the
typed §3.2.2 error (``InvalidRedirectUri``, ``InvalidClientMetadata``, …). A secret returned
without ``token_endpoint_auth_method`` means ``client_secret_basic``, the RFC's default (§2).
:func:`read_registration`, :func:`update_registration` and :func:`delete_registration` use the
registration access token at the client configuration endpoint (RFC 7592 §2).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ...errors import ConfigurationError, InvalidRegistration
from ..http import HttpRequest, HttpResponse, Step, fetch
from ..url_policy import check_endpoint, check_named_endpoint
from .response import parse_json_object, raise_for_error

__all__ = [
    "ClientRegistration",
    "delete_registration",
    "read_registration",
    "register",
    "update_registration",
]

#: Fields of a registration answer that are secrets: never in ``metadata`` nor in a repr.
_SECRETS = ("client_secret", "registration_access_token")
#: Fields kept as attributes rather than in ``metadata``.
_OWN = (
    *_SECRETS,
    "client_id",
    "client_secret_expires_at",
    "client_id_issued_at",
    "registration_client_uri",
    "token_endpoint_auth_method",
)


@dataclass(frozen=True, slots=True, repr=False)
class ClientRegistration:
    """A client registered at ``issuer``'s authorization server (RFC 7591 §3.2.1).

    ``client_secret_expires_at`` is a Unix time, ``0`` or ``None`` for never;
    ``registration_access_token`` and ``registration_client_uri`` manage it (RFC 7592).
    ``metadata`` holds the other registered fields (``redirect_uris``, ``grant_types``,
    ``client_name``, …). The repr shows no secret."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    client_secret_expires_at: int | None = None
    client_id_issued_at: int | None = None
    token_endpoint_auth_method: str = "none"
    registration_access_token: str | None = None
    registration_client_uri: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def secret_expired(self, now: float | None = None, leeway: float = 60) -> bool:
        """Whether the secret has expired (or will within ``leeway`` seconds)."""
        expires = self.client_secret_expires_at
        if not self.client_secret or not expires:
            return False
        return (time.time() if now is None else now) + leeway >= expires

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values, the secrets included (store them as you store tokens)."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "client_secret_expires_at": self.client_secret_expires_at,
            "client_id_issued_at": self.client_id_issued_at,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "registration_access_token": self.registration_access_token,
            "registration_client_uri": self.registration_client_uri,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientRegistration:
        """Take back what :meth:`to_dict` gave."""
        return cls(**{name: data[name] for name in data if name in _FIELDS})

    def __repr__(self) -> str:
        secret = ", secret=…" if self.client_secret else ""
        return (
            f"ClientRegistration({self.client_id!r}, issuer={self.issuer!r}, "
            f"auth={self.token_endpoint_auth_method}{secret})"
        )


_FIELDS = frozenset(ClientRegistration.__dataclass_fields__)


def _json_post(method: str, url: str, body: Mapping[str, Any], bearer: str | None) -> HttpRequest:
    headers = [("Accept", "application/json"), ("Content-Type", "application/json")]
    secrets: frozenset[str] = frozenset()
    if bearer is not None:
        headers.append(("Authorization", f"Bearer {bearer}"))
        secrets = frozenset({bearer})
    return HttpRequest(method, url, tuple(headers), json.dumps(body).encode(), secrets=secrets)


def _read(
    issuer: str, response: HttpResponse, asked: Mapping[str, Any], what: str
) -> ClientRegistration:
    if not 200 <= response.status_code < 300:
        raise_for_error(response, what)
    document = parse_json_object(response, what)
    client_id = document.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise InvalidRegistration(
            f"{what} answered without a client_id (RFC 7591 §3.2.1)", response=response
        )
    secret = document.get("client_secret")
    secret = secret if isinstance(secret, str) and secret else None
    method = document.get("token_endpoint_auth_method")
    if not isinstance(method, str) or not method:
        # RFC 7591 §2: omitted means client_secret_basic; without a secret, what was asked.
        method = "client_secret_basic" if secret else str(asked.get("method") or "none")
    return ClientRegistration(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        client_secret_expires_at=_int(document.get("client_secret_expires_at")),
        client_id_issued_at=_int(document.get("client_id_issued_at")),
        token_endpoint_auth_method=method,
        registration_access_token=_str(document.get("registration_access_token")),
        registration_client_uri=_str(document.get("registration_client_uri")),
        metadata={k: v for k, v in document.items() if k not in _OWN},
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def register(
    issuer: str,
    endpoint: str,
    metadata: Mapping[str, Any],
    *,
    initial_access_token: str | None = None,
    allow_insecure_http: bool = False,
    allow_private_endpoints: bool = False,
) -> Step[ClientRegistration]:
    """RFC 7591 §3.1: register a client with ``metadata`` (``redirect_uris``,
    ``grant_types``, ``token_endpoint_auth_method``, ``client_name``, ``software_statement``,
    …) at ``endpoint``, the registration endpoint of ``issuer``. The endpoint, and the
    client configuration endpoint the answer names (RFC 7592), are https and no more local
    than the issuer that named them, unless ``allow_private_endpoints``."""
    policy = _Policy(issuer, allow_insecure_http, allow_private_endpoints)
    policy.check(endpoint, "the registration endpoint")
    request = _json_post("POST", endpoint, metadata, initial_access_token)
    response = yield from fetch(
        dataclasses.replace(request, operation="registration")
    )  # never twice
    asked = {"method": metadata.get("token_endpoint_auth_method")}
    registration = _read(issuer, response, asked, "the registration endpoint")
    if registration.registration_client_uri is not None:
        try:
            policy.check(registration.registration_client_uri, "the registration_client_uri")
        except ConfigurationError as exc:
            raise InvalidRegistration(f"{exc} (RFC 7592 §3)", response=response) from None
    return registration


@dataclass(frozen=True, slots=True)
class _Policy:
    """Where a registration's endpoints may be (see :func:`register`)."""

    issuer: str
    allow_insecure_http: bool
    allow_private_endpoints: bool

    def check(self, url: str, what: str) -> None:
        if self.allow_private_endpoints:
            check_endpoint(url, what=what, allow_insecure_http=self.allow_insecure_http)
        else:
            check_named_endpoint(
                url, named_by=self.issuer, what=what, allow_insecure_http=self.allow_insecure_http
            )


def _management(registration: ClientRegistration) -> tuple[str, str]:
    """The client configuration endpoint and its token; the endpoint must carry them safely:
    https (a loopback issuer's excepted) and no more local than the issuer (RFC 7592 §3)."""
    uri, token = registration.registration_client_uri, registration.registration_access_token
    if not uri or not token:
        raise ConfigurationError(
            "this registration has no registration_client_uri and registration_access_token: "
            "the server does not offer RFC 7592 management for it"
        )
    check_named_endpoint(uri, named_by=registration.issuer, what="the registration_client_uri")
    return uri, token


def read_registration(registration: ClientRegistration) -> Step[ClientRegistration]:
    """RFC 7592 §2.1: the client's current registration, as the server has it."""
    uri, token = _management(registration)
    request = HttpRequest(
        "GET",
        uri,
        (("Accept", "application/json"), ("Authorization", f"Bearer {token}")),
        secrets=frozenset({token}),
    )
    response = yield from fetch(request)
    current = _read(registration.issuer, response, {}, "the client configuration endpoint")
    return _keep_management(current, registration)


def update_registration(
    registration: ClientRegistration, metadata: Mapping[str, Any]
) -> Step[ClientRegistration]:
    """RFC 7592 §2.2: replace the client's metadata with ``metadata`` (the whole set: fields
    left out are removed); ``client_id`` (and the secret, if any) are sent as §2.2 asks."""
    uri, token = _management(registration)
    body = {**metadata, "client_id": registration.client_id}
    if registration.client_secret:
        body["client_secret"] = registration.client_secret
    response = yield from fetch(_json_post("PUT", uri, body, token))
    asked = {"method": registration.token_endpoint_auth_method}
    current = _read(registration.issuer, response, asked, "the client configuration endpoint")
    return _keep_management(current, registration)


def delete_registration(registration: ClientRegistration) -> Step[None]:
    """RFC 7592 §2.3: deprovision the client (204; a 401 or 404 means it is gone already)."""
    uri, token = _management(registration)
    request = HttpRequest(
        "DELETE", uri, (("Authorization", f"Bearer {token}"),), secrets=frozenset({token})
    )
    response = yield from fetch(request)
    if response.status_code in (200, 204, 401, 404):
        return None
    raise_for_error(response, "the client configuration endpoint")
    return None


def _keep_management(current: ClientRegistration, before: ClientRegistration) -> ClientRegistration:
    """An RFC 7592 answer may omit the secret and the management token when they did not
    change (§3); keep the ones we had."""
    return dataclasses.replace(
        current,
        client_secret=current.client_secret or before.client_secret,
        client_secret_expires_at=current.client_secret_expires_at
        if current.client_secret
        else before.client_secret_expires_at,
        registration_access_token=current.registration_access_token
        or before.registration_access_token,
        registration_client_uri=current.registration_client_uri or before.registration_client_uri,
    )
