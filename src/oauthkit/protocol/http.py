"""The two values a protocol step exchanges with its driver, and the step type itself.

A step is a generator: it yields an :class:`HttpRequest`, receives the :class:`HttpResponse`
through ``send()``, and finally returns its result. The same step serves sync and async code;
only the driver that runs it differs (see :mod:`oauthkit.drivers`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from .redaction import request_secrets

__all__ = [
    "FORM_TYPE",
    "MAX_BODY",
    "HttpRequest",
    "HttpResponse",
    "Step",
    "Wait",
    "add_query",
    "fetch",
]

#: The media type of a form body (RFC 6749 §3.2, RFC 5849 §3.4.1.3.1).
FORM_TYPE = "application/x-www-form-urlencoded"

T = TypeVar("T")

#: A protocol step: yields requests (and waits), receives responses, returns a result.
Step = Generator["HttpRequest | Wait", "HttpResponse | None", T]

#: The largest response body a driver reads for a protocol step (1 MiB).
MAX_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request a protocol step wants sent. Never followed through redirects.

    ``secrets`` are values the step knows but that the request may not show as such (a
    client or consumer secret that only keys a signature): with the secrets found in the
    request itself (see :func:`~oauthkit.protocol.redaction.request_secrets`) they are
    scrubbed from every error message about the answer.

    ``operation`` (``"token"``, ``"discovery"``, ``"jwks"``, ``"userinfo"``, …) and
    ``grant_type`` say what the request is for, and ``attempt`` which send of it this is
    (:mod:`oauthkit.protocol.retry`), in the drivers' logs and traces."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    secrets: frozenset[str] = field(default=frozenset(), compare=False)
    operation: str = field(default="", compare=False)
    grant_type: str | None = field(default=None, compare=False)
    attempt: int = field(default=1, compare=False)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def __repr__(self) -> str:
        # Headers and body may carry credentials: show neither.
        return f"HttpRequest({self.method} {self.url.split('?', 1)[0]})"


@dataclass(frozen=True, slots=True)
class Wait:
    """A step asks its driver to pause (RFC 8628 §3.5 polling); the driver sends ``None``
    back. Sync drivers sleep, async drivers await."""

    seconds: float


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back: status, headers (names lower-cased) and the body, read in full up to
    :data:`MAX_BODY` bytes. ``secrets`` are the values the request carried or was keyed
    with (set by :func:`fetch`): an error built from this response never shows them."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    url: str = ""
    secrets: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def build(
        cls,
        status_code: int,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
        url: str = "",
    ) -> HttpResponse:
        """Make a response, lower-casing header names (repeated headers are joined by ``, ``)."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        merged: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return cls(status_code, merged, body, url)

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def __repr__(self) -> str:
        return f"HttpResponse({self.status_code}, {len(self.body)} bytes)"


def fetch(request: HttpRequest) -> Step[HttpResponse]:
    """Yield ``request`` and return the response the driver sends back
    (``response = yield from fetch(request)``), marked with the secrets of the request so
    that no error message about it can show them."""
    response = yield request
    if not isinstance(response, HttpResponse):
        raise TypeError("a driver must answer an HttpRequest with an HttpResponse")
    form = request.body if request.header("content-type") and _is_form(request) else b""
    carried = request_secrets(request.secrets, request.header("authorization"), request.url, form)
    return replace(response, secrets=response.secrets | carried)


def _is_form(request: HttpRequest) -> bool:
    media = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    return media == FORM_TYPE


def add_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """``url`` with ``params`` form-encoded after its own query (which is kept as it is)."""
    parts = urlsplit(url)
    query = urlencode(list(params))
    if parts.query:
        query = f"{parts.query}&{query}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
