"""The command's sign-ins: browser + loopback redirect, device code, CIBA, PIN — each with a
client made from the configuration, and who signed in, to say so."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..config.factories import api_base, make_oauth1_client, make_oauth2_client, whoami_of
from ..config.provider import ResolvedProvider
from ..errors import OAuthKitError
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth2.token import Token
from ..signin.loopback import LoopbackRedirect
from ..signin.prompts import Printer, accept_pasted, show_url
from ..signin.prompts import show_qr as draw_qr

__all__ = [
    "ACCOUNT",
    "LOGIN_TIMEOUT",
    "login_browser",
    "login_ciba",
    "login_device",
    "login_oauth1",
    "who_am_i",
]

#: Tokens of a provider are stored under its name; this key in ``Token.extra`` keeps the
#: account the sign-in was for (shown by ``status``).
ACCOUNT = "oauthkit_account"
#: How long a sign-in waits for the browser (seconds).
LOGIN_TIMEOUT = 300.0


def _redirect(provider: ResolvedProvider, state_param: str) -> LoopbackRedirect[Any]:
    return LoopbackRedirect(
        host=provider.get("redirect_host", "127.0.0.1"),
        port=int(provider.get("redirect_port", 0)),
        path=provider.get("redirect_path", "/callback"),
        state_param=state_param,
    )


def login_browser(
    provider: ResolvedProvider, printer: Printer, *, timeout: float = LOGIN_TIMEOUT, **extra: Any
) -> tuple[Token, str | None]:
    """RFC 8252: authorization code + PKCE through the browser and a loopback redirect; the
    token and, when the provider can tell, the account."""
    redirect = _redirect(provider, "state")
    with make_oauth2_client(provider, redirect_uri=redirect.redirect_uri) as client:
        request = client.authorization_request(**extra)
        show_url(printer, request.url)
        if printer.read_line is not None:
            accept_pasted(redirect, printer)
        # The exchange happens before the browser is answered: its page then says whether
        # the sign-in worked (a wrong client secret is refused only at the token endpoint).
        token: Token = redirect.wait(
            request.state,
            lambda params: client.exchange_code(client.validate_callback(request, params)),
            timeout,
        )
        return token, who_am_i(provider, token, client)


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
                draw_qr(device.verification_uri_complete, printer)
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


def login_oauth1(
    provider: ResolvedProvider, printer: Printer, *, pin: bool, timeout: float = LOGIN_TIMEOUT
) -> OAuth1Credentials:
    """RFC 5849 §2: request token, the user's authorization (callback or PIN), access token."""
    with make_oauth1_client(provider) as client:
        if pin:
            temporary = client.fetch_request_token(callback="oob")
            show_url(printer, client.authorization_url(temporary))
            verifier = printer.ask("Enter the PIN the provider shows")
            return client.fetch_access_token(temporary, verifier)
        redirect = _redirect(provider, "oauth_token")
        temporary = client.fetch_request_token(callback=redirect.redirect_uri)
        show_url(printer, client.authorization_url(temporary))
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
    can tell (:func:`oauthkit.clients.identity.who_signed_in`: the ID token, userinfo, or the
    who-am-I request). ``client`` is the sign-in's own ``OAuth2Client``, so its discovered
    metadata is reused."""
    from ..clients.identity import who_signed_in
    from ..drivers import run

    preset = provider.preset
    step = who_signed_in(
        client,
        token,
        name=provider.name,
        whoami=whoami_of(provider),
        api_base=api_base(provider, token),
        claims_id=preset.claims_id if preset is not None else "sub",
    )
    try:
        identity = run(step, client.http)
    except OAuthKitError:
        return None
    if identity is None:
        return None
    return identity.name or identity.email or identity.id
