"""The authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2.1) and the
validation of the redirect back (RFC 6749 §4.1.2, RFC 9207, RFC 9700 §2.1)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ...errors import (
    AuthorizationDenied,
    AuthorizationResponseError,
    ConfigurationError,
    DuplicateParameter,
    IssuerMismatch,
    MissingParameter,
    RequestAlreadyUsed,
    StateMismatch,
    UnexpectedParameter,
)
from ..http import FORM_TYPE, HttpRequest, Step, add_query
from ..redirect import callback_query
from . import fapi
from .config import ClientConfig
from .hooks import Params, fetch_with_hooks, hook_authorization_params
from .pkce import code_challenge, make_code_verifier
from .response import answer_fields, required_string
from .server import MetadataCache, server_metadata

__all__ = [
    "AuthorizationCode",
    "AuthorizationRequest",
    "build_authorization_request",
    "parse_callback_parameters",
    "validate_callback",
]

#: Parameters the request builds itself; extra parameters may not replace them.
PROTECTED = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "nonce",
    }
)
#: Fields that must never arrive in an authorization-code callback (RFC 9700 §2.1.2).
TOKEN_FIELDS = ("access_token", "id_token", "token_type", "refresh_token")


class AuthorizationRequest:
    """One authorization request: the URL to send the user to and what the callback check and
    the code exchange need (``state``, ``code_verifier``, ``nonce``, the redirect URI and the
    expected issuer).

    ``to_dict()``/``from_dict()`` keep it between two web requests; keep that dict on the
    server side (it holds the code verifier). The request is used up by its first exchange.
    """

    __slots__ = (
        "_used",
        "authentication",
        "client_id",
        "code_challenge_method",
        "code_verifier",
        "created_at",
        "iss_required",
        "issuer",
        "nonce",
        "redirect_uri",
        "response_mode",
        "scope",
        "state",
        "url",
    )

    def __init__(
        self,
        *,
        url: str,
        state: str,
        client_id: str,
        redirect_uri: str | None,
        scope: str | None,
        code_verifier: str | None,
        code_challenge_method: str | None,
        nonce: str | None,
        issuer: str | None,
        iss_required: bool,
        created_at: float,
        response_mode: str | None = None,
        authentication: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.response_mode = response_mode
        #: What the ID token must show of the sign-in (:func:`authentication_checks`).
        self.authentication = dict(authentication) if authentication else None
        self.state = state
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.code_verifier = code_verifier
        self.code_challenge_method = code_challenge_method
        self.nonce = nonce
        self.issuer = issuer
        self.iss_required = iss_required
        self.created_at = created_at
        self._used = False

    @property
    def used(self) -> bool:
        """True once a code exchange has been sent for this request."""
        return self._used

    def mark_used(self) -> None:
        """Record that the exchange is under way; a second exchange is refused."""
        if self._used:
            raise RequestAlreadyUsed(
                "this authorization request was already exchanged; start a new one"
            )
        self._used = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values (the code verifier included: store them server-side)."""
        return {name: getattr(self, name) for name in self.__slots__ if name != "_used"} | {
            "used": self._used
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuthorizationRequest:
        """Take back what :meth:`to_dict` gave."""
        try:
            optional = ("_used", "response_mode", "authentication")
            named = [name for name in cls.__slots__ if name not in optional]
            request = cls(
                **{name: data[name] for name in named},
                response_mode=data.get("response_mode"),
                authentication=data.get("authentication"),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigurationError(f"not a serialized AuthorizationRequest: {exc}") from None
        request._used = bool(data.get("used", False))
        return request

    def __repr__(self) -> str:
        return (
            f"AuthorizationRequest(url={self.url.split('?', 1)[0]!r}, scope={self.scope!r}, "
            f"used={self._used})"
        )


class AuthorizationCode:
    """A code taken from a callback that passed :func:`validate_callback`, with its request.

    Only the validator makes one (DESIGN rule 5): the exchange accepts nothing else.
    """

    __slots__ = ("_code", "extra", "request")

    def __init__(
        self,
        code: str,
        request: AuthorizationRequest,
        extra: Mapping[str, str],
        *,
        _validated: object = None,
    ) -> None:
        if _validated is not _VALIDATED:
            raise TypeError("an AuthorizationCode comes only from validate_callback()")
        self._code = code
        self.request = request
        self.extra = dict(extra)

    @property
    def code(self) -> str:
        """The authorization code (single-use, short-lived)."""
        return self._code

    def __repr__(self) -> str:
        return f"AuthorizationCode(request={self.request!r})"


_VALIDATED = object()


def build_authorization_request(
    config: ClientConfig,
    cache: MetadataCache,
    *,
    scope: str | None = None,
    redirect_uri: str | None = None,
    extra: Mapping[str, str | Iterable[str]] | None = None,
    par: bool | None = None,
    jar: bool | None = None,
) -> Step[AuthorizationRequest]:
    """RFC 6749 §4.1.1: the authorization URL with ``state`` (256 bits), PKCE (RFC 7636; S256
    unless the client chose otherwise), a ``nonce`` when ``openid`` is in scope (OIDC Core
    §3.1.2.1), and ``extra`` parameters (``prompt``, ``login_hint``, ``resource`` — a list
    repeats it, RFC 8707 —, ``audience``, …); the client's ``resource`` unless ``extra``
    names one. Fetches metadata first when an issuer is
    configured. With ``jar=True`` the parameters travel inside a request object signed with
    the client's key (RFC 9101 §2.1). With ``par=True`` — or when the metadata requires it —
    the parameters are pushed to the server first (RFC 9126) and the URL carries only
    ``request_uri``. Under the FAPI 2.0 profile the request is always pushed, and with
    message signing also signed, asking for a JWT response (:mod:`.fapi`)."""
    extra = dict(extra or {})
    require_acr = bool(extra.pop("require_acr", False))
    authentication = authentication_checks(extra, require_acr=require_acr, now=time.time())
    par, jar, extra = fapi.authorization_options(config, par=par, jar=jar, extra=extra)
    metadata = yield from server_metadata(config, cache)
    if config.profile is not None:
        fapi.check_server(config, metadata)
    endpoint = metadata.endpoint("authorization_endpoint")
    scope = scope if scope is not None else config.scope
    redirect_uri = redirect_uri or config.redirect_uri
    state = secrets.token_urlsafe(32)
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", config.auth.client_id),
    ]
    if redirect_uri:
        params.append(("redirect_uri", redirect_uri))
    if scope:
        params.append(("scope", scope))
    params.append(("state", state))
    verifier = None
    if config.pkce is not None:
        verifier = make_code_verifier()
        params += [
            ("code_challenge", code_challenge(verifier, config.pkce)),
            ("code_challenge_method", config.pkce),
        ]
    nonce = None
    if "openid" in (scope or "").split():
        nonce = secrets.token_urlsafe(32)
        params.append(("nonce", nonce))
    if config.resource is not None and "resource" not in (extra or {}):
        params.append(("resource", config.resource))  # RFC 8707 §2.1
    for name, value in (extra or {}).items():
        if name in PROTECTED:
            raise ConfigurationError(
                f"{name!r} is set by oauthkit; pass scope= or configure the client instead"
            )
        values = [value] if isinstance(value, str | int) else list(value)  # max_age=600 too
        params += [(name, str(v)) for v in values]
    params = hook_authorization_params(config.hooks, params)
    if jar:
        audience = metadata.issuer or config.issuer or endpoint
        params = [
            ("client_id", config.auth.client_id),
            ("request", request_object(config, audience, params)),
        ]
    if par or (par is None and metadata.require_pushed_authorization_requests):
        request_uri = yield from _push(
            config, metadata.endpoint("pushed_authorization_request_endpoint"), params
        )
        params = [("client_id", config.auth.client_id), ("request_uri", request_uri)]
    return AuthorizationRequest(
        url=add_query(endpoint, params),
        state=state,
        client_id=config.auth.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        code_verifier=verifier,
        code_challenge_method=config.pkce,
        nonce=nonce,
        issuer=metadata.issuer,
        iss_required=(
            metadata.authorization_response_iss_parameter_supported or config.profile is not None
        ),
        created_at=time.time(),
        response_mode=_response_mode(extra),
        authentication=authentication,
    )


def authentication_checks(
    extra: Mapping[str, Any], *, require_acr: bool, now: float
) -> dict[str, Any] | None:
    """What the ID token must then show of the sign-in (OIDC Core §3.1.2.1): with ``max_age``
    an ``auth_time`` no older than that (§3.1.3.7 item 13); with ``prompt=login`` an
    ``auth_time`` after the request was made; with ``acr_values`` and ``require_acr=True``
    an ``acr`` among them (item 12). ``None``: nothing to check."""
    checks: dict[str, Any] = {}
    if extra.get("max_age") is not None:
        try:
            checks["max_age"] = int(extra["max_age"])
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"max_age is a number of seconds, not {extra['max_age']!r:.30}"
            ) from None
        if checks["max_age"] < 0:
            raise ConfigurationError("max_age is a number of seconds, 0 or more")
    prompt = extra.get("prompt")
    if isinstance(prompt, str) and "login" in prompt.split():
        checks["after"] = now
    if require_acr:
        values = extra.get("acr_values")
        wanted = values.split() if isinstance(values, str) else list(values or ())
        if not wanted:
            raise ConfigurationError("require_acr=True needs the acr_values to require")
        checks["acr"] = [str(value) for value in wanted]
    return checks or None


