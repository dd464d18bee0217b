"""Every provider quirk oauthkit knows, each a named :class:`~oauthkit.protocol.oauth2.hooks.Hook`.

A hook is a small pure function over the authorization request's parameters, a request to
the token (device, revocation) endpoint before it is sent, or the answer before it is parsed.
Presets declare the hooks they need (:mod:`oauthkit.providers.presets`); the sans-I/O core runs
them, so sync and async clients get them alike. Each hook's ``doc`` — its one description,
read at run time and in the source alike — says what it does and why, and names the provider
documentation the quirk comes from; each hook has a test that fails without it
(``tests/providers/test_presets.py``).
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from .._version import __version__
from ..protocol.http import FORM_TYPE, HttpRequest, HttpResponse
from ..protocol.oauth2.device import DEVICE_CODE
from ..protocol.oauth2.hooks import Hook
from ..protocol.oauth2.response import json_object

__all__ = [
    "ATLASSIAN_AUDIENCE",
    "BEARER_WHEN_MISSING",
    "DROPBOX_OFFLINE",
    "EBAY_TOKEN_TYPE",
    "ERROR_WITH_200",
    "FACEBOOK_ERROR_OBJECT",
    "FITBIT_ERRORS",
    "GITHUB_ERROR_CODES",
    "GITHUB_FORM_RESPONSE",
    "GOOGLE_DEVICE_VERIFICATION_URL",
    "GOOGLE_OFFLINE",
    "MICROSOFT_OFFLINE_ACCESS",
    "NOTION_JSON_BODY",
    "NOTION_OWNER_USER",
    "REDDIT_INSTALLED_APP",
    "REDDIT_PERMANENT",
    "REDDIT_USER_AGENT",
    "SLACK_AUTHED_USER",
    "SLACK_OK_FALSE",
    "SLACK_TOKEN_TYPE",
    "SLACK_USER_SCOPE",
    "STRAVA_EXPIRES_AT",
    "STRAVA_FAULT",
    "TWITCH_DEVICE_SCOPES",
    "TWITCH_ERRORS",
    "TWITCH_SCOPE_LIST",
    "all_hooks",
]

Params = list[tuple[str, str]]
JSON_TYPE: Final = "application/json"
#: The error codes of RFC 6749 §5.2, RFC 8628 §3.5 and RFC 7009 §2.2.1, passed through as is.
RFC_ERRORS: Final = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "authorization_pending",
        "slow_down",
        "access_denied",
        "expired_token",
        "unsupported_token_type",
    }
)


# ----------------------------------------------------------------------------- helpers


def _with_json(
    response: HttpResponse, fields: Mapping[str, Any], status: int | None = None
) -> HttpResponse:
    headers = dict(response.headers)
    headers["content-type"] = JSON_TYPE
    return HttpResponse(
        status if status is not None else response.status_code,
        headers,
        json.dumps(fields).encode(),
        response.url,
        secrets=response.secrets,
    )


def _ok(response: HttpResponse) -> bool:
    return 200 <= response.status_code < 300


def _error_response(
    response: HttpResponse, error: str, description: str | None, **extra: Any
) -> HttpResponse:
    """An RFC 6749 §5.2 error body in place of a provider's own error shape (a 2xx becomes
    400, so that the core raises the typed error)."""
    fields: dict[str, Any] = {"error": error, **extra}
    if description:
        fields["error_description"] = description
    return _with_json(response, fields, 400 if _ok(response) else response.status_code)


def _form(request: HttpRequest) -> Params | None:
    content_type = (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        return None
    return parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)


def _replace(
    request: HttpRequest,
    *,
    headers: Mapping[str, str] | None = None,
    drop: tuple[str, ...] = (),
    body: bytes | None = None,
) -> HttpRequest:
    lowered = {name.lower() for name in (*drop, *(headers or {}))}
    kept = [(k, v) for k, v in request.headers if k.lower() not in lowered]
    kept += list((headers or {}).items())
    return HttpRequest(
        request.method,
        request.url,
        tuple(kept),
        request.body if body is None else body,
        secrets=request.secrets,
    )


def _set_default(params: Params, name: str, value: str) -> Params:
    if any(key == name for key, _ in params):
        return params
    return [*params, (name, value)]


def _response_hook(
    name: str, doc: str, function: Callable[[HttpRequest, HttpResponse], HttpResponse]
) -> Hook:
    return Hook(name=name, doc=doc, response=function)


# ----------------------------------------------------------------------------- generic


def _error_with_200(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    if fields is None or not isinstance(fields.get("error"), str) or "access_token" in fields:
        return response
    return _with_json(response, fields, 400)


ERROR_WITH_200: Final = _response_hook(
    "ERROR_WITH_200",
    """Turns an HTTP 200 whose JSON body carries ``error`` (and no ``access_token``) into a 400.

