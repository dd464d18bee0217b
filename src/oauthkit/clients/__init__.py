"""The client classes: thin sync and async shells over the protocol steps."""

from .oauth1 import AsyncOAuth1Client, OAuth1Client
from .oauth2 import AsyncOAuth2Client, OAuth2Client

__all__ = ["AsyncOAuth1Client", "AsyncOAuth2Client", "OAuth1Client", "OAuth2Client"]
