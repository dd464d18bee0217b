"""Every operation of a client as a protocol step, bound to its configuration: ``client.steps``.

A step is a generator (:mod:`oauthkit.protocol.http`): it yields the requests to send and
returns its result. The clients' methods are shells that run these steps with their HTTP
client (:func:`oauthkit.drivers.run`, :func:`~oauthkit.drivers.arun`); a web flow, a session
or a program with its own I/O runs them itself, with everything the client knows (its
authentication, its server's metadata, cached once) and nothing else to reach into.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigurationError
from ..protocol.http import HttpRequest, Step
from ..protocol.oauth1 import flow as oauth1_flow
from ..protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials
from ..protocol.oauth1.signing import Signer
from ..protocol.oauth2 import ciba, grants, jarm, oidc, token_management
from ..protocol.oauth2 import device as device_grant
from ..protocol.oauth2.authorization import (
    AuthorizationCode,
    AuthorizationRequest,
    build_authorization_request,
    validate_callback,
)
from ..protocol.oauth2.config import ClientConfig
from ..protocol.oauth2.device import DeviceAuthorization
from ..protocol.oauth2.metadata import ServerMetadata
from ..protocol.oauth2.server import MetadataCache, server_metadata
from ..protocol.oauth2.token import Token

__all__ = ["Callback", "OAuth1Steps", "OAuth2Steps"]

#: A callback as the clients take it: its URL, its query string, or its parameters.
Callback = str | Mapping[str, str | Iterable[str]]


class OAuth2Steps:
    """The steps of an OAuth 2 client (RFC 6749 and its extensions), over ``config`` and the
    client's ``cache`` of its server's metadata and keys."""

    __slots__ = ("cache", "config")

    def __init__(self, config: ClientConfig, cache: MetadataCache) -> None:
        self.config = config
        self.cache = cache

    def metadata(self) -> Step[ServerMetadata]:
        """RFC 8414 / OIDC Discovery: the server's metadata, fetched once."""
        return server_metadata(self.config, self.cache)

    def authorization_request(
        self,
        scope: str | None = None,
        *,
        redirect_uri: str | None = None,
        extra: Mapping[str, Any] | None = None,
        par: bool | None = None,
        jar: bool | None = None,
    ) -> Step[AuthorizationRequest]:
        """RFC 6749 §4.1.1 with PKCE, ``state`` and ``nonce``; pushed (RFC 9126) or signed
        (RFC 9101) when asked or required."""
        return build_authorization_request(
            self.config,
            self.cache,
            scope=scope,
            redirect_uri=redirect_uri,
            extra=dict(extra or {}),
            par=par,
            jar=jar,
        )

    def unverified_state(self, response: str) -> str | None:
        """JARM: the ``state`` inside a response JWT, read without verifying it — to find the
        pending request it answers, which :meth:`validate` then verifies."""
        return jarm.unverified_state(response, self.config)

    def validate(
        self, request: AuthorizationRequest, callback: Callback
    ) -> Step[AuthorizationCode]:
        """RFC 6749 §4.1.2 and RFC 9207: check the redirect back (a JWT-secured response,
        JARM, verified first with the provider's keys) before any token request."""
        if jarm.is_jwt_response_mode(request.response_mode):
            callback = yield from jarm.response_parameters(
                self.config, self.cache, request, callback
            )
        return validate_callback(request, callback)

    def exchange(
        self, request: AuthorizationRequest | AuthorizationCode, callback: Callback | None = None
    ) -> Step[Token]:
        """RFC 6749 §4.1.3: the callback validated, its code exchanged — or a code
        :meth:`validate` returned already."""
        if isinstance(request, AuthorizationCode):
            if callback is not None:
                raise ConfigurationError(
                    "a validated AuthorizationCode is exchanged alone: pass no callback"
                )
            code = request
        elif callback is None:
            raise ConfigurationError("exchange_code(request, callback): the callback is missing")
        else:
            code = yield from self.validate(request, callback)
        return (yield from grants.exchange_code(self.config, self.cache, code))

    def refresh(self, token: Token, *, scope: str | None = None) -> Step[Token]:
        """RFC 6749 §6; the old refresh token is kept when the server returns none."""
        return grants.refresh(self.config, self.cache, token, scope=scope)

    def can_renew(self, token: Token) -> bool:
        """Whether :meth:`renew` has a way to renew ``token``."""
        return bool(token.refresh_token) or token.grant == "client_credentials"

    def renew(self, token: Token) -> Step[Token]:
        """``token`` refreshed, or fetched again for a client-credentials token."""
        if token.refresh_token:
            return self.refresh(token)
        if token.grant == "client_credentials":
            return self.client_credentials(scope=token.scope)
        raise ConfigurationError("this token cannot be renewed: it has no refresh token")

    def client_credentials(
        self, scope: str | None = None, extra: Mapping[str, str] | None = None
    ) -> Step[Token]:
        """RFC 6749 §4.4."""
        return grants.client_credentials(self.config, self.cache, scope=scope, extra=extra)

    def password(self, username: str, password: str, *, scope: str | None = None) -> Step[Token]:
        """RFC 6749 §4.3 (discouraged: RFC 9700 §2.4)."""
        return grants.password(self.config, self.cache, username, password, scope=scope)

    def jwt_bearer(self, assertion: str, *, scope: str | None = None) -> Step[Token]:
        """RFC 7523 §2.1."""
        return grants.jwt_bearer(self.config, self.cache, assertion, scope=scope)

    def token_exchange(self, **params: Any) -> Step[Token]:
        """RFC 8693."""
        return grants.token_exchange(self.config, self.cache, **params)

    def device_authorization(
        self, scope: str | None = None, extra: Mapping[str, str] | None = None
    ) -> Step[DeviceAuthorization]:
        """RFC 8628 §3.1."""
        return device_grant.device_authorization(self.config, self.cache, scope=scope, extra=extra)

    def poll_device(self, device: DeviceAuthorization, timeout: float | None = None) -> Step[Token]:
        """RFC 8628 §3.4 (the pauses are :class:`~oauthkit.protocol.http.Wait` operations)."""
        return device_grant.poll_device(self.config, self.cache, device, timeout=timeout)

    def backchannel_authentication(
        self, *, scope: str | None = None, ping: bool = False, **params: Any
    ) -> Step[ciba.BackchannelAuthentication]:
        """CIBA Core §7.1."""
        return ciba.backchannel_authentication(
            self.config, self.cache, scope=scope, ping=ping, **params
        )

    def poll_backchannel(
        self, request: ciba.BackchannelAuthentication, timeout: float | None = None
    ) -> Step[Token]:
        """CIBA Core §7.3 (poll mode)."""
        return ciba.poll_backchannel(self.config, self.cache, request, timeout=timeout)

    def backchannel_token(self, request: ciba.BackchannelAuthentication) -> Step[Token]:
        """CIBA Core §10.2 (ping mode): the token after the server's notification."""
        return ciba.token_after_ping(self.config, self.cache, request)

    def revoke(self, token: Token | str, *, hint: str | None = None) -> Step[None]:
        """RFC 7009."""
        return token_management.revoke(self.config, self.cache, token, hint=hint)

    def introspect(self, token: Token | str, *, hint: str | None = None) -> Step[dict[str, Any]]:
        """RFC 7662."""
        return token_management.introspect(self.config, self.cache, token, hint=hint)

    def userinfo(self, token: Token) -> Step[dict[str, Any]]:
        """OIDC Core §5.3; ``sub`` checked against the ID token."""
        return oidc.userinfo(self.config, self.cache, token)


