"""Everything the sandbox remembers, in memory, behind one lock (the server is threaded).

A :class:`Grant` is one authorization (a user's consent to a client, or a client-credentials
request) and ties together every token issued from it, so that a reused authorization code
(RFC 6749 §4.1.2), a reused rotated refresh token (RFC 9700 §4.14.2) or the revocation of a
refresh token (RFC 7009 §2.1) can end all of them at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Final, Literal

from ..errors import ConfigurationError
from .clients import SandboxClient

__all__ = [
    "AccessToken",
    "AuthorizationCode",
    "DeviceAuthorization",
    "Grant",
    "OAuth1AccessToken",
    "RefreshToken",
    "RequestToken",
    "Store",
    "Ticket",
    "new_user_code",
    "normalize_user_code",
]

#: RFC 8628 §6.1: a user code alphabet without vowels (no words) and without look-alikes.
USER_CODE_ALPHABET: Final = "BCDFGHJKLMNPQRSTVWXZ"
#: How long an authorization code lives (RFC 6749 §4.1.2 recommends at most ten minutes).
CODE_LIFETIME: Final = 120
#: How long a consent page's CSRF ticket, an OAuth 1.0a request token, or a device code lives.
TICKET_LIFETIME: Final = 600
REQUEST_TOKEN_LIFETIME: Final = 600
DEVICE_CODE_LIFETIME: Final = 600
#: How long a used authorization code is remembered, to notice its reuse.
USED_CODE_MEMORY: Final = 600
#: OAuth 1.0a: timestamps further than this from the server clock are refused (RFC 5849 §3.3).
TIMESTAMP_WINDOW: Final = 600
_PRUNE_EVERY: Final = 30.0

TicketKind = Literal["oauth2", "oauth1", "device-entry", "device"]
DeviceStatus = Literal["pending", "approved", "denied", "used"]


def normalize_user_code(text: str) -> str:
    """A typed user code as stored: upper case, only the alphabet's letters (RFC 8628 §6.1
    recommends ignoring case and punctuation)."""
    return "".join(c for c in text.upper() if c in USER_CODE_ALPHABET)


def new_user_code() -> str:
    """Eight random letters of :data:`USER_CODE_ALPHABET`, shown as ``XXXX-XXXX``
    (RFC 8628 §6.1: 20^8, about 34 bits)."""
    letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


@dataclass(eq=False)
class Grant:
    """One authorization and every token issued from it."""

    client_id: str
    user: str | None
    revoked: bool = False


@dataclass(eq=False)
class AuthorizationCode:
    """RFC 6749 §4.1.2, bound to its client, redirect URI and PKCE challenge (RFC 7636 §4.4)."""

    client_id: str
    redirect_uri: str
    user: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    grant: Grant
    used: bool = False


@dataclass(eq=False)
class AccessToken:
    """An opaque bearer token (RFC 6750) and what it stands for."""

    client_id: str
    user: str | None
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    grant: Grant
    revoked: bool = False

    def active(self, now: float) -> bool:
        """Not revoked, its grant not revoked, not expired."""
        return not self.revoked and not self.grant.revoked and now < self.expires_at


@dataclass(eq=False)
class RefreshToken:
    """A refresh token (RFC 6749 §1.5); ``rotated`` once exchanged for a new one."""

    client_id: str
    user: str | None
    scopes: tuple[str, ...]
    issued_at: float
    grant: Grant
    rotated: bool = False
    revoked: bool = False

    def active(self) -> bool:
        """Neither rotated nor revoked, its grant not revoked."""
        return not self.rotated and not self.revoked and not self.grant.revoked


@dataclass(eq=False)
class DeviceAuthorization:
    """RFC 8628 §3.2: a device code, its user code and where the user's decision stands."""

    client_id: str
    user_code: str
    scopes: tuple[str, ...]
    expires_at: float
    status: DeviceStatus = "pending"
    user: str | None = None


@dataclass(eq=False)
class RequestToken:
    """OAuth 1.0a temporary credentials (RFC 5849 §2.1) and, once approved, the verifier."""

    client_key: str
    secret: str = field(repr=False)
    callback: str
    realms: tuple[str, ...]
    expires_at: float
    verifier: str | None = field(default=None, repr=False)
    user: str | None = None


@dataclass(eq=False)
class OAuth1AccessToken:
    """OAuth 1.0a token credentials (RFC 5849 §2.3)."""

    client_key: str
    secret: str = field(repr=False)
    user: str
    realms: tuple[str, ...]


@dataclass(eq=False)
class Ticket:
    """A consent page's CSRF token: single use, bound to what the page showed."""

    kind: TicketKind
    subject: str
    expires_at: float