GitHub's token endpoint answers its errors with HTTP 200 and the error in the body — for a
bad code (``bad_verification_code``) and for device-flow polling (``authorization_pending``,
``slow_down``): without this hook the first poll would fail as a malformed response instead
of polling again.
https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors
""",
    _error_with_200,
)


def _bearer_when_missing(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    if fields is None or "access_token" not in fields or fields.get("token_type") is not None:
        return response
    return _with_json(response, {**fields, "token_type": "Bearer"})


BEARER_WHEN_MISSING: Final = _response_hook(
    "BEARER_WHEN_MISSING",
    """Adds ``token_type: Bearer`` to a token answer that has none (RFC 6749 §5.1 requires it).

LinkedIn's authorization code flow answer is documented as ``access_token``, ``expires_in``,
``scope`` (and ``refresh_token``/``refresh_token_expires_in`` for approved partners); the
tokens are sent as ``Authorization: Bearer``.
https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow
Atlassian's 3LO token answer is documented the same way.
https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
""",
    _bearer_when_missing,
)


# ----------------------------------------------------------------------------- GitHub


def _github_form_response(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    body = response.body.strip()
    if body[:1] in (b"{", b"[", b"<") or not body:
        return response
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return response
    fields = dict(pairs)
    if len(fields) != len(pairs) or not ({"access_token", "error", "device_code"} & set(fields)):
        return response
    return _with_json(response, fields)


GITHUB_FORM_RESPONSE: Final = _response_hook(
    "GITHUB_FORM_RESPONSE",
    """Parses a form-encoded token (or device) answer into JSON.

GitHub answers a form-encoded body by default
(``access_token=gho_…&scope=repo%2Cgist&token_type=bearer``) and JSON only when the
``Accept`` header asks for it. oauthkit always sends ``Accept: application/json``; this hook
is the safety net for an answer that is a form anyway.
https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
""",
    _github_form_response,
)

_GITHUB_ERRORS: Final = {
    "bad_verification_code": "invalid_grant",
    "bad_refresh_token": "invalid_grant",
    "incorrect_device_code": "invalid_grant",
    "redirect_uri_mismatch": "invalid_grant",
    "incorrect_client_credentials": "invalid_client",
    "unverified_user_email": "access_denied",
    "device_flow_disabled": "unauthorized_client",
}


def _github_error_codes(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if _ok(response):
        return response
    fields = json_object(response)
    code = fields.get("error") if fields else None
    if fields is None or not isinstance(code, str) or code not in _GITHUB_ERRORS:
        return response
    description = fields.get("error_description")
    text = f"{code}: {description}" if isinstance(description, str) else code
    return _with_json(
        response,
        {**fields, "error": _GITHUB_ERRORS[code], "error_description": text, "github_error": code},
    )


GITHUB_ERROR_CODES: Final = _response_hook(
    "GITHUB_ERROR_CODES",
    """Maps GitHub's token-endpoint error codes to RFC 6749 §5.2 ones (the original is kept in
