"""``oauthkit.sandbox``: a local OAuth 1.0a + OAuth 2 provider for development, tests and
``oauthkit demo``. It runs in-process on a loopback address, keeps everything in memory, and
leaves the protocol to oauthlib's server endpoints (its RFC 6749/7009/7636/7662/8414/8628 and
RFC 5849 implementations); oauthkit supplies the storage, the pages and the policies.

::

    from oauthkit import OAuth2Client
    from oauthkit.sandbox import Sandbox

    with Sandbox() as sb:                         # http://127.0.0.1:<free port>
        web = sb.clients["demo-web"]
        client = OAuth2Client(web.client_id, web.client_secret, issuer=sb.issuer,
                              redirect_uri="http://127.0.0.1:8765/callback", scope="profile")
        request = client.authorization_request()
        token = client.exchange_code(request, sb.approve(request.url))

Binding: ``127.0.0.1`` or ``::1`` only (any other host raises ``ConfigurationError``); requests
whose ``Host`` is not a loopback name with the sandbox's port get 421 (DNS rebinding).

Default clients (``clients=None``; secrets are random per instance, see ``sb.clients``):

* ``demo-web``: confidential, ``client_secret_basic``; authorization code + refresh token;
  redirect URIs ``http://127.0.0.1/callback`` and ``http://[::1]/callback`` on any port
  (RFC 8252 §7.3).
* ``demo-cli``: public (``none``), the same redirect URIs; authorization code, refresh token
  and the device code grant (RFC 8628).
* ``demo-service``: confidential; client credentials only (RFC 6749 §4.4).
* ``demo-oauth1``: an OAuth 1.0a consumer (HMAC-SHA1/256/512, PLAINTEXT; RSA-* for consumers
  registered with ``rsa_public_key``); callbacks on the same loopback URIs, or ``oob``.

OAuth 2 endpoints (issuer = base URL):

* ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata, with
  ``code_challenge_methods_supported: ["S256"]`` and
  ``authorization_response_iss_parameter_supported: true``. The sandbox is no OpenID
  provider: ``/.well-known/openid-configuration`` is 404.
* ``/oauth2/authorize``: RFC 6749 §4.1.1. GET checks the request and shows the sign-in and
  consent page (any user name, prefilled ``alice`` or ``login_hint``); POST (the form)
  redirects with ``code``, ``state`` and ``iss`` (RFC 9207), or ``error=access_denied``. PKCE
  S256 is required from every client (RFC 7636, RFC 9700 §2.1.1). A bad client or redirect
  URI is shown on the page, never redirected (§4.1.2.1).
* ``POST /oauth2/token``: RFC 6749 §3.2 — ``authorization_code`` (codes live 120 s and are
  single-use; reuse revokes what the code bought, §4.1.2), ``refresh_token`` (rotated: the
  old one dies, and presenting a rotated one revokes the whole grant, RFC 9700 §4.14.2),
  ``client_credentials`` and ``urn:ietf:params:oauth:grant-type:device_code`` (RFC 8628
  §3.4; the sandbox never answers ``slow_down``). Access tokens are opaque, 256 random bits,
  with ``expires_in`` = ``access_token_ttl``.
* ``POST /oauth2/device``: RFC 8628 §3.1-3.2 device authorization (user codes
  ``XXXX-XXXX``, §6.1; interval 5 s; codes live 600 s).
* ``/device``: RFC 8628 §3.3, where the user types the code (``?user_code=`` goes straight
  to the consent page: ``verification_uri_complete``).
* ``POST /oauth2/revoke``: RFC 7009 (a refresh token takes its grant's tokens with it).
* ``POST /oauth2/introspect``: RFC 7662, for the calling client's own tokens.
* ``GET /api/me``: a protected resource (RFC 6750 §2.1, header only): ``{"sub", "client_id",
  "scope"}``; 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` for an invalid,
  expired or revoked token (§3.1).

OAuth 1.0a endpoints (RFC 5849):

* ``POST /oauth1/request_token`` (§2.1), ``/oauth1/authorize`` (§2.2: GET the consent page;
  POST approves, redirecting to the callback with ``oauth_token`` and ``oauth_verifier`` —
  or, for ``oob``, showing the PIN in ``<code id="pin">`` — or denies, redirecting with
  ``denied=<token>``), ``POST /oauth1/access_token`` (§2.3), and ``/oauth1/api/me`` (§3: a
  signed request gets ``{"user", "consumer_key"}``).

Pages are plain HTML with an inline style sheet and nothing external; they are sent with
``Cache-Control: no-store``, ``Referrer-Policy: no-referrer``, a strict Content-Security-Policy
and ``X-Frame-Options: DENY``; each form carries a single-use CSRF token issued for that
rendering, and a cross-origin POST is refused.

:meth:`Sandbox.approve` and :meth:`Sandbox.approve_device` play the user on those pages over
HTTP, so tests and the demo need no browser.
"""

try:
    import oauthlib  # type: ignore[import-untyped]  # noqa: F401 - the protocol engine
except ImportError as exc:
    raise ImportError(
        "oauthkit.sandbox runs on oauthlib, which comes with the cli extra: "
        "pip install 'oauthkit[cli]'"
    ) from exc

from .app import ApprovalError, Sandbox, SandboxError
from .clients import DEVICE_CODE_GRANT, SandboxClient

__all__ = ["DEVICE_CODE_GRANT", "ApprovalError", "Sandbox", "SandboxClient", "SandboxError"]
