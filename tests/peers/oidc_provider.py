"""A real OAuth 2.0 / OpenID Connect authorization server for the client's tests.

panva's ``oidc-provider`` (npm, pinned to exactly 9.13.3 by ``tests/peers/oidc/package.json``
and its lock file) runs under Node from ``tests/peers/oidc/server.mjs``, one process per
:func:`start_oidc_provider` call, on a free ``127.0.0.1`` port.  Install it once with
``npm ci`` in ``tests/peers/oidc`` (the test runner's setup does that).

What the tests see is an :class:`OIDCPeer`: the issuer, the client registrations (the
default set is :func:`default_clients`, named ``basic``, ``post``, ``public``,
``jwt-secret``, ``jwt-key``, ``device``, ``service``, ``exchange`` and, with ``tls=True``,
``mtls``; the client_id of each is its name), the private keys the client under test signs
with, and helpers that play the user without a browser (:meth:`OIDCPeer.approve`,
:meth:`OIDCPeer.deny`, :meth:`OIDCPeer.approve_device`, :meth:`OIDCPeer.deny_device`, or a
:class:`Browser` that keeps its cookies), plus :attr:`OIDCPeer.request_log`.

Test-only routes of ``server.mjs`` (not oidc-provider's): ``GET /__test/log`` answers the
``[[method, path], ...]`` of every request received since the start or the last
``POST /__test/log/clear``; requests to ``/__test/*`` are not logged.

Behaviour of oidc-provider 9.13.3 (as configured here) that matters to a client, checked by
``test_oidc_selfcheck``:

* Token responses: ``token_type`` is ``"Bearer"`` (``"DPoP"`` when DPoP-bound), always with
  ``expires_in`` (3600 s; client credentials 600 s) and ``scope``; ``refresh_token`` for
  every client allowed the refresh grant (the ``issueRefreshToken`` policy here), although
  ``offline_access`` is dropped from the granted scope unless the request had
  ``prompt=consent``; ``id_token`` when ``openid`` was granted, with only ``iss sub aud exp
  iat nonce`` (no ``at_hash``, ``auth_time``, ``sid``: profile and email claims come from
  userinfo).  ``Cache-Control: no-store``.  Errors are RFC 6749 JSON bodies.
* Authorization responses carry ``iss`` (RFC 9207) next to ``code`` and ``state``; a denial
  is ``error=access_denied&error_description=End-User aborted interaction`` with ``state``
  and ``iss``.  PKCE: only ``S256``; without a ``code_challenge`` the redirect carries
  ``error=invalid_request``; a wrong verifier or a replayed code is ``invalid_grant``.  An
  unregistered redirect URI is a 400 HTML page (no redirect).
* Client authentication failures: ``401 invalid_client`` (``WWW-Authenticate: Basic`` only
  when the request had an Authorization header).  ``client_secret_basic`` and
  ``client_secret_post`` are interchangeable for a secret client; both at once is
  ``400 invalid_request``.  Basic credentials are decoded per RFC 6749 §2.3.1 (``+`` is a
  space, ``%XX`` escapes; an undecodable value is ``400 invalid_request``); a
  ``client_secret`` must be VSCHAR (``%x20-7E``).
* A grant type the client is not registered for is ``400 invalid_request`` ("requested grant
  type is not allowed for this client"), not ``unauthorized_client``.
* Rotated refresh tokens: reusing the old one gives ``invalid_grant`` and revokes the grant.
  Revoking an access token revokes its grant's refresh token; revoking an unknown token is
  ``200`` with an empty body; revoking another client's token is ``400 invalid_request``.
* Device authorization: ``device_code user_code verification_uri verification_uri_complete
  expires_in`` and no ``interval``; polling early gives ``400 authorization_pending``; a
  consumed device code is ``invalid_grant``; a refusal ``access_denied``.
* Client credentials: unknown scopes are silently dropped; an unknown ``resource`` is
  ``invalid_target``.
* JWT access tokens (``access_token_format="jwt"``, only for ``resource=API_RESOURCE``):
  ``typ: at+jwt``, RS256, ``aud`` the resource; they cannot be introspected or revoked
  (``400 unsupported_token_type``).
* PAR: ``201`` with ``request_uri`` and ``expires_in: 60``; ``client_id`` is required in the
  body even with Basic authentication.
* ``clock_tolerance`` is 0 here (oidc-provider's default is 15 s): an expired access token is
  ``401 invalid_token`` at userinfo and ``{"active": false}`` at introspection at once.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime
import functools
import html
import ipaddress
import json
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc.jwk import ECKey, RSAKey

PEER_DIR = Path(__file__).resolve().with_name("oidc")
SERVER_SCRIPT = PEER_DIR / "server.mjs"
OIDC_PROVIDER_VERSION = "9.13.3"

#: The one resource server the provider knows (RFC 8707 ``resource`` / RFC 8693 ``audience``).
API_RESOURCE = "https://api.example.test/"
API_SCOPE = "api:read api:write"

REDIRECT_URI = "http://127.0.0.1:8765/callback"
#: A native client's loopback redirect: any port is accepted (RFC 8252 §7.3).
PUBLIC_REDIRECT_URI = "http://127.0.0.1/callback"

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

#: ``basic``'s secret: every character that form-urlencoding changes (RFC 6749 §2.3.1)
#: and that oidc-provider still accepts (VSCHAR only, so no non-ASCII).
BASIC_SECRET = "s3cr:t +/=&%~?#"
POST_SECRET = "post-secret s3cr:t+/=&%"
JWT_SECRET = "jwt-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # >= 32 bytes for HS256
DEVICE_SECRET = "device-secret-0123456789"
SERVICE_SECRET = "service-secret-0123456789"
EXCHANGE_SECRET = "exchange-secret-0123456789"

MTLS_CLIENT_SUBJECT_DN = "CN=oauthkit-mtls-client,O=oauthkit tests"

DEFAULT_PASSWORD = "password"
_STARTUP_TIMEOUT = 20.0
_MAX_INTERACTION_STEPS = 20


class OIDCPeerUnavailable(RuntimeError):
    """Node or the provider's ``node_modules`` is missing (run ``npm ci`` in tests/peers/oidc)."""


