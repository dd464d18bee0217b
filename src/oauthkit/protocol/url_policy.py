"""Which endpoint URLs may carry credentials.

RFC 5849 §3.5/§4.4 and RFC 6749 §3.1-3.2 (and RFC 9700 §2.6) require TLS wherever credentials
travel. oauthkit refuses plain http except on loopback hosts (127.0.0.0/8, ``::1``,
``localhost``), where the traffic never leaves the machine (RFC 8252 §7.3). Everything else
needs the caller to say ``allow_insecure_http=True``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from ..errors import ConfigurationError, InsecureTransportError

__all__ = ["check_endpoint", "check_split_endpoint", "is_loopback_host", "is_under"]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``), 127.0.0.0/8 and ``::1``."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").rstrip("."), port


def is_under(url: str, base: str) -> bool:
    """True when ``url`` has ``base``'s scheme, host and port and a path at or below its path
    (dot segments already resolved, as ``urllib.parse.urljoin`` does): where an API's
    credentials may go."""
    try:
        target, root = urlsplit(url), urlsplit(base)
        if _origin(target) != _origin(root):
            return False
    except ValueError:
        return False
    prefix = root.path if root.path.endswith("/") else root.path + "/"
    return target.path == root.path or target.path.startswith(prefix)


def check_endpoint(url: str, *, what: str, allow_insecure_http: bool = False) -> str:
    """Return ``url`` if it may carry credentials, else raise.

    ``what`` names the endpoint in the message (``"the token endpoint"``).
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(f"{what} is not a valid URL: {exc}") from None
    check_split_endpoint(parts, what=what, allow_insecure_http=allow_insecure_http)
    return url


def check_split_endpoint(
    parts: SplitResult, *, what: str, allow_insecure_http: bool = False
) -> None:
    """:func:`check_endpoint` for a URL already split by ``urllib.parse.urlsplit``."""
    try:
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{what} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"{what} must be an absolute http(s) URL, got {parts.geturl()!r}")
    if scheme == "http" and not allow_insecure_http and not is_loopback_host(host):
        raise InsecureTransportError(
            f"{what} uses plain http on {host}, which would expose credentials; use https, "
            "or pass allow_insecure_http=True if this is a test server on a trusted network"
        )
