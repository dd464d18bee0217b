"""The sandbox's registered clients (RFC 6749 §2, RFC 7591 §2 client metadata; RFC 5849 §1
consumers) and the redirect-URI comparison of RFC 6749 §3.1.2 with the loopback rule of
RFC 8252 §7.3."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from typing import Final, Literal
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = [
    "AUTH_METHODS",
    "DEVICE_CODE_GRANT",
    "GRANT_TYPES",
    "LOOPBACK_IPS",
    "SCOPES",
    "SandboxClient",
    "default_clients",
    "redirect_uri_matches",
    "with_generated_secret",
]

#: RFC 8628 §3.4: the device code grant type.
DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
#: The grants the sandbox serves (RFC 6749 §4.1, §4.4, §6; RFC 8628).
GRANT_TYPES: Final = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_CODE_GRANT,
)
#: Client authentication at the token endpoint (RFC 6749 §2.3.1; RFC 7591 §2 names).
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "none")
#: The scopes the sandbox knows (RFC 6749 §3.3); the first is the default scope.
SCOPES: Final = ("profile", "email", "read", "write")
#: Loopback IP literals whose redirect URIs match on any port (RFC 8252 §7.3).
LOOPBACK_IPS: Final = frozenset({"127.0.0.1", "::1"})
#: The loopback redirect URIs of the default clients: any port, path ``/callback`` (the
#: command's) or ``/callback/<name>`` (a web app's: :class:`oauthkit.web.WebFlow`'s default
#: ``/callback/{provider}``).
LOOPBACK_CALLBACKS: Final = (
    "http://127.0.0.1/callback",
    "http://[::1]/callback",
    "http://127.0.0.1/callback/*",
    "http://[::1]/callback/*",
)

_GRANT_ALIASES: Final = {"device_code": DEVICE_CODE_GRANT}


@dataclass(frozen=True)
class SandboxClient:
    """One client registered at the sandbox (frozen; ``repr()`` shows no secret).

    ``kind="oauth2"``: an OAuth 2 client (RFC 6749 §2). ``token_endpoint_auth_method`` is
    ``client_secret_basic`` (the default; HTTP Basic is always accepted from a confidential
    client, RFC 6749 §2.3.1), ``client_secret_post`` (Basic or the form) or ``none`` (a
    public client, RFC 6749 §2.1: no secret). ``grant_types`` defaults to
    ``authorization_code`` + ``refresh_token``; ``"device_code"`` is accepted for the RFC 8628
    grant type. ``scopes`` are the scopes it may ask for (the first is granted when it asks
    for none).

    ``kind="oauth1"``: an OAuth 1.0a consumer (RFC 5849). ``client_id`` is the consumer key
    and ``client_secret`` the consumer secret (also as :attr:`consumer_key` /
    :attr:`consumer_secret`); ``rsa_public_key`` (PEM) allows the ``RSA-*`` signature
    methods; ``redirect_uris`` lists the allowed callbacks, ``"oob"`` among them for the PIN
    flow. Grant types, scopes and the auth method do not apply and are left empty.

    ``client_id`` defaults to ``name``. A confidential client (or an HMAC consumer) given no
    secret gets a random one when a :class:`~oauthkit.sandbox.Sandbox` registers it.

    ``redirect_uris`` are compared exactly (RFC 6749 §3.1.2.3), except that an ``http`` URI
    on ``127.0.0.1`` or ``[::1]`` matches any port (RFC 8252 §7.3), and one of those whose
    path ends in ``/*`` matches any one path segment there (a development convenience of the
    sandbox: a web app's ``/callback/{provider}``).
    """

    name: str
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    redirect_uris: tuple[str, ...] = ()
    kind: Literal["oauth2", "oauth1"] = "oauth2"
    grant_types: tuple[str, ...] = ()
    token_endpoint_auth_method: str = ""
    scopes: tuple[str, ...] = ()
    rsa_public_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigurationError("a sandbox client needs a non-empty name")
        if not self.client_id:
            object.__setattr__(self, "client_id", self.name)
        if not self.client_id.isprintable() or any(c.isspace() for c in self.client_id):
            raise ConfigurationError("client_id must be printable, without spaces")
        object.__setattr__(self, "redirect_uris", tuple(self.redirect_uris))
        if self.kind == "oauth2":
            self._check_oauth2()
        elif self.kind == "oauth1":
            self._check_oauth1()
        else:
            raise ConfigurationError("kind is 'oauth2' or 'oauth1'")

    def _check_oauth2(self) -> None:
        grants = tuple(_GRANT_ALIASES.get(g, g) for g in self.grant_types) or (
            "authorization_code",
            "refresh_token",
        )
        unknown = [g for g in grants if g not in GRANT_TYPES]
        if unknown:
            raise ConfigurationError(
                f"unknown grant types {unknown}; the sandbox serves {', '.join(GRANT_TYPES)}"
            )
        method = self.token_endpoint_auth_method or "client_secret_basic"
        if method not in AUTH_METHODS:
            raise ConfigurationError(
                f"token_endpoint_auth_method is one of {', '.join(AUTH_METHODS)}"
            )
        if method == "none" and self.client_secret is not None:
            raise ConfigurationError("a public client (auth method 'none') has no secret")
        if method == "none" and "client_credentials" in grants:
            raise ConfigurationError(
                "client_credentials needs a confidential client (RFC 6749 §4.4)"
            )
        scopes = tuple(self.scopes) or SCOPES
        if any(not s or " " in s for s in scopes):
            raise ConfigurationError("scopes are non-empty strings without spaces")
        for uri in self.redirect_uris:
            parts = urlsplit(uri)
            if not parts.scheme or parts.fragment:
                raise ConfigurationError(
                    f"redirect URI {uri!r} must be absolute, without a fragment (RFC 6749 §3.1.2)"
                )
        object.__setattr__(self, "grant_types", grants)
        object.__setattr__(self, "token_endpoint_auth_method", method)
        object.__setattr__(self, "scopes", scopes)

    def _check_oauth1(self) -> None:
        if self.grant_types or self.scopes or self.token_endpoint_auth_method:
            raise ConfigurationError(
                "grant_types, scopes and token_endpoint_auth_method are OAuth 2 settings"
            )
        for uri in self.redirect_uris:
            parts = urlsplit(uri)
            if uri != "oob" and (parts.scheme not in ("http", "https") or not parts.netloc):
                raise ConfigurationError(
                    f"callback {uri!r} must be an absolute http(s) URL or 'oob' (RFC 5849 §2.1)"
                )

    @property
    def is_public(self) -> bool:
        """True for an OAuth 2 client without credentials (RFC 6749 §2.1)."""
        return self.kind == "oauth2" and self.token_endpoint_auth_method == "none"

    @property
    def consumer_key(self) -> str:
        """OAuth 1.0a: the consumer key (RFC 5849 §1.1), the same as :attr:`client_id`."""
        return self.client_id

    @property
    def consumer_secret(self) -> str | None:
        """OAuth 1.0a: the consumer secret, the same as :attr:`client_secret`."""
        return self.client_secret

    def allows_redirect_uri(self, uri: str) -> bool:
        """True when ``uri`` matches one of :attr:`redirect_uris` (see the class doc)."""
        return any(redirect_uri_matches(registered, uri) for registered in self.redirect_uris)


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """RFC 6749 §3.1.2.3 simple string comparison, except that a registered ``http`` URI on a
    loopback IP literal matches the same URI on any port (RFC 8252 §7.3) — and, ending in
    ``/*``, any one last path segment. ``localhost`` gets no such exception (RFC 8252
    §8.3)."""
    if registered == requested:
        return True
    try:
        reg, req = urlsplit(registered), urlsplit(requested)
        host, port = req.hostname, req.port
    except ValueError:
        return False
    if reg.scheme != "http" or req.scheme != "http" or reg.hostname not in LOOPBACK_IPS:
        return False
    if host != reg.hostname or req.fragment:
        return False
    literal = f"[{host}]" if ":" in host else host
    netloc = literal if port is None else f"{literal}:{port}"
    if reg.path.endswith("/*"):
        segment = req.path.removeprefix(reg.path[:-1])
        path = segment != req.path and segment != "" and "/" not in segment
    else:
        path = req.path == reg.path
    return req.netloc == netloc and path and req.query == reg.query


def with_generated_secret(client: SandboxClient) -> SandboxClient:
    """``client`` with a random secret (256 bits) if it needs one and has none."""
    needs = (client.kind == "oauth2" and not client.is_public) or (
        client.kind == "oauth1" and client.rsa_public_key is None
    )
    if needs and client.client_secret is None:
        return replace(client, client_secret=secrets.token_urlsafe(32))
    return client


def default_clients() -> list[SandboxClient]:
    """The clients of a sandbox started with ``clients=None`` (secrets still to generate)."""
    return [
        SandboxClient(
            "demo-web",
            redirect_uris=LOOPBACK_CALLBACKS,
            grant_types=("authorization_code", "refresh_token"),
            token_endpoint_auth_method="client_secret_basic",
        ),
        SandboxClient(
            "demo-cli",
            redirect_uris=LOOPBACK_CALLBACKS,
            grant_types=("authorization_code", "refresh_token", DEVICE_CODE_GRANT),
            token_endpoint_auth_method="none",
        ),
        SandboxClient(
            "demo-service",
            grant_types=("client_credentials",),
            token_endpoint_auth_method="client_secret_basic",
        ),
        SandboxClient(
            "demo-oauth1",
            kind="oauth1",
            redirect_uris=(*LOOPBACK_CALLBACKS, "oob"),
        ),
    ]