class OIDCPeerStartError(RuntimeError):
    """The provider process did not become ready; the message ends with its stderr."""


class InteractionError(RuntimeError):
    """A user-playing helper got an answer it does not expect (the page is in ``body``)."""

    def __init__(self, message: str, status: int, url: str, body: str) -> None:
        super().__init__(f"{message}: {status} at {url}: {body[:300]!r}")
        self.status = status
        self.url = url
        self.body = body


# --------------------------------------------------------------------------- availability


def check_available() -> str:
    """Return the path of ``node``, or raise :class:`OIDCPeerUnavailable` saying what is missing."""
    node = shutil.which("node")
    if node is None:
        raise OIDCPeerUnavailable("node is not installed (Node >= 20 is needed for oidc-provider)")
    package = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    fix = f"run `npm ci` in {PEER_DIR}"
    if not package.is_file():
        raise OIDCPeerUnavailable(f"oidc-provider is not installed: {fix}")
    version = json.loads(package.read_text(encoding="utf-8")).get("version")
    if version != OIDC_PROVIDER_VERSION:
        raise OIDCPeerUnavailable(
            f"oidc-provider {version} is installed, {OIDC_PROVIDER_VERSION} is pinned: {fix}"
        )
    if not (PEER_DIR / "node_modules" / "jose" / "package.json").is_file():
        raise OIDCPeerUnavailable(f"jose is not installed: {fix}")
    return node


# --------------------------------------------------------------------------- keys


def generate_signing_jwks() -> dict[str, Any]:
    """A fresh private JWKS for the provider: one RSA (RS256) and one P-256 (ES256) key.

    ID tokens are signed RS256 (the clients' default); JWT access tokens too.  Pass the
    result as ``signing_jwks`` to start (or restart) a provider with known keys.
    """
    rsa_key = RSAKey.generate_key(
        2048, parameters={"alg": "RS256", "use": "sig"}, private=True, auto_kid=True
    )
    ec_key = ECKey.generate_key(
        "P-256", parameters={"alg": "ES256", "use": "sig"}, private=True, auto_kid=True
    )
    return {"keys": [dict(rsa_key.as_dict(private=True)), dict(ec_key.as_dict(private=True))]}


