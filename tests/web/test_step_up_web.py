"""RFC 9470 step-up in a web app (Flask and Starlette, in process, against our token server):
the API relay answers a resource's ``insufficient_user_authentication`` with
``step_up_required`` and the values it asked for, renewing nothing; ``/connect/{provider}``
passes ``acr_values`` and ``max_age`` on to the authorization request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from peers.counting_server import CountingServer
from web.test_transient_web import ADAPTERS, USER, _flow, _signed_in


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_relay_says_step_up_required_with_what_the_resource_asked(
    counting_server: CountingServer, tmp_path: Path, adapter: Any
) -> None:
    flow = _flow(counting_server, tmp_path)
    _signed_in(counting_server, flow, seconds_left=3600)
    stored = flow.store.get(flow.key_for("work", USER))
    counting_server.fault("api-step-up")
    answer = adapter(flow).get("/api/work/api")
    assert answer.status_code == 401
    body = json.loads(answer.text)
    assert (body["error"], body["provider"]) == ("step_up_required", "work")
    assert (body["acr_values"], body["max_age"]) == ("urn:mfa", 300)
    assert counting_server.counts["refresh_token"] == 0  # no renewal would help
    assert flow.store.get(flow.key_for("work", USER)) == stored  # nor is anything forgotten


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_connect_passes_acr_values_and_max_age_on(
    counting_server: CountingServer, tmp_path: Path, adapter: Any
) -> None:
    app = adapter(_flow(counting_server, tmp_path))
    answer = app.get("/connect/work?acr_values=urn%3Amfa&max_age=300")
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert (query["acr_values"], query["max_age"]) == (["urn:mfa"], ["300"])
    plain = parse_qs(urlsplit(app.get("/connect/work").headers["Location"]).query)
    assert "acr_values" not in plain and "max_age" not in plain
    refused = app.get("/connect/work?max_age=soon")
    assert refused.status_code == 400
    assert "max_age" in refused.text
