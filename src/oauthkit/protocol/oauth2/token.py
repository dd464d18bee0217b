"""The OAuth 2.0 token as a frozen value (RFC 6749 §5.1)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from ..._timing import renew_at
from ...errors import ConfigurationError

__all__ = ["Token"]

_KNOWN = frozenset(
    {
        "access_token",
        "token_type",
        "expires_at",
        "expires_in",
        "refresh_token",
        "scope",
        "id_token",
        "extra",
        "grant",
        "issued_at",
        "refresh_token_expires_at",
        "id_claims",
        "dpop_key",
    }
)


@dataclass(frozen=True, slots=True, repr=False)
class Token:
    """An access token and what comes with it (RFC 6749 §5.1).

    ``expires_at`` is absolute and timezone-aware (``None``: the server gave no lifetime);
    ``issued_at`` is when it was received, so that its lifetime is known;
    ``refresh_token_expires_at`` is set when the server says when the refresh token expires
    (``refresh_token_expires_in``, as GitHub and others send). ``id_claims`` holds the claims
    of the ID token once validated (OIDC Core §3.1.3.7); it is ``None`` otherwise.
    ``dpop_key`` is the private JWK a DPoP-bound token is bound to (RFC 9449), kept with the
    token so that any process can use and refresh it.
    ``scope`` is the granted scope: the server's when it sent one (RFC 6749 §3.3), else the
    one requested. ``grant`` names the grant that produced it (``client_credentials`` tokens
    are renewed by asking again). ``extra`` keeps every other response field. ``repr()``
    shows no secret.
    """

    access_token: str
    token_type: str = "Bearer"
    expires_at: datetime | None = None
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    grant: str | None = None
    issued_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    id_claims: Mapping[str, Any] | None = None
    dpop_key: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("expires_at", "issued_at", "refresh_token_expires_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ConfigurationError(f"{name} must be timezone-aware")
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        if self.id_claims is not None:
            object.__setattr__(self, "id_claims", MappingProxyType(dict(self.id_claims)))

    def is_expired(self, leeway: float | timedelta = 0, *, now: datetime | None = None) -> bool:
        """True when the token expires within ``leeway`` (seconds or a timedelta) from now.
        A token without ``expires_at`` never counts as expired."""
        if self.expires_at is None:
            return False
        if not isinstance(leeway, timedelta):
            leeway = timedelta(seconds=leeway)
        return (now or datetime.now(UTC)) + leeway >= self.expires_at

    def replace(self, **changes: Any) -> Token:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def renew_at(self, leeway: float = 60) -> datetime | None:
        """When to renew: ``leeway`` seconds before expiry, but no earlier than halfway
        through the token's lifetime when that is known (a token that lives less than twice
        the leeway would otherwise be renewed at once, on every use). ``None``: never."""
        if self.expires_at is None:
            return None
        issued = self.issued_at.timestamp() if self.issued_at is not None else None
        at = renew_at(self.expires_at.timestamp(), issued, leeway)
        return datetime.fromtimestamp(at, UTC)

    def is_due(self, leeway: float = 60, *, now: datetime | None = None) -> bool:
        """True once :meth:`renew_at` has passed."""
        at = self.renew_at(leeway)
        return at is not None and (now or datetime.now(UTC)) >= at

    @property
    def lifetime(self) -> timedelta | None:
        """How long the token was issued for (``None`` when unknown)."""
        if self.expires_at is None or self.issued_at is None:
            return None
        return self.expires_at - self.issued_at

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scope as a set of scope tokens."""
        return frozenset((self.scope or "").split())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values, ``expires_at`` in ISO 8601 (secrets included: store it safely)."""
        data: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
            "id_token": self.id_token,
            "extra": dict(self.extra),
            "grant": self.grant,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "id_claims": dict(self.id_claims) if self.id_claims is not None else None,
            "dpop_key": dict(self.dpop_key) if self.dpop_key is not None else None,
            "refresh_token_expires_at": (
                self.refresh_token_expires_at.isoformat() if self.refresh_token_expires_at else None
            ),
        }
        json.dumps(data)  # fails early on a value a store could not keep
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, now: datetime | None = None) -> Token:
        """Take back :meth:`to_dict`'s output, or a raw token response (``expires_in`` is
        counted from ``now``; unknown fields go to ``extra``)."""
        try:
            access_token = data["access_token"]
            if not isinstance(access_token, str) or not access_token:
                raise ValueError("access_token must be a non-empty string")
            expires_at = _instant(data.get("expires_at"), "expires_at")
            issued_at = _instant(data.get("issued_at"), "issued_at")
            if expires_at is None and data.get("expires_in") is not None:
                issued_at = issued_at or now or datetime.now(UTC)
                expires_at = issued_at + timedelta(seconds=int(data["expires_in"]))
            extra = dict(data.get("extra") or {})
            extra.update({k: v for k, v in data.items() if k not in _KNOWN})
            return cls(
                access_token=access_token,
                token_type=str(data.get("token_type") or "Bearer"),
                expires_at=expires_at,
                refresh_token=data.get("refresh_token"),
                scope=data.get("scope"),
                id_token=data.get("id_token"),
                extra=extra,
                grant=data.get("grant"),
                issued_at=issued_at,
                id_claims=data.get("id_claims"),
                dpop_key=data.get("dpop_key"),
                refresh_token_expires_at=_instant(
                    data.get("refresh_token_expires_at"), "refresh_token_expires_at"
                ),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ConfigurationError(f"not a token: {exc}") from None

    def __repr__(self) -> str:
        expires = self.expires_at.isoformat() if self.expires_at else "unknown"
        refresh = "yes" if self.refresh_token else "no"
        return (
            f"Token(token_type={self.token_type!r}, expires_at={expires}, "
            f"scope={self.scope!r}, refreshable={refresh})"
        )


def _instant(value: Any, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise ValueError(f"{name} must be ISO 8601, a timestamp or a datetime")