def public_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The public half of a JWKS (private members dropped)."""
    private = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
    return {"keys": [{k: v for k, v in key.items() if k not in private} for key in jwks["keys"]]}


@functools.cache
def _default_client_keys() -> tuple[tuple[str, str], ...]:
    """Private JWKs (as JSON) of ``jwt-key`` (RSA, RS256) and ``exchange`` (P-256, ES256)."""
    jwt_key = RSAKey.generate_key(
        2048, parameters={"alg": "RS256", "use": "sig"}, private=True, auto_kid=True
    )
    exchange_key = ECKey.generate_key(
        "P-256", parameters={"alg": "ES256", "use": "sig"}, private=True, auto_kid=True
    )
    return (
        ("jwt-key", json.dumps(jwt_key.as_dict(private=True))),
        ("exchange", json.dumps(exchange_key.as_dict(private=True))),
    )


def default_client_keys() -> dict[str, dict[str, Any]]:
    """Private JWK per client name that signs with a key (made once per process)."""
    return {name: json.loads(jwk) for name, jwk in _default_client_keys()}


# --------------------------------------------------------------------------- TLS material


@dataclass(frozen=True)
class TLSMaterial:
    """PEM files (one test CA; a server cert for IP 127.0.0.1; a client cert for ``mtls``)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_subject_dn: str = MTLS_CLIENT_SUBJECT_DN

    def server_spki(self) -> str:
        """Base64 SHA-256 of the server certificate's public key (what Chromium's
        ``--ignore-certificate-errors-spki-list`` trusts)."""
        cert = x509.load_pem_x509_certificate(self.server_cert.read_bytes())
        der = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = hashes.Hash(hashes.SHA256())
        digest.update(der)
        return base64.b64encode(digest.finalize()).decode("ascii")

    def ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext:
        """A client context trusting the test CA, presenting the client certificate if asked."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        if client_cert:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue_cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=not ca,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


@functools.cache
def tls_material() -> TLSMaterial:
    """Make the test CA and certificates once per process, in a temp dir removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="oauthkit-oidc-tls-"))
    atexit.register(shutil.rmtree, folder, True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oauthkit test CA")])
    ca_cert = _issue_cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _issue_cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
        server_key,
        ca_name,
        ca_key,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _issue_cert(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "oauthkit tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, "oauthkit-mtls-client"),
            ]
        ),
        client_key,
        ca_name,
        ca_key,
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    material = TLSMaterial(
        ca_cert=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server-key.pem",
        client_cert=folder / "client.pem",
        client_key=folder / "client-key.pem",
    )
    pem = serialization.Encoding.PEM
    material.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    material.server_cert.write_bytes(server_cert.public_bytes(pem))
    material.server_key.write_bytes(_pem_key(server_key))
    material.client_cert.write_bytes(client_cert.public_bytes(pem))
    material.client_key.write_bytes(_pem_key(client_key))
    return material


# --------------------------------------------------------------------------- clients


def default_clients(
    client_keys: Mapping[str, Mapping[str, Any]] | None = None, *, tls: bool = False
) -> dict[str, dict[str, Any]]:
    """The default registrations, name -> oidc-provider client metadata (client_id = name).

    ``client_keys`` (default :func:`default_client_keys`) gives the private JWKs whose
    public halves are registered for ``jwt-key`` and ``exchange``.  ``tls`` adds ``mtls``.
    """
    keys = default_client_keys() if client_keys is None else dict(client_keys)
    web = {
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
        "scope": "openid profile email offline_access",
    }
    clients: dict[str, dict[str, Any]] = {
        "basic": {
            **web,
            "client_secret": BASIC_SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
        },
        "post": {
            **web,
            "client_secret": POST_SECRET,
            "token_endpoint_auth_method": "client_secret_post",
        },
        "public": {
            **web,
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [PUBLIC_REDIRECT_URI],
        },
        "jwt-secret": {
            **web,
            "client_secret": JWT_SECRET,
            "token_endpoint_auth_method": "client_secret_jwt",
            "token_endpoint_auth_signing_alg": "HS256",
        },
        "jwt-key": {
            **web,
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": public_jwks({"keys": [keys["jwt-key"]]}),
        },
        "device": {
            "grant_types": [DEVICE_CODE_GRANT, "refresh_token"],
            "response_types": [],
            "client_secret": DEVICE_SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "openid profile email offline_access",
        },
        "service": {
            "grant_types": ["client_credentials"],
            "response_types": [],
            "client_secret": SERVICE_SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
        },
        "exchange": {
            "grant_types": [TOKEN_EXCHANGE_GRANT, JWT_BEARER_GRANT],
            "response_types": [],
            "client_secret": EXCHANGE_SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
            "jwks": public_jwks({"keys": [keys["exchange"]]}),
        },
    }
    if tls:
        clients["mtls"] = {
            "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": MTLS_CLIENT_SUBJECT_DN,
        }
    return clients


# --------------------------------------------------------------------------- the user


_HIDDEN_RE = re.compile(
    r'<input[^>]*?type="hidden"[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', re.IGNORECASE
)
_FORM_ACTION_RE = re.compile(r'<form[^>]*?action="([^"]*)"', re.IGNORECASE)


def _hidden_inputs(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN_RE.findall(page)}


