"""Adapters for the requests library (extra ``requests``): sign or authorize a
``requests.Session``'s requests with the same core as the httpx2 classes."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

try:
    import requests
    import requests.auth
except ImportError as exc:
    raise ImportError(
        "oauthkit.auth.requests needs requests: pip install 'oauthkit[requests]'"
    ) from exc

from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth1.signing import Signer
from ..protocol.oauth2.token import Token
from .oauth2 import HoldsToken, SessionBacked, check_step_up, origin_of

__all__ = [
    "RequestsOAuth1Auth",
    "RequestsOAuth2Auth",
    "RequestsSessionAuth",
]


class RequestsOAuth1Auth(requests.auth.AuthBase):
    """A ``requests`` auth that signs each request with ``credentials`` (RFC 5849 §3).

    ``session.auth = RequestsOAuth1Auth(creds)``. Bodies must be bytes or str (requests'
    ``data=`` dicts and ``json=`` are); a streamed body cannot be signed.
    """

    def __init__(
        self, credentials: OAuth1Credentials, *, signer: Signer | None = None, **options: Any
    ) -> None:
        """``options`` are :class:`~oauthkit.oauth1.Signer`'s (``signature_method``,
        ``placement``, ``realm``, ``body_hash``, ``allow_insecure_http``, ``clock``)."""
        self.credentials = credentials
        self.signer = signer or Signer(**options)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Sign the prepared request in place (RFC 5849 §3.5)."""
        signed = self.signer.sign(
            self.credentials,
            r.method or "GET",
            r.url or "",
            {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in r.headers.items()},
            r.body,
        )
        r.url = signed.url
        r.headers.clear()
        r.headers.update(signed.headers)
        if self.signer.placement == "body":
            r.body = signed.body
            r.headers["Content-Length"] = str(len(signed.body or b""))
        return r

    def __repr__(self) -> str:
        return f"RequestsOAuth1Auth({self.credentials!r}, {self.signer.signature_method})"


class RequestsOAuth2Auth(HoldsToken, requests.auth.AuthBase):
    """A ``requests`` auth carrying an OAuth 2 token (RFC 6750 §2.1), renewed like
    :class:`~oauthkit.auth.oauth2.OAuth2Auth`: when due within ``leeway`` seconds, and once
    after an ``invalid_token`` 401 from the same origin when the body can be sent again.

    ``session.auth = RequestsOAuth2Auth(client, token)`` with an ``OAuth2Client``.
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Authorize the request, renewing first when due (RFC 6750 §2.1); a DPoP-bound token
        gets a proof for this request (RFC 9449 §7.1)."""
        parts = urlsplit(r.url or "")
        self._check_url(parts.scheme, parts.hostname)
        holder = self.holder or self._sync_holder()
        current = holder.current
        if time.time() >= current.renew_at:
            current = holder.renew(current)
        self._authorize(r, current.token, current.header)
        r.register_hook("response", self._after)  # type: ignore[no-untyped-call]
        return r

    def _authorize(self, r: requests.PreparedRequest, token: Token, header: str) -> None:
        r.headers["Authorization"] = header
        if token.dpop_key is not None:
            r.headers["DPoP"] = self._dpop_proof(token, r.method or "GET", r.url or "")

    def _after(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401:
            return response
        request = response.request
        sent = request.headers.get("Authorization")
        holder = self.holder or self._sync_holder()
        current = holder.current
        _step_up(response, current.token)
        replayable = request.body is None or isinstance(request.body, bytes | str)
        if (
            not replayable
            or getattr(request, "_oauthkit_retried", False)
            or origin_of(response.url) != origin_of(request.url)
        ):
            return response
        if self._dpop_nonce_retry(
            current.token, request.url or "", response.status_code, response.headers
        ):
            pass  # RFC 9449 §9: send it again with the nonce the resource server asked for
        elif not holder.retry_after(
            response.status_code, response.headers.get("www-authenticate"), current.token
        ):
            return response
        elif sent == current.header:
            current = holder.renew(current)
        response.content  # noqa: B018 - read it so the connection can be reused
        response.close()
        retry = request.copy()
        self._authorize(retry, current.token, current.header)
        retry._oauthkit_retried = True  # type: ignore[attr-defined]
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        _step_up(again, current.token)
        return again


def _step_up(response: requests.Response, token: Token) -> None:
    """RFC 9470: see :func:`~oauthkit.auth.oauth2.check_step_up`."""
    if response.status_code == 401:
        url = urlsplit(response.url or "")._replace(query="", fragment="").geturl()
        where = f"{response.request.method} {url}"
        check_step_up(401, response.headers.get("www-authenticate"), token, where)


class RequestsSessionAuth(SessionBacked, RequestsOAuth2Auth):
    """The ``requests`` twin of ``Session.auth()``: the session's token, loaded from its
    store on first use and renewed through the session (one refresh per expiry across
    threads, processes and machines). ``requests_session.auth = session.requests_auth()``."""
