"""``oauthkit demo``: both walkthroughs end to end on the local sandbox, each step named as a
person learning OAuth would expect. Non-interactive by default (the demo plays the user on
the sandbox's consent page); ``--browser`` does the consent in a real browser through a
loopback redirect. Tokens go to the given store under ``demo:*`` keys; no secret is printed.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from typing import Any

from ..signin.loopback import LoopbackRedirect
from ..stores.base import TokenStore

__all__ = ["run_demo"]


class _Steps:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.number = 0

    def __call__(self, title: str, *lines: str) -> None:
        self.number += 1
        self.say(f"\n  {self.number}. {title}")
        for line in lines:
            self.say(f"     {line}")


def _user(
    sandbox: Any,
    url: str,
    browser: bool,
    redirect: LoopbackRedirect[Any] | None,
    expected: str,
    check: Callable[[dict[str, str]], Any],
) -> Any:
    """Play the user: on the sandbox's page by itself, or in a real browser."""
    if browser and redirect is not None:
        webbrowser.open(url)
        return redirect.wait(expected, check, timeout=300)
    from urllib.parse import parse_qsl, urlsplit

    return check(dict(parse_qsl(urlsplit(sandbox.approve(url)).query)))


def run_demo(store: TokenStore, *, interactive_browser: bool, say: Callable[[str], None]) -> None:
    """Start the sandbox in this process and walk OAuth 1.0a, then OAuth 2."""
    import httpx2

    from ..clients.oauth1 import OAuth1Client
    from ..clients.oauth2 import OAuth2Client
    from ..sandbox import Sandbox
    from ..session import Session

    where = getattr(store, "path", store)
    with Sandbox() as sandbox:
        say(f"oauthkit demo — a local provider runs at {sandbox.base_url} (loopback only).")
        say(f"Tokens are stored in {where} under the keys demo:oauth1 and demo:oauth2.")

        say("\nOAuth 1.0a (RFC 5849): three legs, every request signed")
        step = _Steps(say)
        consumer = sandbox.clients["demo-oauth1"]
        step(
            "Consumer credentials",
            f"The provider registered this app as consumer key {consumer.consumer_key!r};",
            "its shared secret signs every request (HMAC-SHA1) and never leaves this program.",
        )
        redirect = LoopbackRedirect[Any](state_param="oauth_token") if interactive_browser else None
        callback = redirect.redirect_uri if redirect else "http://127.0.0.1:8765/callback"
        with OAuth1Client(
            consumer.consumer_key,
            consumer.consumer_secret,
            request_token_url=f"{sandbox.base_url}/oauth1/request_token",
            authorize_url=f"{sandbox.base_url}/oauth1/authorize",
            access_token_url=f"{sandbox.base_url}/oauth1/access_token",
        ) as client1:
            temporary = client1.fetch_request_token(callback=callback)
            step(
                "Request token (temporary credentials, §2.1)",
                f"POST {sandbox.base_url}/oauth1/request_token, signed with the consumer secret;",
                "the provider confirmed our callback (oauth_callback_confirmed=true).",
            )
            url = client1.authorization_url(temporary)
            step(
                "User authorization (§2.2)",
                f"The user opens {url.split('?')[0]}?oauth_token=… and approves"
                + (" in the browser." if interactive_browser else " (the demo plays the user)."),
            )
            verifier = _user(
                sandbox,
                url,
                interactive_browser,
                redirect,
                temporary.token,
                lambda params: client1.parse_callback(temporary, params),
            )
            step(
                "Verifier exchange (token credentials, §2.3)",
                "The provider redirected back with the verifier; oauthkit checked that the",
                "oauth_token is ours, then exchanged both for the user's token credentials.",
            )
            credentials = client1.fetch_access_token(temporary, verifier)
            store.put("demo:oauth1", credentials)
            response = client1.get(f"{sandbox.base_url}/oauth1/api/me", credentials=credentials)
            response.raise_for_status()
            step(
                "Signed request (§3)",
                f"GET {sandbox.base_url}/oauth1/api/me → {response.status_code} {response.json()}",
            )

        say("\nOAuth 2 (RFC 6749): authorization code with PKCE, then refresh")
        step = _Steps(say)
        registered = sandbox.clients["demo-web"]
        step(
            "Client registration",
            f"The provider knows this app as client_id {registered.client_id!r}, with a secret",
            "and loopback redirect URIs (RFC 8252 §7.3: any port on 127.0.0.1).",
        )
        redirect = LoopbackRedirect[Any]() if interactive_browser else None
        redirect_uri = redirect.redirect_uri if redirect else "http://127.0.0.1:8765/callback"
        with OAuth2Client(
            registered.client_id,
            registered.client_secret,
            issuer=sandbox.issuer,
            redirect_uri=redirect_uri,
            scope="profile",
        ) as client2:
            request = client2.authorization_request()
            step(
                "Authorization with PKCE (RFC 7636)",
                "A random code verifier stays here; its SHA-256 (the code challenge) and a",
                "random state go to the provider in the authorization URL:",
                f"{request.url.split('?')[0]}?response_type=code&client_id=…&code_challenge=…",
            )
            code = _user(
                sandbox,
                request.url,
                interactive_browser,
                redirect,
                request.state,
                lambda params: client2.validate_callback(request, params),
            )
            token = client2.exchange_code(code)
            lifetime = int(token.lifetime.total_seconds()) if token.lifetime else "?"
            step(
                "Code exchange",
                "The redirect came back with a code, our state and the issuer (RFC 9207),",
                "all checked; the code and the verifier bought an access token and a refresh",
                f"token (expires in {lifetime} s).",
            )
            session = Session(client2, store, "demo:oauth2")
            session.save(token)
            with httpx2.Client(auth=session.auth()) as http:
                response = http.get(f"{sandbox.base_url}/api/me")
            response.raise_for_status()
            step(
                "Authenticated request (RFC 6750)",
                f"GET {sandbox.base_url}/api/me with 'Authorization: Bearer …' → "
                f"{response.status_code} {response.json()}",
            )
            renewed = client2.refresh(token)
            session.save(renewed)
            rotated = (
                "a new refresh token (the old one is dead)"
                if (renewed.refresh_token != token.refresh_token)
                else "the same refresh token"
            )
            step(
                "Refresh (§6)",
                f"The refresh token bought a new access token and {rotated};",
                f"both are stored in {where} before they are used.",
            )
    me = invocation()
    say(f"\nDone. See what is stored with:  {me} status")
    say(f"Remove the demo's tokens with:  {me} logout demo:oauth1 && {me} logout demo:oauth2")


def invocation() -> str:
    """How to run this command again from here: ``oauthkit`` when that name on PATH is this
    program; else its path (``./run demo`` runs ``.venv/bin/oauthkit``, which is not on
    PATH); else ``python -m oauthkit``."""
    import os
    import shlex
    import shutil
    import sys

    program = sys.argv[0] if sys.argv else ""
    found = shutil.which("oauthkit")
    if found and program and os.path.realpath(found) == os.path.realpath(program):
        return "oauthkit"
    if os.path.basename(program) == "oauthkit" and os.path.isfile(program):
        relative = os.path.relpath(program)
        path = relative if not relative.startswith("..") else os.path.abspath(program)
        return shlex.quote(path if "/" in path else f"./{path}")
    return f"{shlex.quote(sys.executable)} -m oauthkit"
