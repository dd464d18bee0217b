"""ID token validation (OIDC Core §3.1.3.7) against hostile tokens, and key rotation through
the step that fetches the JWKS, driven by hand."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from oauthkit.oauth2 import ClientAuth, Token
from oauthkit.protocol.http import HttpRequest, HttpResponse
from oauthkit.protocol.oauth2.config import ClientConfig
from oauthkit.protocol.oauth2.metadata import ServerMetadata
from oauthkit.protocol.oauth2.oidc import (
    IdTokenError,
    checked_id_token,
    half_hash,
    validate_id_token,
)
from oauthkit.protocol.oauth2.server import MetadataCache

ISSUER = "https://id.example"
NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"}, private=True)
PUBLIC = [KEY.as_dict(private=False)]


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": "cid",
        "exp": NOW + 300,
        "iat": NOW,
        "nonce": "n-1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: Any = KEY, alg: str = "RS256", **header: Any) -> str:
    return jwt.encode({"alg": alg, "kid": "k1", **header}, claims, key, algorithms=[alg])


def _check(token: str, **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": "cid",
        "keys": PUBLIC,
        "nonce": "n-1",
        "now": NOW,
    }
    args.update(kwargs)
    return validate_id_token(token, **args)


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_a_good_token() -> None:
    claims = _check(_sign(_claims(at_hash=half_hash("AT", "RS256"))), access_token="AT")
    assert claims["sub"] == "alice"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (_claims(iss="https://evil.example"), "iss"),
        (_claims(aud="other"), "aud"),
        (_claims(aud=["cid", "other"]), "azp"),
        (_claims(aud=["cid", "other"], azp="other"), "azp"),
        (_claims(exp=NOW - 3600), "expired"),
        (_claims(iat=NOW + 3600), "future"),
        (_claims(iat=None), "iat"),
        (_claims(exp="soon"), "exp"),
        (_claims(sub=None), "sub"),
        (_claims(nonce=None), "nonce"),
        (_claims(nonce="replayed"), "nonce"),
        (_claims(at_hash="wrong"), "at_hash"),
    ],
)
def test_hostile_claims_are_refused(claims: dict[str, Any], message: str) -> None:
    with pytest.raises(IdTokenError, match=message):
        _check(_sign(claims), access_token="AT")


def test_extra_audience_with_azp_is_accepted() -> None:
    assert _check(_sign(_claims(aud=["cid", "other"], azp="cid")))["azp"] == "cid"


def test_alg_none_is_refused() -> None:
    with pytest.raises(IdTokenError, match="unsigned"):
        _check(_unsigned(_claims(), {"alg": "none"}))


def test_a_bad_signature_is_refused() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    with pytest.raises(IdTokenError, match="signature"):
        _check(_sign(_claims(), key=other))
    token = _sign(_claims())
    head, _, sig = token.split(".")
    tampered = (
        base64.urlsafe_b64encode(json.dumps(_claims(sub="mallory")).encode()).rstrip(b"=").decode()
    )
    with pytest.raises(IdTokenError, match="signature"):
        _check(f"{head}.{tampered}.{sig}")


def test_hmac_keyed_with_the_public_key_is_refused() -> None:
    """The classic confusion: an HS256 token whose key is the provider's public key."""
    import hashlib
    import hmac as hmac_module

    public_pem = KEY.as_pem(private=False)  # joserfc itself refuses such a key: sign by hand
    unsigned = _unsigned(_claims(), {"alg": "HS256", "kid": "k1"})[:-1]
    mac = hmac_module.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    forged = unsigned + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(IdTokenError, match="HS256"):
        _check(forged)  # not in the allow-list
    with pytest.raises(IdTokenError):
        _check(forged, algorithms=["RS256", "HS256"])  # no client secret: refused
    with pytest.raises(IdTokenError, match="signature"):
        _check(forged, algorithms=["HS256"], client_secret="the-real-client-secret-0123456789ab")


