"""``Session``: a token kept in a store, fresh for every thread, task, process and machine
that shares the store, renewed exactly once per expiry — ahead of it, while the token is still
served — and never lost to a failure (:mod:`.session`, :mod:`.renewal`, :mod:`.outcomes`)."""

from ..auth.oauth2 import SessionBacked
from .outcomes import Outcome, outcome_of
from .renewal import LEASE_MARGIN, REFUSED, SAVE_RETRY_SECONDS, refused, refused_at
from .session import Session, SessionAuth

__all__ = [
    "LEASE_MARGIN",
    "REFUSED",
    "SAVE_RETRY_SECONDS",
    "Outcome",
    "Session",
    "SessionAuth",
    "SessionBacked",
    "outcome_of",
    "refused",
    "refused_at",
]
