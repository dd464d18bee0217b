"""A provider as a web flow sees it: its client (OAuth 2 or OAuth 1.0a), where its API is,
and how to learn who signed in — from the command's configuration or from a client made in
code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..clients.identity import who_signed_in
from ..clients.oauth1 import AsyncOAuth1Client, OAuth1Client
from ..clients.oauth2 import AsyncOAuth2Client, OAuth2Client
from ..errors import ConfigurationError
from ..protocol.http import Step
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2.token import Token
from ..providers.identity import Identity, WhoAmI

if TYPE_CHECKING:
    from ..config.provider import ResolvedProvider

__all__ = ["WebProvider", "identity_step"]

AnyOAuth2Client = OAuth2Client | AsyncOAuth2Client
AnyOAuth1Client = OAuth1Client | AsyncOAuth1Client


@dataclass(frozen=True)
class WebProvider:
    """``client`` (an OAuth 2 or OAuth 1.0a client, sync or async) under ``name``;
    ``api_base`` is where its user's credentials may be sent; ``whoami`` is the request
    that names the signed-in account when no ID token or userinfo endpoint says it;
    ``scope`` overrides the client's for the authorization request; ``response_mode``
    (``"form_post"``, OAuth 2.0 Form Post Response Mode) asks for the callback as a POST;
    ``par`` pushes the request first (RFC 9126; ``None``: when the server requires it) and
    ``jar`` signs it (RFC 9101; ``None``: when the client's profile asks). A client made
    with ``dpop=True`` gets DPoP-bound tokens (RFC 9449), sent with their proofs by the
    user's session. Who signed in is told by the provider's immutable account id only
    (:func:`identity_step`): ``whoami`` names its field, ``claims_id`` the OpenID Connect
    claim (``sub``), ``oauth1_id`` an OAuth 1.0a access-token answer's field."""

    name: str
    client: AnyOAuth2Client | AnyOAuth1Client
    api_base: str | None = None
    whoami: WhoAmI | None = None
    scope: str | None = None
    response_mode: str | None = None
    par: bool | None = None
    jar: bool | None = None
    claims_id: str = "sub"
    oauth1_id: str | None = None

    @property
    def kind(self) -> str:
        """``"oauth2"`` or ``"oauth1"``."""
        return "oauth1" if isinstance(self.client, OAuth1Client | AsyncOAuth1Client) else "oauth2"

    @property
    def oauth2(self) -> AnyOAuth2Client:
        """The client, an OAuth 2 one (else a :class:`~oauthkit.errors.ConfigurationError`)."""
        if isinstance(self.client, OAuth2Client | AsyncOAuth2Client):
            return self.client
        raise ConfigurationError(f"{self.name} is an OAuth 1.0a provider")

    @property
    def oauth1(self) -> AnyOAuth1Client:
        """The client, an OAuth 1.0a one (else a :class:`~oauthkit.errors.ConfigurationError`)."""
        if isinstance(self.client, OAuth1Client | AsyncOAuth1Client):
            return self.client
        raise ConfigurationError(f"{self.name} is an OAuth 2 provider")

    @classmethod
    def from_resolved(
        cls, provider: ResolvedProvider, *, client: AnyOAuth2Client | AnyOAuth1Client | None = None
    ) -> WebProvider:
        """The provider of a ``[providers.NAME]`` table (and its preset), with a new client
        unless ``client`` is given."""
        from ..config.factories import api_base, make_oauth1_client, make_oauth2_client, whoami_of

        if client is None:
            if provider.type == "oauth1":
                client = make_oauth1_client(provider)
            else:
                client = make_oauth2_client(provider)
        preset = provider.preset
        return cls(
            provider.name,
            client,
            api_base(provider),
            whoami_of(provider),
            response_mode=provider.get("response_mode"),
            par=provider.get("par"),
            jar=provider.get("jar"),
            claims_id=preset.claims_id if preset else "sub",
            oauth1_id=preset.oauth1_id if preset else None,
        )

    @classmethod
    def of(cls, name: str, client: AnyOAuth2Client | AnyOAuth1Client) -> WebProvider:
        """``client`` under ``name``; a client made with ``from_preset`` brings its preset's
        API base and who-am-I request (the preset's options filled in)."""
        preset = client.preset
        if preset is None:
            return cls(name, client)
        options = dict(client.preset_options)
        whoami = preset.whoami
        if whoami is not None and "{" in whoami.url:
            whoami = replace(whoami, url=preset.whoami_url(**options) or whoami.url)
        return cls(
            name,
            client,
            preset.api_base_url(**options),
            whoami,
            claims_id=preset.claims_id,
            oauth1_id=preset.oauth1_id,
        )

    def whoami_url(self) -> str | None:
        """The absolute URL of :attr:`whoami`, or ``None``."""
        if self.whoami is None:
            return None
        url = self.whoami.resolve(self.api_base)
        return url if "://" in url else None

    def __repr__(self) -> str:
        return f"WebProvider({self.name!r}, {self.kind})"


def identity_step(
    provider: WebProvider, credentials: Token | OAuth1Credentials, *, ask: bool = True
) -> Step[Identity | None]:
    """Who signed in at ``provider`` (:func:`oauthkit.clients.identity.who_signed_in`, with
    the provider's who-am-I request, API base and id fields)."""
    return who_signed_in(
        provider.client,
        credentials,
        name=provider.name,
        whoami=provider.whoami,
        api_base=provider.api_base,
        claims_id=provider.claims_id,
        oauth1_id=provider.oauth1_id,
        ask=ask,
    )
