"""OAuth 2.x (RFC 6749 and extensions): the clients, the token, the authorization request,
and the pure building blocks for those who need them.

>>> from oauthkit.oauth2 import OAuth2Client, Token, code_challenge
"""

from .auth.oauth2 import OAuth2Auth
from .clients.oauth2 import AsyncOAuth2Client, OAuth2Client
from .protocol.oauth2.authorization import (
    AuthorizationCode,
    AuthorizationRequest,
    parse_callback_parameters,
    validate_callback,
)
from .protocol.oauth2.bearer import bearer_challenge_error
from .protocol.oauth2.client_auth import AUTH_METHODS, ClientAuth
from .protocol.oauth2.device import DeviceAuthorization
from .protocol.oauth2.metadata import ServerMetadata
from .protocol.oauth2.pkce import code_challenge, make_code_verifier
from .protocol.oauth2.response import parse_token_response
from .protocol.oauth2.token import Token

__all__ = [
    "AUTH_METHODS",
    "AsyncOAuth2Client",
    "AuthorizationCode",
    "AuthorizationRequest",
    "ClientAuth",
    "DeviceAuthorization",
    "OAuth2Auth",
    "OAuth2Client",
    "ServerMetadata",
    "Token",
    "bearer_challenge_error",
    "code_challenge",
    "make_code_verifier",
    "parse_callback_parameters",
    "parse_token_response",
    "validate_callback",
]
