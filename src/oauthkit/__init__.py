"""oauthkit: one OAuth 1.0a and OAuth 2.x client for Python, sync and async.

The public names are listed in ``__all__``; everything else is private.
"""

from ._version import __version__
from .auth.oauth1 import OAuth1Auth
from .auth.oauth2 import OAuth2Auth
from .clients.oauth1 import AsyncOAuth1Client, OAuth1Client
from .clients.oauth2 import AsyncOAuth2Client, OAuth2Client
from .errors import OAuthKitError
from .protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials
from .protocol.oauth2.authorization import AuthorizationRequest
from .protocol.oauth2.grants import DeviceAuthorization
from .protocol.oauth2.token import Token
from .session import Session

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
    "Session",
    "TemporaryCredentials",
    "Token",
    "__version__",
]
