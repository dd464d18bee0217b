"""What the commands do, without the command-line parsing: make clients and stores from the
configuration, run the sign-in flows (browser + loopback redirect, device code, PIN), and
find out who signed in."""

from __future__ import annotations

import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, OAuthKitError
from ..protocol.endpoints import OAUTH2_ENDPOINTS
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2.token import Token
from ..stores.base import TokenStore
from .loopback import LoopbackRedirect
from .provider import ResolvedProvider

__all__ = [
    "Printer",
    "api_base",
    "login_browser",
    "login_ciba",
    "login_device",
    "login_oauth1",
    "make_oauth1_client",
    "make_oauth2_client",
    "open_store",
    "who_am_i",
]

#: Tokens of a provider are stored under its name; this key in ``Token.extra`` keeps the
#: account the sign-in was for (shown by ``status``).
ACCOUNT = "oauthkit_account"
#: How long a sign-in waits for the browser (seconds).
LOGIN_TIMEOUT = 300.0


@dataclass
class Printer:
    """Where a flow talks to the person: ``say`` for messages (stderr), ``ask`` for input."""

    say: Callable[[str], None]
    ask: Callable[[str], str]
    open_browser: bool = True
    #: Reads one pasted line (``""`` at the end of input); set for a headless sign-in.
    read_line: Callable[[], str] | None = None


#: URL schemes of databases served by SQLAlchemyStore (extra ``sqlalchemy``).
DATABASE_SCHEMES = ("postgresql", "postgres", "sqlite+", "mysql", "mariadb")


def open_store(spec: str | None) -> TokenStore:
    """The store a ``--store`` value or the config's ``store`` names: a file path (SQLite),
    ``redis://…``, ``keyring``, a database URL (``postgresql+psycopg://…``: its table is
    created on first use if missing); default the SQLite store in the user data folder."""
    from ..stores.sqlite import SQLiteStore
    from .config import store_file

    path = store_file(spec)
    if path is not None:
        return SQLiteStore(path)
    assert spec is not None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from ..stores.redis import RedisStore

        return RedisStore(spec)
    if spec.startswith(DATABASE_SCHEMES) and "://" in spec:
        from ..stores.sqlalchemy import SQLAlchemyStore

        url = "postgresql" + spec[len("postgres") :] if spec.startswith("postgres:") else spec
        return SQLAlchemyStore(url)  # its table is made on first use when missing
    if spec == "keyring":
        from ..stores.keyring import KeyringStore

        return KeyringStore()
    if spec == "memory":
        from ..stores.memory import MemoryStore

        return MemoryStore()
    raise ConfigurationError(
        f"unknown store {spec!r}: a file path, redis://…, a database URL, or keyring"
    )


def _common(provider: ResolvedProvider) -> dict[str, Any]:
    arguments: dict[str, Any] = dict(provider.options)
    if provider.get("allow_insecure_http"):
        arguments["allow_insecure_http"] = True
    return arguments


def _read_file(provider: ResolvedProvider, name: str) -> bytes:
    path = Path(provider.get(name)).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"{provider.source}: {name} of {provider.name!r} cannot be read: {exc}"
        ) from None


def make_oauth2_client(provider: ResolvedProvider, *, redirect_uri: str | None = None) -> Any:
    """An ``OAuth2Client`` for ``[providers.NAME]``: a preset, an issuer, or endpoints."""
    from ..clients.oauth2 import OAuth2Client

    arguments = _common(provider)
    arguments.update({key: provider.get(key) for key in OAUTH2_ENDPOINTS if provider.get(key)})
    for key in ("issuer", "scope", "auth_method", "profile", "dpop"):
        if provider.get(key):
            arguments[key] = provider.get(key)
    if provider.get("private_key_file"):
        arguments["private_key"] = _read_file(provider, "private_key_file")
    if provider.get("decryption_key_file"):
        arguments["decryption_key"] = _read_file(provider, "decryption_key_file")
    if provider.get("tls_client_cert"):
        cert = str(Path(provider.get("tls_client_cert")).expanduser())
        key = provider.get("tls_client_key")
        arguments["tls_client_cert"] = (cert, str(Path(key).expanduser())) if key else cert
    if redirect_uri is not None:
        arguments["redirect_uri"] = redirect_uri
    client_id, secret = provider.get("client_id"), provider.secret("client_secret")
    if provider.get("preset"):
        return OAuth2Client.from_preset(provider.get("preset"), client_id, secret, **arguments)
    if not provider.get("issuer") and not provider.get("token_endpoint"):
        raise ConfigurationError(f"{provider.source}: give preset=, issuer= or the endpoints")
    return OAuth2Client(client_id, secret, **arguments)


