"""Which endpoint URLs may carry credentials.

RFC 5849 §3.5/§4.4 and RFC 6749 §3.1-3.2 (and RFC 9700 §2.6) require TLS wherever credentials
travel. oauthkit refuses plain http except on loopback hosts (127.0.0.0/8, ``::1``,
``localhost``), where the traffic never leaves the machine (RFC 8252 §7.3). Everything else
needs the caller to say ``allow_insecure_http=True``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ..errors import ConfigurationError, InsecureTransportError

__all__ = [
    "LOCAL",
    "PRIVATE",
    "PUBLIC",
    "check_endpoint",
    "check_named_endpoint",
    "check_split_endpoint",
    "is_loopback_host",
    "is_under",
    "locality",
    "remove_dot_segments",
    "under",
]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``; a name under ``.localhost`` only if it
    resolves to loopback addresses or not at all (RFC 6761 §6.3 asks resolvers to keep such
    names local; some send them to DNS)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    if host.endswith(".localhost"):
        return _resolves_locally(host)
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=64)
def _resolves_locally(name: str) -> bool:
    """Whether ``name`` resolves only to loopback addresses, or not at all (then nothing can
    be reached through it). The one lookup of this module, for ``*.localhost`` names only."""
    try:
        found = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return True
    return all(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in found)


#: How local a host is (:func:`locality`): the open Internet, a private network, this machine.
PUBLIC, PRIVATE, LOCAL = 0, 1, 2
#: RFC 6598 shared address space (carrier-grade NAT): private, though Python does not say so.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a numeric host names, in any form a resolver accepts (``127.1``,
    ``0x7f.1``, ``2130706433`` are all 127.0.0.1), or ``None`` for a name."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if not host or not (host[0].isdigit() and host.replace(".", "").isalnum()):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def locality(host: str) -> int:
    """:data:`LOCAL` for this machine (``localhost``, ``*.localhost``, loopback, link-local
    and unspecified addresses), :data:`PRIVATE` for a private network (RFC 1918, RFC 4193,
    RFC 6598, reserved), :data:`PUBLIC` for anything else — a name included (what it resolves
    to is the resolver's; an endpoint named by a server is https, whose certificate must
    match the name)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return LOCAL
    address = _address(host)
    if address is None:
        return PUBLIC
    if address.is_loopback or address.is_link_local or address.is_unspecified:
        return LOCAL
    if address.is_private or address.is_reserved or address.is_multicast or address in _SHARED:
        return PRIVATE
    return PUBLIC


def check_named_endpoint(
    url: str, *, named_by: str, what: str, allow_insecure_http: bool = False
) -> str:
    """:func:`check_endpoint` for a URL that a server named (RFC 8414 metadata, RFC 9728
    resource metadata, an RFC 7591 registration answer), not the user: it may be no more
    local than the server that named it (RFC 9728 §7, RFC 8414 §6) — a public server never
    sends our requests (with a code, a verifier, a registration token) to this machine or to
    its private network. A server the user configured on loopback or a private address (a
    development setup) may name endpoints there."""
    check_endpoint(url, what=what, allow_insecure_http=allow_insecure_http)
    host = urlsplit(url).hostname or ""
    try:
        namer = urlsplit(named_by).hostname or ""
    except ValueError:
        namer = ""
    if locality(host) > locality(namer):
        where = "this machine" if locality(host) == LOCAL else "a private network"
        raise InsecureTransportError(
            f"{what} ({url[:120]!r}) is on {where}, named by {named_by[:120]!r}, which is "
            "not: a remote server does not choose where requests go on this side"
        )
    return url


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").rstrip("."), port


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: ``path`` with its ``.`` and ``..`` segments resolved."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1 or (output and output[0] != ""):
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return "/" + result.lstrip("/") if path.startswith("/") else result


#: A percent-encoded dot (RFC 3986 §2.3: unreserved, so equivalent to "." — §6.2.2.2).
_ENCODED_DOT = re.compile("%2e", re.IGNORECASE)
#: A percent-encoded slash: data inside a segment, which some servers decode all the same.
_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)


def under(url: str, base: str) -> str | None:
    """``url`` normalized — percent-encoded dots decoded, then dot segments removed (RFC 3986
    §6.2.2.2, §5.2.4), as a server or a proxy will read it — if it has ``base``'s scheme,
    host and port and a path at or below ``base``'s path: where an API's credentials may go.
    ``None`` otherwise, and for any backslash (``\\`` or ``%5C``), which WHATWG URL parsing
    turns into a ``/``."""
    if "\\" in url or "%5c" in url.lower():
        return None
    try:
        target, root = urlsplit(url), urlsplit(base)
        if _origin(target) != _origin(root):
            return None
    except ValueError:
        return None
    path = remove_dot_segments(_ENCODED_DOT.sub(".", target.path))
    prefix = root.path if root.path.endswith("/") else root.path + "/"

    def inside(candidate: str) -> bool:
        return candidate == root.path or candidate.startswith(prefix)

    # A server that decodes %2F before resolving dot segments reads "..%2F" as "../": the
    # path must stay under the base read that way too (GitLab's "group%2Fproject" does).
    if not inside(path) or not inside(remove_dot_segments(_ENCODED_SLASH.sub("/", path))):
        return None
    return urlunsplit((target.scheme, target.netloc, path, target.query, target.fragment))


def is_under(url: str, base: str) -> bool:
    """Whether ``url`` is under ``base`` (see :func:`under`)."""
    return under(url, base) is not None


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
