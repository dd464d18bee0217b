"""Coverage-guided fuzzing (atheris) of every parser that reads what a server or a redirect
sends: callbacks (OAuth 2 and 1.0a), token and credential responses, form decoding and
signing, discovery documents, ID tokens, WWW-Authenticate challenges, JSON text and the
redaction of error previews.

    python fuzz/fuzz_parsers.py -max_total_time=30

The property: any input ends in a value or in an oauthkit error (``OAuthKitError``) — never
another exception, a hang or a crash.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from oauthkit.errors import OAuthKitError
    from oauthkit.oauth1 import OAuth1Credentials, TemporaryCredentials, sign_request
    from oauthkit.oauth2 import AuthorizationRequest, bearer_challenge_error, validate_callback
    from oauthkit.protocol.http import HttpResponse
    from oauthkit.protocol.jsontext import JSONTextError, loads
    from oauthkit.protocol.oauth1.encoding import encode_form, parse_form, percent_encode
    from oauthkit.protocol.oauth1.flow import parse_callback, parse_credentials_response
    from oauthkit.protocol.oauth2.bearer import parse_challenges
    from oauthkit.protocol.oauth2.oidc import validate_id_token
    from oauthkit.protocol.oauth2.response import parse_token_response
    from oauthkit.protocol.redaction import redact

REQUEST = AuthorizationRequest(
    url="https://as.example/authorize",
    state="s" * 43,
    client_id="c",
    redirect_uri=None,
    scope="openid",
    code_verifier="v" * 64,
    code_challenge_method="S256",
    nonce="n" * 43,
    issuer="https://as.example",
    iss_required=False,
    created_at=0,
)
TEMPORARY = TemporaryCredentials(token="t", token_secret="s")
CREDENTIALS = OAuth1Credentials(consumer_key="k", consumer_secret="s", token="t", token_secret="u")


def one(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    choice = provider.ConsumeIntInRange(0, 10)
    text = provider.ConsumeUnicodeNoSurrogates(2048)
    body = text.encode("utf-8", "surrogatepass")
    status = 200 if provider.ConsumeBool() else 400
    response = HttpResponse.build(status, {"Content-Type": "application/json"}, body)
    try:
        if choice == 0:
            validate_callback(REQUEST, text)
        elif choice == 1:
            parse_token_response(response, requested_scope=None, grant="authorization_code")
        elif choice == 2:
            parse_callback(TEMPORARY, text)
        elif choice == 3:
            parse_credentials_response(response, "the endpoint")
        elif choice == 4:
            pairs = encode_form(text)
            assert pairs == [(percent_encode(k), percent_encode(v)) for k, v in parse_form(text)]
        elif choice == 5:
            sign_request(
                "POST",
                "https://a.example/p?" + text,
                {"Content-Type": "application/x-www-form-urlencoded"},
                text,
                credentials=CREDENTIALS,
            )
        elif choice == 6:
            validate_id_token(text, issuer="https://as.example", client_id="c", keys=[])
        elif choice == 7:
            bearer_challenge_error(text)
        elif choice == 8:
            for scheme, params in parse_challenges(text):
                assert scheme == scheme.lower()
                assert all(k == k.lower() for k in params)
        elif choice == 9:
            loads(body)
        else:
            secret = "S3cret-" + text[:16]
            shown = redact(body + secret.encode() + body, secrets=[secret])
            assert secret not in shown or len(secret) < 6
    except (OAuthKitError, LookupError, JSONTextError):
        pass


def main() -> None:
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