class Store:
    """The sandbox's memory. Every read-modify-write happens under :attr:`lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clients: dict[str, SandboxClient] = {}  #: by client_id (consumer key)
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.devices: dict[str, DeviceAuthorization] = {}  #: by device code
        self.user_codes: dict[str, str] = {}  #: normalized user code -> device code
        self.request_tokens: dict[str, RequestToken] = {}
        self.oauth1_tokens: dict[str, OAuth1AccessToken] = {}
        self.nonces: dict[tuple[str, str, str, str], float] = {}
        self.tickets: dict[str, Ticket] = {}
        self._pruned_at = time.time()

    @staticmethod
    def now() -> float:
        """The server clock (epoch seconds)."""
        return time.time()

    # -- clients ----------------------------------------------------------------------

    def add_client(self, client: SandboxClient) -> None:
        """Register ``client``; its name and id must be new."""
        with self.lock:
            if client.client_id in self.clients:
                raise ConfigurationError(f"client_id {client.client_id!r} is already registered")
            if any(c.name == client.name for c in self.clients.values()):
                raise ConfigurationError(f"a client named {client.name!r} is already registered")
            self.clients[client.client_id] = client

    def client(self, client_id: str | None, kind: str) -> SandboxClient | None:
        """The registered client of ``kind`` with this id, if any."""
        if not client_id:
            return None
        with self.lock:
            client = self.clients.get(client_id)
        return client if client is not None and client.kind == kind else None

    # -- consent tickets (CSRF) -------------------------------------------------------

    def issue_ticket(self, kind: TicketKind, subject: str) -> str:
        """A fresh CSRF token for one rendering of a page about ``subject``."""
        value = secrets.token_urlsafe(32)
        with self.lock:
            self.prune()
            self.tickets[value] = Ticket(kind, subject, self.now() + TICKET_LIFETIME)
        return value

    def take_ticket(self, value: str, kind: TicketKind) -> str | None:
        """Use up a CSRF token: the subject it was issued for, or None (unknown, expired,
        already used, or issued for another kind of page)."""
        with self.lock:
            ticket = self.tickets.pop(value, None)
        if ticket is None or ticket.kind != kind or ticket.expires_at <= self.now():
            return None
        return ticket.subject

    # -- OAuth 2 ----------------------------------------------------------------------

    def revoke_grant(self, grant: Grant) -> None:
        """End every token of ``grant``."""
        with self.lock:
            grant.revoked = True

    def add_device(self, device_code: str, record: DeviceAuthorization) -> None:
        """Remember a device authorization (RFC 8628 §3.2)."""
        with self.lock:
            self.prune()
            key = normalize_user_code(record.user_code)
            if key in self.user_codes or device_code in self.devices:
                raise ConfigurationError("user code collision")  # 20^8 codes: practically never
            self.devices[device_code] = record
            self.user_codes[key] = device_code

    def device_by_user_code(self, user_code: str) -> tuple[str, DeviceAuthorization] | None:
        """The pending, unexpired device authorization for a typed user code."""
        with self.lock:
            device_code = self.user_codes.get(normalize_user_code(user_code))
            record = self.devices.get(device_code or "")
            if device_code is None or record is None:
                return None
            if record.status != "pending" or record.expires_at <= self.now():
                return None
            return device_code, record

    def user_code_taken(self, user_code: str) -> bool:
        """True when ``user_code`` is in use."""
        with self.lock:
            return normalize_user_code(user_code) in self.user_codes

    # -- OAuth 1.0a -------------------------------------------------------------------

    def remember_nonce(self, key: tuple[str, str, str, str], timestamp: float) -> bool:
        """False when this (client, timestamp, nonce, token) was seen before (RFC 5849 §3.3)."""
        with self.lock:
            self.prune()
            if key in self.nonces:
                return False
            self.nonces[key] = timestamp
            return True

    # -- housekeeping -----------------------------------------------------------------

    def prune(self, *, force: bool = False) -> None:
        """Forget what has expired (at most every 30 s unless ``force``)."""
        with self.lock:
            now = self.now()
            if not force and now - self._pruned_at < _PRUNE_EVERY:
                return
            self._pruned_at = now
            for code, c in list(self.codes.items()):
                if c.expires_at + USED_CODE_MEMORY <= now:
                    del self.codes[code]
            for token, a in list(self.access_tokens.items()):
                if not a.active(now):
                    del self.access_tokens[token]
            for token, r in list(self.refresh_tokens.items()):
                if r.revoked or r.grant.revoked:
                    del self.refresh_tokens[token]
            for device_code, d in list(self.devices.items()):
                if d.expires_at <= now:
                    del self.devices[device_code]
                    self.user_codes.pop(normalize_user_code(d.user_code), None)
            for token, t in list(self.request_tokens.items()):
                if t.expires_at <= now:
                    del self.request_tokens[token]
            for key, stamp in list(self.nonces.items()):
                if abs(now - stamp) > 2 * TIMESTAMP_WINDOW:
                    del self.nonces[key]
            for value, ticket in list(self.tickets.items()):
                if ticket.expires_at <= now:
                    del self.tickets[value]