class Browser:
    """Plays the user against one provider with its own cookie jar (paths honoured).

    The peer's :meth:`OIDCPeer.approve` and friends use a fresh :class:`Browser` each call
    (a new user agent: always login and consent).  Keep one from :meth:`OIDCPeer.browser`
    to have the provider's session survive between authorizations (``prompt=none``, SSO).
    """

    def __init__(self, peer: OIDCPeer) -> None:
        self._peer = peer
        self._http = peer.http_client()
        self.last_page: str = ""

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- authorization endpoint ------------------------------------------------------------

    def approve(
        self,
        authorization_url: str,
        login: str = "alice",
        *,
        consent: bool = True,
        password: str = DEFAULT_PASSWORD,
    ) -> str:
        """Open ``authorization_url``, log in as ``login`` and grant (or refuse) consent.

        Returns the final redirect to the client's redirect URI (``code``, ``state``,
        ``iss``; or ``error=access_denied`` with ``consent=False``), never requested.  An
        error the provider answers with a redirect is returned the same way; a page instead
        of a redirect raises :class:`InteractionError`.
        """
        outcome = self._drive(
            self._http.get(authorization_url), login=login, password=password, consent=consent
        )
        if isinstance(outcome, str):
            return outcome
        raise InteractionError(
            "the authorization ended on a page, not a redirect",
            outcome.status_code,
            str(outcome.url),
            outcome.text,
        )

    def deny(self, authorization_url: str) -> str:
        """Open ``authorization_url`` and abort at the first prompt; return the error redirect."""
        outcome = self._drive(self._http.get(authorization_url), abort_first=True)
        if isinstance(outcome, str):
            return outcome
        raise InteractionError(
            "the denial ended on a page, not a redirect",
            outcome.status_code,
            str(outcome.url),
            outcome.text,
        )

    # -- device flow -----------------------------------------------------------------------

    def approve_device(
        self,
        user_code: str,
        login: str = "alice",
        *,
        consent: bool = True,
        password: str = DEFAULT_PASSWORD,
    ) -> None:
        """Enter ``user_code`` at ``/device``, confirm, log in and consent (or refuse it)."""
        confirm = self._device_confirm_page(user_code)
        form = _hidden_inputs(confirm.text)
        resp = self._http.post(self._peer.issuer + "/device", data=form)
        outcome = self._drive(resp, login=login, password=password, consent=consent)
        if isinstance(outcome, str):
            raise InteractionError("device flow redirected away", 303, outcome, "")
        done = "Sign-in Success" in outcome.text
        if outcome.status_code != 200 or done != consent:
            raise InteractionError(
                "device flow did not end as expected",
                outcome.status_code,
                str(outcome.url),
                outcome.text,
            )

    def deny_device(self, user_code: str) -> None:
        """Enter ``user_code`` at ``/device`` and press Abort on the confirmation page."""
        confirm = self._device_confirm_page(user_code)
        form = _hidden_inputs(confirm.text)
        form.pop("confirm", None)
        form["abort"] = "yes"
        resp = self._http.post(self._peer.issuer + "/device", data=form)
        self.last_page = resp.text
        if "interrupted" not in resp.text:
            raise InteractionError(
                "device abort not acknowledged", resp.status_code, str(resp.url), resp.text
            )

    def _device_confirm_page(self, user_code: str) -> httpx2.Response:
        entry = self._http.get(self._peer.issuer + "/device")
        xsrf = _hidden_inputs(entry.text).get("xsrf")
        if entry.status_code != 200 or not xsrf:
            raise InteractionError(
                "no device code form", entry.status_code, str(entry.url), entry.text
            )
        confirm = self._http.post(
            self._peer.issuer + "/device", data={"xsrf": xsrf, "user_code": user_code}
        )
        self.last_page = confirm.text
        if confirm.status_code != 200 or _hidden_inputs(confirm.text).get("confirm") != "yes":
            raise InteractionError(
                "user code refused", confirm.status_code, str(confirm.url), confirm.text
            )
        return confirm

    # -- the interaction loop --------------------------------------------------------------

    def _drive(
        self,
        resp: httpx2.Response,
        *,
        login: str = "alice",
        password: str = DEFAULT_PASSWORD,
        consent: bool = True,
        abort_first: bool = False,
    ) -> str | httpx2.Response:
        """Follow the provider's redirects and answer its prompts.

        Returns the first redirect leaving the provider (a URL string) or the first page that
        is not an interaction prompt (the response).
        """
        for _ in range(_MAX_INTERACTION_STEPS):
            if resp.is_redirect:
                location = urljoin(str(resp.url), resp.headers["location"])
                if not self._peer.owns(location):
                    return location
                resp = self._http.get(location)
                continue
            page = resp.text
            self.last_page = page
            prompt = _hidden_inputs(page).get("prompt")
            path = urlsplit(str(resp.url)).path
            if resp.status_code != 200 or prompt is None or not path.startswith("/interaction/"):
                return resp
            if abort_first or (prompt == "consent" and not consent):
                resp = self._http.get(str(resp.url).rstrip("/") + "/abort")
                continue
            action_match = _FORM_ACTION_RE.search(page)
            action = urljoin(
                str(resp.url), html.unescape(action_match.group(1)) if action_match else path
            )
            if prompt == "login":
                data = {"prompt": "login", "login": login, "password": password}
            elif prompt == "consent":
                data = {"prompt": "consent"}
            else:
                raise InteractionError(
                    f"unknown prompt {prompt!r}", resp.status_code, str(resp.url), page
                )
            resp = self._http.post(action, data=data)
        raise InteractionError(
            "too many interaction steps", resp.status_code, str(resp.url), resp.text
        )


