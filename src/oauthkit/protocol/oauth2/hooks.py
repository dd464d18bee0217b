"""Provider quirks as named hooks (presets declare them; the core runs them).

A :class:`Hook` may rewrite the authorization request's parameters, a request to the token
(device, revocation, introspection) endpoint before it is sent, or the answer before it is
parsed. Hooks run inside the sans-I/O steps, so sync and async clients get them alike, and
each one is a named value with its own test — never a special case buried in the core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..http import HttpRequest, HttpResponse, Step, fetch

__all__ = ["Hook", "fetch_with_hooks", "hook_authorization_params"]

Params = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Hook:
    """One named quirk: ``name``, and ``doc``, which says what it does and why (its first
    paragraph is :attr:`summary`)."""

    name: str
    doc: str
    authorization: Callable[[Params], Params] | None = None
    request: Callable[[HttpRequest], HttpRequest] | None = None
    response: Callable[[HttpRequest, HttpResponse], HttpResponse] | None = None
    #: Send the requested ``scope`` on device-code polls too (RFC 8628 §3.4 has none there).
    device_poll_scope: bool = False

    @property
    def summary(self) -> str:
        """The first paragraph of :attr:`doc`, on one line."""
        return " ".join(self.doc.strip().split("\n\n", 1)[0].split())

    def __repr__(self) -> str:
        return f"Hook({self.name!r})"


def hook_authorization_params(hooks: Iterable[Hook], params: Params) -> Params:
    """The authorization request's parameters after every hook that rewrites them."""
    for hook in hooks:
        if hook.authorization is not None:
            params = hook.authorization(params)
    return params


def fetch_with_hooks(hooks: tuple[Hook, ...], request: HttpRequest) -> Step[HttpResponse]:
    """:func:`~oauthkit.protocol.http.fetch`, with the hooks' rewrites of the request and of
    the response (in declaration order)."""
    for hook in hooks:
        if hook.request is not None:
            request = hook.request(request)
    response = yield from fetch(request)
    for hook in hooks:
        if hook.response is not None:
            response = hook.response(request, response)
    return response
