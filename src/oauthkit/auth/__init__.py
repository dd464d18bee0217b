"""Authentication for httpx2 clients (``oauthkit.auth``) and, in
:mod:`oauthkit.auth.requests`, for requests sessions."""

from .oauth1 import OAuth1Auth
from .oauth2 import OAuth2Auth

__all__ = ["OAuth1Auth", "OAuth2Auth"]
