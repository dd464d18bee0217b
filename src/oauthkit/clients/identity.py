"""Who signed in — the one step that tells, for the web flows and the command alike
(:mod:`oauthkit.providers.identity` says why it is an immutable id and never a name).

The sources, in order: the validated ID token's claims; for OAuth 1.0a, the access-token
answer's id field (``oauth1_id``: X's ``user_id``); then, when asking is allowed, the OpenID
Connect userinfo endpoint (OIDC Core §5.3) or the provider's who-am-I request.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..protocol.http import HttpRequest, Step, fetch
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2.bearer import authorization_header
from ..protocol.oauth2.response import parse_json_object, raise_for_error
from ..protocol.oauth2.token import Token
from ..providers.identity import Identity, WhoAmI
from .oauth1 import AsyncOAuth1Client, OAuth1Client
from .oauth2 import AsyncOAuth2Client, OAuth2Client

__all__ = ["AnyClient", "who_signed_in"]

AnyClient = OAuth2Client | AsyncOAuth2Client | OAuth1Client | AsyncOAuth1Client

#: Display names an OAuth 1.0a access-token answer may carry (X, Flickr): shown, never keys.
OAUTH1_NAMES = ("screen_name", "fullname", "username")


def who_signed_in(
    client: AnyClient,
    credentials: Token | OAuth1Credentials,
    *,
    name: str,
    whoami: WhoAmI | None = None,
    api_base: str | None = None,
    claims_id: str = "sub",
    oauth1_id: str | None = None,
    ask: bool = True,
) -> Step[Identity | None]:
    """The :class:`~oauthkit.providers.identity.Identity` of whoever ``credentials`` belong
    to at the provider called ``name``; ``None`` when nothing is known without asking and
    ``ask`` is false. A provider with no way to tell is a
    :class:`~oauthkit.errors.ConfigurationError`."""
    if isinstance(credentials, Token):
        claims = credentials.id_claims
        if claims and claims.get("sub"):
            return Identity.from_claims(claims, id_claim=claims_id)
        if not ask:
            return None
        assert isinstance(client, OAuth2Client | AsyncOAuth2Client)
        metadata = yield from client.steps.metadata()
        if metadata.endpoints.get("userinfo_endpoint"):
            claims = yield from client.steps.userinfo(credentials)
            return Identity.from_claims(claims, id_claim=claims_id)
    elif oauth1_id and credentials.extra.get(oauth1_id):
        found = WhoAmI("", oauth1_id, name=OAUTH1_NAMES)
        return found.identity(dict(credentials.extra), where="the access-token answer")
    if not ask:
        return None
    url = whoami.resolve(api_base) if whoami is not None else None
    if whoami is None or url is None or "://" not in url:
        raise ConfigurationError(
            f"{name} cannot say who signed in: it sends no ID token, has no userinfo endpoint "
            "and no who-am-I request (whoami_url and whoami_field, the field of the "
            "provider's immutable account id)"
        )
    headers = {"Accept": "application/json", **whoami.request_headers(_client_id(client))}
    request: HttpRequest
    if isinstance(credentials, Token):
        headers["Authorization"] = authorization_header(
            credentials.token_type, credentials.access_token
        )
        secrets = frozenset({credentials.access_token})
        request = HttpRequest(whoami.method, url, tuple(headers.items()), secrets=secrets)
    else:
        assert isinstance(client, OAuth1Client | AsyncOAuth1Client)
        request = client.steps.signed(credentials, whoami.method, url, headers)
    response = yield from fetch(request)
    what = f"{name}'s who-am-I request"
    raise_for_error(response, what)
    return whoami.identity(parse_json_object(response, what), where=f"{name}'s answer")


def _client_id(client: Any) -> str:
    if isinstance(client, OAuth1Client | AsyncOAuth1Client):
        return client.consumer.consumer_key
    return str(client.client_id)