def _response_mode(extra: Mapping[str, str | Iterable[str]] | None) -> str | None:
    mode = (extra or {}).get("response_mode")
    return mode if isinstance(mode, str) else None


def request_object(config: ClientConfig, audience: str, params: Params) -> str:
    """RFC 9101 §4: the authorization parameters as a JWT signed with the client's private
    key (``private_key_jwt`` clients) or, failing that, its secret (HS256); ``iss`` is the
    client, ``aud`` the server, with a short lifetime and a ``jti``."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    from .client_auth import _key_alg, load_private_key

    now = int(config.clock())
    claims: dict[str, Any] = {}
    for name, value in params:
        claims.setdefault(name, value)  # a repeated parameter keeps its first value
    claims.update(
        {
            "iss": config.auth.client_id,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(24),
        }
    )
    key: Any
    if config.auth.private_key is not None:
        key = load_private_key(config.auth.private_key)
        alg = fapi.signing_alg(key) if config.profile is not None else _key_alg(key)
    elif config.auth.client_secret:
        key, alg = OctKey.import_key(config.auth.client_secret), "HS256"
    else:
        raise ConfigurationError("a signed request object needs private_key= or a client secret")
    header = {"alg": alg, "typ": "oauth-authz-req+jwt"}
    if getattr(key, "kid", None):
        header["kid"] = key.kid
    return jwt.encode(header, claims, key, algorithms=[alg])


def _push(config: ClientConfig, endpoint: str, params: Params) -> Step[str]:
    """RFC 9126 §2: POST the authorization parameters with the client's authentication; the
    answer's ``request_uri`` stands for them (``client_id`` stays in the body even with Basic
    authentication, as servers expect)."""
    auth_fields: dict[str, str] = {}
    headers = {"Accept": "application/json", "Content-Type": FORM_TYPE}
    config.auth.apply(
        auth_fields, headers, audience=config.assertion_audience(endpoint), now=config.clock()
    )
    body = [(k, v) for k, v in params if k not in auth_fields] + list(auth_fields.items())
    request = HttpRequest(
        "POST",
        endpoint,
        tuple(headers.items()),
        urlencode(body).encode(),
        secrets=config.auth.secrets(),
        operation="par",
    )
    response = yield from fetch_with_hooks(config.hooks, request)  # never sent twice
    what = "the pushed authorization request endpoint"
    fields = answer_fields(response, what)
    return required_string(fields, "request_uri", response, what)


def parse_callback_parameters(
    callback: str | Mapping[str, str | Iterable[str]],
) -> dict[str, str]:
    """The callback's parameters from a full URL, a query string or a mapping (a value may be a
    list, as web frameworks give them). A repeated parameter raises
    :class:`DuplicateParameter` (RFC 6749 §3.1)."""
    pairs: list[tuple[str, str]]
    if isinstance(callback, Mapping):
        pairs = []
        for name, value in callback.items():
            values = [value] if isinstance(value, str) else list(value)
            pairs += [(str(name), str(v)) for v in values]
    elif isinstance(callback, str):
        pairs = parse_qsl(callback_query(callback), keep_blank_values=True)
    else:
        raise ConfigurationError("the callback must be a URL, a query string or a mapping")
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise DuplicateParameter(f"the callback repeats the parameter {name!r}")
        fields[name] = value
    return fields


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def validate_callback(
    request: AuthorizationRequest, callback: str | Mapping[str, str | Iterable[str]]
) -> AuthorizationCode:
    """Check the redirect back, in this order, before any token request: no repeated
    parameter; ``iss`` equal to the expected issuer when sent, and present when the server
    promised it (RFC 9207 §2.4); ``state`` (RFC 6749 §10.12); then an ``error``
    (:class:`AuthorizationResponseError`); no tokens in a code callback (RFC 9700 §2.1.2); a
    ``code``. A refused callback leaves ``request`` usable."""
    fields = parse_callback_parameters(callback)
    iss = fields.pop("iss", None)
    if iss is not None and request.issuer is not None and not _same(iss, request.issuer):
        raise IssuerMismatch(
            f"the callback's iss {iss!r:.100} is not the issuer {request.issuer!r} "
            "(RFC 9207: a mix-up attack or a misconfigured client)"
        )
    if iss is None and request.iss_required:
        said = fields.get("error")
        raise IssuerMismatch(
            "the callback has no iss although it is required (RFC 9207 §2.4: the server "
            "announces it; FAPI 2.0 §5.3.3.2 item 5)"
            + (
                f"; it says error={said[:60]!r} (unverified: without iss it may not come "
                "from this server; access_denied usually means the user declined)"
                if said
                else ""
            )
        )
    state = fields.pop("state", None)
    if state is None:
        raise StateMismatch("the callback has no state (RFC 6749 §10.12)")
    if not _same(state, request.state):
        raise StateMismatch(
            "the callback's state is not this request's: a forged or stale redirect "
            "(RFC 6749 §10.12)"
        )
    error = fields.pop("error", None)
    if error is not None:
        description = fields.get("error_description")
        uri = fields.get("error_uri")
        if error == "access_denied":
            denied = AuthorizationDenied(
                "the user (or the server) denied the authorization request"
                + (f": {' '.join(description.split())[:300]}" if description else "")
            )
            denied.error_description = description
            denied.error_uri = uri
            raise denied
        raise AuthorizationResponseError(error, description, uri)
    present = [name for name in TOKEN_FIELDS if name in fields]
    if present:
        raise UnexpectedParameter(
            f"the callback carries {', '.join(present)}: tokens never belong in an "
            "authorization-code redirect (RFC 9700 §2.1.2)"
        )
    code = fields.pop("code", "")
    if not code:
        raise MissingParameter("the callback has no code")
    if request.used:
        raise RequestAlreadyUsed("this authorization request was already exchanged")
    return AuthorizationCode(code, request, fields, _validated=_VALIDATED)
