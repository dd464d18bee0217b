"""oauthkit: one OAuth 1.0a and OAuth 2.x client for Python, sync and async.

The public names are listed in ``__all__``; everything else is private.
"""

from ._version import __version__
from .auth.oauth1 import OAuth1Auth
from .clients.oauth1 import AsyncOAuth1Client, OAuth1Client
from .errors import OAuthKitError
from .protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials

__all__ = [
    "AsyncOAuth1Client",
    "OAuth1Auth",
    "OAuth1Client",
    "OAuth1Credentials",
    "OAuthKitError",
    "TemporaryCredentials",
    "__version__",
]
