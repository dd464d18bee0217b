"""``oauthkit.web``: "connect your account" and "sign in with" for web applications.

:class:`WebFlow` is the framework-neutral core (begin, complete, the user's tokens); the
adapters translate requests and responses and nothing more: :mod:`oauthkit.web.flask`
(extra ``flask``), :mod:`oauthkit.web.starlette` (extra ``starlette``, FastAPI too) and
:mod:`oauthkit.web.django` (extra ``django``). Every check lives in the core.
"""

from .cookies import Cookie
from .flow import WebFlow
from .plans import CALLBACK_HEADERS, PENDING_SECONDS, Begun, Completed, Notified, safe_return_path
from .providers import WebProvider

__all__ = [
    "CALLBACK_HEADERS",
    "PENDING_SECONDS",
    "Begun",
    "Completed",
    "Cookie",
    "Notified",
    "WebFlow",
    "WebProvider",
    "safe_return_path",
]
