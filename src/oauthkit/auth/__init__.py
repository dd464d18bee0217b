"""Authentication for httpx2 clients (``oauthkit.auth``) and, in
:mod:`oauthkit.auth.requests`, for requests sessions."""

from .oauth1 import OAuth1Auth

__all__ = ["OAuth1Auth"]
