"""The client classes: thin sync and async shells over the protocol steps."""

from .oauth1 import AsyncOAuth1Client, OAuth1Client

__all__ = ["AsyncOAuth1Client", "OAuth1Client"]
