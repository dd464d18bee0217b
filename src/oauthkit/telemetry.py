"""Traces and metrics through OpenTelemetry (extra ``otel``), when the application set a
tracer or meter provider; without the package, nothing at all.

Spans, each named ``oauthkit …``: every request oauthkit makes to an authorization server
(``oauthkit token``, ``oauthkit discovery``, ``oauthkit jwks``, ``oauthkit userinfo``, …,
with ``http.request.method``, ``server.address``, ``url.path``, ``oauthkit.grant_type``,
``oauthkit.attempt``, ``http.response.status_code`` and ``oauthkit.outcome``); a
:class:`~oauthkit.Session`'s renewal (``oauthkit renewal``: ``oauthkit.lock_wait_ms``,
``oauthkit.outcome`` from :mod:`oauthkit.session.outcomes`); a web flow's callback
(``oauthkit callback``: ``oauthkit.provider``, ``oauthkit.outcome``). Counters:
``oauthkit.renewals`` (by outcome), ``oauthkit.retries``, ``oauthkit.refusals``.

Never a token, a code, a secret, a user's key or a URL's query: attributes are chosen from
what the protocol says, not copied from requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from ._version import __version__

__all__ = ["Span", "count", "span"]

try:  # the extra "otel"
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - depends on the installed extras
    _metrics = None  # type: ignore[assignment]
    _trace = None  # type: ignore[assignment]

Attributes = Mapping[str, str | int | float | bool]


class Span(Protocol):
    """What oauthkit does with a span: set attributes as it learns them."""

    def set_attribute(self, key: str, value: Any) -> None: ...


class _Quiet:
    """The span of a program without OpenTelemetry."""

    def set_attribute(self, key: str, value: Any) -> None:
        return None


_QUIET = _Quiet()
_counters: dict[str, Any] = {}


@contextlib.contextmanager
def span(name: str, attributes: Attributes) -> Iterator[Span]:
    """A span ``name`` with ``attributes`` around the block (the current one, so that spans
    inside it are its children). An exception sets the span's status to an error named by
    the exception's class only (its message is not recorded)."""
    if _trace is None:
        yield _QUIET
        return
    tracer = _trace.get_tracer("oauthkit", __version__)
    with tracer.start_as_current_span(
        name, attributes=dict(attributes), record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_attribute("error.type", type(exc).__name__)
            current.set_status(_trace.Status(_trace.StatusCode.ERROR, type(exc).__name__))
            raise


def count(name: str, attributes: Attributes) -> None:
    """Add one to the counter ``name``."""
    if _metrics is None:
        return
    counter = _counters.get(name)
    if counter is None:
        meter = _metrics.get_meter("oauthkit", __version__)
        counter = _counters[name] = meter.create_counter(name)
    counter.add(1, dict(attributes))
