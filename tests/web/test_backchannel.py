"""CIBA in ping mode in a web application (issue 16, item 1): the app begins a backchannel
sign-in for one of its users, the provider (oidc-provider's ``ciba`` feature) pings the
route every adapter mounts — ``POST /backchannel/<provider>``, over https, in whichever of the
example's workers gets it — and the token lands in the store under that user's key. A ping
without the right bearer token is refused (401) and leaves the request waiting; after a
denial the ping is answered and no token is saved. Each example on its real server
(gunicorn or uvicorn, 2 workers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from oauthkit.protocol.oauth2.ciba import CIBA_GRANT
from peers.oidc_provider import OIDCPeer, TLSMaterial, tls_material
from web.conftest import SANDBOX_EXAMPLES, RunningApp, free_port, start_example

SECRET = "ciba-web-secret-0123456789"


APP_SIDE = Path(__file__).with_name("ciba_app_side.py")
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


class Setup:
    def __init__(
        self, app: RunningApp, peer: OIDCPeer, env: dict[str, str], tls: TLSMaterial
    ) -> None:
        self.app, self.peer, self.env, self.tls = app, peer, env, tls

    def app_side(self, *args: str) -> Any:
        """Run the app's own code (tests/web/ciba_app_side.py) with its store."""
        done = subprocess.run(
            [sys.executable, str(APP_SIDE), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def ping(self, authorization: str | None, body: bytes) -> httpx2.Response:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        with httpx2.Client(verify=self.tls.ssl_context(), timeout=10) as http:
            return http.post(f"{self.app.base}/backchannel/op", content=body, headers=headers)

    def subject(self, user: str, timeout: float = 20) -> str | None:
        """The ``sub`` of the token saved for ``user``, once it is there (or ``None``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            saved = self.app_side("token", user)
            if saved is not None:
                return str(saved["sub"])
            time.sleep(0.2)
        return None


@pytest.fixture(scope="module", params=SANDBOX_EXAMPLES)
def setup(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    start_oidc_module: Callable[..., OIDCPeer],
) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp(f"ciba-{request.param}")
    port = free_port()
    peer = start_oidc_module(
        ciba=True,
        clients={
            "ciba-web": {
                "grant_types": [CIBA_GRANT, "refresh_token"],
                "response_types": [],
                "client_secret": SECRET,
                "token_endpoint_auth_method": "client_secret_basic",
                "scope": "openid profile offline_access",
                "backchannel_token_delivery_mode": "ping",
                "backchannel_client_notification_endpoint": (
                    f"https://127.0.0.1:{port}/backchannel/op"
                ),
            }
        },
    )
    config = folder / "oauthkit.toml"
    config.write_text(
        f'store = "{folder / "tokens.sqlite3"}"\n\n[providers.op]\n'
        f'issuer = "{peer.issuer}"\nclient_id = "ciba-web"\nclient_secret = "{SECRET}"\n'
        'scope = "openid profile"\n'
    )
    config.chmod(0o600)
    tls = tls_material()
    env = {
        **os.environ,
        "OAUTHKIT_CONFIG": str(config),
        "OAUTHKIT_EXAMPLE_SECRET": "ciba-example-secret",
        "OAUTHKIT_EXAMPLE_DATABASE": str(folder / "django.sqlite3"),
    }
    app = start_example(
        request.param, folder, config=config, port=port, workers=2, tls=tls, env=env
    )
    if request.param.startswith("django"):  # the app's tokens are in its own database
        env["DJANGO_SETTINGS_MODULE"] = "django_app.settings"
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(EXAMPLES_DIR), env.get("PYTHONPATH")])
        )
    yield Setup(app, peer, env, tls)
    app.stop()


def _pending(peer: OIDCPeer, binding_message: str) -> str:
    for _ in range(200):
        for request in peer.ciba_pending():
            if request["binding_message"] == binding_message:
                return str(request["auth_req_id"])
        time.sleep(0.05)
    raise AssertionError(f"no CIBA request with binding message {binding_message}")


def test_the_ping_brings_the_token_to_the_users_key(setup: Setup) -> None:
    request = setup.app_side("begin", "u-approve", "alice", "W4SCT")
    auth_req_id, bearer = request["auth_req_id"], request["client_notification_token"]
    assert _pending(setup.peer, "W4SCT") == auth_req_id
    # A forged ping, before the real one: refused, and the request keeps waiting.
    body = json.dumps({"auth_req_id": auth_req_id}).encode()
    forged = setup.ping("Bearer forged-token", body)
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith("Bearer")
    assert setup.ping(None, body).status_code == 401
    assert setup.ping(f"Bearer {bearer}", b"not json").status_code == 400
    setup.peer.ciba_decide(auth_req_id, approve=True)  # the user approves on their phone
    assert setup.subject("u-approve") == "alice"
    # The same ping again (a replay): the request is answered already.
    assert setup.ping(f"Bearer {bearer}", body).status_code == 401


def test_a_denial_is_answered_and_saves_nothing(setup: Setup) -> None:
    setup.app_side("begin", "u-deny", "alice", "NO")
    setup.peer.ciba_decide(_pending(setup.peer, "NO"), approve=False)  # answered 2xx
    assert setup.subject("u-deny", timeout=3) is None