class OAuth1Steps:
    """The steps of an OAuth 1.0a client (RFC 5849 §2), signing as ``signer`` with the
    client credentials of ``consumer``."""

    __slots__ = ("access_token_url", "consumer", "request_token_url", "signer")

    def __init__(
        self,
        consumer: OAuth1Credentials,
        signer: Signer,
        request_token_url: str | None,
        access_token_url: str | None,
    ) -> None:
        self.consumer = consumer
        self.signer = signer
        self.request_token_url = request_token_url
        self.access_token_url = access_token_url

    def request_token(
        self, callback: str, params: Mapping[str, str] | None = None
    ) -> Step[TemporaryCredentials]:
        """RFC 5849 §2.1: temporary credentials for ``callback`` (or ``"oob"``)."""
        return oauth1_flow.request_temporary_credentials(
            self.signer, self.consumer, _need(self.request_token_url, "request_token_url"),
            callback, params or {},
        )  # fmt: skip

    def access_token(
        self, temporary: TemporaryCredentials, verifier: str
    ) -> Step[OAuth1Credentials]:
        """RFC 5849 §2.3: token credentials for the verifier the callback (or PIN) gave."""
        return oauth1_flow.request_token_credentials(
            self.signer, self.consumer, _need(self.access_token_url, "access_token_url"),
            temporary, verifier,
        )  # fmt: skip

    def signing(self, credentials: OAuth1Credentials) -> OAuth1Credentials:
        """``credentials``' token credentials with this client's own client credentials (a
        stored copy holds none; a rotated consumer secret is the client's)."""
        if credentials.consumer_key != self.consumer.consumer_key:
            raise ConfigurationError(
                f"these token credentials were issued to the consumer key "
                f"{credentials.consumer_key!r:.60}, not to this client's "
                f"{self.consumer.consumer_key!r:.60}"
            )
        if credentials.token is None:
            return self.consumer
        return self.consumer.with_token(
            credentials.token, credentials.token_secret, extra=credentials.extra
        )

    def signed(
        self,
        credentials: OAuth1Credentials,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> HttpRequest:
        """RFC 5849 §3: ``method url`` signed with ``credentials``, as a request a step can
        yield (the secrets it was keyed with kept out of every message about its answer)."""
        signing = self.signing(credentials)
        signed = self.signer.sign(signing, method, url, dict(headers or {}), body)
        secrets = frozenset(v for v in (signing.token_secret, signing.consumer_secret) if v)
        return HttpRequest(
            method, signed.url, tuple(signed.headers.items()), signed.body or b"", secrets=secrets
        )


def _need(url: str | None, name: str) -> str:
    if url is None:
        raise ConfigurationError(f"this client has no {name}; pass {name}= to the client")
    return url
