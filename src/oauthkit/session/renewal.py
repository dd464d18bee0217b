"""The renewal of one stored token, as a plan: read it under the store's lease, refresh it
(or find it renewed by another holder), and write the new one with compare-and-set before
anyone uses it — trying the write again while the store fails, and keeping what the store
would not take. :class:`~oauthkit.session.Session` drives it, sync or async; how each
renewal ends is classified in :mod:`.outcomes`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from ..errors import (
    InvalidClient,
    InvalidGrant,
    ReauthenticationRequired,
    StoreConflict,
    StoreError,
    TransportError,
    UnauthorizedClient,
)
from ..protocol.oauth2.token import Token
from ..stores.base import Entry

__all__ = [
    "FAILURES",
    "LEASE_MARGIN",
    "REFUSED",
    "SAVE_RETRY_SECONDS",
    "Refused",
    "Renewal",
    "Renewed",
    "check_not_refused",
    "lease_needed",
    "refused",
    "refused_at",
]

log = logging.getLogger("oauthkit.session")


#: The ``Token.extra`` key that records when the provider refused the refresh token.
REFUSED = "oauthkit_refused_at"


def refused(token: Token) -> Token:
    """``token`` without its refresh token, marked as refused now (ISO 8601, UTC)."""
    from datetime import UTC, datetime

    when = datetime.now(UTC).isoformat(timespec="seconds")
    return token.replace(refresh_token=None, extra={**token.extra, REFUSED: when})


def refused_at(token: Token) -> str | None:
    """When the provider refused ``token``'s refresh token, or ``None``."""
    value = token.extra.get(REFUSED)
    return value if isinstance(value, str) else None


def check_not_refused(key: str, token: Token) -> None:
    """:class:`~oauthkit.errors.ReauthenticationRequired` when ``token``'s refresh token was
    refused (the refusal is stored: nothing is sent)."""
    when = refused_at(token)
    if when is not None:
        raise ReauthenticationRequired(
            f"the provider refused the refresh token under {key!r} at {when}: sign in again"
        )


def _same_token(value: object, token: Token) -> bool:
    return isinstance(value, Token) and value.access_token == token.access_token


#: How long a renewal's lease must last from the moment it sends a request: the request's
#: whole exchange (:data:`oauthkit.drivers.READ_DEADLINE`) and a margin for the write that
#: follows its answer. It is extended to this before every request of a renewal (RFC 9700
#: §4.14.2: a refresh token sent twice may revoke the grant), so no other holder can take the
#: key over while an answer may still come.
LEASE_MARGIN = 30.0
#: How long a renewal keeps trying to store a token the provider issued when the store fails
#: (a database restarting, "database is locked"): the refresh token may have been rotated,
#: and the new one exists nowhere else.
SAVE_RETRY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Load:
    """Read the key's entry under the lock."""


@dataclass(frozen=True, slots=True)
class Renew:
    """Refresh (or fetch again) this token over HTTP, extending the lease before each
    request."""

    token: Token


@dataclass(frozen=True, slots=True)
class Refused:
    """The outcome of a refused refresh: raised once the mark is committed."""

    cause: InvalidGrant


@dataclass(frozen=True, slots=True)
class Renewed:
    """The outcome of a renewal: the token to use, and whether another holder had renewed
    it (nothing was sent)."""

    token: Token
    elsewhere: bool = False


@dataclass(frozen=True, slots=True)
class Save:
    """Compare-and-set the new token over ``version``."""

    token: Token
    version: int


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait before trying a failed write again."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Extend:
    """Keep the lease for another exchange."""


Op = Load | Renew | Save | Pause | Extend
#: What an operation of a renewal may fail with and the renewal decides about (it is thrown
#: back into the plan): a refusal, a lost exchange, a store that failed.
FAILURES = (InvalidGrant, InvalidClient, UnauthorizedClient, TransportError, StoreError)


def lease_needed() -> float:
    """Seconds a lease must cover from now: one whole exchange and the write after it."""
    from .. import drivers

    return drivers.READ_DEADLINE + LEASE_MARGIN


