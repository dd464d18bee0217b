"""OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0) as protocol
steps: the backchannel authentication request (§7.1-7.3), then poll mode (§7.3, §11: the token
endpoint is polled with ``auth_req_id`` as the device flow polls), and ping mode's
notification (§10.2: the server calls the client's notification endpoint with the bearer
``client_notification_token`` the client chose, and the client then asks for the token once).
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ...errors import ConfigurationError
from ..http import Step
from .config import ClientConfig
from .device import lifetime_and_interval, poll_token_endpoint
from .hooks import fetch_with_hooks
from .oidc import checked_id_token
from .response import answer_fields, required_string
from .server import MetadataCache, server_metadata
from .token import Token
from .token_endpoint import authenticated_post, token_form, token_request

__all__ = [
    "CIBA_GRANT",
    "BackchannelAuthentication",
    "backchannel_authentication",
    "check_notification",
    "poll_backchannel",
    "token_after_ping",
]

#: CIBA Core §10.1: the grant type of the token request.
CIBA_GRANT: Final = "urn:openid:params:grant-type:ciba"


@dataclass(frozen=True, slots=True, repr=False)
class BackchannelAuthentication:
    """CIBA Core §7.3: the request the server accepted. ``auth_req_id`` identifies it to the
    token endpoint; ``interval`` is 5 s when the server gave none (§7.3); with ping mode,
    ``client_notification_token`` is the bearer token the server's notification must carry.
    The repr shows neither."""

    auth_req_id: str
    expires_at: datetime
    interval: int
    scope: str | None = None
    client_notification_token: str | None = None

    def __repr__(self) -> str:
        return (
            f"BackchannelAuthentication(expires_at={self.expires_at.isoformat()}, "
            f"interval={self.interval}, ping={self.client_notification_token is not None})"
        )


def backchannel_authentication(
    config: ClientConfig,
    cache: MetadataCache,
    *,
    login_hint: str | None = None,
    id_token_hint: str | None = None,
    login_hint_token: str | None = None,
    binding_message: str | None = None,
    requested_expiry: int | None = None,
    acr_values: str | None = None,
    user_code: str | None = None,
    scope: str | None = None,
    ping: bool = False,
    extra: Mapping[str, str] | None = None,
) -> Step[BackchannelAuthentication]:
    """CIBA Core §7.1: ask the server to authenticate the user identified by exactly one of
    ``login_hint``, ``id_token_hint``, ``login_hint_token`` on their own device, with the
    client's authentication as at the token endpoint. ``scope`` must contain ``openid``.
    ``ping=True`` sends a fresh ``client_notification_token`` (§7.1, for a client registered
    for ping mode)."""
    hints = [h for h in (login_hint, id_token_hint, login_hint_token) if h is not None]
    if len(hints) != 1:
        raise ConfigurationError(
            "give exactly one of login_hint, id_token_hint and login_hint_token (CIBA Core §7.1)"
        )
    scope = scope if scope is not None else config.scope
    if "openid" not in (scope or "").split():
        raise ConfigurationError("a CIBA request's scope must contain openid (CIBA Core §7.1)")
    if requested_expiry is not None and requested_expiry <= 0:
        raise ConfigurationError("requested_expiry is a positive number of seconds")
    notification_token = secrets.token_urlsafe(32) if ping else None
    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("backchannel_authentication_endpoint")
    form = token_form(
        {
            "scope": scope,
            "login_hint": login_hint,
            "id_token_hint": id_token_hint,
            "login_hint_token": login_hint_token,
            "binding_message": binding_message,
            "requested_expiry": str(requested_expiry) if requested_expiry is not None else None,
            "acr_values": acr_values,
            "user_code": user_code,
            "client_notification_token": notification_token,
            "resource": config.resource,
        },
        extra,
    )
    request = authenticated_post(config, endpoint, form)
    request = dataclasses.replace(request, operation="backchannel_authentication")
    if notification_token is not None:  # never shown in an error built from the answer
        request = dataclasses.replace(request, secrets=request.secrets | {notification_token})
    response = yield from fetch_with_hooks(config.hooks, request)
    what = "the backchannel authentication endpoint"
    fields = answer_fields(response, what)
    auth_req_id = required_string(fields, "auth_req_id", response, what)
    lifetime, interval = lifetime_and_interval(fields, response, what)
    return BackchannelAuthentication(
        auth_req_id=auth_req_id,
        expires_at=config.now() + lifetime,
        interval=interval,
        scope=scope,
        client_notification_token=notification_token,
    )


def poll_backchannel(
    config: ClientConfig,
    cache: MetadataCache,
    request: BackchannelAuthentication,
    *,
    timeout: float | None = None,
) -> Step[Token]:
    """CIBA Core §7.3, §11 (poll mode): poll the token endpoint every ``interval`` seconds
    until the user decides; ``authorization_pending`` polls again, ``slow_down`` adds 5 s,
    ``access_denied`` and ``expired_token`` end it with their errors; past the request's
    expiry or ``timeout``, :class:`~oauthkit.errors.PollingTimeout`. The ID token is checked
    as at a code exchange (OIDC Core §3.1.3.7, no nonce: CIBA Core §10.1.1)."""
    token = yield from poll_token_endpoint(
        config,
        cache,
        {"grant_type": CIBA_GRANT, "auth_req_id": request.auth_req_id},
        interval=request.interval,
        expires_at=request.expires_at.timestamp(),
        timeout=timeout,
        requested_scope=request.scope,
        what="the backchannel authentication (CIBA Core §11)",
    )
    return (yield from checked_id_token(config, cache, token))


def check_notification(
    request: BackchannelAuthentication, authorization: str | None, body: Mapping[str, Any]
) -> bool:
    """CIBA Core §10.2 (ping mode): whether a notification is the server's for ``request``:
    ``Authorization: Bearer <client_notification_token>`` (compared in constant time) and a
    body naming its ``auth_req_id``. Anything else must be refused (401)."""
    expected = request.client_notification_token
    if expected is None or authorization is None:
        return False
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    same_token = hmac.compare_digest(value.strip().encode(), expected.encode())
    same_request = hmac.compare_digest(
        str(body.get("auth_req_id", "")).encode(), request.auth_req_id.encode()
    )
    return same_token and same_request


def token_after_ping(
    config: ClientConfig, cache: MetadataCache, request: BackchannelAuthentication
) -> Step[Token]:
    """CIBA Core §10.2: after a genuine notification, the token request — once."""
    if request.expires_at <= config.now():
        raise ConfigurationError("the backchannel authentication request has expired")
    form = {"grant_type": CIBA_GRANT, "auth_req_id": request.auth_req_id}
    token = yield from token_request(
        config, cache, form, grant=CIBA_GRANT, requested_scope=request.scope
    )
    return (yield from checked_id_token(config, cache, token))
