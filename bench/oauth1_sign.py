"""How fast oauthkit signs OAuth 1.0a requests, next to oauthlib and Authlib, in one run.

    python bench/oauth1_sign.py [--quick]

Cases: (a) a GET with 3 query parameters, (b) a POST with 20 form parameters, (c) a URL with
non-ASCII and reserved characters, all HMAC-SHA1 in the Authorization header; and RSA-SHA1
on (a). Each signer gets the same inputs and produces a complete signed request. Prints the
best per-call time of several rounds and the ratio (other / oauthkit: higher is better).
"""

from __future__ import annotations

import functools
import sys
import timeit
from collections.abc import Callable
from urllib.parse import urlencode

from authlib.oauth1 import ClientAuth
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.oauth1 import SIGNATURE_RSA, Client

from oauthkit.oauth1 import OAuth1Credentials, sign_request

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()

CK, CS, TK, TS = "consumer-key-0123456789", "consumer-secret", "token-0123456789abcd", "tsecret"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
CASES: dict[str, tuple[str, str, dict[str, str], str | None]] = {
    "(a) GET, 3 query params": (
        "GET",
        "https://api.example.com/1.1/statuses/home_timeline.json?count=20&since_id=123&trim=true",
        {},
        None,
    ),
    "(b) POST, 20 form params": (
        "POST",
        "https://api.example.com/1.1/statuses/update.json",
        FORM_TYPE,
        urlencode([(f"field{i}", f"value {i} with spaces & symbols!") for i in range(20)]),
    ),
    "(c) non-ASCII + reserved URL": (
        "GET",
        "https://api.example.com/search/caf%C3%A9?q=%E2%98%83%20snow%2Fman&tag=a%2Bb&x=%3D%26",
        {},
        None,
    ),
}


def oauthkit_signer(rsa_sha1: bool) -> Callable[[str, str, dict[str, str], str | None], object]:
    creds = (
        OAuth1Credentials(consumer_key=CK, rsa_key=PEM, token=TK, token_secret=TS)
        if rsa_sha1
        else OAuth1Credentials(consumer_key=CK, consumer_secret=CS, token=TK, token_secret=TS)
    )
    method = "RSA-SHA1" if rsa_sha1 else "HMAC-SHA1"

    def sign(verb: str, url: str, headers: dict[str, str], body: str | None) -> object:
        return sign_request(verb, url, headers, body, credentials=creds, signature_method=method)

    return sign


def oauthlib_signer(rsa_sha1: bool) -> Callable[[str, str, dict[str, str], str | None], object]:
    if rsa_sha1:
        client = Client(
            CK,
            resource_owner_key=TK,
            resource_owner_secret=TS,
            signature_method=SIGNATURE_RSA,
            rsa_key=PEM,
        )
    else:
        client = Client(CK, client_secret=CS, resource_owner_key=TK, resource_owner_secret=TS)

    def sign(verb: str, url: str, headers: dict[str, str], body: str | None) -> object:
        return client.sign(url, verb, body, headers)

    return sign


def authlib_signer(rsa_sha1: bool) -> Callable[[str, str, dict[str, str], str | None], object]:
    if rsa_sha1:
        auth = ClientAuth(CK, token=TK, token_secret=TS, signature_method="RSA-SHA1", rsa_key=PEM)
    else:
        auth = ClientAuth(CK, CS, token=TK, token_secret=TS)

    def sign(verb: str, url: str, headers: dict[str, str], body: str | None) -> object:
        return auth.sign(verb, url, dict(headers), body.encode() if body else b"")

    return sign


def best_time(func: Callable[[], object], rounds: int, target: float) -> float:
    """Best per-call seconds over ``rounds`` rounds of about ``target`` seconds each."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    number = max(1, int(number * target / 0.2))
    return min(timer.repeat(repeat=rounds, number=number)) / number


def main() -> int:
    quick = "--quick" in sys.argv
    rounds, target = (3, 0.05) if quick else (7, 0.2)
    bars = {"HMAC": 6.0, "RSA": 30.0}
    rows = []
    runs = [(name, case, False) for name, case in CASES.items()]
    runs.append(("RSA-SHA1 on (a)", CASES["(a) GET, 3 query params"], True))
    failed = False
    print(
        f"{'case':32} {'oauthkit':>10} {'oauthlib':>10} {'Authlib':>10} "
        f"{'vs oauthlib':>12} {'vs Authlib':>11}  bar"
    )
    for name, (verb, url, headers, body), rsa_sha1 in runs:
        times = {}
        for label, factory in (
            ("oauthkit", oauthkit_signer),
            ("oauthlib", oauthlib_signer),
            ("authlib", authlib_signer),
        ):
            sign = factory(rsa_sha1)
            sign(verb, url, headers, body)  # warm up, and prove it signs
            call = functools.partial(sign, verb, url, headers, body)
            times[label] = best_time(call, rounds, target)
        vs_oauthlib = times["oauthlib"] / times["oauthkit"]
        vs_authlib = times["authlib"] / times["oauthkit"]
        bar = bars["RSA" if rsa_sha1 else "HMAC"]
        ok = vs_oauthlib >= bar
        failed |= not ok
        rows.append(name)
        print(
            f"{name:32} {times['oauthkit'] * 1e6:8.1f}µs {times['oauthlib'] * 1e6:8.1f}µs "
            f"{times['authlib'] * 1e6:8.1f}µs {vs_oauthlib:11.1f}× {vs_authlib:10.1f}×  "
            f"≥{bar:.0f}× {'ok' if ok else 'BELOW'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
