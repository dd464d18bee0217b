"""Who signed in: the provider's immutable account id, never a name.

OpenID Connect Core §5.7: only ``iss`` and ``sub`` together identify an end-user; a display
name, a login, a screen name or an e-mail address can change hands (a renamed GitHub login
taken by someone else, two Facebook users called "Alice Smith", an address moved to another
Dropbox account). A provider without OpenID Connect has an equivalent: the account id its API
documents as never reassigned (GitHub's numeric ``id``, Slack's ``user_id`` within its team).

:class:`Identity` is that id, with what may be shown to a person beside it (e-mail, name,
picture) and the answer it came from. :class:`WhoAmI` says, for one provider, which request
names the signed-in account and where each of those is in its JSON answer;
:meth:`Identity.from_claims` reads OpenID Connect claims (a validated ID token, or the
userinfo answer). An answer without its id is an :class:`~oauthkit.errors.IdentityError`:
there is no fallback to a name.

Linking accounts: never link two accounts, or sign someone in as an existing user, because
their e-mail addresses match — unless the provider says it verified the address
(:attr:`Identity.verified_email`), and even then only where the app trusts that provider's
verification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import IdentityError

__all__ = ["Identity", "WhoAmI", "find"]

#: The longest id an identity may have (a store key holds the provider's name beside it).
MAX_ID = 255


def find(document: Any, path: str) -> Any:
    """The value at ``path`` in a JSON ``document``: dotted names (``"data.username"``), a
    number indexes a list (``"data.0.id"``), and ``?name`` picks the first object of a list
    whose ``name`` is true (``"response.user.blogs.?primary.uuid"``); ``None`` when absent."""
    value = document
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.startswith("?"):
            flag = part[1:]
            value = next((v for v in value if isinstance(v, Mapping) and v.get(flag) is True), None)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any) -> str | None:
    """A string, or a whole number written as one (ids are numbers at GitHub, Discord …)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _first(document: Any, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        found = _text(find(document, path))
        if found is not None:
            return found
    return None


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _checked_id(value: str, where: str) -> str:
    if len(value) > MAX_ID or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise IdentityError(f"{where} names an account id that is too long or not printable")
    return value


@dataclass(frozen=True)
class Identity:
    """The account that signed in at a provider.

    ``id`` is the provider's immutable account id — qualified by its tenant where ids repeat
    across tenants (Slack: ``"T0123:U0456"``, the team and the user) — and is what a web flow
    keys its user on (``"{provider}:{id}"``). ``email``, ``name`` and ``picture`` are for
    display only: they change, and may belong to someone else tomorrow. ``email_verified``
    is true only when the provider says so. ``raw`` is the answer (or claims) it was read
    from."""

    id: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    picture: str | None = None
    tenant: str | None = None
    issuer: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", MappingProxyType(dict(self.raw)))

    @property
    def verified_email(self) -> str | None:
        """The e-mail address only if the provider says it verified it (the one to look at,
        if any, before linking to an account the app already has)."""
        return self.email if self.email_verified else None

    @classmethod
    def from_claims(
        cls, claims: Mapping[str, Any], *, id_claim: str = "sub", tenant_claim: str | None = None
    ) -> Identity:
        """OpenID Connect claims (OIDC Core §5.1): ``sub`` is the id (a provider may name
        another immutable claim, Microsoft's ``oid``), ``iss`` its issuer."""
        account = _text(claims.get(id_claim))
        if account is None:
            raise IdentityError(
                f"the OpenID Connect claims have no {id_claim!r}: the account cannot be "
                "identified (OIDC Core §5.7)"
            )
        tenant = _text(claims.get(tenant_claim)) if tenant_claim else None
        issuer = claims.get("iss")
        email = claims.get("email")
        return cls(
            id=_checked_id(account, "the OpenID Connect claims"),
            email=email if isinstance(email, str) and email else None,
            email_verified=_true(claims.get("email_verified")),
            name=_first(claims, ("name", "preferred_username")),
            picture=_first(claims, ("picture",)),
            tenant=tenant,
            issuer=issuer if isinstance(issuer, str) else None,
            raw=claims,
        )


@dataclass(frozen=True)
class WhoAmI:
    """The request that names the signed-in account, and where its parts are in the answer.

    ``url`` is absolute or relative to the provider's ``api_base``. ``id`` is the path (see
    :func:`find`) of the provider's immutable account id — never a login, a name or an
    e-mail; ``tenant`` paths (the first present wins) scope it where the provider's ids are
    unique only within a team or an organization. ``email``, ``name`` (the first present
    wins) and ``picture`` are for display; ``email_verified`` is the path of the provider's
    flag, or ``True`` for a provider that only ever answers verified addresses. ``headers``
    may hold ``{client_id}``, filled by :meth:`request_headers`."""

    url: str
    id: str
    tenant: tuple[str, ...] = ()
    email: str | None = None
    email_verified: str | bool | None = None
    name: tuple[str, ...] = ()
    picture: str | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()

    def resolve(self, api_base: str | None) -> str:
        """The absolute URL of the request."""
        if "://" in self.url or not api_base:
            return self.url
        return api_base.rstrip("/") + "/" + self.url.lstrip("/")

    def request_headers(self, client_id: str) -> dict[str, str]:
        """The extra headers the request needs, ``{client_id}`` filled in."""
        return {name: value.replace("{client_id}", client_id) for name, value in self.headers}

    def identity(self, document: Any, *, where: str = "the who-am-I answer") -> Identity:
        """The :class:`Identity` in a JSON answer; no id there is an
        :class:`~oauthkit.errors.IdentityError`."""
        account = _text(find(document, self.id))
        if account is None:
            raise IdentityError(
                f"{where} has no {self.id!r}, the provider's immutable account id: the account "
                "cannot be identified (a name or an e-mail address never stands in for it)"
            )
        account = _checked_id(account, where)
        tenant = _first(document, self.tenant)
        if self.tenant and tenant is None:
            raise IdentityError(
                f"{where} has none of {', '.join(map(repr, self.tenant))}, which scope its "
                "account ids: the account cannot be identified"
            )
        flag = self.email_verified
        verified = (
            flag if isinstance(flag, bool) else flag is not None and _true(find(document, flag))
        )
        email = _text(find(document, self.email)) if self.email else None
        return Identity(
            id=_checked_id(f"{tenant}:{account}", where) if tenant else account,
            email=email,
            email_verified=verified and email is not None,
            name=_first(document, self.name),
            picture=_text(find(document, self.picture)) if self.picture else None,
            tenant=tenant,
            raw=document if isinstance(document, Mapping) else {"value": document},
        )
