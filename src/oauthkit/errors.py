"""Every error oauthkit raises, under one root.

::

    OAuthKitError
    ├── ConfigurationError (also ValueError)     a caller's mistake: bad argument, missing endpoint
    │   ├── InsecureTransportError               plain http to a host that is not loopback
    │   └── ProfileError                         a configuration the FAPI 2.0 profile forbids
    │                                            (``.clause`` names the requirement)
    ├── TransportError                           the server could not be reached (cause attached)
    ├── InvalidResponse                          a server reply that is not what the spec says
    │   ├── CallbackNotConfirmed                 OAuth 1.0a: oauth_callback_confirmed missing
    │   ├── IdTokenError                         an ID token failed a check (OIDC Core §3.1.3.7;
    │   │                                        oauthkit.protocol.oauth2.oidc)
    │   ├── IdentityError                        who signed in cannot be told: the answer has
    │   │                                        no immutable account id (OIDC Core §5.7)
    │   ├── InvalidResourceMetadata              protected resource metadata refused (RFC 9728:
    │   │                                        another resource, plain http, another host)
    │   ├── InvalidRegistration                  a registration answer without a client_id
    │   │                                        (RFC 7591 §3.2.1)
    │   └── ProfileViolation                     a server answer the FAPI 2.0 profile forbids:
    │                                            a bearer token, an RS256 JWT (``.clause``)
    ├── OAuthServerError                         the server refused (RFC 6749 §5.2, RFC 5849)
    │   ├── InvalidRequest                       invalid_request
    │   ├── InvalidClient                        invalid_client
    │   ├── InvalidGrant                         invalid_grant
    │   ├── UnauthorizedClient                   unauthorized_client
    │   ├── UnsupportedGrantType                 unsupported_grant_type
    │   ├── InvalidScope                         invalid_scope
    │   ├── InvalidTarget                        invalid_target (RFC 8707)
    │   ├── AuthorizationPending                 authorization_pending (RFC 8628)
    │   ├── SlowDown                             slow_down (RFC 8628)
    │   ├── AccessDenied                         access_denied (RFC 8628 §3.5)
    │   ├── ExpiredToken                         expired_token (RFC 8628 §3.5)
    │   ├── UnsupportedTokenType                 unsupported_token_type (RFC 7009)
    │   ├── InvalidRedirectUri                   invalid_redirect_uri (RFC 7591 §3.2.2)
    │   ├── InvalidClientMetadata                invalid_client_metadata (RFC 7591 §3.2.2)
    │   ├── InvalidSoftwareStatement             invalid_software_statement (RFC 7591 §3.2.2)
    │   ├── UnapprovedSoftwareStatement          unapproved_software_statement (RFC 7591)
    │   ├── UnknownUserId                        unknown_user_id (CIBA Core §13)
    │   ├── ExpiredLoginHintToken                expired_login_hint_token (CIBA Core §13)
    │   ├── InvalidBindingMessage                invalid_binding_message (CIBA Core §13)
    │   ├── MissingUserCode                      missing_user_code (CIBA Core §13)
    │   ├── InvalidUserCode                      invalid_user_code (CIBA Core §13)
    │   ├── TemporarilyUnavailable               temporarily_unavailable, server_error, or HTTP
    │   │                                        429 / 5xx, after the retries (``.retry_after``)
    │   └── OAuth1ServerError                    an OAuth 1.0a endpoint answered non-2xx
    ├── AuthorizationResponseError               the authorization redirect carried an error
    │   └── AuthorizationDenied                  the user said no (OAuth 1.0a ``denied=``)
    ├── CallbackError (also ValueError)          the redirect back to us failed validation
    │   ├── DuplicateParameter                   a parameter appears more than once
    │   ├── StateMismatch                        ``state`` is missing or not ours
    │   ├── IssuerMismatch                       ``iss`` is missing or not the issuer (RFC 9207)
    │   ├── TokenMismatch                        OAuth 1.0a ``oauth_token`` is not the one we got
    │   ├── MissingParameter                     ``code`` or ``oauth_verifier`` is absent
    │   ├── UnexpectedParameter                  tokens arriving where only a code belongs
    │   ├── RequestAlreadyUsed                   the authorization request was exchanged already
    │   ├── JarmError                            a JWT-secured authorization response failed a
    │   │                                        check: signature, iss, aud, exp (JARM §4.4)
    │   ├── NotificationRefused                  web flow: a CIBA ping without the right
    │   │                                        bearer token (CIBA Core §10.2)
    │   ├── InvalidNotification                  web flow: a CIBA ping that is not JSON
    │   │                                        with an auth_req_id
    │   ├── FlowNotFound                         web flow: no pending flow for this callback
    │   │   └── FlowExpired                      web flow: it was begun too long ago
    │   ├── BrowserMismatch                      web flow: not the browser that began it
    │   ├── ProviderMismatch                     web flow: begun with another provider (mix-up)
    │   └── RedirectMismatch                     web flow: not the redirect URI it was sent to
    ├── UnsafeReturnPath (also ValueError)       web flow: a return path that leaves the site
    ├── TooManySignIns                           web flow: one client began too many anonymous
    │                                            sign-ins (``.retry_after`` seconds)
    ├── PollingTimeout (also TimeoutError)       device flow: no answer before the deadline
    ├── LoopbackTimeout (also TimeoutError)      the command's loopback redirect never came
    │                                            (oauthkit.signin.loopback)
    ├── StoreError                               a token store failed or holds something foreign
    │   ├── StoreConflict                        a compare-and-set write lost: someone wrote first
    │   └── LockTimeout (also TimeoutError)      the store's lock for a key was not had in time
    ├── ReauthenticationRequired                 the credentials are gone: sign in again
    │   └── StepUpRequired                       a resource wants a stronger sign-in (RFC 9470)
    └── SandboxError                             the local sandbox provider (oauthkit.sandbox)
        └── ApprovalError                        its consent page refused or was not found

Server errors map from their ``error`` code to a class through :data:`SERVER_ERRORS`, an
explicit table. Every message is free of secrets: a body shown in a message is truncated and
has the values of secret-bearing fields replaced, and every secret the request carried is
scrubbed wherever it appears (see :mod:`oauthkit.protocol.redaction`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from .protocol.redaction import BODY_PREVIEW, redact, scrub


class Answer(Protocol):
    """What an error keeps of a server's answer: an
    :class:`oauthkit.protocol.http.HttpResponse` (a module above this one)."""

    @property
    def status_code(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def secrets(self) -> frozenset[str]: ...


__all__ = [
    "SERVER_ERRORS",
    "AccessDenied",
    "AuthorizationDenied",
    "AuthorizationPending",
    "AuthorizationResponseError",
    "BrowserMismatch",
    "CallbackError",
    "CallbackNotConfirmed",
    "ConfigurationError",
    "DuplicateParameter",
    "ExpiredLoginHintToken",
    "ExpiredToken",
    "FlowExpired",
    "FlowNotFound",
    "IdentityError",
    "InsecureTransportError",
    "InvalidBindingMessage",
    "InvalidClient",
    "InvalidClientMetadata",
    "InvalidGrant",
    "InvalidNotification",
    "InvalidRedirectUri",
    "InvalidRegistration",
    "InvalidRequest",
    "InvalidResourceMetadata",
    "InvalidResponse",
    "InvalidScope",
    "InvalidSoftwareStatement",
    "InvalidTarget",
    "InvalidUserCode",
    "IssuerMismatch",
    "JarmError",
    "LockTimeout",
    "MissingParameter",
    "MissingUserCode",
    "NotificationRefused",
    "OAuth1ServerError",
    "OAuthKitError",
    "OAuthServerError",
    "PollingTimeout",
    "ProfileError",
    "ProfileViolation",
    "ProviderMismatch",
    "ReauthenticationRequired",
    "RedirectMismatch",
    "RequestAlreadyUsed",
    "SlowDown",
    "StateMismatch",
    "StepUpRequired",
    "StoreConflict",
    "StoreError",
    "TemporarilyUnavailable",
    "TokenMismatch",
    "TooManySignIns",
    "TransportError",
    "UnapprovedSoftwareStatement",
    "UnauthorizedClient",
    "UnexpectedParameter",
    "UnknownUserId",
    "UnsafeReturnPath",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
    "redact",
    "server_error_from_response",
]


class OAuthKitError(Exception):
    """The root of every error oauthkit raises."""


class ConfigurationError(OAuthKitError, ValueError):
    """A caller's mistake: an argument that cannot work, a missing endpoint or key."""


