"""Adapters for the requests library (extra ``requests``): sign a ``requests.Session``'s
requests with the same core as the httpx2 classes."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
import requests.auth

from ..protocol.oauth1.credentials import OAuth1Credentials
from ..protocol.oauth1.signing import Placement, Signer

__all__ = ["RequestsOAuth1Auth"]


class RequestsOAuth1Auth(requests.auth.AuthBase):
    """A ``requests`` auth that signs each request with ``credentials`` (RFC 5849 §3).

    ``session.auth = RequestsOAuth1Auth(creds)``. Bodies must be bytes or str (requests'
    ``data=`` dicts and ``json=`` are); a streamed body cannot be signed.
    """

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
