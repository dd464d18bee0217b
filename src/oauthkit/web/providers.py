"""A provider as a web flow sees it: its client (OAuth 2 or OAuth 1.0a), where its API is,
and how to learn who signed in — from the command's configuration or from a client made in
code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..clients.oauth1 import AsyncOAuth1Client, OAuth1Client
from ..clients.oauth2 import AsyncOAuth2Client, OAuth2Client
from ..errors import ConfigurationError
from ..protocol.http import HttpRequest, Step, fetch
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2 import oidc
from ..protocol.oauth2.bearer import authorization_header
from ..protocol.oauth2.response import parse_json_object, raise_for_error
from ..protocol.oauth2.server import server_metadata
from ..protocol.oauth2.token import Token
from ..providers.identity import Identity, WhoAmI

if TYPE_CHECKING:
    from ..cli.provider import ResolvedProvider

__all__ = ["WebProvider", "identity_step"]

AnyOAuth2Client = OAuth2Client | AsyncOAuth2Client
AnyOAuth1Client = OAuth1Client | AsyncOAuth1Client

#: Display names an OAuth 1.0a access-token answer may carry (X, Flickr): shown, never keys.
OAUTH1_NAMES = ("screen_name", "fullname", "username")


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

    @classmethod
    def from_resolved(
        cls, provider: ResolvedProvider, *, client: Any = None, token: Any = None
    ) -> WebProvider:
        """The provider of a ``[providers.NAME]`` table (and its preset), with a new client
        unless ``client`` is given; ``token`` may name the API base (Salesforce)."""
        from ..cli.flows import api_base, make_oauth1_client, make_oauth2_client

        if client is None:
            if provider.type == "oauth1":
                client = make_oauth1_client(provider)
            else:
                client = make_oauth2_client(provider)
        preset = provider.preset
        whoami = preset.whoami if preset else None
        if preset is not None and whoami is not None and "{" in whoami.url:
            whoami = replace(whoami, url=preset.whoami_url(**provider.options) or whoami.url)
        if provider.get("whoami_url"):
            field = provider.get("whoami_field", "sub")
            tenant = provider.get("whoami_tenant_field")
            if not isinstance(field, str) or not (tenant is None or isinstance(tenant, str)):
                raise ConfigurationError(
                    f"{provider.name}: whoami_field (and whoami_tenant_field) name one field of "
                    "the who-am-I answer: the provider's immutable account id (and its tenant)"
                )
            whoami = WhoAmI(
                url=str(provider.get("whoami_url")),
                id=field,
                tenant=(tenant,) if tenant else (),
            )
        return cls(
            provider.name,
            client,
            api_base(provider, token),
            whoami,
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
    """Who signed in (:mod:`oauthkit.providers.identity`): the validated ID token's claims;
    else, for OAuth 1.0a, the access-token answer's id field (``oauth1_id``); else, when
    ``ask``, the OpenID Connect userinfo endpoint (OIDC Core §5.3) or the provider's
    who-am-I request. ``None`` when nothing is known without asking and ``ask`` is false; a
    provider with no way to tell is a :class:`~oauthkit.errors.ConfigurationError`."""
    if isinstance(credentials, Token):
        claims = credentials.id_claims
        if claims and claims.get("sub"):
            return Identity.from_claims(claims, id_claim=provider.claims_id)
        if not ask:
            return None
        client: Any = provider.client
        metadata = yield from server_metadata(client.config, client._cache)
        if metadata.endpoints.get("userinfo_endpoint"):
            claims = yield from oidc.userinfo(client.config, client._cache, credentials)
            return Identity.from_claims(claims, id_claim=provider.claims_id)
    elif provider.oauth1_id and credentials.extra.get(provider.oauth1_id):
        extra = dict(credentials.extra)
        return WhoAmI("", provider.oauth1_id, name=OAUTH1_NAMES).identity(
            extra, where="the access-token answer"
        )
    if not ask:
        return None
    url = provider.whoami_url()
    if url is None or provider.whoami is None:
        raise ConfigurationError(
            f"{provider.name} cannot say who signed in: it sends no ID token, has no userinfo "
            "endpoint and no who-am-I request (whoami_url and whoami_field, the field of the "
            "provider's immutable account id)"
        )
    return (yield from _whoami(provider, provider.whoami, url, credentials))


def _whoami(
    provider: WebProvider, whoami: WhoAmI, url: str, credentials: Token | OAuth1Credentials
) -> Step[Identity]:
    client = provider.client
    headers = {"Accept": "application/json"}
    headers.update(whoami.request_headers(_client_id(client)))
    if isinstance(credentials, Token):
        headers["Authorization"] = authorization_header(
            credentials.token_type, credentials.access_token
        )
        secrets = frozenset({credentials.access_token})
        request = HttpRequest(whoami.method, url, tuple(headers.items()), secrets=secrets)
    else:
        assert isinstance(client, OAuth1Client | AsyncOAuth1Client)
        signing = client._signing(credentials)
        signed = client.signer.sign(signing, whoami.method, url, headers, b"")
        request = HttpRequest(
            whoami.method,
            signed.url,
            tuple(signed.headers.items()),
            secrets=frozenset(v for v in (signing.token_secret, signing.consumer_secret) if v),
        )
    response = yield from fetch(request)
    what = f"{provider.name}'s who-am-I request"
    raise_for_error(response, what)
    return whoami.identity(parse_json_object(response, what), where=f"{provider.name}'s answer")


def _client_id(client: AnyOAuth2Client | AnyOAuth1Client) -> str:
    if isinstance(client, OAuth1Client | AsyncOAuth1Client):
        return client.consumer.consumer_key
    return client.client_id