def make_oauth1_client(provider: ResolvedProvider) -> Any:
    """An ``OAuth1Client`` for an OAuth 1.0a provider (a preset, or its three URLs)."""
    from ..clients.oauth1 import OAuth1Client

    arguments = _common(provider)
    for key in ("request_token_url", "authorize_url", "access_token_url", "signature_method"):
        if provider.get(key):
            arguments[key] = provider.get(key)
    if provider.get("rsa_key_file"):
        arguments["rsa_key"] = _read_file(provider, "rsa_key_file")
    key, secret = provider.get("consumer_key"), provider.secret("consumer_secret")
    if provider.get("preset"):
        return OAuth1Client.from_preset(provider.get("preset"), key, secret, **arguments)
    return OAuth1Client(key, secret, **arguments)


def api_base(provider: ResolvedProvider, token: Any = None) -> str | None:
    """The API base for relative request URLs: the config's, else the preset's (or, for a
    provider like Salesforce, the one its token names)."""
    if provider.get("api_base"):
        return str(provider.get("api_base"))
    preset = provider.preset
    if preset is not None:
        if preset.api_base_from and token is not None:
            value = getattr(token, "extra", {}).get(preset.api_base_from)
            if isinstance(value, str):
                return value.rstrip("/") + "/"
        base = preset.api_base_url(**provider.options)
        return str(base) if base else None
    return None


def _redirect(provider: ResolvedProvider, state_param: str) -> LoopbackRedirect[Any]:
    return LoopbackRedirect(
        host=provider.get("redirect_host", "127.0.0.1"),
        port=int(provider.get("redirect_port", 0)),
        path=provider.get("redirect_path", "/callback"),
        state_param=state_param,
    )


def _show(printer: Printer, url: str) -> None:
    printer.say("Open this address in a browser to sign in (it opens by itself if it can):")
    printer.say(f"  {url}")
    if printer.open_browser:
        try:
            webbrowser.open(url)
        except Exception:
            printer.say("(no browser could be opened; use the address above)")


def login_browser(
    provider: ResolvedProvider, printer: Printer, *, timeout: float = LOGIN_TIMEOUT, **extra: Any
) -> tuple[Token, str | None]:
    """RFC 8252: authorization code + PKCE through the browser and a loopback redirect; the
    token and, when the provider can tell, the account."""
    redirect = _redirect(provider, "state")
    with make_oauth2_client(provider, redirect_uri=redirect.redirect_uri) as client:
        request = client.authorization_request(**extra)
        _show(printer, request.url)
        if printer.read_line is not None:
            _accept_pasted(redirect, printer)
        # The exchange happens before the browser is answered: its page then says whether
        # the sign-in worked (a wrong client secret is refused only at the token endpoint).
        token: Token = redirect.wait(
            request.state,
            lambda params: client.exchange_code(client.validate_callback(request, params)),
            timeout,
        )
        return token, who_am_i(provider, token, client)


def _accept_pasted(redirect: LoopbackRedirect[Any], printer: Printer) -> None:
    """A headless sign-in (as gcloud and the GitHub CLI offer): the browser runs on another
    machine, its redirect to this machine's loopback address fails to load, and the person
    pastes the address it shows; it is checked like a redirect that arrives (state, iss, …).
    A line is read in a daemon thread while the loopback server keeps waiting too."""
    read = printer.read_line
    assert read is not None
    printer.say(
        "If the browser runs on another machine, its last page will not load: paste its "
        "address here and press Enter."
    )

    def listen() -> None:
        while True:
            try:
                line = read()
            except (OSError, ValueError):
                return
            if not line:
                return
            if not line.strip():
                continue
            reason = redirect.offer(line)
            if reason is None:
                return
            printer.say(f"That is not the address of this sign-in: {reason}")

    threading.Thread(target=listen, name="oauthkit-paste", daemon=True).start()


