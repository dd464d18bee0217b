"""Transient failures, tried again: the :class:`Retry` policy and the step that applies it.

A server that cannot answer now says so — HTTP 429 (RFC 6585 §4) or 5xx (RFC 9110 §15.6), an
RFC 6749 §5.2 ``temporarily_unavailable`` (or ``server_error``) — often with ``Retry-After``
(RFC 9110 §10.2.3: seconds, or an HTTP date). A connection that fails before the request
left is the same kind of failure. :func:`retrying` sends such a request again, after a wait
that grows exponentially with jitter, or the one the server asked for; never longer than
:attr:`Retry.max_wait` in all.

Whether a request may be sent again is said by the step that sends it (its
:data:`RetryClass`):

* ``"never"`` (the default): a single-use request — an authorization code's exchange, a
  pushed authorization request, a device or CIBA poll (their own protocol paces them), a
  dynamic registration, OAuth 1.0a's requests;
* ``"unsent"``: tried again only when the server certainly did not act on it — an answer of
  429, 5xx or ``temporarily_unavailable``, or a connection that failed before the request
  left; never after an answer was lost (a refresh the server may have rotated);
* ``"idempotent"``: also after a lost answer — metadata, JWKS and userinfo reads,
  introspection, revocation.

The step is sans-I/O like every other: it yields :class:`~oauthkit.protocol.http.Wait` for
the pauses, and a driver throws a :class:`~oauthkit.errors.TransportError` back into it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Literal

from ..errors import ConfigurationError, TransportError
from .http import HttpRequest, HttpResponse, Step, Wait, fetch
from .jsontext import JSONTextError, loads

__all__ = [
    "DEFAULT_RETRY",
    "RETRY_CODES",
    "Retry",
    "RetryClass",
    "fetched",
    "numbered",
    "retry_after",
    "retrying",
    "transient",
]

#: What the policy may do with a request (see the module docstring).
RetryClass = Literal["never", "unsent", "idempotent"]
#: RFC 6749 §5.2 / §4.1.2.1 error codes that say "not now" rather than "no".
RETRY_CODES = frozenset({"temporarily_unavailable", "server_error"})

log = logging.getLogger("oauthkit.http")


@dataclass(frozen=True, slots=True)
class Retry:
    """How transient failures are tried again: at most ``attempts`` sends in all; the first
    wait ``backoff`` seconds, doubling each time, with jitter (×0.5 to ×1.5); a server's
    ``Retry-After`` instead when it gives one; never more than ``max_wait`` seconds of
    waiting in all — a server that asks for longer is not waited for, and its
    :class:`~oauthkit.errors.TemporarilyUnavailable` carries the ``retry_after`` it asked.
    ``Retry(attempts=1)`` sends once."""

    attempts: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0
    #: The jitter's source of numbers in [0, 1) (a test passes a fixed one).
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("Retry(attempts=…) is at least 1 (one send, no retry)")
        if self.backoff < 0 or self.max_wait < 0:
            raise ConfigurationError("Retry's backoff and max_wait are seconds, not negative")

    def delay(self, attempt: int, asked: float | None) -> float:
        """The wait before send number ``attempt + 1``: the server's ``asked`` seconds, or
        ``backoff × 2^(attempt-1)`` with jitter."""
        if asked is not None:
            return asked
        jitter: float = 0.5 + self.random()
        return float(self.backoff * 2 ** (attempt - 1) * jitter)


#: The policy of every client that names none.
DEFAULT_RETRY = Retry()


def retry_after(response: HttpResponse, now: float | None = None) -> float | None:
    """RFC 9110 §10.2.3: the answer's ``Retry-After`` in seconds from ``now`` (epoch
    seconds; default the clock), from delta-seconds or an HTTP date; ``None`` when absent or
    unreadable. A date in the past is 0."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(min(int(value[:12]), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def transient(response: HttpResponse) -> bool:
    """Whether the answer says "not now": HTTP 429 or 5xx, or an RFC 6749 §5.2 error of
    :data:`RETRY_CODES`."""
    if response.status_code == 429 or response.status_code >= 500:
        return True
    if not 400 <= response.status_code < 500 or b"error" not in response.body:
        return False
    try:
        fields = loads(response.body)
    except JSONTextError:
        return False
    error = fields.get("error") if isinstance(fields, dict) else None
    return isinstance(error, str) and error in RETRY_CODES


def retrying(
    policy: Retry | None, make: Callable[[int], Step[HttpResponse]], what: RetryClass
) -> Step[HttpResponse]:
    """``make(attempt)`` (a fresh request each time: a client assertion or a DPoP proof is
    never sent twice) until it answers, sent again under ``policy`` as far as ``what``
    allows (see the module docstring). The last answer is returned as it is, a transient one
    too (the caller raises :class:`~oauthkit.errors.TemporarilyUnavailable` from it); a
    :class:`~oauthkit.errors.TransportError` not to be retried is raised."""
    attempt, waited = 1, 0.0
    while True:
        try:
            response = yield from make(attempt)
        except TransportError as exc:
            may = what == "idempotent" or (what == "unsent" and not exc.sent)
            if policy is None or not may or attempt >= policy.attempts:
                raise
            pause = policy.delay(attempt, None)
            if waited + pause > policy.max_wait:
                raise
            reason = "the connection failed"
        else:
            if policy is None or what == "never" or attempt >= policy.attempts:
                return response
            if not transient(response):
                return response
            asked = retry_after(response)
            pause = policy.delay(attempt, asked)
            if waited + pause > policy.max_wait:
                return response  # asked for longer than we wait: the caller says so
            reason = f"HTTP {response.status_code}"
        log.info(
            "%s; trying again in %.2f s (send %d of %d)",
            reason,
            pause,
            attempt + 1,
            policy.attempts,
        )
        if pause > 0:
            yield Wait(pause)
        waited += pause
        attempt += 1


def numbered(request: HttpRequest, attempt: int) -> HttpRequest:
    """``request`` as send number ``attempt`` (for the drivers' logs and traces)."""
    return request if attempt == 1 else replace(request, attempt=attempt)


def fetched(policy: Retry | None, request: HttpRequest, what: RetryClass) -> Step[HttpResponse]:
    """:func:`retrying` for a request that may go out unchanged each time (nothing in it is
    single-use: a metadata or JWKS read)."""
    return retrying(policy, lambda attempt: fetch(numbered(request, attempt)), what)
