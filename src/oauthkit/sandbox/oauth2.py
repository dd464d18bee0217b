"""The sandbox's OAuth 2 authorization server on oauthlib's endpoints.

oauthlib does the protocol: the authorization endpoint (RFC 6749 §4.1.1-4.1.2, PKCE RFC 7636
§4.4-4.6), the token endpoint (authorization code §4.1.3, refresh §6, client credentials §4.4,
device code RFC 8628 §3.4-3.5), the device authorization endpoint (RFC 8628 §3.1-3.2),
revocation (RFC 7009), introspection (RFC 7662), bearer resource checks (RFC 6750) and the
metadata document (RFC 8414). This module supplies the HTTP routes and the consent pages;
:mod:`oauthkit.sandbox.validator` the ``RequestValidator`` over the in-memory
:class:`~oauthkit.sandbox.store.Store`. Together they keep these policies:

* PKCE with ``S256`` is required from every client (RFC 9700 §2.1.1); ``plain`` is refused.
* Every redirect from the authorization endpoint carries ``iss`` (RFC 9207 §2).
* Authorization codes are single-use; a reused code revokes what it bought (RFC 6749 §4.1.2).
* Refresh tokens rotate; presenting a rotated one revokes the whole grant (RFC 9700 §4.14.2).
* A confidential client may always authenticate with HTTP Basic (RFC 6749 §2.3.1), with the
  form only when registered as ``client_secret_post``, never with both (§2.3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oauthlib.common import Request as OAuthlibRequest  # type: ignore[import-untyped]
from oauthlib.oauth2 import (  # type: ignore[import-untyped]
    AccessDeniedError,
    AuthorizationCodeGrant,
    AuthorizationEndpoint,
    BearerToken,
    ClientCredentialsGrant,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    FatalClientError,
    IntrospectEndpoint,
    MetadataEndpoint,
    OAuth2Error,
    RefreshTokenGrant,
    ResourceEndpoint,
    RevocationEndpoint,
    Server,
    TokenEndpoint,
    UnauthorizedClientError,
)
from oauthlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
    UnsupportedCodeChallengeMethodError,
)

from . import pages
from .clients import AUTH_METHODS, DEVICE_CODE_GRANT, SCOPES, SandboxClient
from .server import Request, Response
from .store import (
    DEVICE_CODE_LIFETIME,
    AccessToken,
    DeviceAuthorization,
    Store,
    new_user_code,
)
from .validator import SandboxValidator, basic_credentials, new_token

__all__ = ["PATHS", "OAuth2Provider", "add_iss", "valid_user_name"]

#: Where each endpoint lives, relative to the issuer.
PATHS: Final = {
    "metadata": "/.well-known/oauth-authorization-server",
    "authorization_endpoint": "/oauth2/authorize",
    "token_endpoint": "/oauth2/token",
    "device_authorization_endpoint": "/oauth2/device",
    "revocation_endpoint": "/oauth2/revoke",
    "introspection_endpoint": "/oauth2/introspect",
    "device_page": "/device",
    "resource": "/api/me",
}
#: RFC 8628 §3.2: seconds between polls the client is asked to wait.
DEVICE_INTERVAL: Final = 5
#: The protection space named in ``WWW-Authenticate`` challenges (RFC 9110 §11.5).
REALM: Final = "oauthkit-sandbox"

_JSON_HEADERS: Final = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def valid_user_name(user: str) -> bool:
    """A user name the sign-in form accepts: 1-64 printable characters."""
    return 0 < len(user) <= 64 and user.isprintable()


def add_iss(location: str, issuer: str) -> str:
    """RFC 9207 §2: add ``iss`` to an authorization response, next to ``code`` or ``error``
    (the query, or the fragment for ``response_mode=fragment``)."""
    parts = urlsplit(location)
    extra = urlencode([("iss", issuer)])
    fragment_keys = {k for k, _ in parse_qsl(parts.fragment, keep_blank_values=True)}
    if fragment_keys & {"code", "error"}:
        return urlunsplit(parts._replace(fragment=f"{parts.fragment}&{extra}"))
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


class _Endpoints(Server):  # type: ignore[misc]
    """oauthlib's all-in-one ``Server`` (the authorization, token, resource, revocation and
    introspection endpoints) with exactly the sandbox's grants: its ``__init__`` is replaced
    to leave out the implicit and password grants."""

    def __init__(self, validator: SandboxValidator, expires_in: int) -> None:
        self.auth_grant = AuthorizationCodeGrant(validator)
        self.refresh_grant = RefreshTokenGrant(validator)
        self.credentials_grant = ClientCredentialsGrant(validator)
        self.device_grant = DeviceCodeGrant(validator)
        self.bearer = BearerToken(validator, new_token, expires_in, new_token)
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": self.auth_grant},
            default_token_type=self.bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={
                "authorization_code": self.auth_grant,
                "refresh_token": self.refresh_grant,
                "client_credentials": self.credentials_grant,
                DEVICE_CODE_GRANT: self.device_grant,
            },
            default_token_type=self.bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": self.bearer})
        RevocationEndpoint.__init__(self, validator)
        IntrospectEndpoint.__init__(self, validator)


def _after_validation(request: Any) -> dict[str, Any]:
    """A ``post_auth`` validator of oauthlib's code grant: ``S256`` only (RFC 9700 §2.1.1;
    oauthlib also takes ``plain`` and defaults to it), then the user's denial, which oauthlib
    turns into the ``access_denied`` redirect (RFC 6749 §4.1.2.1)."""
    if request.code_challenge_method != "S256":
        raise UnsupportedCodeChallengeMethodError(
            description="code_challenge_method must be S256", request=request
        )
    if getattr(request, "sandbox_denied", False):
        raise AccessDeniedError(description="the user denied the request", request=request)
    return {}


def _error_response(error: Any) -> Response:
    """An oauthlib ``OAuth2Error`` as an RFC 6749 §5.2 answer."""
    return Response.from_oauthlib({**_JSON_HEADERS, **error.headers}, error.json, error.status_code)


def _basic_challenge(response: Response) -> Response:
    """RFC 6749 §5.2: ``invalid_client`` answers 401 with a challenge for the scheme the
    client used, HTTP Basic (oauthlib sends a ``Bearer`` one)."""
    if response.status == 401:
        response.set_header("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
    return response


class OAuth2Provider:
    """The OAuth 2 routes of the sandbox."""

    def __init__(
        self,
        store: Store,
        issuer: str,
        *,
        access_token_ttl: int,
        rotate_refresh_tokens: bool,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.validator = SandboxValidator(
            store, issuer, rotate_refresh_tokens=rotate_refresh_tokens
        )
        self.endpoints = _Endpoints(self.validator, access_token_ttl)
        self.endpoints.auth_grant.custom_validators.post_auth.append(_after_validation)
        self.device_endpoint = DeviceAuthorizationEndpoint(
            self.validator,
            verification_uri=issuer + PATHS["device_page"],
            expires_in=DEVICE_CODE_LIFETIME,
            interval=DEVICE_INTERVAL,
            verification_uri_complete=issuer + PATHS["device_page"] + "?user_code={user_code}",
            user_code_generator=self._user_code,
        )
        claims: dict[str, Any] = {
            "issuer": issuer,
            **{name: issuer + path for name, path in PATHS.items() if name.endswith("_endpoint")},
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "authorization_response_iss_parameter_supported": True,
        }
        # raise_errors=False: oauthlib's checks insist on an https issuer (the sandbox is
        # plain http on loopback); with them off it still derives grant_types_supported.
        self.metadata_endpoint = MetadataEndpoint([self.endpoints], claims, raise_errors=False)

    def _user_code(self) -> str:
        while True:
            code = new_user_code()
            if not self.store.user_code_taken(code):
                return code

    @staticmethod
    def _call(method: Callable[..., Any], **kwargs: Any) -> Response:
        try:
            headers, body, status = method(**kwargs)
        except OAuth2Error as error:
            return _error_response(error)
        return Response.from_oauthlib(headers, body, status)

    # -- metadata (RFC 8414 §3) ---------------------------------------------------------

    def metadata(self, req: Request) -> Response:
        """The authorization server metadata document."""
        response = self._call(
            self.metadata_endpoint.create_metadata_response, uri=req.url, http_method="GET"
        )
        response.set_header("Cache-Control", "no-cache")
        return response

    # -- the authorization endpoint (RFC 6749 §4.1.1-4.1.2) -----------------------------

    def authorize_page(self, req: Request) -> Response:
        """Check the request; show the sign-in and consent page, or redirect an error back
        (a bad client or redirect URI is shown here, never redirected, §4.1.2.1)."""
        try:
            scopes, info = self.endpoints.validate_authorization_request(**req.oauthlib_args())
        except FatalClientError as error:
            text = f"{error.error}: {error.description}"
            asked = req.query_params().get("redirect_uri", "")
            if "redirect" in str(error.description).lower() and asked:
                text += (
                    f" The redirect URI {asked} is not registered for this client: start the "
                    f"sandbox with  oauthkit sandbox --redirect-uri {asked}  (or give the "
                    "client redirect_uris=), or use http://127.0.0.1:PORT/callback or "
                    "/callback/NAME, which every default client accepts."
                )
            return pages.message_page(400, "This request cannot be completed", text)
        except OAuth2Error:
            return self._respond(req.origin + req.path + "?" + req.query, {})
        client: SandboxClient = info["request"].client
        hint = req.query_params().get("login_hint", "")
        return pages.consent_page(
            action=PATHS["authorization_endpoint"],
            csrf=self.store.issue_ticket("oauth2", req.query),
            client_name=client.name,
            details=[("Client ID", client.client_id), ("Returns you to", info["redirect_uri"])],
            scopes=scopes,
            user=hint if valid_user_name(hint) else "alice",
        )

    def authorize_decision(self, req: Request) -> Response:
        """The consent form was sent: redirect with a code, or with ``access_denied``."""
        form = req.form()
        query = self.store.take_ticket(form.get("csrf_token", ""), "oauth2")
        if query is None:
            return pages.message_page(
                400, "This page has expired", "Go back to the application and start again."
            )
        action, user = form.get("action"), form.get("user", "").strip()
        if action not in ("approve", "deny"):
            return pages.message_page(400, "Unknown action", "Choose Approve or Deny.")
        if action == "approve" and not valid_user_name(user):
            return pages.message_page(
                400, "A user name is needed", "Go back to the application and start again."
            )
        credentials = {"user": user or None, "sandbox_denied": action == "deny"}
        return self._respond(req.origin + req.path + "?" + query, credentials)

    def _respond(self, uri: str, credentials: dict[str, Any]) -> Response:
        try:
            headers, body, status = self.endpoints.create_authorization_response(
                uri=uri, http_method="GET", body="", headers={}, credentials=credentials
            )
        except OAuth2Error as error:
            return pages.message_page(
                400, "This request cannot be completed", f"{error.error}: {error.description}"
            )
        response = Response.from_oauthlib(headers, body, status)
        location = response.header("Location")
        if location:
            response.set_header("Location", add_iss(location, self.issuer))
        response.set_header("Cache-Control", "no-store")
        response.set_header("Referrer-Policy", "no-referrer")
        return response

    # -- the token endpoint and friends ---------------------------------------------------

    def token(self, req: Request) -> Response:
        """RFC 6749 §3.2: every grant."""
        response = self._call(self.endpoints.create_token_response, **req.oauthlib_args())
        return _basic_challenge(response)

    def revoke(self, req: Request) -> Response:
        """RFC 7009 §2."""
        response = self._call(self.endpoints.create_revocation_response, **req.oauthlib_args())
        return _basic_challenge(response)

    def introspect(self, req: Request) -> Response:
        """RFC 7662 §2."""
        response = self._call(self.endpoints.create_introspect_response, **req.oauthlib_args())
        return _basic_challenge(response)

    def device_authorization(self, req: Request) -> Response:
        """RFC 8628 §3.1-3.2. oauthlib checks the request and makes the codes; the sandbox
        keeps them (oauthlib's endpoint stores nothing) and requires the client to be
        registered for the device grant."""
        if req.method != "POST":
            return Response.json(405, {"error": "invalid_request"}, [("Allow", "POST")])
        args = req.oauthlib_args()
        basic = basic_credentials(req.headers)
        if basic and "client_id" not in dict(parse_qsl(args["body"])):
            # oauthlib wants client_id in the form even from a client that authenticates
            # with HTTP Basic (RFC 8628 §3.1 requires it only without client authentication).
            args["body"] += ("&" if args["body"] else "") + urlencode([("client_id", basic[0])])
        request = OAuthlibRequest(args["uri"], "POST", args["body"], args["headers"])
        try:
            self.device_endpoint.validate_device_authorization_request(request)
            client: SandboxClient = request.client
            if DEVICE_CODE_GRANT not in client.grant_types:
                raise UnauthorizedClientError(
                    description="this client is not registered for the device grant",
                    request=request,
                )
            _, data, _ = self.device_endpoint.create_device_authorization_response(**args)
        except OAuth2Error as error:
            return _basic_challenge(_error_response(error))
        record = DeviceAuthorization(
            client_id=client.client_id,
            user_code=data["user_code"],
            scopes=tuple(str(data.get("scope", "")).split()),
            expires_at=self.store.now() + int(data["expires_in"]),
        )
        self.store.add_device(data["device_code"], record)
        return Response.json(200, data)

    # -- the user's side of the device flow (RFC 8628 §3.3) -------------------------------

    def device_page(self, req: Request) -> Response:
        """The code entry page; with ``?user_code=`` (``verification_uri_complete``) the
        consent page for that code at once."""
        user_code = req.query_params().get("user_code", "")
        if user_code:
            return self._device_consent_or_retry(user_code)
        return pages.device_entry_page(csrf=self.store.issue_ticket("device-entry", ""))

    def device_decision(self, req: Request) -> Response:
        """The code entry form, or the consent form, was sent."""
        form = req.form()
        action = form.get("action")
        csrf = form.get("csrf_token", "")
        expired = pages.message_page(
            400, "This page has expired", "Open the address your device shows and start again."
        )
        if action == "lookup":
            if self.store.take_ticket(csrf, "device-entry") is None:
                return expired
            return self._device_consent_or_retry(form.get("user_code", ""))
        if action not in ("approve", "deny"):
            return pages.message_page(400, "Unknown action", "Choose Approve or Deny.")
        device_code = self.store.take_ticket(csrf, "device")
        if device_code is None:
            return expired
        user = form.get("user", "").strip()
        if action == "approve" and not valid_user_name(user):
            return pages.message_page(400, "A user name is needed", "Start again on your device.")
        with self.store.lock:
            record = self.store.devices.get(device_code)
            if (
                record is None
                or record.status != "pending"
                or record.expires_at <= self.store.now()
            ):
                return expired
            if action == "approve":
                record.status, record.user = "approved", user
            else:
                record.status = "denied"
        if action == "approve":
            return pages.message_page(
                200, "Device connected", "You can return to your device.", element_id="done"
            )
        return pages.message_page(
            200, "Request denied", "The device was not given access.", element_id="denied"
        )

    def _device_consent_or_retry(self, user_code: str) -> Response:
        found = self.store.device_by_user_code(user_code)
        if found is None:
            return pages.device_entry_page(
                csrf=self.store.issue_ticket("device-entry", ""),
                user_code=user_code,
                error="That code is unknown or has expired. Check your device and try again.",
            )
        device_code, record = found
        client = self.store.client(record.client_id, "oauth2")
        name = client.name if client else record.client_id
        return pages.consent_page(
            action=PATHS["device_page"],
            csrf=self.store.issue_ticket("device", device_code),
            client_name=name,
            details=[
                ("Client ID", record.client_id),
                ("Code on your device", record.user_code),
            ],
            scopes=record.scopes,
        )

    # -- the protected resource (RFC 6750 §2.1, §3) -------------------------------------

    def me(self, req: Request) -> Response:
        """Who the bearer token stands for. Only the ``Authorization`` header is read (RFC
        9700 §2.5 discourages tokens in the query)."""
        scheme, _, value = req.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return Response.json(
                401,
                {"error": "unauthorized", "error_description": "send a bearer token"},
                [("WWW-Authenticate", f'Bearer realm="{REALM}"')],
            )
        headers = {"Authorization": f"Bearer {value.strip()}"}
        valid, request = self.endpoints.verify_request(
            req.url, http_method=req.method, body="", headers=headers, scopes=[]
        )
        if not valid:
            description = "the access token is invalid, expired or revoked"
            challenge = (
                f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'
            )
            return Response.json(
                401,
                {"error": "invalid_token", "error_description": description},
                [("WWW-Authenticate", challenge)],
            )
        record: AccessToken = request.sandbox_access
        return Response.json(
            200,
            {
                "sub": record.user or record.client_id,
                "client_id": record.client_id,
                "scope": " ".join(record.scopes),
            },
        )
