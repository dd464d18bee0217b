"""The three-legged flow of RFC 5849 §2 as protocol steps.

1. :func:`request_temporary_credentials` (§2.1) — a step.
2. :func:`authorization_url` (§2.2) — where to send the user; pure.
3. :func:`parse_callback` (§2.2) — the verifier from the redirect back; pure.
4. :func:`request_token_credentials` (§2.3) — a step.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping

from ...errors import (
    AuthorizationDenied,
    CallbackNotConfirmed,
    ConfigurationError,
    DuplicateParameter,
    InvalidResponse,
    MissingParameter,
    OAuth1ServerError,
    TokenMismatch,
)
from ..http import FORM_TYPE, HttpRequest, HttpResponse, Step, add_query, fetch
from ..jsontext import JSONTextError, loads
from ..redirect import callback_query
from ..url_policy import check_endpoint
from .credentials import OAuth1Credentials, TemporaryCredentials
from .encoding import parse_form
from .signing import Signer

__all__ = [
    "authorization_url",
    "parse_callback",
    "parse_credentials_response",
    "request_temporary_credentials",
    "request_token_credentials",
]

#: What a PIN (an out-of-band verifier) looks like: one word of visible characters, which
#: a callback URL or query (with ``=``, ``?``, ``&`` or ``/``) never is.
_PIN_RE = re.compile(r"\s*[^\s=?&/]{1,256}\s*")

_ACCEPT = "application/x-www-form-urlencoded, application/json;q=0.5, */*;q=0.1"


def _post(signer: Signer, credentials: OAuth1Credentials, url: str, **oauth: str) -> HttpRequest:
    headers = {"Accept": _ACCEPT}
    if signer.placement == "body":
        headers["Content-Type"] = FORM_TYPE
    signed = signer.sign(credentials, "POST", url, headers, b"", **oauth)
    known = (credentials.consumer_secret, credentials.token, credentials.token_secret)
    return HttpRequest(
        "POST",
        signed.url,
        tuple(signed.headers.items()),
        signed.body or b"",
        secrets=frozenset(value for value in known if value),
    )


def request_temporary_credentials(
    signer: Signer,
    credentials: OAuth1Credentials,
    url: str,
    callback: str = "oob",
    params: Mapping[str, str] | None = None,
) -> Step[TemporaryCredentials]:
    """RFC 5849 §2.1: obtain temporary credentials (a "request token") for ``callback``
    (an absolute URL, or ``"oob"`` for a PIN shown to the user).

    The response must carry ``oauth_callback_confirmed=true`` (``True`` is accepted too);
    without it :class:`CallbackNotConfirmed` is raised. ``params`` (such as Twitter's
    ``x_auth_access_type``) go in the query and are signed.
    """
    if not callback:
        raise ConfigurationError('callback must be an absolute URL or "oob" (RFC 5849 §2.1)')
    if params:
        url = add_query(url, params.items())
    consumer = credentials if credentials.token is None else _consumer_only(credentials)
    response = yield from fetch(_post(signer, consumer, url, callback=callback))
    fields = parse_credentials_response(response, "the temporary-credentials endpoint")
    confirmed = fields.pop("oauth_callback_confirmed", None)
    if confirmed is None or confirmed.lower() != "true":
        raise CallbackNotConfirmed(
            "the temporary-credentials response lacks oauth_callback_confirmed=true "
            "(RFC 5849 §2.1); the server may not implement OAuth 1.0a",
            response=response,
        )
    token = fields.pop("oauth_token")
    secret = fields.pop("oauth_token_secret")
    return TemporaryCredentials(token=token, token_secret=secret, callback=callback, extra=fields)


def authorization_url(
    authorize_url: str,
    temporary: TemporaryCredentials,
    params: Mapping[str, str] | None = None,
    *,
    allow_insecure_http: bool = False,
) -> str:
    """RFC 5849 §2.2: the resource owner authorization URL, ``oauth_token`` added to its
    query (with ``params`` such as ``force_login``)."""
    check_endpoint(
        authorize_url, what="the authorization endpoint", allow_insecure_http=allow_insecure_http
    )
    return add_query(authorize_url, {"oauth_token": temporary.token, **(params or {})}.items())


def parse_callback(temporary: TemporaryCredentials, callback: str | Mapping[str, str]) -> str:
    """RFC 5849 §2.2: check the redirect back and return ``oauth_verifier``.

    ``callback`` is the full callback URL, its query string, or a mapping of its parameters —
    or, for an out-of-band flow (``callback="oob"``), the PIN the provider showed the user,
    which is the verifier itself (RFC 5849 §2.2). A repeated parameter raises
    :class:`DuplicateParameter`; a denial (``denied=…``, as Twitter and others send)
    :class:`AuthorizationDenied`; an ``oauth_token`` that is not the one this flow obtained
    :class:`TokenMismatch`; no verifier :class:`MissingParameter`.
    """
    if temporary.callback == "oob" and isinstance(callback, str) and _PIN_RE.fullmatch(callback):
        return callback.strip()
    pairs = _callback_pairs(callback)
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in seen:
            raise DuplicateParameter(f"the callback repeats the parameter {name!r}")
        seen[name] = value
    if "denied" in seen:
        raise AuthorizationDenied()
    returned = seen.get("oauth_token")
    if returned is None:
        raise TokenMismatch("the callback has no oauth_token (RFC 5849 §2.2)")
    if not hmac.compare_digest(returned.encode(), temporary.token.encode()):
        raise TokenMismatch(
            "the callback's oauth_token is not the one this flow obtained; the redirect may "
            "belong to another sign-in (RFC 5849 §2.2)"
        )
    verifier = seen.get("oauth_verifier", "").strip()
    if not verifier:
        raise MissingParameter("the callback has no oauth_verifier (RFC 5849 §2.2)")
    return verifier


def request_token_credentials(
    signer: Signer,
    credentials: OAuth1Credentials,
    url: str,
    temporary: TemporaryCredentials,
    verifier: str,
) -> Step[OAuth1Credentials]:
    """RFC 5849 §2.3: exchange the temporary credentials and the verifier (from
    :func:`parse_callback`, or the PIN the user typed for ``oob``) for token credentials.

    Extra fields in the response (``user_id``, ``screen_name``, …) are kept in
    :attr:`OAuth1Credentials.extra`.
    """
    verifier = verifier.strip() if isinstance(verifier, str) else ""
    if not verifier:
        raise ConfigurationError("the verifier (or PIN) is empty")
    with_temporary = credentials.with_token(temporary.token, temporary.token_secret)
    response = yield from fetch(_post(signer, with_temporary, url, verifier=verifier))
    fields = parse_credentials_response(response, "the token-credentials endpoint")
    token = fields.pop("oauth_token")
    secret = fields.pop("oauth_token_secret")
    return credentials.with_token(token, secret, extra=fields)


def parse_credentials_response(response: HttpResponse, what: str) -> dict[str, str]:
    """Parse a credentials response (RFC 5849 §2.1, §2.3): a 2xx form-encoded body with
    non-empty ``oauth_token`` and ``oauth_token_secret``. Servers that label it ``text/html``
    or ``text/plain`` are accepted; a JSON object is accepted too.

    A non-2xx status raises :class:`OAuth1ServerError`; anything malformed
    :class:`InvalidResponse`. Neither message shows a secret.
    """
    if not 200 <= response.status_code < 300:
        raise _server_error(what, response)
    try:
        text = response.body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidResponse(
            f"{what} answered a body that is not UTF-8", response=response
        ) from None
    fields: dict[str, str] = {}
    if text.startswith("{") or response.media_type == "application/json":
        fields = _json_fields(text, what, response)
    elif text.startswith("<"):
        raise InvalidResponse(
            f"{what} answered an HTML page instead of form-encoded credentials",
            response=response,
        )
    else:
        for name, value in parse_form(text):
            if name in fields:
                raise InvalidResponse(f"{what} repeats the field {name!r}", response=response)
            fields[name] = value
    for required in ("oauth_token", "oauth_token_secret"):
        if not fields.get(required):
            raise InvalidResponse(f"{what} answered without {required}", response=response)
    return fields


def _server_error(what: str, response: HttpResponse) -> OAuth1ServerError:
    """A non-2xx answer; ``oauth_problem`` and ``oauth_problem_advice`` when the server uses
    the OAuth Problem Reporting extension in a form body."""
    try:
        fields = dict(parse_form(response.body.decode("utf-8")))
    except UnicodeDecodeError:
        fields = {}
    return OAuth1ServerError(
        what,
        response,
        problem=fields.get("oauth_problem") or None,
        advice=fields.get("oauth_problem_advice") or None,
    )


def _json_fields(text: str, what: str, response: HttpResponse) -> dict[str, str]:
    try:
        value = loads(text)
    except JSONTextError as exc:
        raise InvalidResponse(
            f"{what} answered malformed JSON ({exc})", response=response
        ) from None
    if not isinstance(value, dict):
        raise InvalidResponse(f"{what} answered JSON that is not an object", response=response)
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _callback_pairs(callback: str | Mapping[str, str]) -> list[tuple[str, str]]:
    if isinstance(callback, Mapping):
        return [(str(k), str(v)) for k, v in callback.items()]
    if not isinstance(callback, str):
        raise ConfigurationError("callback must be a URL, a query string or a mapping")
    return parse_form(callback_query(callback))


def _consumer_only(credentials: OAuth1Credentials) -> OAuth1Credentials:
    return OAuth1Credentials(
        consumer_key=credentials.consumer_key,
        consumer_secret=credentials.consumer_secret,
        rsa_key=credentials.rsa_key,
    )
