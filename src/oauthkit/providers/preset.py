"""A provider preset: what oauthkit needs to know about one provider, as data.

A :class:`Preset` holds a provider's endpoints, default scopes, client authentication, PKCE
support, API base and "who am I" request, the quirk hooks its documentation calls for
(:mod:`oauthkit.providers.quirks`), and what to register on the provider's side. Endpoints
may hold ``{placeholders}`` (a Microsoft tenant, a self-hosted GitLab) filled from the
options given to :meth:`Preset.oauth2_arguments` / :meth:`Preset.oauth1_arguments`, or from
the preset's ``defaults``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigurationError
from ..protocol.endpoints import OAUTH1_ENDPOINTS as _OAUTH1_ENDPOINTS
from ..protocol.endpoints import OAUTH2_ENDPOINTS as _OAUTH2_ENDPOINTS
from .identity import WhoAmI

if TYPE_CHECKING:
    from ..protocol.oauth2.hooks import Hook

__all__ = ["Preset", "WhoAmI"]


def _placeholders(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


@dataclass(frozen=True)
class Preset:
    """One provider, as data (see the module docstring). ``register`` says what to register
    on the provider's side; ``docs`` is the provider's OAuth documentation it was taken from.

    ``pkce`` False means the provider refuses PKCE (the client is then built with
    ``insecure_no_pkce=True``); ``pkce_documented`` that the provider documents support for
    it, ``pkce_required`` that it insists on it. ``auth_method`` is the client
    authentication the provider documents for clients with a secret (public clients use
    ``none``). ``api_base_from`` names a token response field holding the API base URL
    (Salesforce's ``instance_url``). Who signed in (:mod:`oauthkit.providers.identity`):
    ``whoami`` names the provider's immutable account id in its who-am-I answer;
    ``claims_id`` the OpenID Connect claim that is (``sub`` unless the provider documents
    another, Microsoft's ``oid``); ``oauth1_id`` the field of an OAuth 1.0a access-token
    answer that is (X's ``user_id``), which saves the who-am-I request.
    """

    name: str
    title: str
    protocol: Literal["oauth2", "oauth1"]
    docs: str
    register: str
    aliases: tuple[str, ...] = ()
    # OAuth 2
    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    scope: str | None = None
    pkce: bool = True
    pkce_documented: bool = False
    pkce_required: bool = False
    auth_method: str | None = None
    basic_encoding: Literal["form", "raw"] | None = None
    device: bool = False
    refresh: bool = False
    rotating_refresh: bool = False
    # OAuth 1.0a
    request_token_url: str | None = None
    authorize_url: str | None = None
    access_token_url: str | None = None
    signature_method: str = "HMAC-SHA1"
    pin: bool = False
    # Both
    api_base: str | None = None
    api_base_from: str | None = None
    whoami: WhoAmI | None = None
    claims_id: str = "sub"
    oauth1_id: str | None = None
    hooks: tuple[Hook, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    loopback_any_port: bool = False
    notes: str = ""

    # ------------------------------------------------------------------ placeholders

    def placeholders(self) -> list[str]:
        """The option names the preset's URLs need (``tenant``, ``base``, …)."""
        names: list[str] = []
        for text in self._templates():
            for name in _placeholders(text):
                if name not in names:
                    names.append(name)
        return names

    def _templates(self) -> list[str]:
        values = [getattr(self, name) for name in (*_OAUTH2_ENDPOINTS, *_OAUTH1_ENDPOINTS)]
        values += [self.issuer, self.api_base]
        if self.whoami is not None:
            values.append(self.whoami.url)
        return [v for v in values if v]

    def _fill(self, text: str | None, values: Mapping[str, str]) -> str | None:
        if text is None:
            return None
        missing = [name for name in _placeholders(text) if name not in values]
        if missing:
            wanted = ", ".join(
                f"{name}= ({self.options[name]})" if name in self.options else f"{name}="
                for name in missing
            )
            raise ConfigurationError(f"the {self.name} preset needs the option {wanted}")
        return text.format_map(values)

    def _values(self, options: Mapping[str, Any]) -> dict[str, str]:
        wanted = set(self.placeholders())
        unknown = sorted(set(options) - wanted)
        if unknown:
            known = ", ".join(sorted(wanted)) or "none"
            raise ConfigurationError(
                f"unknown option(s) for the {self.name} preset: {', '.join(unknown)} (its own "
                f"options: {known})"
            )
        values = dict(self.defaults)
        for name in wanted:
            if name in options and options[name] is not None:
                value = options[name]
                if not isinstance(value, str) or not value:
                    raise ConfigurationError(f"the {self.name} option {name} must be a string")
                values[name] = value.rstrip("/") if name == "base" else value
        return values

    def api_base_url(self, **options: str) -> str | None:
        """The API base URL with its placeholders filled (None when the preset has none)."""
        return self._fill(self.api_base, {**self.defaults, **options})

    def whoami_url(self, **options: str) -> str | None:
        """The absolute URL of the "who am I" request (None when the preset has none)."""
        if self.whoami is None:
            return None
        url = self.whoami.resolve(self.api_base)
        return self._fill(url, {**self.defaults, **options})

    # ------------------------------------------------------------------ client arguments

    def oauth2_arguments(
        self, *, client_secret: str | None = None, **options: str
    ) -> dict[str, Any]:
        """Keyword arguments for ``OAuth2Client(client_id, client_secret, **arguments)``: the
        preset's own, and nothing else (``OAuth2Client.from_preset`` adds the caller's).

        ``options`` are the preset's options (see :meth:`placeholders`). ``client_secret``
        picks the client authentication: the provider's documented method with a secret,
        ``none`` (a public client) without.
        """
        if self.protocol != "oauth2":
            raise ConfigurationError(
                f"{self.name} is an OAuth 1.0a preset; use OAuth1Client.from_preset"
            )
        values = self._values(options)
        arguments: dict[str, Any] = {}
        issuer = self._fill(self.issuer, values)
        if issuer is not None:
            arguments["issuer"] = issuer
        for name in _OAUTH2_ENDPOINTS:
            url = self._fill(getattr(self, name), values)
            if url is not None:
                arguments[name] = url
        if self.scope is not None:
            arguments["scope"] = self.scope
        if not self.pkce:
            arguments["insecure_no_pkce"] = True
        if self.basic_encoding is not None:
            arguments["basic_encoding"] = self.basic_encoding
        if not client_secret:
            arguments["auth_method"] = "none"
        else:
            arguments["auth_method"] = self.auth_method or "client_secret_basic"
        arguments["hooks"] = tuple(self.hooks)
        return arguments

    def oauth1_arguments(self, **options: str) -> dict[str, Any]:
        """Keyword arguments for ``OAuth1Client(consumer_key, consumer_secret, **arguments)``:
        the preset's own (``options`` are its options)."""
        if self.protocol != "oauth1":
            raise ConfigurationError(
                f"{self.name} is an OAuth 2 preset; use OAuth2Client.from_preset"
            )
        values = self._values(options)
        arguments: dict[str, Any] = {"signature_method": self.signature_method}
        for name in _OAUTH1_ENDPOINTS:
            url = self._fill(getattr(self, name), values)
            if url is not None:
                arguments[name] = url
        return arguments

    # ------------------------------------------------------------------ description

    def features(self) -> list[str]:
        """What the provider supports, for ``oauthkit providers``."""
        if self.protocol == "oauth1":
            return ["OAuth 1.0a", *(["PIN"] if self.pin else [])]
        found: list[str] = []
        if self.issuer is not None:
            found.append("discovery")
        if self.pkce_required:
            found.append("PKCE (required)")
        elif self.pkce_documented:
            found.append("PKCE")
        if self.device:
            found.append("device flow")
        if self.rotating_refresh:
            found.append("refresh (rotating)")
        elif self.refresh:
            found.append("refresh")
        return found

    def __repr__(self) -> str:
        return f"Preset({self.name!r}, {self.protocol})"