``error_description`` and ``github_error``): ``bad_verification_code``,
``bad_refresh_token``, ``incorrect_device_code`` and ``redirect_uri_mismatch`` →
``invalid_grant``; ``incorrect_client_credentials`` → ``invalid_client``;
``unverified_user_email`` → ``access_denied``; ``device_flow_disabled`` →
``unauthorized_client``.
https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors
""",
    _github_error_codes,
)


# ----------------------------------------------------------------------------- Slack

_SLACK_ERRORS: Final = {
    "invalid_code": "invalid_grant",
    "invalid_refresh_token": "invalid_grant",
    "bad_redirect_uri": "invalid_grant",
    "code_already_used": "invalid_grant",
    "invalid_client_id": "invalid_client",
    "bad_client_secret": "invalid_client",
    "invalid_grant_type": "unsupported_grant_type",
}


def _slack_ok_false(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    fields = json_object(response)
    if fields is None or fields.get("ok") is not False:
        return response
    code = fields.get("error")
    code = code if isinstance(code, str) and code else "unknown_error"
    error = _SLACK_ERRORS.get(code, code if code in RFC_ERRORS else "invalid_request")
    return _error_response(response, error, f"Slack: {code}", slack_error=code)


SLACK_OK_FALSE: Final = _response_hook(
    "SLACK_OK_FALSE",
    """Turns Slack's ``{"ok": false, "error": "invalid_code"}`` (sent with HTTP 200) into an
