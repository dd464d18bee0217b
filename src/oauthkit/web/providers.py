"""A provider as a web flow sees it: its client (OAuth 2 or OAuth 1.0a), where its API is,
and how to learn who signed in — from the command's configuration or from a client made in
code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clients.oauth1 import AsyncOAuth1Client, OAuth1Client
from ..clients.oauth2 import AsyncOAuth2Client, OAuth2Client
from ..protocol.http import HttpRequest, Step, fetch
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2.bearer import authorization_header
from ..protocol.oauth2.response import parse_json_object, raise_for_error
from ..protocol.oauth2.token import Token
from ..providers.preset import WhoAmI

if TYPE_CHECKING:
    from ..cli.provider import ResolvedProvider

__all__ = ["WebProvider", "whoami_step"]

AnyOAuth2Client = OAuth2Client | AsyncOAuth2Client
AnyOAuth1Client = OAuth1Client | AsyncOAuth1Client

#: OAuth 1.0a access-token answers that name the user (Twitter/X, Garmin, Xero, Trello …).
OAUTH1_ACCOUNT_FIELDS = ("user_id", "screen_name", "userid", "user_nsid", "username")


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
    user's session."""

    name: str
    client: AnyOAuth2Client | AnyOAuth1Client
    api_base: str | None = None
    whoami: WhoAmI | None = None
    scope: str | None = None
    response_mode: str | None = None
    par: bool | None = None
    jar: bool | None = None

    @property
    def kind(self) -> str:
        """``"oauth2"`` or ``"oauth1"``."""
        return "oauth1" if isinstance(self.client, OAuth1Client | AsyncOAuth1Client) else "oauth2"

    @classmethod
    def from_resolved(cls, provider: ResolvedProvider) -> WebProvider:
        """The provider of a ``[providers.NAME]`` table (and its preset)."""
        from ..cli.flows import api_base, make_oauth1_client, make_oauth2_client

        if provider.type == "oauth1":
            client: Any = make_oauth1_client(provider)
        else:
            client = make_oauth2_client(provider)
        whoami = provider.preset.whoami if provider.preset else None
        if provider.get("whoami_url"):
            field = provider.get("whoami_field", "sub")
            fields = (field,) if isinstance(field, str) else tuple(field)
            whoami = WhoAmI(url=str(provider.get("whoami_url")), fields=fields)
        return cls(
            provider.name,
            client,
            api_base(provider),
            whoami,
            response_mode=provider.get("response_mode"),
            par=provider.get("par"),
            jar=provider.get("jar"),
        )

    def whoami_url(self) -> str | None:
        """The absolute URL of :attr:`whoami`, or ``None``."""
        if self.whoami is None:
            return None
        url = self.whoami.resolve(self.api_base)
        return url if "://" in url else None

    def __repr__(self) -> str:
        return f"WebProvider({self.name!r}, {self.kind})"


def whoami_step(provider: WebProvider, credentials: Token | OAuth1Credentials) -> Step[str | None]:
    """The account named by the provider's who-am-I request (a bearer request for OAuth 2, a
    signed one for OAuth 1.0a), or ``None`` when it has none."""
    url = provider.whoami_url()
    if url is None or provider.whoami is None:
        return None
    client = provider.client
    headers = {"Accept": "application/json"}
    headers.update(provider.whoami.request_headers(_client_id(client)))
    if isinstance(credentials, Token):
        headers["Authorization"] = authorization_header(
            credentials.token_type, credentials.access_token
        )
        request = HttpRequest(
            provider.whoami.method,
            url,
            tuple(headers.items()),
            secrets=frozenset({credentials.access_token}),
        )
    else:
        assert isinstance(client, OAuth1Client | AsyncOAuth1Client)
        signing = client._signing(credentials)
        signed = client.signer.sign(signing, provider.whoami.method, url, headers, b"")
        request = HttpRequest(
            provider.whoami.method,
            signed.url,
            tuple(signed.headers.items()),
            secrets=frozenset(v for v in (signing.token_secret, signing.consumer_secret) if v),
        )
    response = yield from fetch(request)
    what = f"{provider.name}'s who-am-I request"
    raise_for_error(response, what)
    return provider.whoami.account(parse_json_object(response, what))


def _client_id(client: AnyOAuth2Client | AnyOAuth1Client) -> str:
    if isinstance(client, OAuth1Client | AsyncOAuth1Client):
        return client.consumer.consumer_key
    return client.client_id
