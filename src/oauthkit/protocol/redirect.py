"""The redirect back to the client, as the person's browser (or a pasted address, or a web
framework's request) hands it over: its query, read under a length cap. OAuth 2
(:func:`~oauthkit.protocol.oauth2.authorization.parse_callback_parameters`) and OAuth 1.0a
(:func:`~oauthkit.protocol.oauth1.flow.parse_callback`) both start here."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import CallbackError

__all__ = ["MAX_CALLBACK", "callback_query"]

#: The longest callback URL (or query, or form_post body) read; real ones are a few hundred
#: characters, a signed response (JARM) a few thousand.
MAX_CALLBACK = 64 * 1024


def callback_query(callback: str) -> str:
    """The query of ``callback`` — a full URL, a path with a query, or a query string with
    or without its ``?`` — or :class:`~oauthkit.errors.CallbackError`."""
    if len(callback) > MAX_CALLBACK:
        raise CallbackError(f"the callback is longer than {MAX_CALLBACK} characters")
    text = callback.strip()
    if "://" in text or text.startswith("/"):
        try:
            text = urlsplit(text).query
        except ValueError as exc:
            raise CallbackError(f"the callback is not a valid URL: {exc}") from None
    return text.lstrip("?")
