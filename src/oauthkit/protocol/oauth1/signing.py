"""Signing one request: protocol parameters, signature and placement (RFC 5849 §3.1-3.5)."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import urlsplit

from ...errors import ConfigurationError
from ..http import FORM_TYPE
from ..url_policy import check_split_endpoint
from .credentials import OAuth1Credentials
from .encoding import encode_form, encoded_base_string, percent_encode
from .signature import RSA_METHODS, SIGNATURE_METHODS, sign_base_string
from .signature import body_hash as compute_body_hash

__all__ = ["PLACEMENTS", "Placement", "SignedRequest", "Signer", "make_nonce", "sign_request"]

Placement = Literal["header", "query", "body"]
PLACEMENTS: Final[tuple[str, ...]] = ("header", "query", "body")

# base64's "+" and "/" become letters: strict servers take only letters and digits.
_NONCE_TABLE = bytes.maketrans(b"+/", b"pq")


def make_nonce() -> str:
    """A nonce of 24 letters and digits from 144 random bits of :mod:`secrets` (RFC 5849
    §3.3); folding base64's two symbols into letters leaves more than 142 bits."""
    return base64.b64encode(secrets.token_bytes(18)).translate(_NONCE_TABLE).decode("ascii")


@dataclass(frozen=True, slots=True, repr=False)
class SignedRequest:
    """What to send: the URL (with the protocol parameters for ``placement="query"``), all
    headers (``Authorization`` for ``"header"``) and the body (``None`` if there was none)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    def __repr__(self) -> str:
        return f"SignedRequest({self.method} {self.url.split('?', 1)[0]})"


def _content_type(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The Content-Type header's name as given and its media type (lower-case, no params)."""
    for name, value in headers.items():
        if name.lower() == "content-type":
            return name, value.split(";", 1)[0].strip().lower()
    return None, None


def _as_bytes(body: bytes | str | None) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise ConfigurationError(
        "only a body given as bytes or str can be signed; read a stream or a file first"
    )


def _check_settings(signature_method: str, placement: str) -> None:
    if signature_method not in SIGNATURE_METHODS:
        raise ConfigurationError(
            f"unknown signature method {signature_method!r}; "
            f"use one of {', '.join(SIGNATURE_METHODS)}"
        )
    if placement not in PLACEMENTS:
        raise ConfigurationError(f"placement must be one of {', '.join(PLACEMENTS)}")


