"""sign_request: placement, parameters, body hash, transport policy and caller mistakes."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qsl, urlsplit

import pytest

from oauthkit.errors import ConfigurationError, InsecureTransportError
from oauthkit.oauth1 import (
    SIGNATURE_METHODS,
    OAuth1Credentials,
    base_string_uri,
    sign_request,
)
from oauthkit.protocol.oauth1.signing import make_nonce

CREDS = OAuth1Credentials(
    consumer_key="ck", consumer_secret="cs-secret", token="tok", token_secret="ts-secret"
)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _header_params(header: str) -> dict[str, str]:
    assert header.startswith("OAuth ")
    out = {}
    for item in header[6:].split(", "):
        name, _, value = item.partition("=")
        out[name] = value.strip('"')
    return out


def test_header_placement_carries_every_protocol_parameter() -> None:
    signed = sign_request("GET", "https://api.example.com/x?a=1", credentials=CREDS)
    params = _header_params(signed.headers["Authorization"])
    assert set(params) == {
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_version",
        "oauth_signature",
    }
    assert signed.url == "https://api.example.com/x?a=1"
    assert signed.body is None


def test_query_placement_appends_to_the_query() -> None:
    signed = sign_request(
        "GET", "https://api.example.com/x?a=1", credentials=CREDS, placement="query"
    )
    pairs = parse_qsl(urlsplit(signed.url).query)
    assert pairs[0] == ("a", "1")
    assert {k for k, _ in pairs} >= {"oauth_signature", "oauth_nonce", "oauth_token"}
    assert "Authorization" not in signed.headers


def test_query_placement_without_query() -> None:
    signed = sign_request("GET", "https://api.example.com/x", credentials=CREDS, placement="query")
    assert signed.url.startswith("https://api.example.com/x?oauth_consumer_key=ck&")


def test_body_placement_extends_the_form() -> None:
    signed = sign_request(
        "POST", "https://api.example.com/x", FORM, "a=1&b=2", credentials=CREDS, placement="body"
    )
    assert signed.body is not None
    pairs = parse_qsl(signed.body.decode())
    assert pairs[:2] == [("a", "1"), ("b", "2")]
    assert "oauth_signature" in dict(pairs)


def test_body_placement_with_no_body_makes_a_form() -> None:
    signed = sign_request("POST", "https://api.example.com/x", credentials=CREDS, placement="body")
    assert signed.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert b"oauth_signature=" in (signed.body or b"")


def test_body_placement_refuses_a_json_body() -> None:
    with pytest.raises(ConfigurationError, match=r"3\.5\.2"):
        sign_request(
            "POST",
            "https://api.example.com/x",
            {"Content-Type": "application/json"},
            b"{}",
            credentials=CREDS,
            placement="body",
        )


def test_body_placement_updates_content_length() -> None:
    signed = sign_request(
        "POST",
        "https://api.example.com/x",
        {**FORM, "content-length": "3"},
        "a=1",
        credentials=CREDS,
        placement="body",
    )
    assert signed.headers["content-length"] == str(len(signed.body or b""))


def test_same_inputs_same_signature_and_form_body_is_signed() -> None:
    def sig(body: str) -> str:
        signed = sign_request(
            "POST",
            "https://api.example.com/x",
            FORM,
            body,
            credentials=CREDS,
            nonce="n",
            timestamp=1,
        )
        return _header_params(signed.headers["Authorization"])["oauth_signature"]

    assert sig("a=1") == sig("a=1")
    assert sig("a=1") != sig("a=2")


def test_json_body_is_not_signed_without_body_hash() -> None:
    def sig(body: bytes) -> str:
        signed = sign_request(
            "POST",
            "https://api.example.com/x",
            {"Content-Type": "application/json"},
            body,
            credentials=CREDS,
            nonce="n",
            timestamp=1,
        )
        return _header_params(signed.headers["Authorization"])["oauth_signature"]

    assert sig(b'{"a": 1}') == sig(b'{"a": 2}')


@pytest.mark.parametrize(
    ("method", "digest"),
    [
        ("HMAC-SHA1", hashlib.sha1),
        ("HMAC-SHA256", hashlib.sha256),
        ("HMAC-SHA512", hashlib.sha512),
    ],
)
def test_body_hash_follows_the_signature_digest(method: str, digest: object) -> None:
    body = b'{"hello": "world"}'
    signed = sign_request(
        "POST",
        "https://api.example.com/x",
        {"Content-Type": "application/json"},
        body,
        credentials=CREDS,
        signature_method=method,
        body_hash=True,
    )
    params = _header_params(signed.headers["Authorization"])
    expected = base64.b64encode(digest(body).digest()).decode()  # type: ignore[operator]
    assert params["oauth_body_hash"] == expected.replace("+", "%2B").replace("/", "%2F").replace(
        "=", "%3D"
    )


def test_body_hash_of_an_empty_body_and_never_on_forms() -> None:
    empty = sign_request("GET", "https://a.example/x", credentials=CREDS, body_hash=True)
    assert "oauth_body_hash=" in empty.headers["Authorization"]
    form = sign_request(
        "POST", "https://a.example/x", FORM, "a=1", credentials=CREDS, body_hash=True
    )
    assert "oauth_body_hash" not in form.headers["Authorization"]


def test_body_hash_with_plaintext_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="PLAINTEXT"):
        sign_request(
            "POST",
            "https://a.example/x",
            {"Content-Type": "application/json"},
            b"{}",
            credentials=CREDS,
            signature_method="PLAINTEXT",
            body_hash=True,
        )


def test_realm_is_quoted_and_excluded_from_the_signature() -> None:
    def header(realm: str | None) -> str:
        return sign_request(
            "GET", "https://a.example/x", credentials=CREDS, realm=realm, nonce="n", timestamp=1
        ).headers["Authorization"]

    with_realm = header('say "hi"\\')
    assert with_realm.startswith('OAuth realm="say \\"hi\\"\\\\", ')
    assert with_realm.split(", ")[-1] == header(None).split(", ")[-1]


def test_existing_authorization_header_is_replaced() -> None:
    signed = sign_request(
        "GET", "https://a.example/x", {"authorization": "Bearer old"}, credentials=CREDS
    )
    assert list(signed.headers) == ["Authorization"]


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/x",
        "http://10.0.0.1/x",
        "http://[2001:db8::1]/x",
    ],
)
def test_plain_http_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(InsecureTransportError, match="allow_insecure_http"):
        sign_request("GET", url, credentials=CREDS)
    with pytest.raises(InsecureTransportError):
        sign_request("GET", url, credentials=CREDS, signature_method="PLAINTEXT")
    assert sign_request("GET", url, credentials=CREDS, allow_insecure_http=True).url == url


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/x", "http://127.5.6.7/x", "http://[::1]:9/x", "http://localhost/x"],
)
def test_loopback_http_is_allowed(url: str) -> None:
    assert sign_request("GET", url, credentials=CREDS, signature_method="PLAINTEXT").url == url


def test_non_http_urls_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="absolute"):
        sign_request("GET", "ftp://example.com/x", credentials=CREDS)
    with pytest.raises(ConfigurationError, match="absolute"):
        sign_request("GET", "/relative", credentials=CREDS)


def test_caller_mistakes_are_typed_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown signature method"):
        sign_request("GET", "https://a.example/", credentials=CREDS, signature_method="MD5")
    with pytest.raises(ValueError, match="placement"):
        sign_request("GET", "https://a.example/", credentials=CREDS, placement="cookie")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="rsa_key"):
        sign_request("GET", "https://a.example/", credentials=CREDS, signature_method="RSA-SHA1")
    with pytest.raises(ConfigurationError, match="bytes or str"):
        sign_request("POST", "https://a.example/", FORM, iter([b"a=1"]), credentials=CREDS)  # type: ignore[arg-type]


def test_rsa_only_credentials_cannot_sign_hmac() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    creds = OAuth1Credentials(consumer_key="ck", rsa_key=key)
    with pytest.raises(ConfigurationError, match="consumer_secret"):
        sign_request("GET", "https://a.example/", credentials=creds)
    signed = sign_request(
        "GET", "https://a.example/", credentials=creds, signature_method="RSA-SHA256"
    )
    assert 'oauth_signature_method="RSA-SHA256"' in signed.headers["Authorization"]


def test_credentials_check_their_arguments() -> None:
    with pytest.raises(ConfigurationError, match="consumer_key"):
        OAuth1Credentials(consumer_key="", consumer_secret="x")
    with pytest.raises(ConfigurationError, match="consumer_secret"):
        OAuth1Credentials(consumer_key="k")
    with pytest.raises(ConfigurationError, match="give token_secret"):
        OAuth1Credentials(consumer_key="k", consumer_secret="s", token="t")
    with pytest.raises(ConfigurationError, match="needs its token"):
        OAuth1Credentials(consumer_key="k", consumer_secret="s", token_secret="x")
    with pytest.raises(ConfigurationError, match="PEM"):
        OAuth1Credentials(consumer_key="k", rsa_key="not a key")


def test_no_secret_in_repr() -> None:
    signed = sign_request("GET", "https://a.example/x?q=1", credentials=CREDS)
    for text in (repr(CREDS), repr(signed), str(CREDS)):
        assert "cs-secret" not in text
        assert "ts-secret" not in text
        assert "tok" not in text.replace("token=", "")
        assert "oauth_signature" not in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://EXAMPLE.com:443/a", "https://example.com/a"),
        ("HTTP://Example.COM:8080", "http://example.com:8080/"),
        ("http://[2001:DB8::1]:80/p", "http://[2001:db8::1]/p"),
        ("https://[::1]:8443/p?x#frag", "https://[::1]:8443/p"),
        ("https://user:pw@example.com/p", "https://example.com/p"),
        ("https://example.com/caf\u00e9 x", "https://example.com/caf%C3%A9%20x"),
        ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),
        ("https://example.com/a%2Fb/", "https://example.com/a%2Fb/"),
    ],
)
def test_base_string_uri_rules(given: str, expected: str) -> None:
    """RFC 5849 §3.4.1.2: lower-case scheme and host, default port dropped, IPv6 bracketed,
    path as sent on the wire."""
    assert base_string_uri(given) == expected


def test_repeated_parameters_sort_by_value() -> None:
    from oauthkit.oauth1 import normalize_parameters

    assert normalize_parameters([("a", "z"), ("a", "b"), ("A", "x"), ("a", "")]) == (
        "A=x&a=&a=b&a=z"
    )


def test_nonces_are_long_random_and_alphanumeric() -> None:
    nonces = {make_nonce() for _ in range(2000)}
    assert len(nonces) == 2000
    for nonce in nonces:
        assert nonce.isalnum()
        assert nonce.isascii()
        assert len(nonce) == 24


def test_every_signature_method_is_listed() -> None:
    assert set(SIGNATURE_METHODS) == {
        "HMAC-SHA1",
        "HMAC-SHA256",
        "HMAC-SHA512",
        "RSA-SHA1",
        "RSA-SHA256",
        "RSA-SHA512",
        "PLAINTEXT",
    }


@pytest.mark.parametrize("method", ["GET", "head"])
def test_body_placement_refuses_bodiless_methods(method: str) -> None:
    with pytest.raises(ConfigurationError, match="has none"):
        sign_request("GET", "https://a.example/x", credentials=CREDS, placement="body")