# --------------------------------------------------------------------------- the peer


@dataclass
class _Options:
    clients: dict[str, dict[str, Any]]
    client_keys: dict[str, dict[str, Any]]
    signing_jwks: dict[str, Any]
    rotate_refresh_token: bool
    access_token_format: str
    ttl: dict[str, int]
    require_par: bool
    pkce_required: bool
    clock_tolerance: int
    tls: bool
    registration: bool = False
    resources: dict[str, str] = field(default_factory=dict)
    ciba: bool = False
    fapi2: bool = False


@dataclass(eq=False)
class OIDCPeer:
    """A running oidc-provider, as the client's tests see it.

    ``clients``: name -> registered metadata (``client_id``, ``client_secret`` where one is
    registered, ...).  ``client_keys``: name -> private JWK for the clients that sign
    (``jwt-key``: private_key_jwt; ``exchange``: jwt-bearer assertions).  ``signing_jwks``:
    the provider's private JWKS.  ``metadata``: the discovery document.  ``tls``: the PEM
    files when started with ``tls=True`` (issuer ``https://``).
    """

    port: int
    issuer: str
    clients: dict[str, dict[str, Any]]
    client_keys: dict[str, dict[str, Any]]
    signing_jwks: dict[str, Any]
    tls: TLSMaterial | None
    metadata: dict[str, Any] = field(default_factory=dict)
    startup_seconds: float = 0.0
    _options: _Options | None = field(default=None, repr=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _workdir: Path | None = field(default=None, repr=False)
    _stderr_path: Path | None = field(default=None, repr=False)

    # -- registrations ---------------------------------------------------------------------

    def client_id(self, name: str) -> str:
        """The client_id registered under ``name``."""
        return str(self.clients[name]["client_id"])

    def client_secret(self, name: str) -> str:
        """The client_secret registered under ``name`` (KeyError for keyless clients)."""
        return str(self.clients[name]["client_secret"])

    def client_private_jwk(self, name: str) -> dict[str, Any]:
        """The private JWK of a signing client (``jwt-key``, ``exchange``)."""
        return dict(self.client_keys[name])

    # -- endpoints -------------------------------------------------------------------------

    @property
    def authorization_endpoint(self) -> str:
        return str(self.metadata["authorization_endpoint"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @property
    def device_authorization_endpoint(self) -> str:
        return str(self.metadata["device_authorization_endpoint"])

    @property
    def par_endpoint(self) -> str:
        return str(self.metadata["pushed_authorization_request_endpoint"])

    @property
    def revocation_endpoint(self) -> str:
        return str(self.metadata["revocation_endpoint"])

    @property
    def introspection_endpoint(self) -> str:
        return str(self.metadata["introspection_endpoint"])

    @property
    def userinfo_endpoint(self) -> str:
        return str(self.metadata["userinfo_endpoint"])

    @property
    def jwks_uri(self) -> str:
        return str(self.metadata["jwks_uri"])

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def owns(self, url: str) -> bool:
        """True when ``url`` points at this provider (same scheme, host and port)."""
        a, b = urlsplit(url), urlsplit(self.issuer)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)

    # -- HTTP ------------------------------------------------------------------------------

    def ssl_context(self, *, client_cert: bool = False) -> ssl.SSLContext | None:
        """With TLS: a context trusting the test CA (and presenting the ``mtls`` cert)."""
        return self.tls.ssl_context(client_cert=client_cert) if self.tls else None

    def http_client(self, *, client_cert: bool = False, **kwargs: Any) -> httpx2.Client:
        """A plain ``httpx2.Client`` for this provider (no redirects followed, 10 s timeout,
        the test CA trusted with TLS, the ``mtls`` client certificate if ``client_cert``)."""
        kwargs.setdefault("follow_redirects", False)
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("trust_env", False)
        context = self.ssl_context(client_cert=client_cert)
        if context is not None:
            kwargs.setdefault("verify", context)
        return httpx2.Client(**kwargs)

    # -- playing the user ------------------------------------------------------------------

    def browser(self) -> Browser:
        """A user agent that keeps its cookies across calls (close it, or use ``with``)."""
        return Browser(self)

    def approve(
        self,
        authorization_url: str,
        login: str = "alice",
        *,
        consent: bool = True,
        password: str = DEFAULT_PASSWORD,
    ) -> str:
        """See :meth:`Browser.approve` (with a fresh browser)."""
        with self.browser() as browser:
            return browser.approve(authorization_url, login, consent=consent, password=password)

    def deny(self, authorization_url: str) -> str:
        """See :meth:`Browser.deny` (with a fresh browser)."""
        with self.browser() as browser:
            return browser.deny(authorization_url)

    def approve_device(self, user_code: str, login: str = "alice", *, consent: bool = True) -> None:
        """See :meth:`Browser.approve_device` (with a fresh browser)."""
        with self.browser() as browser:
            browser.approve_device(user_code, login, consent=consent)

    def deny_device(self, user_code: str) -> None:
        """See :meth:`Browser.deny_device` (with a fresh browser)."""
        with self.browser() as browser:
            browser.deny_device(user_code)

    # -- request log -----------------------------------------------------------------------

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request received since the start or :meth:`reset_log`
        (the user-playing helpers' requests included)."""
        with self.http_client() as http:
            resp = http.get(self.issuer + "/__test/log")
            resp.raise_for_status()
            return [(str(method), str(path)) for method, path in resp.json()]

    def ciba_pending(self) -> list[dict[str, Any]]:
        """The CIBA requests waiting for the user's device (``auth_req_id``, ``account``,
        ``binding_message``, ``scope``, ``client_id``)."""
        with self.http_client() as http:
            resp = http.get(self.issuer + "/__test/ciba")
            resp.raise_for_status()
            return list(resp.json())

    def ciba_decide(self, auth_req_id: str, *, approve: bool = True) -> None:
        """The user's device approves (or denies) a CIBA request."""
        action = "approve" if approve else "deny"
        with self.http_client() as http:
            http.post(f"{self.issuer}/__test/ciba/{auth_req_id}/{action}").raise_for_status()

    def reset_log(self) -> None:
        """Empty the request log."""
        with self.http_client() as http:
            http.post(self.issuer + "/__test/log/clear").raise_for_status()

    # -- process ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def stderr(self) -> str:
        """What the provider process wrote on stderr so far (notices, warnings, errors)."""
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the provider (its whole process group) and remove its temp dir.  Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            _terminate(process)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._stderr_path = None

    def restart(self, **changes: Any) -> OIDCPeer:
        """Stop and start again on the same port (same issuer), in place.

        ``changes`` are :func:`start_oidc_provider` options to change, e.g.
        ``signing_jwks=generate_signing_jwks()`` to rotate the signing keys.  Everything the
        provider stored (sessions, grants, tokens) is lost.  Returns ``self``.
        """
        assert self._options is not None
        self.stop()
        options = _make_options(
            clients=changes.pop("clients", self._options.clients),
            client_keys=changes.pop("client_keys", self._options.client_keys),
            signing_jwks=changes.pop("signing_jwks", self._options.signing_jwks),
            rotate_refresh_token=changes.pop(
                "rotate_refresh_token", self._options.rotate_refresh_token
            ),
            access_token_format=changes.pop(
                "access_token_format", self._options.access_token_format
            ),
            ttl=changes.pop("ttl", self._options.ttl),
            require_par=changes.pop("require_par", self._options.require_par),
            pkce_required=changes.pop("pkce_required", self._options.pkce_required),
            clock_tolerance=changes.pop("clock_tolerance", self._options.clock_tolerance),
            tls=changes.pop("tls", self._options.tls),
            registration=changes.pop("registration", self._options.registration),
            resources=changes.pop("resources", self._options.resources),
            ciba=changes.pop("ciba", self._options.ciba),
            fapi2=changes.pop("fapi2", self._options.fapi2),
        )
        timeout = changes.pop("startup_timeout", _STARTUP_TIMEOUT)
        if changes:
            raise TypeError(f"unknown options: {sorted(changes)}")
        _launch(self, options, port=self.port, startup_timeout=timeout)
        return self


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started, SIGKILL it after 5 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_options(
    *,
    clients: Mapping[str, Mapping[str, Any]] | None,
    client_keys: Mapping[str, Mapping[str, Any]] | None,
    signing_jwks: Mapping[str, Any] | None,
    rotate_refresh_token: bool,
    access_token_format: str,
    ttl: Mapping[str, int] | None,
    require_par: bool,
    pkce_required: bool,
    clock_tolerance: int,
    tls: bool,
    registration: bool = False,
    resources: Mapping[str, str] | None = None,
    ciba: bool = False,
    fapi2: bool = False,
) -> _Options:
    if access_token_format not in ("opaque", "jwt"):
        raise ValueError("access_token_format must be 'opaque' or 'jwt'")
    keys = {**default_client_keys(), **(client_keys or {})}
    regs = default_clients(keys, tls=tls) if clients is None else clients
    resolved = {name: {"client_id": name, **dict(meta)} for name, meta in regs.items()}
    return _Options(
        clients=resolved,
        client_keys={name: dict(jwk) for name, jwk in keys.items()},
        signing_jwks=dict(signing_jwks) if signing_jwks is not None else generate_signing_jwks(),
        rotate_refresh_token=rotate_refresh_token,
        access_token_format=access_token_format,
        ttl=dict(ttl or {}),
        require_par=require_par,
        pkce_required=pkce_required,
        clock_tolerance=clock_tolerance,
        tls=tls,
        registration=registration,
        resources=dict(resources or {}),
        ciba=ciba,
        fapi2=fapi2,
    )


def start_oidc_provider(
    *,
    clients: Mapping[str, Mapping[str, Any]] | None = None,
    client_keys: Mapping[str, Mapping[str, Any]] | None = None,
    signing_jwks: Mapping[str, Any] | None = None,
    rotate_refresh_token: bool = True,
    access_token_format: str = "opaque",
    ttl: Mapping[str, int] | None = None,
    require_par: bool = False,
    pkce_required: bool = True,
    clock_tolerance: int = 0,
    tls: bool = False,
    registration: bool = False,
    resources: Mapping[str, str] | None = None,
    ciba: bool = False,
    fapi2: bool = False,
    port: int | None = None,
    startup_timeout: float = _STARTUP_TIMEOUT,
) -> OIDCPeer:
    """Start oidc-provider on ``127.0.0.1`` and return once it answers.

    * ``clients``: name -> client metadata, passed to oidc-provider as is (``client_id``
      defaults to the name); default :func:`default_clients`.
    * ``client_keys``: name -> private JWK, merged over :func:`default_client_keys`.
    * ``signing_jwks``: the provider's private JWKS; default a fresh one
      (:func:`generate_signing_jwks`).
    * ``rotate_refresh_token``: a new refresh token on every refresh (the old one dies).
    * ``access_token_format``: ``"opaque"`` or ``"jwt"`` for tokens whose ``resource`` is
      :data:`API_RESOURCE` (tokens for userinfo are always opaque).
    * ``ttl``: seconds per oidc-provider model, e.g. ``{"AccessToken": 2}`` (also
      ``ClientCredentials``, ``RefreshToken``, ``AuthorizationCode``, ``DeviceCode``, ...).
    * ``require_par``: every client must use PAR (``require_pushed_authorization_requests``).
    * ``pkce_required``: PKCE for confidential clients too (public clients always need it).
    * ``clock_tolerance``: seconds of grace on ``exp``/``iat``/``nbf`` (tokens, assertions,
      DPoP proofs).  0 here, so a token is refused as soon as it expires; oidc-provider's own
      default is 15.
    * ``tls``: serve https (issuer ``https://127.0.0.1:<port>``) with the test CA, ask for
      client certificates and add the ``mtls`` client (``tls_client_auth``).
    * ``registration``: open dynamic client registration (RFC 7591, no initial access token)
      and its management (RFC 7592), at ``/reg``.
    * ``resources``: resource indicator -> its scope (RFC 8707), besides
      :data:`API_RESOURCE`; tokens for them are opaque.
    * ``ciba``: OpenID Connect CIBA (poll and ping); the ``login_hint`` is the account, and
      :meth:`OIDCPeer.ciba_pending` / :meth:`OIDCPeer.ciba_decide` play the user's device.
    * ``fapi2``: oidc-provider's FAPI 2.0 profile (client assertions whose ``aud`` is the
      issuer, PKCE, ``redirect_uri``), PAR for every client; with ``tls``, certificate-bound
      tokens for clients registered for them and ``mtls_endpoint_aliases`` under ``/mtls/``
      (the request log shows the alias path).
    * ``port``: a fixed port (default: a free one).

    Raises :class:`OIDCPeerUnavailable` (no node / ``npm ci`` not run) or
    :class:`OIDCPeerStartError` (not ready within ``startup_timeout``; has the stderr).
    """
    options = _make_options(
        clients=clients,
        client_keys=client_keys,
        signing_jwks=signing_jwks,
        rotate_refresh_token=rotate_refresh_token,
        access_token_format=access_token_format,
        ttl=ttl,
        require_par=require_par,
        pkce_required=pkce_required,
        clock_tolerance=clock_tolerance,
        tls=tls,
        registration=registration,
        resources=resources,
        ciba=ciba,
        fapi2=fapi2,
    )
    peer = OIDCPeer(
        port=0,
        issuer="",
        clients={},
        client_keys={},
        signing_jwks={},
        tls=None,
    )
    _launch(peer, options, port=port, startup_timeout=startup_timeout)
    atexit.register(peer.stop)
    return peer


def _launch(peer: OIDCPeer, options: _Options, *, port: int | None, startup_timeout: float) -> None:
    node = check_available()
    material = tls_material() if options.tls else None
    attempts = 1 if port is not None else 3
    last_error: OIDCPeerStartError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else _free_port()
        try:
            _spawn(peer, node, options, chosen, material, startup_timeout)
            return
        except OIDCPeerStartError as exc:
            last_error = exc
            if "EADDRINUSE" not in str(exc):
                raise
    assert last_error is not None
    raise last_error


def _spawn(
    peer: OIDCPeer,
    node: str,
    options: _Options,
    port: int,
    material: TLSMaterial | None,
    startup_timeout: float,
) -> None:
    scheme = "https" if material else "http"
    issuer = f"{scheme}://127.0.0.1:{port}"
    config: dict[str, Any] = {
        "port": port,
        "issuer": issuer,
        "clients": list(options.clients.values()),
        "jwks": options.signing_jwks,
        "rotateRefreshToken": options.rotate_refresh_token,
        "accessTokenFormat": options.access_token_format,
        "ttl": options.ttl,
        "requirePar": options.require_par,
        "pkceRequired": options.pkce_required,
        "clockTolerance": options.clock_tolerance,
        "registration": options.registration,
        "ciba": options.ciba,
        "fapi2": options.fapi2,
        "resources": options.resources,
    }
    if material is not None:
        config["tls"] = {
            "cert": str(material.server_cert),
            "key": str(material.server_key),
            "ca": str(material.ca_cert),
        }
    workdir = Path(tempfile.mkdtemp(prefix="oauthkit-oidc-"))
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    stderr_path = workdir / "stderr.log"
    started = time.monotonic()
    with stderr_path.open("wb") as stderr:
        # Outgoing calls (a CIBA ping to the client's https notification endpoint) trust the
        # test CA.
        env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(tls_material().ca_cert)}
        process = subprocess.Popen(
            [node, str(SERVER_SCRIPT), str(config_path)],
            cwd=PEER_DIR,
            env=env if options.ciba else None,
            stdin=subprocess.PIPE,  # never written: its end tells the server to exit
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        line = _read_ready(process, startup_timeout)
        failure = f"first stdout line {line!r}"
    except OIDCPeerStartError as exc:
        line, failure = "", str(exc)
    if line != f"READY {issuer}":
        _terminate(process)
        detail = stderr_path.read_text(encoding="utf-8", errors="replace")
        shutil.rmtree(workdir, ignore_errors=True)
        raise OIDCPeerStartError(
            f"oidc-provider did not start on port {port} ({failure}, exit code "
            f"{process.returncode}); its stderr:\n{detail}"
        )
    peer.port = port
    peer.issuer = issuer
    peer.clients = {name: dict(meta) for name, meta in options.clients.items()}
    peer.client_keys = {name: dict(jwk) for name, jwk in options.client_keys.items()}
    peer.signing_jwks = options.signing_jwks
    peer.tls = material
    peer._options = options
    peer._process = process
    peer._workdir = workdir
    peer._stderr_path = stderr_path
    try:
        with peer.http_client() as http:
            resp = http.get(peer.discovery_url)
            resp.raise_for_status()
            peer.metadata = resp.json()
            http.post(issuer + "/__test/log/clear").raise_for_status()
    except BaseException:
        peer.stop()
        raise
    peer.startup_seconds = time.monotonic() - started


def _read_ready(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first stdout line of ``process`` (``""`` if it exits first); raise on time-out."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OIDCPeerStartError(f"oidc-provider not ready after {timeout:g} s")
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                process.wait(timeout=5)
                break
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
