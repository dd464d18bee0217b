"""``OAuth1Auth``: sign every request an httpx2 client sends (RFC 5849 §3)."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import httpx2

from ..protocol.http import FORM_TYPE
from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth1.signing import Placement, Signer

__all__ = ["OAuth1Auth"]


class OAuth1Auth(httpx2.Auth):
    """An ``httpx2.Auth`` that signs each request with ``credentials`` (RFC 5849 §3).

    Use it with your own client: ``httpx2.Client(auth=OAuth1Auth(creds))``, or take one from
    ``OAuth1Client.auth(creds)``. A form body is signed; any other body is not (add
    ``body_hash=True`` for an ``oauth_body_hash``).
    """

    requires_request_body = True

    def __init__(
        self,
        credentials: OAuth1Credentials,
        *,
        signature_method: str = "HMAC-SHA1",
        placement: Placement = "header",
        realm: str | None = None,
        body_hash: bool = False,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.time,
        signer: Signer | None = None,
    ) -> None:
        self.credentials = credentials
        self.signer = signer or Signer(
            signature_method=signature_method,
            placement=placement,
            realm=realm,
            body_hash=body_hash,
            allow_insecure_http=allow_insecure_http,
            clock=clock,
        )

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        """Sign ``request`` and send it (RFC 5849 §3.5: header, query or form body)."""
        signed = self.signer.sign(
            self.credentials, request.method, str(request.url), request.headers, request.content
        )
        if self.signer.placement == "header":
            request.headers["Authorization"] = signed.headers["Authorization"]
        elif self.signer.placement == "query":
            request.url = type(request.url)(signed.url)  # httpx2's URL, or httpx's
        else:
            headers = [
                (k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"
            ]
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", FORM_TYPE))
            request = type(request)(  # httpx2's Request, or httpx's (oauthkit.auth.httpx)
                request.method,
                request.url,
                headers=headers,
                content=signed.body or b"",
                extensions=request.extensions,
            )
        yield request

    def __repr__(self) -> str:
        return f"OAuth1Auth({self.credentials!r}, {self.signer.signature_method})"
