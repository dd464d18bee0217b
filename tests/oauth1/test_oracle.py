"""Property tests: every request oauthkit signs verifies with oauthlib's server-side check,
an independent implementation of RFC 5849 §3.4, over random methods, hosts (IPv6 and
explicit default ports included), unicode paths, repeated parameters and form bodies."""

from __future__ import annotations

from functools import cache
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oauthlib.common import Request, urldecode
from oauthlib.oauth1.rfc5849 import signature as oracle
from oauthlib.oauth1.rfc5849 import utils as oracle_utils

from oauthkit.oauth1 import SIGNATURE_METHODS, OAuth1Credentials, sign_request

pytestmark = pytest.mark.slow


@cache
def _rsa_pems() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=0, max_size=12
)
names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8
).filter(lambda n: not n.lower().startswith("oauth_"))
pairs = st.lists(st.tuples(names, text), max_size=6)
hosts = st.one_of(
    st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9-]{0,10}(\.[a-zA-Z]{2,5}){1,2}\Z"),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)
ports = st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(1, 65535))
segments = st.lists(text, min_size=0, max_size=4)
methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    st.from_regex(r"\A[A-Z]{3,8}\Z"),
)
secrets_ = st.text(min_size=0, max_size=20)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, object]:
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(hosts)
    port = draw(ports)
    path = "/" + "/".join(quote(s, safe="") for s in draw(segments))
    query = draw(pairs)
    method = draw(methods)
    form = draw(pairs) if method in ("POST", "PUT", "PATCH") else []
    signature_method = draw(st.sampled_from(SIGNATURE_METHODS))
    placement = draw(st.sampled_from(["header", "query", "body"] if form else ["header", "query"]))
    authority = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{authority}{path}"
    if query:
        url += "?" + urlencode(query, quote_via=quote)
    return {
        "method": method,
        "url": url,
        "form": form,
        "signature_method": signature_method,
        "placement": placement,
        "consumer_secret": draw(secrets_),
        "token_secret": draw(secrets_),
        "token": draw(st.one_of(st.none(), st.text(min_size=1, max_size=10))),
    }


def _oracle_request(
    method: str, url: str, form_body: str | None, headers: dict[str, str]
) -> Request:
    """The request as oauthlib's server sees it: query, form body and Authorization header
    decoded by oauthlib's own parsers.

    (Not oauthlib's ``collect_parameters``: it decodes ``oauth_*`` values from the query or
    the body a second time, so an oauthlib server rejects such requests when a PLAINTEXT
    signature or a token contains ``%`` after one decode.)
    """
    collected = list(urldecode(urlsplit(url).query))
    if form_body:
        collected += urldecode(form_body)
    if "Authorization" in headers:
        collected += [
            (k, oracle_utils.unescape(v))
            for k, v in oracle_utils.parse_authorization_header(headers["Authorization"])
            if k != "realm"
        ]
    request = Request(url, http_method=method, body=form_body, headers=headers)
    request.signature = dict(collected)["oauth_signature"]
    request.params = [(k, v) for k, v in collected if k != "oauth_signature"]
    return request


def _verify(case: dict[str, object]) -> bool:
    method = str(case["method"])
    signature_method = str(case["signature_method"])
    private, public = _rsa_pems()
    token = case["token"]
    creds = OAuth1Credentials(
        consumer_key="key",
        consumer_secret=str(case["consumer_secret"]),
        rsa_key=private,
        token=token if isinstance(token, str) else None,
        token_secret=str(case["token_secret"]) if isinstance(token, str) else None,
    )
    form = case["form"]
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
    body = urlencode(form) if form else None  # type: ignore[arg-type]
    signed = sign_request(
        method,
        str(case["url"]),
        headers,
        body,
        credentials=creds,
        signature_method=signature_method,
        placement=case["placement"],  # type: ignore[arg-type]
        allow_insecure_http=True,
    )
    sent_body = signed.body.decode() if signed.body else None
    request = _oracle_request(method, signed.url, sent_body if form else None, signed.headers)
    secret = creds.consumer_secret
    token_secret = creds.token_secret
    if signature_method == "HMAC-SHA1":
        return bool(oracle.verify_hmac_sha1(request, secret, token_secret))
    if signature_method == "HMAC-SHA256":
        return bool(oracle.verify_hmac_sha256(request, secret, token_secret))
    if signature_method == "HMAC-SHA512":
        return bool(oracle.verify_hmac_sha512(request, secret, token_secret))
    if signature_method == "RSA-SHA1":
        return bool(oracle.verify_rsa_sha1(request, public))
    if signature_method == "RSA-SHA256":
        return bool(oracle.verify_rsa_sha256(request, public))
    if signature_method == "RSA-SHA512":
        return bool(oracle.verify_rsa_sha512(request, public))
    return bool(oracle.verify_plaintext(request, secret, token_secret))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_oauthlib_verifies_what_oauthkit_signs(case: dict[str, object]) -> None:
    assert _verify(case), case


def test_a_tampered_request_fails_the_oracle() -> None:
    """The oracle can fail: change one query value after signing and it refuses."""
    creds = OAuth1Credentials(consumer_key="key", consumer_secret="s", token="t", token_secret="u")
    signed = sign_request("GET", "https://a.example/p?x=1", credentials=creds)
    assert oracle.verify_hmac_sha1(
        _oracle_request("GET", signed.url, None, signed.headers), "s", "u"
    )
    tampered = signed.url.replace("x=1", "x=2")
    assert not oracle.verify_hmac_sha1(
        _oracle_request("GET", tampered, None, signed.headers), "s", "u"
    )


form_text = st.lists(
    st.sampled_from([*list("aZ09-._~+&=%!*'() é☃"), "%41", "%2b", "%2B", "%C3%A9", "%00", "%zz"]),
    max_size=20,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(form_text)
def test_encode_form_fast_path_equals_decode_then_encode(text_: str) -> None:
    """encode_form skips decoding canonical input; the result must not differ."""
    from oauthkit.protocol.oauth1.encoding import encode_form, parse_form, percent_encode

    assert encode_form(text_) == [
        (percent_encode(k), percent_encode(v)) for k, v in parse_form(text_)
    ]
