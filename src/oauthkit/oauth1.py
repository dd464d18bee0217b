"""OAuth 1.0a (RFC 5849): credentials, signing, and the clients.

>>> from oauthkit.oauth1 import OAuth1Credentials, sign_request
"""

from .auth.oauth1 import OAuth1Auth
from .clients.oauth1 import AsyncOAuth1Client, OAuth1Client
from .protocol.oauth1.credentials import OAuth1Credentials, TemporaryCredentials
from .protocol.oauth1.encoding import (
    base_string_uri,
    normalize_parameters,
    percent_encode,
    signature_base_string,
)
from .protocol.oauth1.signature import SIGNATURE_METHODS, sign_base_string
from .protocol.oauth1.signing import SignedRequest, Signer, sign_request

__all__ = [
    "SIGNATURE_METHODS",
    "AsyncOAuth1Client",
    "OAuth1Auth",
    "OAuth1Client",
    "OAuth1Credentials",
    "SignedRequest",
    "Signer",
    "TemporaryCredentials",
    "base_string_uri",
    "normalize_parameters",
    "percent_encode",
    "sign_base_string",
    "sign_request",
    "signature_base_string",
]
