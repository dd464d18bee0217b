"""The sandbox's HTML pages: sign-in and consent (RFC 6749 §4.1.1 step B; RFC 5849 §2.2; RFC
8628 §3.3), the out-of-band PIN (RFC 5849 §2.2 ``oob``) and the messages in between.

Plain HTML with one inline style sheet, allowed by its hash in the Content-Security-Policy; no
script, no external resource. Every value shown is HTML-escaped. Each form carries a
single-use CSRF token issued for that rendering.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from html import escape
from typing import Final

from .._html import page_headers
from .server import Response

__all__ = [
    "PAGE_HEADERS",
    "consent_page",
    "device_entry_page",
    "message_page",
    "page",
    "pin_page",
]

SCOPE_TEXT: Final = {
    "profile": "See your user name",
    "email": "See your e-mail address",
    "read": "Read your data",
    "write": "Change your data",
}

_CSS: Final = """
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1d2330;--muted:#5d6577;
--line:#dfe2e8;--accent:#2457d6;--accent-fg:#fff;--warn:#b42318;--ok:#067647;--code:#eef1f6}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2128;--fg:#e7e9ee;
--muted:#9aa3b5;--line:#313743;--accent:#6b93ff;--accent-fg:#0d1220;--warn:#f97066;
--ok:#47cd89;--code:#262b35}}
*{box-sizing:border-box}
body{margin:0;padding:1.5rem 0;min-height:100vh;display:flex;align-items:center;
justify-content:center;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:min(28rem,calc(100vw - 2rem));background:var(--card);border:1px solid var(--line);
border-radius:14px;padding:2rem;box-shadow:0 8px 30px rgba(0,0,0,.08)}
.brand{font-size:.8rem;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);
margin:0 0 .75rem}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 1rem}
p{margin:.5rem 0}
.muted{color:var(--muted);font-size:.9rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.35rem 1rem;margin:1rem 0;
font-size:.95rem}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
ul.scopes{margin:.25rem 0 1rem;padding-left:1.2rem}
label{display:block;font-weight:600;margin:1rem 0 .35rem}
input[type=text]{width:100%;padding:.6rem .75rem;font:inherit;color:inherit;
background:transparent;border:1px solid var(--line);border-radius:8px}
input[type=text]:focus{outline:2px solid var(--accent);outline-offset:1px}
.actions{display:flex;flex-direction:row-reverse;gap:.75rem;margin-top:1.5rem}
button{flex:1;padding:.65rem 1rem;font:inherit;font-weight:600;border-radius:8px;
cursor:pointer;border:1px solid var(--line);background:transparent;color:inherit}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-fg)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);
padding:.1rem .35rem;border-radius:5px}
code#pin,code.big{display:block;text-align:center;font-size:1.6rem;letter-spacing:.12em;
padding:.8rem;margin:1rem 0}
.error{color:var(--warn)}
.ok{color:var(--ok)}
footer{margin-top:1.5rem;padding-top:1rem;border-top:1px solid var(--line);
color:var(--muted);font-size:.8rem}
"""
_CSS_HASH: Final = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()

#: Sent with every page: no caching, no referrer (the URLs carry codes and tokens), no
#: framing (clickjacking on the consent buttons), no sniffing, and a CSP that allows only
#: the inline style sheet above. No ``form-action``: browsers apply it to the redirect that
#: follows the form, which goes to the client's redirect URI.
PAGE_HEADERS: Final = page_headers(
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; frame-ancestors 'none'"
)

_FOOTER: Final = (
    "<footer>oauthkit sandbox — a local OAuth provider for development. No password: "
    "any user name signs in.</footer>"
)


def page(status: int, title: str, body: str) -> Response:
    """A whole page around ``body`` (already escaped HTML)."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · oauthkit sandbox</title><style>{_CSS}</style></head>"
        f'<body><main><p class="brand">oauthkit sandbox</p>{body}{_FOOTER}</main></body></html>'
    )
    return Response(status, list(PAGE_HEADERS), html.encode())


def _details(rows: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def _scopes(scopes: Sequence[str]) -> str:
    if not scopes:
        return ""
    items = "".join(
        f"<li>{escape(SCOPE_TEXT.get(s, s))} <code>{escape(s)}</code></li>" for s in scopes
    )
    return f'<p>It asks to:</p><ul class="scopes">{items}</ul>'


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def consent_page(
    *,
    action: str,
    csrf: str,
    client_name: str,
    details: Sequence[tuple[str, str]],
    scopes: Sequence[str] = (),
    user: str = "alice",
) -> Response:
    """Sign in (a user name, no password) and approve or deny ``client_name``'s request."""
    body = (
        f"<h1>Sign in to let <strong>{escape(client_name)}</strong> access your account</h1>"
        f"{_details(details)}{_scopes(scopes)}"
        f'<form method="post" action="{escape(action)}">'
        f"{_hidden('csrf_token', csrf)}"
        '<label for="user">User name</label>'
        f'<input type="text" id="user" name="user" value="{escape(user)}" required '
        'maxlength="64" autocomplete="username" autofocus>'
        '<div class="actions">'
        # Approve comes first: Enter in the text field presses the form's first button.
        '<button type="submit" name="action" value="approve" class="primary">Approve</button>'
        '<button type="submit" name="action" value="deny">Deny</button>'
        "</div></form>"
    )
    return page(200, f"Authorize {client_name}", body)


def device_entry_page(*, csrf: str, user_code: str = "", error: str | None = None) -> Response:
    """RFC 8628 §3.3: where the user types the code their device shows."""
    problem = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    body = (
        "<h1>Connect a device</h1>"
        "<p>Enter the code shown on your device.</p>"
        f"{problem}"
        '<form method="post" action="/device">'
        f"{_hidden('csrf_token', csrf)}"
        '<label for="user_code">Code</label>'
        f'<input type="text" id="user_code" name="user_code" value="{escape(user_code)}" '
        'required maxlength="32" autocomplete="off" autocapitalize="characters" autofocus '
        'placeholder="XXXX-XXXX">'
        '<div class="actions">'
        '<button type="submit" name="action" value="lookup" class="primary">Continue</button>'
        "</div></form>"
    )
    return page(400 if error else 200, "Connect a device", body)


def pin_page(pin: str) -> Response:
    """RFC 5849 §2.2, ``oob`` callback: the verifier for the user to type into the app."""
    body = (
        '<h1 class="ok">Access granted</h1>'
        "<p>Enter this code in the application to finish:</p>"
        f'<code id="pin">{escape(pin)}</code>'
    )
    return page(200, "Access granted", body)


def message_page(status: int, title: str, text: str, *, element_id: str = "message") -> Response:
    """A short message (done, denied, or an error that must not be redirected)."""
    css = "error" if status >= 400 else "ok"
    body = f'<h1 class="{css}">{escape(title)}</h1><p id="{escape(element_id)}">{escape(text)}</p>'
    return page(status, title, body)