def test_hs256_with_the_client_secret_when_allowed() -> None:
    secret = "the-real-client-secret-0123456789ab"
    token = _sign(_claims(), key=OctKey.import_key(secret), alg="HS256")
    assert _check(token, algorithms=["HS256"], client_secret=secret)["sub"] == "alice"


def test_crit_header_and_other_serializations_are_refused() -> None:
    with pytest.raises(IdTokenError, match="critical"):
        _check(
            _unsigned(_claims(), {"alg": "RS256", "kid": "k1", "crit": ["b64"], "b64": False})
            + "sig"
        )
    with pytest.raises(IdTokenError, match="compact"):
        _check("a.b.c.d.e")
    with pytest.raises(IdTokenError, match="larger"):
        _check("x" * 20000)


def test_unknown_kid_is_a_lookup_error_for_rotation() -> None:
    with pytest.raises(LookupError):
        _check(_sign(_claims(), kid="rotated"))


def test_refreshed_id_token_keeps_iss_and_sub() -> None:
    previous = {"iss": ISSUER, "sub": "alice"}
    assert _check(_sign(_claims(nonce=None)), nonce=None, previous=previous)
    with pytest.raises(IdTokenError, match="sub"):
        _check(_sign(_claims(sub="bob", nonce=None)), nonce=None, previous=previous)