_TOKEN_ONLY_HINT = (
    " (stored credentials hold only the token credentials: sign through OAuth1Client, which "
    "adds its own client credentials, or client.credentials(token, token_secret))"
)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    *,
    credentials: OAuth1Credentials,
    signature_method: str = "HMAC-SHA1",
    placement: Placement = "header",
    realm: str | None = None,
    callback: str | None = None,
    verifier: str | None = None,
    nonce: str | None = None,
    timestamp: str | int | None = None,
    body_hash: bool = False,
    allow_insecure_http: bool = False,
) -> SignedRequest:
    """Sign a request per RFC 5849 §3 and return what to send.

    The signature covers the method, the base string URI (§3.4.1.2), the query, a single-part
    ``application/x-www-form-urlencoded`` body (§3.4.1.3.1) and the protocol parameters. Any
    other body (JSON, XML, multipart) is *not* covered by the signature; pass
    ``body_hash=True`` to add ``oauth_body_hash`` for it (Body Hash extension; form bodies
    never carry one). ``placement`` puts the protocol parameters in the Authorization header
    (§3.5.1), the query (§3.5.3) or the form body (§3.5.2). ``nonce`` and ``timestamp`` are for
    tests; by default a 144-bit random nonce and the current time are used.

    Plain http is refused (any signature method, PLAINTEXT included) unless the host is
    loopback or ``allow_insecure_http=True``.
    """
    _check_settings(signature_method, placement)
    if signature_method in RSA_METHODS:
        if credentials.rsa_key is None:
            raise ConfigurationError(
                f"{signature_method} needs credentials with an rsa_key{_TOKEN_ONLY_HINT}"
            )
    elif credentials.consumer_secret is None:
        raise ConfigurationError(
            f"{signature_method} needs credentials with a consumer_secret{_TOKEN_ONLY_HINT}"
        )
    url = url.partition("#")[0]
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(f"the request URL is not a valid URL: {exc}") from None
    check_split_endpoint(parts, what="the request URL", allow_insecure_http=allow_insecure_http)

    method = method.upper()
    out_headers = dict(headers) if headers else {}
    raw_body = _as_bytes(body)
    ct_name, media_type = _content_type(out_headers)
    is_form = media_type == FORM_TYPE
    if placement == "body":
        if method in ("GET", "HEAD"):
            raise ConfigurationError(
                f"placement='body' needs a form body, and a {method} request has none "
                "(RFC 5849 §3.5.2); sign it with placement 'header' or 'query'"
            )
        if media_type is None and not raw_body:
            out_headers["Content-Type"] = FORM_TYPE
            is_form = True
        elif not is_form:
            raise ConfigurationError(
                "placement='body' needs an application/x-www-form-urlencoded body "
                "(RFC 5849 §3.5.2); use 'header' or 'query' for other bodies"
            )

    pairs = encode_form(parts.query) if parts.query else []
    if is_form and raw_body:
        pairs += encode_form(raw_body.decode("utf-8", "surrogateescape"))

    oauth: list[tuple[str, str]] = [("oauth_consumer_key", credentials.consumer_key)]
    if credentials.token is not None:
        oauth.append(("oauth_token", credentials.token))
    oauth += [
        ("oauth_signature_method", signature_method),
        ("oauth_timestamp", str(int(time.time())) if timestamp is None else str(timestamp)),
        ("oauth_nonce", make_nonce() if nonce is None else nonce),
        ("oauth_version", "1.0"),
    ]
    if callback is not None:
        oauth.append(("oauth_callback", callback))
    if verifier is not None:
        oauth.append(("oauth_verifier", verifier))
    if body_hash and not is_form:
        oauth.append(("oauth_body_hash", compute_body_hash(signature_method, raw_body or b"")))

    # Protocol parameter names are unreserved; their values are encoded once, for the base
    # string and for the placement alike.
    encoded = [(k, percent_encode(v)) for k, v in oauth]
    base = encoded_base_string(method, parts, pairs + encoded)
    signature = sign_base_string(
        signature_method,
        base,
        consumer_secret=credentials.consumer_secret or "",
        token_secret=credentials.token_secret or "",
        rsa_key=credentials.rsa_key,
    )
    encoded.append(("oauth_signature", percent_encode(signature)))

    if placement == "header":
        fields = [f'realm="{_quote_realm(realm)}"'] if realm is not None else []
        fields += [f'{k}="{v}"' for k, v in encoded]
        for name in [n for n in out_headers if n.lower() == "authorization"]:
            del out_headers[name]
        out_headers["Authorization"] = "OAuth " + ", ".join(fields)
        return SignedRequest(method, url, out_headers, raw_body)
    form = "&".join([f"{k}={v}" for k, v in encoded])
    if placement == "query":
        separator = "&" if parts.query else ("" if url.endswith("?") else "?")
        url = f"{url}{separator}{form}"
        return SignedRequest(method, url, out_headers, raw_body)
    new_body = f"{raw_body.decode('ascii', 'surrogateescape')}&{form}" if raw_body else form
    body_bytes = new_body.encode("ascii", "surrogateescape")
    for name in [n for n in out_headers if n.lower() == "content-length"]:
        out_headers[name] = str(len(body_bytes))
    if ct_name is None and "Content-Type" not in out_headers:
        out_headers["Content-Type"] = FORM_TYPE
    return SignedRequest(method, url, out_headers, body_bytes)


def _quote_realm(realm: str) -> str:
    """``realm`` is a quoted-string (RFC 2617 §1.2): escape backslashes and quotes."""
    return realm.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True, slots=True)
class Signer:
    """How a client signs: method, placement, realm, body hash, transport policy and clock.

    One value shared by the flow steps and the auth classes, so that every request a client
    makes is signed the same way.
    """

    signature_method: str = "HMAC-SHA1"
    placement: Placement = "header"
    realm: str | None = None
    body_hash: bool = False
    allow_insecure_http: bool = False
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        _check_settings(self.signature_method, self.placement)

    def sign(
        self,
        credentials: OAuth1Credentials,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        *,
        callback: str | None = None,
        verifier: str | None = None,
    ) -> SignedRequest:
        """:func:`sign_request` with this signer's settings and clock."""
        return sign_request(
            method,
            url,
            headers,
            body,
            credentials=credentials,
            signature_method=self.signature_method,
            placement=self.placement,
            realm=self.realm,
            callback=callback,
            verifier=verifier,
            timestamp=int(self.clock()),
            body_hash=self.body_hash,
            allow_insecure_http=self.allow_insecure_http,
        )