class InsecureTransportError(ConfigurationError):
    """An endpoint uses plain http on a host that is not loopback.

    OAuth 1.0a (RFC 5849 §3.5, §4.4) and OAuth 2.0 (RFC 6749 §3.1, §3.2, RFC 9700 §2.6) need
    TLS for credentials to stay secret. Loopback hosts (127.0.0.0/8, ::1, ``localhost``) are
    allowed as they are; anything else needs ``allow_insecure_http=True``.
    """


class ProfileError(ConfigurationError):
    """A configuration the client's security profile forbids (``profile="fapi2"``: the FAPI
    2.0 Security Profile). ``clause`` names the requirement, as in "FAPI 2.0 §5.3.3.1 item 2"."""

    def __init__(self, message: str, *, clause: str) -> None:
        self.clause = clause
        super().__init__(f"{message} ({clause})")


class TransportError(OAuthKitError):
    """The server could not be reached, or the connection failed mid-exchange.

    ``sent`` is False when the request certainly never reached the server (no connection);
    True when it may have (the answer was lost): a refresh whose answer was lost may have
    rotated the refresh token. The HTTP library's exception is attached as ``__cause__``.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class InvalidResponse(OAuthKitError):
    """A server reply that does not follow the spec: an HTML page, a body that is not JSON or
    not a form, a missing or malformed field. ``status_code`` and a redacted ``body_preview``
    say what came back.
    """

    def __init__(
        self,
        message: str,
        *,
        response: Answer | None = None,
    ) -> None:
        self.response = response
        self.status_code = response.status_code if response is not None else None
        self.body_preview = (
            redact(response.body, secrets=response.secrets) if response is not None else None
        )
        if response is not None:
            message = scrub(message, response.secrets)
            message = f"{message} (HTTP {response.status_code}; body: {self.body_preview})"
        super().__init__(message)


class CallbackNotConfirmed(InvalidResponse):
    """RFC 5849 §2.1: the temporary-credentials response lacks ``oauth_callback_confirmed=true``.

    Without it the server may be a pre-1.0a implementation open to session fixation.
    """


class InvalidResourceMetadata(InvalidResponse):
    """Protected resource metadata (RFC 9728) that may not be used: a ``resource`` other than
    the URL asked for (§3.3), an authorization server that is not https (loopback excepted),
    metadata on another host than the resource, or a malformed document."""


class IdentityError(InvalidResponse):
    """Who signed in cannot be told: the provider's answer (ID token claims, userinfo, its
    who-am-I request) lacks its immutable account id, or the id is unusable (OIDC Core §5.7).
    A display name, a login or an e-mail address never stands in for it."""


class InvalidRegistration(InvalidResponse):
    """A client registration answer (RFC 7591 §3.2.1) that lacks what a client needs: a
    ``client_id``, a JSON object."""


class ProfileViolation(InvalidResponse):
    """A server answer that breaks the client's security profile (``profile="fapi2"``): a
    bearer token where a sender-constrained one is required, a JWT signed with an algorithm
    the profile forbids, a server that does not announce what the profile needs. ``clause``
    names the requirement; the answer is not used."""

    def __init__(self, message: str, *, clause: str, response: Answer | None = None) -> None:
        self.clause = clause
        super().__init__(f"{message} ({clause})", response=response)


class OAuthServerError(OAuthKitError):
    """The server refused a request with an error response (RFC 6749 §5.2, RFC 5849 §3.2).

    ``error``, ``error_description`` and ``error_uri`` come from the body when it has them;
    ``status_code`` and ``response`` say what arrived.
    """

    #: The RFC 6749 §5.2 ``error`` code this class stands for (``None`` for the generic class).
    code: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        error: str | None = None,
        error_description: str | None = None,
        error_uri: str | None = None,
        status_code: int | None = None,
        response: Answer | None = None,
    ) -> None:
        secrets = response.secrets if response is not None else frozenset()
        self.error = error if error is not None else self.code
        self.error_description = _scrubbed(error_description, secrets)
        self.error_uri = _scrubbed(error_uri, secrets)
        self.response = response
        self.status_code = (
            status_code
            if status_code is not None
            else (response.status_code if response is not None else None)
        )
        if message is None:
            message = self._default_message()
        super().__init__(scrub(message, secrets))

    def _default_message(self) -> str:
        parts = [f"the server answered {self.error or 'an error'}"]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code})")
        text = " ".join(parts)
        if self.error_description:
            text += f": {_one_line(self.error_description)}"
        if self.error_uri:
            text += f" (see {self.error_uri})"
        return text


class InvalidRequest(OAuthServerError):
    """``invalid_request`` (RFC 6749 §5.2)."""

    code = "invalid_request"


class InvalidClient(OAuthServerError):
    """``invalid_client``: client authentication failed (RFC 6749 §5.2)."""

    code = "invalid_client"


class InvalidGrant(OAuthServerError):
    """``invalid_grant``: the code, refresh token or assertion is invalid, expired, revoked or
    was issued to another client (RFC 6749 §5.2)."""

    code = "invalid_grant"


class UnauthorizedClient(OAuthServerError):
    """``unauthorized_client`` (RFC 6749 §5.2)."""

    code = "unauthorized_client"


class UnsupportedGrantType(OAuthServerError):
    """``unsupported_grant_type`` (RFC 6749 §5.2)."""

    code = "unsupported_grant_type"


class InvalidScope(OAuthServerError):
    """``invalid_scope`` (RFC 6749 §5.2)."""

    code = "invalid_scope"


class InvalidTarget(OAuthServerError):
    """``invalid_target``: the requested resource is unknown (RFC 8707 §2)."""

    code = "invalid_target"


class AuthorizationPending(OAuthServerError):
    """``authorization_pending``: the user has not finished yet (RFC 8628 §3.5)."""

    code = "authorization_pending"


class SlowDown(OAuthServerError):
    """``slow_down``: poll less often (RFC 8628 §3.5)."""

    code = "slow_down"


class AccessDenied(OAuthServerError):
    """``access_denied`` at the token endpoint: the user refused (RFC 8628 §3.5)."""

    code = "access_denied"


class ExpiredToken(OAuthServerError):
    """``expired_token``: the device code expired (RFC 8628 §3.5)."""

    code = "expired_token"


class UnsupportedTokenType(OAuthServerError):
    """``unsupported_token_type`` (RFC 7009 §2.2.1)."""

    code = "unsupported_token_type"


class InvalidRedirectUri(OAuthServerError):
    """``invalid_redirect_uri``: a redirect URI the registration refused (RFC 7591 §3.2.2)."""

    code = "invalid_redirect_uri"


class InvalidClientMetadata(OAuthServerError):
    """``invalid_client_metadata``: a metadata field the registration refused (RFC 7591)."""

    code = "invalid_client_metadata"


class InvalidSoftwareStatement(OAuthServerError):
    """``invalid_software_statement`` (RFC 7591 §3.2.2)."""

    code = "invalid_software_statement"


class UnapprovedSoftwareStatement(OAuthServerError):
    """``unapproved_software_statement`` (RFC 7591 §3.2.2)."""

    code = "unapproved_software_statement"


class TemporarilyUnavailable(OAuthServerError):
    """The server cannot answer now: ``temporarily_unavailable`` or ``server_error`` (RFC 6749
    §4.1.2.1, §5.2), or HTTP 429 or 5xx (RFC 6585 §4, RFC 9110 §15.6) — after the client's
    retries (:class:`oauthkit.Retry`). ``retry_after`` is the server's ``Retry-After`` in
    seconds, or ``None``. Nothing was refused: a refresh token is kept, and a later call may
    succeed."""

    code = "temporarily_unavailable"

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **fields: Any
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, **fields)


class UnknownUserId(OAuthServerError):
    """``unknown_user_id``: the hint names no user the server knows (CIBA Core §13)."""

    code = "unknown_user_id"


class ExpiredLoginHintToken(OAuthServerError):
    """``expired_login_hint_token`` (CIBA Core §13)."""

    code = "expired_login_hint_token"


class InvalidBindingMessage(OAuthServerError):
    """``invalid_binding_message``: too long or with characters the server refuses (CIBA
    Core §13)."""

    code = "invalid_binding_message"


class MissingUserCode(OAuthServerError):
    """``missing_user_code``: the server requires a ``user_code`` (CIBA Core §13)."""

    code = "missing_user_code"


class InvalidUserCode(OAuthServerError):
    """``invalid_user_code`` (CIBA Core §13)."""

    code = "invalid_user_code"


class OAuth1ServerError(OAuthServerError):
    """An OAuth 1.0a endpoint answered with a non-2xx status (RFC 5849 §3.2).

    OAuth 1.0a defines no error body; many servers answer 401 with an empty body or plain
    text. ``error`` holds ``oauth_problem`` when the server uses that extension, and
    ``body_preview`` a redacted preview of what came back.
    """

    def __init__(
        self,
        what: str,
        response: Answer,
        *,
        problem: str | None = None,
        advice: str | None = None,
    ) -> None:
        self.body_preview = redact(response.body, secrets=response.secrets)
        message = f"{what} answered HTTP {response.status_code}"
        if problem:
            message += f" with oauth_problem={problem}"
        message += f"; body: {self.body_preview}"
        if response.status_code == 401:
            message += (
                " (OAuth 1.0a servers often say no more than this: check the consumer key and "
                "secret, the token, the signature method and this machine's clock)"
            )
        super().__init__(message, error=problem, error_description=advice, response=response)


class AuthorizationResponseError(OAuthKitError):
    """The authorization server redirected back with an error (RFC 6749 §4.1.2.1).

    ``error`` is the code (``access_denied``, ``invalid_scope``, …); ``error_description`` and
    ``error_uri`` are the server's words, shown as given.
    """

    def __init__(
        self,
        error: str,
        error_description: str | None = None,
        error_uri: str | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri
        if message is None:
            message = f"the authorization server answered {error}"
            if error_description:
                message += f": {_one_line(error_description)}"
            if error_uri:
                message += f" (see {error_uri})"
        super().__init__(message)


class AuthorizationDenied(AuthorizationResponseError):
    """The user refused to authorize the client (an ``access_denied`` redirect, or OAuth 1.0a's
    de-facto ``denied=<token>`` callback)."""

    def __init__(self, message: str = "the user denied the authorization request") -> None:
        super().__init__("access_denied", message=message)


class CallbackError(OAuthKitError, ValueError):
    """The redirect back to the client failed validation; nothing was sent to the server."""


class DuplicateParameter(CallbackError):
    """A callback parameter appears more than once (RFC 6749 §3.1: parameters MUST NOT be
    included more than once)."""


class StateMismatch(CallbackError):
    """``state`` is missing or differs from the one sent (RFC 6749 §10.12: CSRF)."""


class IssuerMismatch(CallbackError):
    """``iss`` is missing or differs from the expected issuer (RFC 9207 §2.4: mix-up)."""


class TokenMismatch(CallbackError):
    """OAuth 1.0a: the callback's ``oauth_token`` is not the temporary credential this flow
    obtained (RFC 5849 §2.2)."""


class MissingParameter(CallbackError):
    """A parameter the callback must carry (``code``, ``oauth_verifier``) is absent."""


class UnexpectedParameter(CallbackError):
    """The callback carries something that must not be there, such as an ``access_token`` in an
    authorization-code callback (RFC 9700 §2.1.2)."""


class RequestAlreadyUsed(CallbackError):
    """The authorization request was already exchanged for a token; a callback may be used
    once (RFC 6749 §4.1.2: codes are single-use). Start a new authorization request."""


class JarmError(CallbackError):
    """A JWT-secured authorization response (JARM §4.4) failed a check: its signature (the
    provider's keys), ``iss``, ``aud`` or ``exp``; or it came without ``response``."""


class NotificationRefused(CallbackError):
    """A CIBA ping (CIBA Core §10.2) without the bearer ``client_notification_token`` of a
    waiting request: forged, misrouted, or answered already. Answer 401; the request, if
    any, keeps waiting for the genuine one."""


class InvalidNotification(CallbackError):
    """A CIBA ping whose body is not the JSON ``{"auth_req_id": …}`` of CIBA Core §10.2."""


class FlowNotFound(CallbackError):
    """A web flow's callback matches no pending flow (:mod:`oauthkit.web`): replayed (a flow
    is taken once), forged or tampered ``state``, or begun against another store."""


class FlowExpired(FlowNotFound):
    """The pending web flow was begun longer ago than it lives (10 minutes by default)."""


class BrowserMismatch(CallbackError):
    """The callback did not come from the browser that began the flow: its binding cookie is
    missing or different (a login CSRF, or cookies blocked)."""


class ProviderMismatch(CallbackError):
    """The callback arrived at another provider's route than the one the flow began with
    (a mix-up attack, RFC 9700 §4.4)."""


class RedirectMismatch(CallbackError):
    """The callback arrived at another URL than the redirect URI the flow sent."""


class UnsafeReturnPath(OAuthKitError, ValueError):
    """A web flow's return path is not a path of this site (an open redirect)."""


class TooManySignIns(OAuthKitError):
    """A client began more anonymous sign-ins than the web flow's limit allows
    (:class:`oauthkit.web.limits.SignInLimit`); ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PollingTimeout(OAuthKitError, TimeoutError):
    """RFC 8628 §3.5: the device code expired, or the caller's timeout passed, before the user
    finished."""


class StoreError(OAuthKitError):
    """A token store failed, or holds data it cannot read."""


class StoreConflict(StoreError):
    """A compare-and-set write found another version than the one read: another process wrote
    first, or this one's lock expired (the write was not made)."""


class LockTimeout(StoreError, TimeoutError):
    """The store's lock for a key could not be taken in time."""


class ReauthenticationRequired(OAuthKitError):
    """The stored credentials cannot be used or renewed: the user must sign in again."""


class StepUpRequired(ReauthenticationRequired):
    """RFC 9470 §3: the resource wants a stronger or more recent sign-in than the token
    carries (``insufficient_user_authentication``). Sign in again with ``acr_values`` (the
    authentication context classes it accepts, or ``None``) and ``max_age`` (seconds, or
    ``None``) in the authorization request."""

    def __init__(
        self, message: str, *, acr_values: tuple[str, ...] | None, max_age: int | None
    ) -> None:
        super().__init__(message)
        self.acr_values = acr_values
        self.max_age = max_age

    def authorization_params(self) -> dict[str, str]:
        """What to add to the authorization request: ``acr_values``, ``max_age``."""
        params = {}
        if self.acr_values:
            params["acr_values"] = " ".join(self.acr_values)
        if self.max_age is not None:
            params["max_age"] = str(self.max_age)
        return params


#: RFC 6749 §5.2 (and extensions) ``error`` codes and the class each becomes.
SERVER_ERRORS: Mapping[str, type[OAuthServerError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        InvalidClient,
        InvalidGrant,
        UnauthorizedClient,
        UnsupportedGrantType,
        InvalidScope,
        InvalidTarget,
        AuthorizationPending,
        SlowDown,
        AccessDenied,
        ExpiredToken,
        UnsupportedTokenType,
        InvalidRedirectUri,
        InvalidClientMetadata,
        InvalidSoftwareStatement,
        UnapprovedSoftwareStatement,
        UnknownUserId,
        ExpiredLoginHintToken,
        InvalidBindingMessage,
        MissingUserCode,
        InvalidUserCode,
        TemporarilyUnavailable,
    )
    if cls.code is not None
} | {"server_error": TemporarilyUnavailable}


def server_error_from_response(fields: Mapping[str, Any], response: Answer) -> OAuthServerError:
    """Build the typed error for an RFC 6749 §5.2 error body already parsed into ``fields``."""
    error = fields.get("error")
    code = error if isinstance(error, str) else None
    cls = SERVER_ERRORS.get(code or "", OAuthServerError)
    description = fields.get("error_description")
    uri = fields.get("error_uri")
    return cls(
        error=code,
        error_description=description if isinstance(description, str) else None,
        error_uri=uri if isinstance(uri, str) else None,
        response=response,
    )


def _scrubbed(text: str | None, secrets: Iterable[str]) -> str | None:
    return scrub(text, secrets) if text is not None else None


def _one_line(text: str, limit: int = BODY_PREVIEW) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