def _json(body: Any) -> HttpResponse:
    return HttpResponse.build(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def test_key_rotation_fetches_the_jwks_again_once() -> None:
    rotated = ECKey.generate_key("P-256", parameters={"kid": "k2", "use": "sig"}, private=True)
    metadata = ServerMetadata(
        issuer=ISSUER,
        endpoints={"jwks_uri": "https://id.example/jwks", "token_endpoint": "https://id.example/t"},
        raw={"id_token_signing_alg_values_supported": ["RS256", "ES256"]},
    )
    config = ClientConfig(auth=ClientAuth("cid"), issuer=ISSUER, clock=lambda: NOW)
    cache = MetadataCache(metadata)
    token = Token("AT", id_token=_sign(_claims(), key=KEY))
    step = checked_id_token(config, cache, token, nonce="n-1")
    request = next(step)
    assert isinstance(request, HttpRequest)
    assert request.url == "https://id.example/jwks"
    with pytest.raises(StopIteration) as done:
        step.send(_json({"keys": PUBLIC}))
    assert done.value.value.id_claims["sub"] == "alice"

    # The provider rotates to k2; the cached keys do not know it: one fetch, then success.
    token2 = Token("AT", id_token=_sign(_claims(), key=rotated, alg="ES256", kid="k2"))
    step = checked_id_token(config, cache, token2, nonce="n-1")
    assert next(step).url == "https://id.example/jwks"  # type: ignore[union-attr]
    with pytest.raises(StopIteration) as done:
        step.send(_json({"keys": [rotated.as_dict(private=False)]}))
    assert done.value.value.id_claims["sub"] == "alice"

    # An unknown kid right after a fetch: refused without hammering the JWKS endpoint.
    token3 = Token("AT", id_token=_sign(_claims(), key=KEY, kid="k9"))
    with pytest.raises(IdTokenError, match="kid"):
        next(checked_id_token(config, cache, token3, nonce="n-1"))


def test_without_an_issuer_the_id_token_is_kept_unchecked() -> None:
    config = ClientConfig(auth=ClientAuth("cid"), endpoints={"token_endpoint": "https://t/x"})
    token = Token("AT", id_token="not.even.checked")
    step = checked_id_token(config, MetadataCache(), token)
    with pytest.raises(StopIteration) as done:
        next(step)
    assert done.value.value.id_claims is None
    assert time.time() > 0


# -- what the request asked of the sign-in (OIDC Core §3.1.2.1, §3.1.3.7 items 12-13) --------


@pytest.mark.parametrize(
    ("auth_time", "checks", "message"),
    [
        (None, {"max_age": 600}, "no auth_time, which max_age=600 makes required"),
        (0, {"max_age": 600}, "signed in 1800000000 s ago, more than max_age=600"),
        (NOW - 700, {"max_age": 600}, "more than max_age=600"),
        (True, {"max_age": 600}, "no auth_time"),
        ("1800000000", {"max_age": 600}, "no auth_time"),
        (None, {"after": NOW - 5}, "no auth_time, which prompt=login makes required"),
        (NOW - 3600, {"after": NOW - 5}, "auth_time is before the request"),
    ],
    ids=["missing", "epoch", "too-old", "bool", "text", "login-missing", "login-old"],
)
def test_a_sign_in_older_than_asked_is_refused(
    auth_time: Any, checks: dict[str, Any], message: str
) -> None:
    """Glewlwyd answered max_age=600 with auth_time 0 (1970): a server that ignores max_age
    must not silently defeat the re-authentication the app asked for."""
    token = _sign(_claims(auth_time=auth_time))
    with pytest.raises(IdTokenError, match=message):
        _check(token, authentication=checks)


def test_a_recent_sign_in_passes_within_the_leeway() -> None:
    assert _check(_sign(_claims(auth_time=NOW - 630)), authentication={"max_age": 600})
    assert _check(_sign(_claims(auth_time=NOW - 30)), authentication={"after": NOW})
    assert _check(_sign(_claims(auth_time=0)))  # nothing asked: nothing checked


def test_require_acr_checks_the_acr_granted() -> None:
    checks = {"acr": ["urn:mfa", "urn:strong"]}
    assert _check(_sign(_claims(acr="urn:mfa")), authentication=checks)
    for acr in (None, "urn:password"):
        with pytest.raises(IdTokenError, match=r"acr .* is none of the acr_values asked for"):
            _check(_sign(_claims(acr=acr)), authentication=checks)


def test_a_refreshed_id_token_keeps_the_original_auth_time() -> None:
    previous = {"iss": ISSUER, "sub": "alice", "auth_time": NOW - 100}
    assert _check(_sign(_claims(nonce=None, auth_time=NOW - 100)), nonce=None, previous=previous)
    assert _check(_sign(_claims(nonce=None)), nonce=None, previous=previous)  # left out: fine
    with pytest.raises(IdTokenError, match="changed auth_time"):
        _check(_sign(_claims(nonce=None, auth_time=NOW)), nonce=None, previous=previous)


def test_what_the_request_asks_is_kept_with_it() -> None:
    from oauthkit.errors import ConfigurationError
    from oauthkit.protocol.oauth2.authorization import (
        AuthorizationRequest,
        authentication_checks,
    )

    checks = authentication_checks(
        {"max_age": "600", "prompt": "login consent", "acr_values": "urn:mfa urn:strong"},
        require_acr=True,
        now=NOW,
    )
    assert checks == {"max_age": 600, "after": NOW, "acr": ["urn:mfa", "urn:strong"]}
    assert authentication_checks({"acr_values": "urn:mfa"}, require_acr=False, now=NOW) is None
    with pytest.raises(ConfigurationError, match="max_age is a number of seconds"):
        authentication_checks({"max_age": "soon"}, require_acr=False, now=NOW)
    with pytest.raises(ConfigurationError, match="require_acr=True needs the acr_values"):
        authentication_checks({}, require_acr=True, now=NOW)
    request = AuthorizationRequest(
        url="https://id.example/a?x",
        state="s",
        client_id="cid",
        redirect_uri=None,
        scope="openid",
        code_verifier="v",
        code_challenge_method="S256",
        nonce="n",
        issuer=ISSUER,
        iss_required=False,
        created_at=NOW,
        authentication=checks,
    )
    assert AuthorizationRequest.from_dict(request.to_dict()).authentication == checks
    older = {k: v for k, v in request.to_dict().items() if k != "authentication"}
    assert AuthorizationRequest.from_dict(older).authentication is None  # kept by a version before