class Renewal:
    """The plan that renews the token under ``key`` (due ``leeway`` seconds before expiry),
    and the token the store would not take last time (:attr:`unsaved`, with the version it
    was to replace): it holds the newest refresh token, so the next renewal writes it
    before it sends anything (DESIGN rule 12: a token the provider issued is never
    dropped)."""

    def __init__(self, key: str, leeway: float) -> None:
        self.key = key
        self.leeway = leeway
        self.unsaved: tuple[Token, int] | None = None

    def plan(self, stale: Token) -> Generator[Op, Any, Renewed | Refused]:
        """Steps 3-5 of :mod:`oauthkit.session.session`'s docstring, for either driver."""
        entry: Entry | None = yield Load()
        if entry is None:
            raise ReauthenticationRequired(f"the token under {self.key!r} was removed: sign in")
        stored = entry.value
        if not isinstance(stored, Token):
            raise StoreError(f"{self.key!r} holds OAuth 1.0a credentials, not an OAuth 2 token")
        unsaved = self.unsaved
        if unsaved is not None and unsaved[1] == entry.version:
            # An earlier renewal's answer that the store would not take: it holds the newest
            # refresh token, so it is written now instead of sending the stored one.
            yield from self._store_renewed(unsaved[0], entry.version)
            self.unsaved = None
            return Renewed(unsaved[0])
        self.unsaved = None
        check_not_refused(self.key, stored)
        if stored.access_token != stale.access_token and not stored.is_due(self.leeway):
            log.info("%r was renewed by another process: nothing sent", self.key)
            return Renewed(stored, elsewhere=True)
        try:
            new: Token = yield Renew(stored)
        except (InvalidClient, UnauthorizedClient) as exc:
            # The app's own credentials were refused (a rotated client secret, a client
            # the server no longer knows): the user's grant is fine, and the refresh token
            # is kept for when the client is fixed.
            log.warning("the client was refused while renewing %r (%s)", self.key, exc.error)
            raise type(exc)(
                f"the provider refused this app's client credentials ({exc.error}) while "
                f"renewing {self.key!r}: check client_id and client_secret (or the key); the "
                "user's refresh token is kept",
                error=exc.error,
                error_description=exc.error_description,
                response=exc.response,
            ) from exc
        except InvalidGrant as exc:
            # Remember the refusal (RFC 6749 §5.2): the refresh token is dropped, so no one
            # sends it again, and the mark tells every reader to sign in again. It is written
            # like a renewal, and committed before the caller is told (see _checked).
            with contextlib.suppress(StoreError):  # another wrote meanwhile: leave theirs
                yield Save(refused(stored), entry.version)
            log.warning("the refresh token of %r was refused (invalid_grant): sign in", self.key)
            return Refused(exc)
        except TransportError as exc:
            if not exc.sent:
                raise  # never reached the server: the stored token is still good
            again: Entry | None = yield Load()
            if (
                isinstance(again, Entry)
                and isinstance(again.value, Token)
                and again.value.access_token != stored.access_token
            ):
                return Renewed(again.value, elsewhere=True)
            log.warning(
                "the answer to the refresh of %r was lost after it was sent: the refresh "
                "token is kept, and sent again by the next call",
                self.key,
            )
            raise TransportError(
                f"the answer to the refresh of {self.key!r} was lost after it was sent "
                f"({exc}); the refresh token is kept and the next call sends it again (had "
                "the server rotated it, its reuse detection would answer invalid_grant then, "
                "and only then is a new sign-in needed)",
                sent=True,
            ) from exc
        try:
            yield from self._store_renewed(new, entry.version)
        except StoreError as exc:
            if isinstance(exc, StoreConflict):
                raise
            # Kept for the next renewal of this process, which writes it before anything
            # else (DESIGN rule 12: a token the provider issued is never dropped).
            self.unsaved = (new, entry.version)
            raise StoreError(
                f"the renewed token of {self.key!r} could not be stored for "
                f"{SAVE_RETRY_SECONDS:.0f} s ({exc}); this process keeps it and writes it "
                "at its next renewal"
            ) from None
        log.info("%r renewed and stored", self.key)
        return Renewed(new)

    def _store_renewed(self, new: Token, version: int) -> Generator[Op, Any, None]:
        """Write a token the provider issued, compare-and-set over ``version``; a store
        that fails is tried again (the lease kept meanwhile) for :data:`SAVE_RETRY_SECONDS`.
        A write whose answer was lost may have landed: a conflict is then checked against
        what the store holds."""
        pause, deadline = 0.05, time.monotonic() + SAVE_RETRY_SECONDS
        tries = 0
        while True:
            tries += 1
            try:
                yield Save(new, version)
                return
            except StoreConflict:
                if tries == 1:
                    raise
                found: Entry | None = yield Load()
                if isinstance(found, Entry) and _same_token(found.value, new):
                    return  # the earlier try landed; only its answer was lost
                raise
            except StoreError as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning(
                    "storing the renewed token of %r failed (%s); trying again in %.2f s",
                    self.key,
                    exc,
                    pause,
                )
                yield Pause(pause)
                pause = min(pause * 2, 2.0)
                with contextlib.suppress(StoreError):  # the write says whether it is lost
                    yield Extend()
