"""Published OAuth 1.0a vectors: RFC 5849 (with verified Errata 2550) and X's example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oauthkit.oauth1 import (
    OAuth1Credentials,
    base_string_uri,
    sign_base_string,
    sign_request,
    signature_base_string,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "rfc5849.json").read_text())


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


SIGNATURES = VECTORS["signature_vectors"]


@pytest.mark.parametrize("vector", SIGNATURES, ids=_ids(SIGNATURES))
def test_signature_vector(vector: dict[str, Any]) -> None:
    if vector["params"] is None:
        base = ""
    else:
        params = [tuple(p) for p in vector["params"]]
        base = signature_base_string(vector["method"], vector["url"], params)
        assert base == vector["base_string"]
    signature = sign_base_string(
        vector["signature_method"],
        base,
        consumer_secret=vector["consumer_secret"],
        token_secret=vector["token_secret"],
    )
    assert signature == vector["expected_signature"]


@pytest.mark.parametrize("vector", VECTORS["base_string_uri_vectors"], ids=lambda v: v["input"])
def test_base_string_uri_vector(vector: dict[str, str]) -> None:
    assert base_string_uri(vector["input"]) == vector["expected"]


def test_rfc5849_section_3_1_request_end_to_end() -> None:
    """§3.1's request, signed whole: the query and the form body enter the base string.

    The RFC's example sends no oauth_version, so the base string is checked through
    signature_base_string with exactly the parameters sign_request collected."""
    vector = next(v for v in SIGNATURES if v["name"].startswith("rfc5849-3.1"))
    creds = OAuth1Credentials(
        consumer_key="9djdj82h48djs9d2",
        consumer_secret="j49sk3j29djd",
        token="kkk9d7dh3k39sjv7",
        token_secret="dh893hdasih9",
    )
    signed = sign_request(
        "POST",
        vector["url"],
        {"Content-Type": "application/x-www-form-urlencoded"},
        vector["body"],
        credentials=creds,
        realm="Example",
        nonce="7d8f3e4a",
        timestamp=137131201,
        allow_insecure_http=True,
    )
    header = signed.headers["Authorization"]
    assert header.startswith('OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2"')
    assert 'oauth_version="1.0"' in header
    assert signed.body == b"c2&a3=2+q"
    assert signed.url == vector["url"]


def test_x_creating_a_signature_example() -> None:
    """X (Twitter) developer docs, "Creating a signature": a POST with a query parameter and
    a form body; the published signature is hCtSmYh+iHYCEqBWrE7C7hYmtUk=."""
    creds = OAuth1Credentials(
        consumer_key="xvz1evFS4wEEPTGEFPHBog",
        consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    )
    signed = sign_request(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        {"Content-Type": "application/x-www-form-urlencoded"},
        "status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21",
        credentials=creds,
        nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        timestamp=1318622958,
    )
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in signed.headers["Authorization"]


def test_plaintext_header_encodes_the_key_once_more() -> None:
    """RFC 5849 §2.1: the PLAINTEXT signature ja893SD9& travels as ja893SD9%26."""
    creds = OAuth1Credentials(consumer_key="jd83jd92dhsh93js", consumer_secret="ja893SD9")
    signed = sign_request(
        "POST",
        "https://server.example.com/request_temp_credentials",
        credentials=creds,
        signature_method="PLAINTEXT",
        callback="http://client.example.net/cb?x=1",
        nonce="n",
        timestamp=1,
    )
    header = signed.headers["Authorization"]
    assert 'oauth_signature="ja893SD9%26"' in header
    assert 'oauth_callback="http%3A%2F%2Fclient.example.net%2Fcb%3Fx%3D1"' in header
