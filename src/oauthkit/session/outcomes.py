"""How a renewal ended, in one word: what the logs and traces say, and what each outcome
means for the stored refresh token (the table is in the documentation, "Tokens").

* ``renewed``: refreshed (or fetched again) and stored; the new refresh token is stored.
* ``renewed_elsewhere``: another process or machine renewed first; its token is used and
  nothing is sent.
* ``busy``: another holder is renewing and the token is still valid: it is used meanwhile,
  and the renewal is tried again shortly (refresh ahead).
* ``unreachable``: the request never reached the server, after the retries
  (:class:`~oauthkit.errors.TransportError`, ``sent`` False): the refresh token is kept.
* ``lost``: sent, but the answer was lost (a reset, the deadline): ``TransportError`` with
  ``sent``. The refresh token is kept and sent again by the next call; had the server rotated
  it, its reuse detection answers ``invalid_grant`` then, and only then is it a refusal.
* ``unavailable``: HTTP 429 or 5xx, ``temporarily_unavailable``, after the retries
  (:class:`~oauthkit.errors.TemporarilyUnavailable`): the refresh token is kept.
* ``refused``: ``invalid_grant``, or a 400/401 without an OAuth error body
  (:class:`~oauthkit.errors.ReauthenticationRequired`): the refresh token is dropped and the
  refusal stored, so that it is never sent again.
* ``client_refused``: ``invalid_client`` or ``unauthorized_client``: the app's client
  credentials are wrong, not the user's grant; the refresh token is kept.
* ``store_failed``: the store would not take the new token
  (:class:`~oauthkit.errors.StoreError`): the process keeps it and writes it at its next
  renewal.
"""

from __future__ import annotations

from typing import Literal

from ..errors import (
    InvalidClient,
    InvalidGrant,
    LockTimeout,
    ReauthenticationRequired,
    StoreError,
    TemporarilyUnavailable,
    TransportError,
    UnauthorizedClient,
)

__all__ = ["Outcome", "outcome_of"]

Outcome = Literal[
    "renewed",
    "renewed_elsewhere",
    "busy",
    "unreachable",
    "lost",
    "unavailable",
    "refused",
    "client_refused",
    "store_failed",
    "failed",
]


def outcome_of(failure: BaseException) -> Outcome:
    """The outcome a renewal that raised ``failure`` ended with (see the table above)."""
    if isinstance(failure, LockTimeout):
        return "busy"
    if isinstance(failure, TransportError):
        return "lost" if failure.sent else "unreachable"
    if isinstance(failure, TemporarilyUnavailable):
        return "unavailable"
    if isinstance(failure, ReauthenticationRequired | InvalidGrant):
        return "refused"
    if isinstance(failure, InvalidClient | UnauthorizedClient):
        return "client_refused"
    if isinstance(failure, StoreError):
        return "store_failed"
    return "failed"
