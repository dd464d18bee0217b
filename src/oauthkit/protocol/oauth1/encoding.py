"""Percent-encoding and the signature base string (RFC 5849 §3.4.1, §3.6)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = [
    "base_string_uri",
    "normalize_parameters",
    "parse_form",
    "percent_encode",
    "signature_base_string",
]

# Characters a client may leave unescaped in a path on the wire (RFC 3986 §3.3 pchar plus "/"
# and "%" so existing escapes survive). Anything else (spaces, non-ASCII) is escaped as UTF-8,
# exactly as the HTTP layer will send it.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"

_DEFAULT_PORTS = {"http": 80, "https": 443}


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8 encode, then escape every octet but ALPHA, DIGIT, ``-._~``.

    Octets that were not valid UTF-8 in a decoded query (kept as surrogate escapes by
    :func:`parse_form`) are escaped as the original octets.
    """
    return quote(value, safe="", errors="surrogateescape")


def parse_form(text: str) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` string (a query or a form body) into
    (name, value) pairs, in order, as RFC 5849 §3.4.1.3.1 asks: ``+`` is a space, a name with
    no ``=`` has an empty value, invalid UTF-8 survives as surrogate escapes."""
    return parse_qsl(text, keep_blank_values=True, errors="surrogateescape")


def base_string_uri(url: str) -> str:
    """RFC 5849 §3.4.1.2: scheme and host lower-cased, a default port dropped, an IPv6 literal
    kept in brackets, the path as sent (``/`` when empty), no query, no fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    authority = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = quote(parts.path, safe=_PATH_SAFE, errors="surrogateescape") or "/"
    return f"{scheme}://{authority}{path}"


def normalize_parameters(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: encode every name and value, sort by name then value, join."""
    encoded = sorted([(percent_encode(k), percent_encode(v)) for k, v in params])
    return "&".join([f"{k}={v}" for k, v in encoded])


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: ``METHOD&encoded-base-string-URI&encoded-normalized-parameters``.

    ``params`` are the decoded (name, value) pairs from the query, a form body and the
    ``oauth_*`` protocol parameters (without ``realm`` and ``oauth_signature``), in any order.
    The query of ``url`` itself is not read: pass its pairs in ``params``.
    """
    return "&".join(
        (
            percent_encode(method.upper()),
            percent_encode(base_string_uri(url)),
            percent_encode(normalize_parameters(params)),
        )
    )
