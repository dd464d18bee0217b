"""The device authorization grant (RFC 8628) as protocol steps: ask for a device code and a
user code (§3.1-3.2), then poll the token endpoint until the user approves (§3.4-3.5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from ...errors import AuthorizationPending, InvalidResponse, PollingTimeout, SlowDown
from ..http import HttpResponse, Step, Wait
from .config import ClientConfig
from .hooks import fetch_with_hooks
from .response import answer_fields, parse_expires_in, required_string
from .server import MetadataCache, server_metadata
from .token import Token
from .token_endpoint import authenticated_post, token_form, token_request

__all__ = [
    "DEFAULT_DEVICE_INTERVAL",
    "DEVICE_CODE",
    "DeviceAuthorization",
    "device_authorization",
    "lifetime_and_interval",
    "poll_device",
    "poll_token_endpoint",
]

#: RFC 8628 §3.2: the polling interval when the server gives none.
DEFAULT_DEVICE_INTERVAL: Final = 5
#: RFC 8628 §3.4: the grant type of a device-code poll.
DEVICE_CODE: Final = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True, slots=True, repr=False)
class DeviceAuthorization:
    """RFC 8628 §3.2: what to show the user (``user_code``, ``verification_uri``, maybe
    ``verification_uri_complete``) and what polling needs. ``interval`` is 5 s when the server
    gave none."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: datetime
    interval: int
    scope: str | None = None

    def __repr__(self) -> str:
        return (
            f"DeviceAuthorization(user_code={self.user_code!r}, "
            f"verification_uri={self.verification_uri!r}, interval={self.interval})"
        )


def device_authorization(
    config: ClientConfig,
    cache: MetadataCache,
    *,
    scope: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Step[DeviceAuthorization]:
    """RFC 8628 §3.1-3.2: ask for a device code and a user code (with the client's
    ``resource``, RFC 8707, as an authorization request carries it)."""
    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("device_authorization_endpoint")
    scope = scope if scope is not None else config.scope
    form = token_form({"scope": scope, "resource": config.resource}, extra)
    request = replace(authenticated_post(config, endpoint, form), operation="device_authorization")
    response = yield from fetch_with_hooks(config.hooks, request)
    what = "the device authorization endpoint"
    fields = answer_fields(response, what)
    strings = {}
    for name in ("device_code", "user_code", "verification_uri"):
        strings[name] = required_string(fields, name, response, what)
    complete = fields.get("verification_uri_complete")
    lifetime, interval = lifetime_and_interval(fields, response, what)
    return DeviceAuthorization(
        device_code=strings["device_code"],
        user_code=strings["user_code"],
        verification_uri=strings["verification_uri"],
        verification_uri_complete=complete if isinstance(complete, str) else None,
        expires_at=config.now() + lifetime,
        interval=interval,
        scope=scope,
    )


def lifetime_and_interval(
    fields: Mapping[str, Any], response: HttpResponse, what: str
) -> tuple[timedelta, int]:
    """``expires_in`` (required) and ``interval`` (5 s when absent, at most an hour) of an
    answer that starts a polling flow: RFC 8628 §3.2, CIBA Core §7.3."""
    lifetime = parse_expires_in(fields.get("expires_in"), response)
    if lifetime is None:
        raise InvalidResponse(f"{what} answered without expires_in", response=response)
    interval = fields.get("interval", DEFAULT_DEVICE_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int) or not 0 < interval <= 3600:
        raise InvalidResponse(f"{what} answered an invalid interval", response=response)
    return lifetime, interval


def poll_device(
    config: ClientConfig,
    cache: MetadataCache,
    device: DeviceAuthorization,
    *,
    timeout: float | None = None,
) -> Step[Token]:
    """RFC 8628 §3.4-3.5: poll the token endpoint until the user approves. Waits ``interval``
    seconds before each poll; ``authorization_pending`` polls again, ``slow_down`` adds 5 s,
    ``access_denied`` and ``expired_token`` end it with their errors. Past the device code's
    expiry or ``timeout`` seconds, :class:`PollingTimeout`."""
    form = {"grant_type": DEVICE_CODE, "device_code": device.device_code}
    if device.scope and any(hook.device_poll_scope for hook in config.hooks):
        form["scope"] = device.scope
    return (
        yield from poll_token_endpoint(
            config,
            cache,
            form,
            interval=device.interval,
            expires_at=device.expires_at.timestamp(),
            timeout=timeout,
            requested_scope=device.scope,
            what="the device authorization (RFC 8628 §3.5)",
        )
    )


def poll_token_endpoint(
    config: ClientConfig,
    cache: MetadataCache,
    form: Mapping[str, str],
    *,
    interval: int,
    expires_at: float,
    timeout: float | None,
    requested_scope: str | None,
    what: str,
) -> Step[Token]:
    """The polling both the device flow (RFC 8628 §3.4-3.5) and CIBA's poll mode (CIBA Core
    §7.3, §11) do: wait ``interval`` seconds before each token request; ``authorization_pending``
    polls again, ``slow_down`` adds 5 s; any other answer ends it. Past ``expires_at`` or
    ``timeout`` seconds, :class:`PollingTimeout`."""
    deadline = expires_at
    if timeout is not None:
        deadline = min(deadline, config.clock() + timeout)
    grant = form["grant_type"]
    while True:
        if config.clock() + interval > deadline:
            raise PollingTimeout(f"the user did not finish {what} in time")
        yield Wait(interval)
        try:
            return (
                yield from token_request(
                    config, cache, dict(form), grant=grant, requested_scope=requested_scope
                )
            )
        except AuthorizationPending:
            continue
        except SlowDown:
            interval += 5
