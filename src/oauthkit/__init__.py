"""oauthkit: one OAuth 1.0a and OAuth 2.x client for Python, sync and async.

The public names are listed in ``__all__``. They are imported on first use (PEP 562), so
that ``import oauthkit.errors`` or the ``oauthkit token`` command stays fast and does not
load the HTTP stack.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

# A library's records go where the program sends them, and nowhere when it configures no
# logging (not to stderr through logging's last resort).
logging.getLogger("oauthkit").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .auth.oauth1 import OAuth1Auth
    from .auth.oauth2 import OAuth2Auth
    from .clients.oauth1 import AsyncOAuth1Client, OAuth1Client
    from .clients.oauth2 import AsyncOAuth2Client, OAuth2Client
    from .errors import OAuthKitError
    from .protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials
    from .protocol.oauth2.authorization import AuthorizationRequest
    from .protocol.oauth2.device import DeviceAuthorization
    from .protocol.oauth2.token import Token
    from .protocol.retry import Retry
    from .resource import ResourceAuth, for_resource
    from .session import Session

_WHERE = {
    "AsyncOAuth1Client": ".clients.oauth1",
    "AsyncOAuth2Client": ".clients.oauth2",
    "AuthorizationRequest": ".protocol.oauth2.authorization",
    "DeviceAuthorization": ".protocol.oauth2.device",
    "OAuth1Auth": ".auth.oauth1",
    "OAuth1Client": ".clients.oauth1",
    "OAuth1Credentials": ".protocol.oauth1.credentials",
    "OAuth2Auth": ".auth.oauth2",
    "OAuth2Client": ".clients.oauth2",
    "OAuthKitError": ".errors",
    "ResourceAuth": ".resource",
    "Retry": ".protocol.retry",
    "Session": ".session",
    "for_resource": ".resource",
    "TemporaryCredentials": ".protocol.oauth1.credentials",
    "Token": ".protocol.oauth2.token",
}

__all__ = [
    "AsyncOAuth1Client",
    "AsyncOAuth2Client",
    "AuthorizationRequest",
    "DeviceAuthorization",
    "OAuth1Auth",
    "OAuth1Client",
    "OAuth1Credentials",
    "OAuth2Auth",
    "OAuth2Client",
    "OAuthKitError",
    "ResourceAuth",
    "Retry",
    "Session",
    "TemporaryCredentials",
    "Token",
    "__version__",
    "for_resource",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'oauthkit' has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
