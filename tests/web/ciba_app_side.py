"""The example app's own code beginning a CIBA sign-in and reading a user's token, as a
view or a management command of that app would: with the app's configuration and store —
for the Django example, its :func:`oauthkit.web.django.flow` on its own database.

    python ciba_app_side.py begin USER LOGIN_HINT BINDING_MESSAGE   → JSON of the request
    python ciba_app_side.py token USER                              → JSON: the ID token's sub

Environment: ``OAUTHKIT_CONFIG``; for Django also ``DJANGO_SETTINGS_MODULE``,
``OAUTHKIT_EXAMPLE_DATABASE``, ``OAUTHKIT_EXAMPLE_SECRET`` and the examples on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _flow() -> Any:
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        import django

        django.setup()
        from oauthkit.web.django import flow

        return flow()
    from oauthkit.web import WebFlow

    return WebFlow.from_config()


def main(argv: list[str]) -> int:
    flow = _flow()
    if argv[0] == "begin":
        user, hint, message = argv[1:4]
        request = flow.begin_backchannel("op", user=user, login_hint=hint, binding_message=message)
        print(
            json.dumps(
                {
                    "auth_req_id": request.auth_req_id,
                    "client_notification_token": request.client_notification_token,
                }
            )
        )
        return 0
    token = flow.store.get(flow.key_for("op", argv[1]))
    claims = getattr(token, "id_claims", None) or {}
    print(json.dumps({"sub": claims.get("sub")} if token is not None else None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
