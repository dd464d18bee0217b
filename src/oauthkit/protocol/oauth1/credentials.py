"""OAuth 1.0a credentials (RFC 5849 §1.1): client, temporary and token credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError
from .signature import load_rsa_private_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["OAuth1Credentials", "TemporaryCredentials"]


def _frozen_extra(extra: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(extra or {}))


@dataclass(frozen=True, slots=True, repr=False)
class OAuth1Credentials:
    """Client credentials, and token credentials once obtained (RFC 5849 §1.1).

    ``consumer_secret`` signs with ``HMAC-*`` and PLAINTEXT; ``rsa_key`` (PEM string or bytes, or
    a loaded key; it is loaded once here) signs with ``RSA-*``. ``token`` and ``token_secret`` are
    the token credentials; ``extra`` keeps what the provider returned beside them
    (``user_id``, ``screen_name``, …). ``repr()`` shows no secret.

    Credentials taken back from a store (:meth:`from_dict`) hold the token credentials only:
    the client credentials are configuration, supplied by the :class:`OAuth1Client` that
    signs with them (so a rotated consumer secret takes effect for every stored user, and a
    leaked token store does not leak the application's secret).
    """

    consumer_key: str
    consumer_secret: str | None = None
    rsa_key: RSAPrivateKey | str | bytes | None = None
    token: str | None = None
    token_secret: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.consumer_key, str) or not self.consumer_key:
            raise ConfigurationError("consumer_key must be a non-empty string")
        if self.consumer_secret is None and self.rsa_key is None and self.token is None:
            raise ConfigurationError("give consumer_secret (HMAC-*, PLAINTEXT) or rsa_key (RSA-*)")
        if self.token is None and self.token_secret is not None:
            raise ConfigurationError("a token_secret needs its token")
        if self.token and self.token_secret is None and self.consumer_secret and not self.rsa_key:
            raise ConfigurationError(
                "HMAC-* and PLAINTEXT sign with the token secret: give token_secret with the "
                "token (RSA-* signs with rsa_key and needs the token alone, RFC 5849 §3.4.3)"
            )
        if self.rsa_key is not None:
            object.__setattr__(self, "rsa_key", load_rsa_private_key(self.rsa_key))
        object.__setattr__(self, "extra", _frozen_extra(self.extra))

    def with_token(
        self, token: str, token_secret: str | None, extra: Mapping[str, str] | None = None
    ) -> OAuth1Credentials:
        """The same client credentials with these token credentials."""
        return OAuth1Credentials(
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            rsa_key=self.rsa_key,
            token=token,
            token_secret=token_secret,
            extra=extra or {},
        )

    def to_dict(self) -> dict[str, Any]:
        """The token credentials and extra fields, JSON-safe, for a store. Client credentials
        (secret, RSA key) are configuration, not state, and are left out."""
        return {
            "consumer_key": self.consumer_key,
            "token": self.token,
            "token_secret": self.token_secret,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OAuth1Credentials:
        """Take back what :meth:`to_dict` gave: token credentials without client credentials
        (an :class:`OAuth1Client` adds its own when it signs)."""
        try:
            token = data["token"]
            secret = data.get("token_secret")
            if not isinstance(token, str) or not token:
                raise ValueError("token must be a non-empty string")
            if secret is not None and not isinstance(secret, str):
                raise ValueError("token_secret must be a string")
            extra = {str(k): str(v) for k, v in dict(data.get("extra") or {}).items()}
            return cls(
                consumer_key=str(data["consumer_key"]),
                token=token,
                token_secret=secret,
                extra=extra,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"not serialized OAuth1Credentials: {exc}") from None

    def __repr__(self) -> str:
        signs_with = (
            "rsa_key"
            if self.rsa_key is not None
            else "consumer_secret"
            if self.consumer_secret is not None
            else "the client's credentials"
        )
        token = "set" if self.token is not None else "none"
        return (
            f"OAuth1Credentials(consumer_key={self.consumer_key!r}, signs_with={signs_with}, "
            f"token={token})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class TemporaryCredentials:
    """The temporary credentials of RFC 5849 §2.1 (the "request token"), with the callback
    they were requested for. ``to_dict()``/``from_dict()`` let a web app keep them between
    the redirect out and the callback in; keep that dict server-side, it holds a secret."""

    token: str
    token_secret: str
    callback: str = "oob"
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _frozen_extra(self.extra))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values (the token secret included: store it server-side)."""
        return {
            "token": self.token,
            "token_secret": self.token_secret,
            "callback": self.callback,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TemporaryCredentials:
        """Take back what :meth:`to_dict` gave."""
        try:
            return cls(
                token=str(data["token"]),
                token_secret=str(data["token_secret"]),
                callback=str(data.get("callback", "oob")),
                extra={str(k): str(v) for k, v in dict(data.get("extra") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"not serialized TemporaryCredentials: {exc}") from None

    def __repr__(self) -> str:
        return f"TemporaryCredentials(callback={self.callback!r})"
