"""Percent-encoding and the signature base string (RFC 5849 §3.4.1, §3.6)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, quote, unquote, urlsplit

__all__ = [
    "base_string_uri",
    "encode_form",
    "encoded_base_string",
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

_UNRESERVED_RE = re.compile(r"[A-Za-z0-9._~-]*")
# str.translate table for ASCII text: unreserved characters stay, the rest become %XX.
_ASCII_ESCAPES = {
    i: chr(i) if _UNRESERVED_RE.fullmatch(chr(i)) else f"%{i:02X}" for i in range(128)
}
# A form string already encoded exactly as §3.6 would encode it (once "+" reads "%20"):
# unreserved characters and upper-case escapes of octets that are not unreserved.
_ENCODED = r"(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})*"
_FIELD = rf"{_ENCODED}(?:={_ENCODED})?"  # no optional around what may be empty: linear
# One "&" per repetition (a field may be empty): "(?:&+FIELD)*" backtracks exponentially on
# a run of "&" that fails to match — the fuzzer found that.
_CANONICAL_FORM_RE = re.compile(rf"{_FIELD}(?:&{_FIELD})*")
_ESCAPED_UNRESERVED_RE = re.compile(r"%(?:2[DE]|3[0-9]|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE])")


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8 encode, then escape every octet but ALPHA, DIGIT, ``-._~``.

    Octets that were not valid UTF-8 in a decoded query (kept as surrogate escapes by
    :func:`parse_form`) are escaped as the original octets.
    """
    if _UNRESERVED_RE.fullmatch(value):
        return value
    if value.isascii():
        return value.translate(_ASCII_ESCAPES)
    return quote(value, safe="", errors="surrogateescape")


def _unquote_plus(text: str) -> str:
    text = text.replace("+", " ")
    return unquote(text, errors="surrogateescape") if "%" in text else text


def parse_form(text: str) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` string (a query or a form body) into
    (name, value) pairs, in order, as RFC 5849 §3.4.1.3.1 asks: ``+`` is a space, a name with
    no ``=`` has an empty value, invalid UTF-8 survives as surrogate escapes."""
    pairs = []
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def encode_form(text: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form string, each decoded and then encoded per §3.6:
    what the base string needs. A string that is already in that encoding (as httpx2,
    requests and most servers write forms) is split, not decoded and encoded again."""
    canonical = text.replace("+", "%20")
    if _CANONICAL_FORM_RE.fullmatch(canonical) and not _ESCAPED_UNRESERVED_RE.search(canonical):
        return [(name, value) for name, _, value in _parts(canonical)]
    return [(percent_encode(k), percent_encode(v)) for k, v in parse_form(text)]


def _parts(text: str) -> list[tuple[str, str, str]]:
    return [part.partition("=") for part in text.split("&") if part]


def base_string_uri(url: str | SplitResult) -> str:
    """RFC 5849 §3.4.1.2: scheme and host lower-cased, a default port dropped, an IPv6 literal
    kept in brackets, the path as sent (``/`` when empty), no query, no fragment.

    ``url`` may be given already split (``urllib.parse.urlsplit``)."""
    parts = urlsplit(url) if isinstance(url, str) else url
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
    return _normalize_encoded([(percent_encode(k), percent_encode(v)) for k, v in params])


def _normalize_encoded(pairs: list[tuple[str, str]]) -> str:
    pairs.sort()
    return "&".join([f"{k}={v}" for k, v in pairs])


def encoded_base_string(method: str, url: str | SplitResult, pairs: list[tuple[str, str]]) -> str:
    """:func:`signature_base_string` for pairs already encoded per §3.6 (sorts ``pairs``)."""
    # Once encoded, names and values hold only unreserved characters and "%", so encoding the
    # normalized string a second time (§3.4.1.1 step 5) escapes "%", "=" and "&" alone.
    normalized = (
        _normalize_encoded(pairs).replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    )
    return f"{percent_encode(method.upper())}&{percent_encode(base_string_uri(url))}&{normalized}"


def signature_base_string(
    method: str, url: str | SplitResult, params: Iterable[tuple[str, str]]
) -> str:
    """RFC 5849 §3.4.1: ``METHOD&encoded-base-string-URI&encoded-normalized-parameters``.

    ``params`` are the decoded (name, value) pairs from the query, a form body and the
    ``oauth_*`` protocol parameters (without ``realm`` and ``oauth_signature``), in any order.
    The query of ``url`` itself is not read: pass its pairs in ``params``.
    """
    pairs = [(percent_encode(k), percent_encode(v)) for k, v in params]
    return encoded_base_string(method, url, pairs)