HTTP 400 RFC 6749 §5.2 error: ``invalid_code``, ``invalid_refresh_token``,
``bad_redirect_uri``, ``code_already_used`` → ``invalid_grant``; ``invalid_client_id``,
``bad_client_secret`` → ``invalid_client``; ``invalid_grant_type`` →
``unsupported_grant_type``; anything else → ``invalid_request`` (Slack's code is kept in
``slack_error``).
https://docs.slack.dev/reference/methods/oauth.v2.access
""",
    _slack_ok_false,
)

_SLACK_LIFTED: Final = ("access_token", "token_type", "scope", "refresh_token", "expires_in")


def _slack_authed_user(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    user = fields.get("authed_user") if fields else None
    if fields is None or fields.get("access_token") or not isinstance(user, dict):
        return response
    if not isinstance(user.get("access_token"), str):
        return response
    lifted = {name: user[name] for name in _SLACK_LIFTED if name in user}
    return _with_json(response, {**fields, **lifted})


SLACK_AUTHED_USER: Final = _response_hook(
    "SLACK_AUTHED_USER",
    """Lifts ``authed_user.access_token`` (with its ``token_type``, ``scope``, ``refresh_token``
and ``expires_in``) to the top level of Slack's ``oauth.v2.access`` answer when the top
level holds no token — what Slack answers when only user scopes (``user_scope``) were asked
for. ``authed_user`` itself stays in ``Token.extra`` (it has the user's id).
https://docs.slack.dev/authentication/installing-with-oauth
""",
    _slack_authed_user,
)


def _slack_token_type(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    kind = fields.get("token_type") if fields else None
    if fields is None or kind not in ("bot", "user"):
        return response
    return _with_json(response, {**fields, "token_type": "Bearer", "slack_token_type": kind})


SLACK_TOKEN_TYPE: Final = _response_hook(
    "SLACK_TOKEN_TYPE",
    """Slack answers ``token_type: "bot"`` or ``"user"``; both tokens are sent as
``Authorization: Bearer``. The token type becomes ``Bearer``; Slack's word is kept in
``Token.extra["slack_token_type"]``.
https://docs.slack.dev/authentication/tokens
""",
    _slack_token_type,
)


def _slack_user_scope(params: Params) -> Params:
    if any(key == "user_scope" for key, _ in params):
        return params
    return [("user_scope", value) if key == "scope" else (key, value) for key, value in params]


SLACK_USER_SCOPE: Final = Hook(
    name="SLACK_USER_SCOPE",
    doc="""Sends the configured scopes as ``user_scope`` (Slack's ``scope`` asks for *bot* scopes):
oauthkit acts on a user's behalf, so the preset asks for a user token. A caller that wants a
bot token builds the client with ``hooks=`` without this one.
https://docs.slack.dev/authentication/installing-with-oauth
""",
    authorization=_slack_user_scope,
)


# ----------------------------------------------------------------------------- Google


def _google_offline(params: Params) -> Params:
    params = _set_default(params, "access_type", "offline")
    return _set_default(params, "prompt", "consent")


GOOGLE_OFFLINE: Final = Hook(
    name="GOOGLE_OFFLINE",
    doc="""Adds ``access_type=offline`` (needed for a refresh token, to use the API while the user
is not present) and ``prompt=consent`` (otherwise Google returns a refresh token only on the
first consent) to the authorization request, unless the caller set them.
https://developers.google.com/identity/protocols/oauth2/native-app
""",
    authorization=_google_offline,
)


def _google_device(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    if fields is None or "device_code" not in fields or "verification_uri" in fields:
        return response
    if not isinstance(fields.get("verification_url"), str):
        return response
    return _with_json(response, {**fields, "verification_uri": fields["verification_url"]})


GOOGLE_DEVICE_VERIFICATION_URL: Final = _response_hook(
    "GOOGLE_DEVICE_VERIFICATION_URL",
    """Google's device authorization answer carries ``verification_url``; RFC 8628 §3.2 names it
``verification_uri``. The hook copies it across.
https://developers.google.com/identity/protocols/oauth2/limited-input-device
""",
    _google_device,
)


# ----------------------------------------------------------------------------- Microsoft


def _microsoft_offline_access(params: Params) -> Params:
    if not any(key == "scope" for key, _ in params):
        return [*params, ("scope", "offline_access")]
    out: Params = []
    for key, value in params:
        if key == "scope" and "offline_access" not in value.split():
            value = f"{value} offline_access".strip()
        out.append((key, value))
    return out


MICROSOFT_OFFLINE_ACCESS: Final = Hook(
    name="MICROSOFT_OFFLINE_ACCESS",
    doc="""Adds ``offline_access`` to the requested scope: the Microsoft identity platform issues a
refresh token only when ``offline_access`` was requested.
https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
""",
    authorization=_microsoft_offline_access,
)


# ----------------------------------------------------------------------------- Dropbox


DROPBOX_OFFLINE: Final = Hook(
    name="DROPBOX_OFFLINE",
    doc="""Adds ``token_access_type=offline`` to the authorization request: with it the token answer
includes a long-lived ``refresh_token``; without it Dropbox issues only a short-lived access
token.
https://www.dropbox.com/developers/documentation/http/documentation#oauth2-authorize
""",
    authorization=lambda params: _set_default(params, "token_access_type", "offline"),
)


# ----------------------------------------------------------------------------- Reddit


REDDIT_PERMANENT: Final = Hook(
    name="REDDIT_PERMANENT",
    doc="""Adds ``duration=permanent`` to the authorization request; Reddit's default,
``temporary``, issues no refresh token.
https://github.com/reddit-archive/reddit/wiki/OAuth2
""",
    authorization=lambda params: _set_default(params, "duration", "permanent"),
)

#: The User-Agent oauthkit sends to Reddit (its API rules ask for a unique, descriptive one).
REDDIT_AGENT: Final = f"python:oauthkit:v{__version__} (OAuth client library)"


def _reddit_user_agent(request: HttpRequest) -> HttpRequest:
    if request.header("User-Agent"):
        return request
    return _replace(request, headers={"User-Agent": REDDIT_AGENT})


REDDIT_USER_AGENT: Final = Hook(
    name="REDDIT_USER_AGENT",
    doc="""Sends a descriptive ``User-Agent`` (``python:oauthkit:vX.Y.Z (…)``) unless one is set:
Reddit's API rules ask every client for a unique and descriptive User-Agent and throttle or
block generic ones such as an HTTP library's default.
https://github.com/reddit-archive/reddit/wiki/API
""",
    request=_reddit_user_agent,
)


def _reddit_installed_app(request: HttpRequest) -> HttpRequest:
    form = _form(request)
    if form is None or request.header("Authorization"):
        return request
    fields = dict(form)
    client_id = fields.get("client_id")
    if not client_id or "client_secret" in fields:
        return request
    credentials = base64.b64encode(f"{client_id}:".encode()).decode("ascii")
    body = urlencode([(k, v) for k, v in form if k != "client_id"]).encode()
    return _replace(request, headers={"Authorization": f"Basic {credentials}"}, body=body)


REDDIT_INSTALLED_APP: Final = Hook(
    name="REDDIT_INSTALLED_APP",
    doc="""Reddit wants HTTP Basic client authentication even from installed apps, which have no
secret: the client id is the user name and the password is empty. A public client's
``client_id`` body parameter becomes ``Authorization: Basic base64(client_id:)``.
https://github.com/reddit-archive/reddit/wiki/OAuth2
""",
    request=_reddit_installed_app,
)


# ----------------------------------------------------------------------------- Twitch


def _twitch_scope_list(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    scope = fields.get("scope") if fields else None
    if fields is None or not isinstance(scope, list):
        return response
    if not all(isinstance(item, str) for item in scope):
        return response
    joined = " ".join(scope)
    if joined:
        return _with_json(response, {**fields, "scope": joined})
    return _with_json(response, {k: v for k, v in fields.items() if k != "scope"})


TWITCH_SCOPE_LIST: Final = _response_hook(
    "TWITCH_SCOPE_LIST",
    """Twitch's token answer has ``"scope": ["channel:moderate", "chat:edit"]``; RFC 6749 §5.1
(and the core) want a space-delimited string. An empty list means the granted scope is not
stated.
https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/
""",
    _twitch_scope_list,
)


def _twitch_errors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if _ok(response):
        return response
    fields = json_object(response)
    message = fields.get("message") if fields else None
    if fields is None or not isinstance(message, str):
        return response
    if isinstance(fields.get("error"), str) and fields["error"] in RFC_ERRORS:
        return response
    lowered = message.strip().lower()
    if lowered in RFC_ERRORS:
        error = lowered
    elif "client" in lowered:
        error = "invalid_client"
    elif lowered.startswith("invalid") and ("code" in lowered or "token" in lowered):
        error = "invalid_grant"
    else:
        error = "invalid_request"
    return _error_response(response, error, message)


TWITCH_ERRORS: Final = _response_hook(
    "TWITCH_ERRORS",
    """Twitch answers errors as ``{"status": 400, "message": "Invalid authorization code"}``
(sometimes with ``"error": "Bad Request"``), and device-flow polling as
``{"status": 400, "message": "authorization_pending"}``. The message becomes the ``error``
when it is an RFC code (so polling goes on), ``invalid_client`` when it is about the client,
``invalid_grant`` for an invalid code or token, else ``invalid_request``.
https://dev.twitch.tv/docs/authentication/refresh-tokens/
""",
    _twitch_errors,
)


def _twitch_device_scopes(request: HttpRequest) -> HttpRequest:
    form = _form(request)
    if form is None or any(k == "scopes" for k, _ in form):
        return request
    path = urlsplit(request.url).path.rstrip("/")
    polling = path.endswith("/oauth2/token") and ("grant_type", DEVICE_CODE) in form
    if not (path.endswith("/oauth2/device") or polling):
        return request
    renamed = [("scopes", v) if k == "scope" else (k, v) for k, v in form]
    return _replace(request, body=urlencode(renamed).encode())


TWITCH_DEVICE_SCOPES: Final = Hook(
    name="TWITCH_DEVICE_SCOPES",
    doc="""Twitch's device code endpoint (``POST https://id.twitch.tv/oauth2/device``) takes
``client_id`` and ``scopes`` (a space-delimited list); RFC 8628 §3.1 names it ``scope``.
Its documentation lists ``scopes`` on the token poll as well, and the Twitch CLI sends it
there (``dcfTokenRequest`` in internal/login/login_request.go), so the polls carry it too.
https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/#device-code-grant-flow
""",
    request=_twitch_device_scopes,
    device_poll_scope=True,
)


# ----------------------------------------------------------------------------- Strava


def _now(response: HttpResponse) -> float:
    date = response.headers.get("date")
    if date:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            pass
    return time.time()


def _strava_expires_at(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    expires_at = fields.get("expires_at") if fields else None
    if fields is None or fields.get("expires_in") is not None:
        return response
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        return response
    if not math.isfinite(expires_at):
        return response
    lifetime = max(int(expires_at - _now(response)), 1)
    return _with_json(response, {**fields, "expires_in": lifetime})


STRAVA_EXPIRES_AT: Final = _response_hook(
    "STRAVA_EXPIRES_AT",
    """Strava's token answers carry ``expires_at``, the expiry in seconds since the epoch; when
``expires_in`` is absent the hook derives it from ``expires_at`` and the answer's ``Date``
(or this machine's clock). ``expires_at`` and the ``athlete`` object stay in
``Token.extra``.
https://developers.strava.com/docs/authentication/
""",
    _strava_expires_at,
)


def _strava_fault(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if _ok(response):
        return response
    fields = json_object(response)
    errors = fields.get("errors") if fields else None
    if fields is None or "error" in fields or not isinstance(errors, list):
        return response
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    resource = str(first.get("resource", ""))
    field_name = str(first.get("field", ""))
    code = str(first.get("code", ""))
    if resource in ("AuthorizationCode", "RefreshToken") or field_name in (
        "code",
        "refresh_token",
    ):
        error = "invalid_grant"
    elif resource == "Application" or field_name in ("client_id", "client_secret"):
        error = "invalid_client"
    else:
        error = "invalid_request"
    message = fields.get("message")
    description = f"{message}: {resource} {field_name} {code}".strip()
    return _error_response(response, error, description, strava_errors=errors)


STRAVA_FAULT: Final = _response_hook(
    "STRAVA_FAULT",
    """Strava answers failures with its ``Fault`` shape, ``{"message": "Bad Request", "errors":
[{"resource": "AuthorizationCode", "field": "code", "code": "invalid"}]}``: an invalid code or
refresh token becomes ``invalid_grant``, an invalid application (``client_id``,
``client_secret``) ``invalid_client``, anything else ``invalid_request``.
https://developers.strava.com/docs/reference/#api-models-Fault
""",
    _strava_fault,
)


# ----------------------------------------------------------------------------- Atlassian


def _atlassian_audience(params: Params) -> Params:
    params = _set_default(params, "audience", "api.atlassian.com")
    return _set_default(params, "prompt", "consent")


ATLASSIAN_AUDIENCE: Final = Hook(
    name="ATLASSIAN_AUDIENCE",
    doc="""Atlassian's authorization URL carries ``audience=api.atlassian.com`` (required) and
``prompt=consent`` (the consent screen is shown, so the grant covers the scopes asked).
https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
""",
    authorization=_atlassian_audience,
)


# ----------------------------------------------------------------------------- eBay

_EBAY_TYPES: Final = frozenset({"user access token", "application access token"})


def _ebay_token_type(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if not _ok(response):
        return response
    fields = json_object(response)
    kind = fields.get("token_type") if fields else None
    if fields is None or not isinstance(kind, str) or kind.lower() not in _EBAY_TYPES:
        return response
    return _with_json(response, {**fields, "token_type": "Bearer", "ebay_token_type": kind})


EBAY_TOKEN_TYPE: Final = _response_hook(
    "EBAY_TOKEN_TYPE",
    """eBay answers ``"token_type": "User Access Token"`` (``"Application Access Token"`` for
client credentials); its APIs take the token as ``Authorization: Bearer``. eBay's word is
kept in ``Token.extra["ebay_token_type"]``.
https://developer.ebay.com/api-docs/static/oauth-auth-code-grant-request.html
""",
    _ebay_token_type,
)


# ----------------------------------------------------------------------------- Facebook


def _facebook_error_object(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    fields = json_object(response)
    error = fields.get("error") if fields else None
    if (
        fields is None
        or not isinstance(error, dict)
        or (_ok(response) and "access_token" in fields)
    ):
        return response
    message = error.get("message") if isinstance(error.get("message"), str) else None
    code = error.get("code")
    lowered = (message or "").lower()
    if "client secret" in lowered or "client_secret" in lowered or code == 101:
        mapped = "invalid_client"
    elif code == 100 and "code" in lowered:
        mapped = "invalid_grant"
    else:
        mapped = "invalid_request"
    return _error_response(response, mapped, message, facebook_error=error)


FACEBOOK_ERROR_OBJECT: Final = _response_hook(
    "FACEBOOK_ERROR_OBJECT",
    """Facebook's Graph API answers ``{"error": {"message": "…", "type": "OAuthException",
"code": 100, "error_subcode": 36009, "fbtrace_id": "…"}}``: an object where RFC 6749 §5.2
has a string. An invalid or used code (code 100 about the code) becomes ``invalid_grant``, a
bad client id or secret ``invalid_client``, anything else ``invalid_request``; the object is
kept in ``facebook_error``.
https://developers.facebook.com/docs/graph-api/guides/error-handling
""",
    _facebook_error_object,
)


# ----------------------------------------------------------------------------- Fitbit


def _fitbit_errors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if _ok(response):
        return response
    fields = json_object(response)
    errors = fields.get("errors") if fields else None
    if fields is None or "error" in fields or not isinstance(errors, list) or not errors:
        return response
    first = errors[0] if isinstance(errors[0], dict) else {}
    kind = first.get("errorType")
    message = first.get("message")
    error = kind if isinstance(kind, str) and kind else "invalid_request"
    return _error_response(response, error, message if isinstance(message, str) else None)


FITBIT_ERRORS: Final = _response_hook(
    "FITBIT_ERRORS",
    """Fitbit answers errors as ``{"errors": [{"errorType": "invalid_grant", "message": "…"}],
"success": false}``; the first ``errorType`` becomes ``error`` and its message
``error_description``.
https://dev.fitbit.com/build/reference/web-api/troubleshooting-guide/error-handling/
""",
    _fitbit_errors,
)


# ----------------------------------------------------------------------------- Notion


NOTION_OWNER_USER: Final = Hook(
    name="NOTION_OWNER_USER",
    doc="""Notion's authorization URL carries ``owner=user`` (the integration acts for a user).
https://developers.notion.com/docs/authorization
""",
    authorization=lambda params: _set_default(params, "owner", "user"),
)


def _notion_json_body(request: HttpRequest) -> HttpRequest:
    form = _form(request)
    if form is None or request.method != "POST":
        return request
    body = json.dumps(dict(form)).encode()
    return _replace(request, headers={"Content-Type": JSON_TYPE}, body=body)


NOTION_JSON_BODY: Final = Hook(
    name="NOTION_JSON_BODY",
    doc="""Notion's ``POST /v1/oauth/token`` takes its parameters (``grant_type``, ``code``,
``redirect_uri``, ``refresh_token``) as a JSON body, with the client id and secret in an
HTTP Basic ``Authorization`` header; the form body becomes JSON.
https://developers.notion.com/reference/create-a-token
""",
    request=_notion_json_body,
)


def all_hooks() -> dict[str, Hook]:
    """Every quirk by name (for documentation and tests)."""
    return {name: globals()[name] for name in __all__ if name != "all_hooks"}
