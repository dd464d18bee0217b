"""The atheris harness over every parser (fuzz/fuzz_parsers.py), for a bounded number of
runs, and hypothesis properties of the same parsers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oauthkit.errors import OAuthKitError
from oauthkit.oauth2 import (
    AuthorizationRequest,
    code_challenge,
    parse_callback_parameters,
    validate_callback,
)
from oauthkit.protocol.http import HttpResponse
from oauthkit.protocol.oauth2.response import parse_token_response

HARNESS = Path(__file__).parents[1] / "fuzz" / "fuzz_parsers.py"


@pytest.mark.timeout(300)
def test_the_atheris_harness_finds_nothing() -> None:
    done = subprocess.run(
        [sys.executable, str(HARNESS), "-runs=300000", "-rss_limit_mb=1024", "-seed=5849"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Done 300000 runs" in done.stderr


REQUEST = AuthorizationRequest(
    url="https://as.example/authorize",
    state="S" * 43,
    client_id="c",
    redirect_uri=None,
    scope=None,
    code_verifier=None,
    code_challenge_method=None,
    nonce=None,
    issuer="https://as.example",
    iss_required=False,
    created_at=0,
)
query_text = st.lists(
    st.sampled_from([*"abc=&%+?#/:", "state", "code", "iss", "error", "S" * 43]), max_size=30
).map("".join)


@settings(max_examples=500, deadline=None)
@given(query_text)
def test_callback_parsing_is_total(text: str) -> None:
    """Any callback ends in an AuthorizationCode or an oauthkit error, and only a callback
    carrying this request's state and a code can succeed."""
    try:
        code = validate_callback(REQUEST, text)
    except OAuthKitError:
        return
    fields = parse_callback_parameters(text)
    assert fields["state"] == REQUEST.state
    assert code.code == fields["code"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
token_fields = st.fixed_dictionaries(
    {},
    optional={
        "access_token": json_values,
        "token_type": st.sampled_from(["Bearer", "bearer", "mac"]) | json_values,
        "expires_in": json_values,
        "refresh_token": json_values,
        "scope": json_values,
    },
)


@settings(max_examples=500, deadline=None)
@given(token_fields, st.sampled_from([200, 400, 401, 500]))
def test_token_response_parsing_is_total(fields: dict[str, object], status: int) -> None:
    """Any JSON answer ends in a well-formed Token or an oauthkit error."""
    import json

    response = HttpResponse.build(
        status, {"Content-Type": "application/json"}, json.dumps(fields).encode()
    )
    try:
        token = parse_token_response(response, requested_scope="s", grant="g")
    except OAuthKitError:
        return
    assert status == 200
    assert isinstance(token.access_token, str)
    assert token.access_token
    assert token.token_type == "Bearer"
    assert token.expires_at is None or token.expires_at.tzinfo is not None


@given(
    st.text(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"),
        min_size=43,
        max_size=128,
    )
)
def test_pkce_challenges_are_urlsafe_and_fixed_length(verifier: str) -> None:
    challenge = code_challenge(verifier)
    assert len(challenge) == 43
    assert set(challenge) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert code_challenge(verifier, "plain") == verifier


def test_found_by_fuzzing_a_run_of_ampersands_is_linear() -> None:
    """encode_form's fast-path pattern once backtracked exponentially on "&&…&!"."""
    import time

    from oauthkit.protocol.oauth1.encoding import encode_form

    started = time.monotonic()
    assert encode_form("&" * 100_000 + "!") == [("%21", "")]
    assert time.monotonic() - started < 1


def test_found_by_fuzzing_a_malformed_callback_url_is_a_callback_error() -> None:
    from oauthkit.errors import CallbackError
    from oauthkit.oauth1 import TemporaryCredentials
    from oauthkit.protocol.oauth1.flow import parse_callback

    with pytest.raises(CallbackError, match="not a valid URL"):
        parse_callback(TemporaryCredentials(token="t", token_secret="s"), "http://[oops/cb?x=1")
    with pytest.raises(CallbackError, match="not a valid URL"):
        validate_callback(REQUEST, "http://[oops/cb?code=c")