def login_device(
    provider: ResolvedProvider,
    printer: Printer,
    *,
    show_qr: bool = False,
    countdown: Callable[[float, float], None] | None = None,
) -> tuple[Token, str | None]:
    """RFC 8628: show the code and the address, then poll until the user approves; the
    token and, when the provider can tell, the account."""
    with make_oauth2_client(provider) as client:
        device = client.device_authorization()
        printer.say(f"On any device, open {device.verification_uri}")
        printer.say(f"and enter the code:  {device.user_code}")
        if device.verification_uri_complete:
            printer.say(f"(or open {device.verification_uri_complete})")
            if show_qr:
                _qr(device.verification_uri_complete, printer)
        deadline = device.expires_at.timestamp()

        def wait(seconds: float) -> None:
            end = time.time() + seconds
            while (left := end - time.time()) > 0:
                if countdown is not None:
                    countdown(max(deadline - time.time(), 0), left)
                time.sleep(min(left, 0.5))

        token = client.poll_device(device, wait=wait)
        return token, who_am_i(provider, token, client)


def login_ciba(
    provider: ResolvedProvider,
    printer: Printer,
    *,
    login_hint: str,
    binding_message: str | None = None,
    timeout: float = LOGIN_TIMEOUT,
) -> tuple[Token, str | None]:
    """CIBA Core (poll mode): ask the provider to authenticate ``login_hint`` on their own
    device, show the binding message they will see there, and poll until they decide; the
    token and, when the provider can tell, the account."""
    with make_oauth2_client(provider) as client:
        scope = client.config.scope or "openid"
        if "openid" not in scope.split():
            scope = f"openid {scope}"
        request = client.backchannel_authentication(
            login_hint=login_hint, binding_message=binding_message, scope=scope
        )
        printer.say(
            f"Asked {provider.name} to confirm the sign-in of {login_hint} on their device."
        )
        if binding_message:
            printer.say(f"It shows the message:  {binding_message}")
        token = client.poll_backchannel(request, timeout=timeout)
        return token, who_am_i(provider, token, client)


def _qr(text: str, printer: Printer) -> None:
    try:
        import io

        import segno
    except ImportError:
        return
    buffer = io.StringIO()
    segno.make(text, error="l").terminal(out=buffer, compact=True)
    printer.say(buffer.getvalue().rstrip("\n"))


def login_oauth1(
    provider: ResolvedProvider, printer: Printer, *, pin: bool, timeout: float = LOGIN_TIMEOUT
) -> OAuth1Credentials:
    """RFC 5849 §2: request token, the user's authorization (callback or PIN), access token."""
    with make_oauth1_client(provider) as client:
        if pin:
            temporary = client.fetch_request_token(callback="oob")
            _show(printer, client.authorization_url(temporary))
            verifier = printer.ask("Enter the PIN the provider shows")
            return client.fetch_access_token(temporary, verifier)  # type: ignore[no-any-return]
        redirect = _redirect(provider, "oauth_token")
        temporary = client.fetch_request_token(callback=redirect.redirect_uri)
        _show(printer, client.authorization_url(temporary))
        # As for OAuth 2: the browser's page waits for the access token's answer.
        credentials: OAuth1Credentials = redirect.wait(
            temporary.token,
            lambda params: client.fetch_access_token(
                temporary, client.parse_callback(temporary, params)
            ),
            timeout,
        )
        return credentials


def who_am_i(provider: ResolvedProvider, token: Token, client: Any) -> str | None:
    """Who signed in, to show (their name, else e-mail, else account id), when the provider
    can tell (:func:`oauthkit.web.providers.identity_step`: the ID token, userinfo, or the
    preset's who-am-I request). ``client`` is the sign-in's own ``OAuth2Client``, so its
    discovered metadata is reused."""
    from ..drivers import run
    from ..web.providers import WebProvider, identity_step

    try:
        setup = WebProvider.from_resolved(provider, client=client, token=token)
        identity = run(identity_step(setup, token), client.http)
    except OAuthKitError:
        return None
    if identity is None:
        return None
    return identity.name or identity.email or identity.id
