"""OpenID Connect ID tokens (OIDC Core §2, §3.1.3.7, §12.2): signature, claims, hashes.

The ID token is checked before anyone sees it: compact JWS only (a JSON serialization is
refused; a JWE is decrypted with the client's ``decryption_key`` and must hold a signed
JWT, :func:`decrypt_nested`), a size cap before decoding, an algorithm from the provider's
allow-list (never ``none``, never an HMAC keyed with a public key), a key from the
provider's JWKS (fetched again once when a ``kid`` is unknown — key rotation — and then not
again for :data:`JWKS_REFETCH_INTERVAL` seconds), no unknown ``crit`` header; then ``iss``
exactly, ``aud`` containing the client (and ``azp`` naming it when there are other
audiences), ``exp`` and ``iat`` within a bounded leeway, the request's ``nonce``, and
``at_hash``/``c_hash`` when present.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ...errors import InvalidResponse
from ..http import HttpRequest, HttpResponse, Step
from ..jsontext import loads
from ..retry import DEFAULT_RETRY, Retry, fetched, retrying
from . import fapi
from .config import ClientConfig
from .dpop import make_proof, wants_nonce
from .hooks import fetch_with_hooks
from .response import answer_fields
from .server import JwksCache, MetadataCache, server_metadata
from .token import Token

__all__ = [
    "JWE_ALGORITHMS",
    "JWE_ENCRYPTIONS",
    "MAX_ID_TOKEN",
    "IdTokenError",
    "JwksCache",
    "decrypt_nested",
    "half_hash",
    "id_token_alg",
    "jwks_step",
    "validate_id_token",
]

#: The largest ID token decoded (bytes); larger ones are refused unread.
MAX_ID_TOKEN: Final = 16 * 1024
#: Seconds between two JWKS fetches caused by an unknown ``kid`` (key rotation).
JWKS_REFETCH_INTERVAL: Final = 60.0
#: The most clock skew accepted on ``exp`` and ``iat`` (seconds).
MAX_LEEWAY: Final = 300.0
#: The last second of the year 9999: a NumericDate beyond is refused, not overflowed.
MAX_TIME: Final = 253_402_300_799
#: Without metadata saying otherwise, the only algorithm expected (OIDC Core §15.1).
DEFAULT_ALGORITHMS: Final = ("RS256",)
_HASHES: Final = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


class IdTokenError(InvalidResponse):
    """The ID token failed a check of OIDC Core §3.1.3.7; no token is handed back."""


#: Key management algorithms accepted for a response encrypted to the client (RFC 7518
#: §4.3, §4.6); never RSA1_5 (RFC 8725 §3.2).
JWE_ALGORITHMS: Final = (
    "RSA-OAEP",
    "RSA-OAEP-256",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A256KW",
)
#: Content encryption algorithms accepted (RFC 7518 §5); compression (``zip``) is refused.
JWE_ENCRYPTIONS: Final = (
    "A128CBC-HS256",
    "A192CBC-HS384",
    "A256CBC-HS512",
    "A128GCM",
    "A192GCM",
    "A256GCM",
)


def _jwe_registry() -> Any:
    """The JWE algorithms above, and the claims a server may copy into the protected header
    of an encrypted JWT (RFC 7519 §5.3: ``iss``, ``aud``, ``sub``, ``exp``, ``iat``),
    which oidc-provider does."""
    from joserfc.jwe import JWERegistry
    from joserfc.registry import HeaderParameter

    def any_value(_: object) -> None:
        return None

    replicated = {
        name: HeaderParameter(f"the {name} claim, replicated (RFC 7519 §5.3)", any_value)
        for name in ("iss", "aud", "sub", "exp", "iat")
    }
    return JWERegistry(header_registry=replicated, algorithms=[*JWE_ALGORITHMS, *JWE_ENCRYPTIONS])


def decrypt_nested(config: ClientConfig, compact: str, *, what: str, error: type[Exception]) -> str:
    """A response the server encrypted to the client (a compact JWE, RFC 7516; OIDC Core
    §10.2, JARM §2.3): decrypted with the client's ``decryption_key``; its plaintext must be
    the signed JWT (a nested JWT, signed then encrypted), returned still to be verified."""
    from joserfc import jwe
    from joserfc.errors import JoseError

    if len(compact) > 2 * MAX_ID_TOKEN:
        raise error(f"{what} is larger than {2 * MAX_ID_TOKEN} bytes")
    if config.decryption_key is None:
        raise error(
            f"{what} is encrypted (JWE) and this client has no decryption key: pass "
            "decryption_key= (the private half of the key registered for encryption)"
        )
    try:
        decrypted = jwe.decrypt_compact(compact, config.decryption_key, registry=_jwe_registry())
    except (JoseError, ValueError, TypeError) as exc:
        raise error(f"{what} cannot be decrypted with the client's key: {exc}") from None
    try:
        inner = (decrypted.plaintext or b"").decode("ascii")
    except UnicodeDecodeError:
        inner = ""
    if inner.count(".") != 2:
        raise error(f"{what} is encrypted but has no signed JWT inside: a signature is required")
    return inner


def _b64json(segment: str, what: str) -> dict[str, Any]:
    try:
        padded = segment + "=" * (-len(segment) % 4)
        value = loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError) as exc:  # JSONTextError, binascii.Error
        raise IdTokenError(f"the ID token's {what} is not base64url JSON: {exc}") from None
    if not isinstance(value, dict):
        raise IdTokenError(f"the ID token's {what} is not a JSON object")
    return value


def half_hash(value: str, alg: str) -> str:
    """OIDC Core §3.1.3.6/§3.3.2.11: the left half of the hash of ``value`` that ``alg`` uses,
    base64url without padding (``at_hash``, ``c_hash``); EdDSA/Ed25519 use SHA-512."""
    ed25519 = alg in ("EdDSA", "Ed25519")
    digest = hashlib.sha512 if ed25519 else _HASHES.get(alg[-3:])
    if digest is None:
        raise IdTokenError(f"no hash is defined for alg {alg!r}")
    full = digest(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(full[: len(full) // 2]).rstrip(b"=").decode("ascii")


def jwks_step(
    jwks_uri: str, cache: JwksCache, *, now: float, retry: Retry | None = DEFAULT_RETRY
) -> Step[JwksCache]:
    """Fetch the JWKS (RFC 7517 §5) into ``cache`` (tried again under ``retry``)."""
    request = HttpRequest("GET", jwks_uri, (("Accept", "application/json"),), operation="jwks")
    response = yield from fetched(retry, request, "idempotent")
    document = answer_fields(response, "the JWKS endpoint")
    keys = document.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise InvalidResponse("the JWKS has no list of keys", response=response)
    cache.keys, cache.fetched_at = keys, now
    return cache


def _select_key(
    keys: Sequence[Mapping[str, Any]], header: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The one signing key of the alg's type with the header's ``kid`` (or the only one of
    that type when there is no ``kid``)."""
    kid = header.get("kid")
    kty = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}.get(str(header["alg"])[:2])
    candidates = [
        k
        for k in keys
        if k.get("kty") == kty
        and k.get("use", "sig") == "sig"
        and (kid is None or k.get("kid") == kid)
    ]
    if kid is not None:
        return candidates[0] if candidates else None
    return candidates[0] if len(candidates) == 1 else None


def id_token_alg(id_token: str) -> str | None:
    """The ``alg`` of an ID token's header, or ``None`` when it cannot be read."""
    try:
        return str(_b64json(id_token.split(".", 1)[0][:4096], "header").get("alg"))
    except IdTokenError:
        return None


def validate_id_token(
    id_token: str,
    *,
    issuer: str,
    client_id: str,
    keys: Sequence[Mapping[str, Any]],
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
    client_secret: str | None = None,
    nonce: str | None = None,
    access_token: str | None = None,
    code: str | None = None,
    leeway: float = 60.0,
    now: float | None = None,
    previous: Mapping[str, Any] | None = None,
    min_rsa_bits: int = 0,
    authentication: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """OIDC Core §3.1.3.7: check ``id_token`` and return its claims.

    ``keys`` is the provider's JWKS; an HMAC algorithm (allowed only when listed in
    ``algorithms``) is keyed with ``client_secret`` alone. ``previous`` is the claims of the
    ID token being refreshed: ``iss`` and ``sub`` must not change, nor ``auth_time`` when it
    is there (OIDC Core §12.2). ``authentication`` is what the authorization request asked
    of the sign-in (:func:`~.authorization.authentication_checks`). Raises
    :class:`IdTokenError`, or ``LookupError`` when no key matches the ``kid`` (the caller
    fetches the JWKS again and retries once).
    """
    now = time.time() if now is None else now
    header, claims = verify_jws(
        id_token,
        keys=keys,
        algorithms=algorithms,
        client_secret=client_secret,
        what="the ID token",
        error=IdTokenError,
        min_rsa_bits=min_rsa_bits,
    )
    _check_claims(
        claims,
        issuer=issuer,
        client_id=client_id,
        nonce=nonce,
        leeway=min(leeway, MAX_LEEWAY),
        now=now,
    )
    alg = str(header["alg"])
    _check_hash(claims, "at_hash", access_token, alg, "the access token (OIDC Core §3.1.3.8)")
    _check_hash(claims, "c_hash", code, alg, "the code (OIDC Core §3.3.2.11)")
    if authentication:
        _check_authentication(claims, authentication, min(leeway, MAX_LEEWAY), now)
    if previous is not None:
        for name in ("iss", "sub"):
            if claims.get(name) != previous.get(name):
                raise IdTokenError(f"the refreshed ID token changed {name} (OIDC Core §12.2)")
        if "auth_time" in claims and claims["auth_time"] != previous.get("auth_time"):
            raise IdTokenError(
                "the refreshed ID token changed auth_time: it must stay the time of the "
                "original sign-in (OIDC Core §12.2)"
            )
    return claims


def _check_authentication(
    claims: Mapping[str, Any], checks: Mapping[str, Any], leeway: float, now: float
) -> None:
    """OIDC Core §3.1.2.1 and §3.1.3.7 items 12–13: the sign-in the request asked for."""
    max_age, after = checks.get("max_age"), checks.get("after")
    if max_age is not None or after is not None:
        asked = f"max_age={max_age}" if max_age is not None else "prompt=login"
        at = claims.get("auth_time")
        if (
            isinstance(at, bool)
            or not isinstance(at, int | float)
            or not -MAX_TIME <= at <= MAX_TIME
        ):
            raise IdTokenError(
                f"the ID token has no auth_time, which {asked} makes required (OIDC Core §3.1.2.1)"
            )
        if max_age is not None and now - at > max_age + leeway:
            raise IdTokenError(
                f"the user last signed in {int(now - at)} s ago, more than max_age={max_age} "
                "allows: the provider did not sign them in again (OIDC Core §3.1.3.7 item 13)"
            )
        if after is not None and at < float(after) - leeway:
            raise IdTokenError(
                "prompt=login asked for a new sign-in, but the ID token's auth_time is before "
                "the request: the provider did not sign the user in again (OIDC Core §3.1.2.1)"
            )
    wanted = checks.get("acr")
    if wanted is not None and claims.get("acr") not in wanted:
        raise IdTokenError(
            f"the ID token's acr {claims.get('acr')!r:.60} is none of the acr_values asked for "
            f"({' '.join(wanted)}) (OIDC Core §3.1.3.7 item 12)"
        )


def verify_jws(
    compact: str,
    *,
    keys: Sequence[Mapping[str, Any]],
    algorithms: Sequence[str],
    client_secret: str | None,
    what: str,
    error: type[Exception],
    min_rsa_bits: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS (RFC 7515) signed by the provider — an ID token, a JWT-secured
    authorization response — and return its header and claims: never ``none``, only
    ``algorithms``, no ``crit``; an HMAC algorithm keyed with ``client_secret`` alone, any
    other with the JWKS key its ``kid`` names (an RSA key of at least ``min_rsa_bits``: the
    FAPI 2.0 profile's 2048, §5.4.1 item 2). Raises ``error`` (naming ``what``), or
    ``LookupError`` when no key matches the ``kid`` (the caller fetches the JWKS again)."""
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

    if len(compact) > MAX_ID_TOKEN:
        raise error(f"{what} is larger than {MAX_ID_TOKEN} bytes")
    segments = compact.split(".")
    if len(segments) != 3:
        raise error(f"{what} is not a compact JWS (three segments)")
    header = _b64json(segments[0], "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg.lower() == "none":
        raise error(f"{what} is unsigned (alg none) where a signature is required")
    if alg not in algorithms:
        raise error(f"{what} is signed with {alg!r}, not one of {list(algorithms)}")
    if "crit" in header:
        raise error(f"{what} has critical header parameters {header['crit']!r}")
    key: Any
    if alg.startswith("HS"):
        if not client_secret:
            raise error(
                f"{what} is signed with {alg}, which needs the client secret; there is none"
            )
        key = OctKey.import_key(client_secret)
    else:
        jwk = _select_key(keys, header)
        if jwk is None:
            raise LookupError(header.get("kid"))
        if jwk.get("kty") == "oct":  # pragma: no cover - _select_key never picks oct for these
            raise error("an HMAC key cannot verify an asymmetric signature")
        importers: dict[str, Any] = {
            "RSA": RSAKey.import_key,
            "EC": ECKey.import_key,
            "OKP": OKPKey.import_key,
        }
        try:
            key = importers[str(jwk["kty"])](dict(jwk))
        except (JoseError, ValueError, TypeError) as exc:
            raise error(f"the provider's key is unusable: {exc}") from None
        fapi.check_server_key(key, min_rsa_bits, what)
    try:
        jws.deserialize_compact(compact, key, algorithms=[alg])
    except (JoseError, ValueError) as exc:
        raise error(f"{what}'s signature does not verify: {exc}") from None
    return header, _b64json(segments[1], "claims")


def _check_hash(
    claims: Mapping[str, Any], name: str, value: str | None, alg: str, what: str
) -> None:
    if value is None or name not in claims:
        return
    if not hmac.compare_digest(str(claims[name]).encode(), half_hash(value, alg).encode()):
        raise IdTokenError(f"{name} does not match {what}")


def _check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    leeway: float,
    now: float,
) -> None:
    if claims.get("iss") != issuer:
        raise IdTokenError(f"the ID token's iss {claims.get('iss')!r:.100} is not {issuer!r}")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise IdTokenError("the ID token has no sub")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise IdTokenError("the ID token's aud does not name this client")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IdTokenError("the ID token has other audiences and no azp naming this client")
    if "azp" in claims and claims["azp"] != client_id:
        raise IdTokenError("the ID token's azp is another client")
    for name in ("exp", "iat"):
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IdTokenError(f"the ID token has no numeric {name}")
        if not -MAX_TIME <= value <= MAX_TIME:  # NaN fails both comparisons
            raise IdTokenError(f"the ID token's {name} is not a time (RFC 7519 §2 NumericDate)")
    if now > float(claims["exp"]) + leeway:
        raise IdTokenError("the ID token has expired")
    if float(claims["iat"]) > now + leeway:
        raise IdTokenError("the ID token was issued in the future (clock skew?)")
    got = claims.get("nonce")
    if nonce is not None and not (
        isinstance(got, str) and hmac.compare_digest(got.encode(), nonce.encode())
    ):
        raise IdTokenError("the ID token's nonce is not this request's (a replay?)")


def checked_id_token(
    config: ClientConfig,
    cache: MetadataCache,
    token: Token,
    *,
    nonce: str | None = None,
    previous: Mapping[str, Any] | None = None,
    authentication: Mapping[str, Any] | None = None,
) -> Step[Token]:
    """OIDC Core §3.1.3.7: validate the token's ID token (when there is one and the issuer
    is known) and keep its claims in ``Token.id_claims``; fetch the JWKS when needed, and
    once more — rate-limited — for an unknown ``kid`` (key rotation)."""
    if token.id_token is None:
        return token
    metadata = yield from server_metadata(config, cache)
    issuer = metadata.issuer or config.issuer
    if issuer is None:
        return token  # nothing to check it against: id_claims stays None
    algorithms = metadata.raw.get("id_token_signing_alg_values_supported") or DEFAULT_ALGORITHMS
    id_token = token.id_token
    if id_token.count(".") == 4:  # encrypted to the client (OIDC Core §10.2)
        id_token = decrypt_nested(config, id_token, what="the ID token", error=IdTokenError)
    alg = id_token_alg(id_token) or ""
    fapi.check_jws_alg(config, alg, "the ID token")
    algorithms = fapi.allowed(config, algorithms)
    jwks = cache.jwks
    needs_keys = not alg.startswith("HS") and alg != "none"
    if needs_keys and not jwks.keys:
        jwks = yield from jwks_step(
            metadata.endpoint("jwks_uri"), jwks, now=config.clock(), retry=config.retry
        )
    for attempt in range(2):
        try:
            claims = validate_id_token(
                id_token,
                issuer=issuer,
                client_id=config.auth.client_id,
                keys=jwks.keys,
                algorithms=list(algorithms),
                client_secret=config.auth.client_secret,
                nonce=nonce,
                access_token=token.access_token,
                now=config.clock(),
                previous=previous,
                min_rsa_bits=fapi.min_rsa_bits(config),
                authentication=authentication,
            )
        except LookupError:
            allowed = config.clock() - jwks.refetched_at >= JWKS_REFETCH_INTERVAL
            if attempt == 0 and allowed:
                jwks.refetched_at = config.clock()
                jwks = yield from jwks_step(
                    metadata.endpoint("jwks_uri"), jwks, now=config.clock(), retry=config.retry
                )
                continue
            raise IdTokenError("no key of the provider's JWKS matches the ID token's kid") from None
        return token.replace(id_claims=claims)
    raise IdTokenError("no key of the provider's JWKS matches the ID token's kid")


def userinfo(config: ClientConfig, cache: MetadataCache, token: Token) -> Step[dict[str, Any]]:
    """OIDC Core §5.3: the claims about the user; ``sub`` must equal the ID token's (§5.3.2),
    or the answer is refused (a token substitution)."""
    from .bearer import authorization_header

    metadata = yield from server_metadata(config, cache)
    endpoint = metadata.endpoint("userinfo_endpoint")
    headers = (
        ("Accept", "application/json"),
        ("Authorization", authorization_header(token.token_type, token.access_token)),
    )
    nonce: str | None = None

    def send(attempt: int) -> Step[HttpResponse]:
        request = HttpRequest("GET", endpoint, headers, operation="userinfo", attempt=attempt)
        if token.dpop_key is not None:  # a fresh proof for each send (RFC 9449 §11.1)
            proof = make_proof(
                token.dpop_key,
                "GET",
                endpoint,
                now=config.clock(),
                access_token=token.access_token,
                nonce=nonce,
            )
            request = dataclasses.replace(request, headers=(*headers, ("DPoP", proof)))
        return fetch_with_hooks(config.hooks, request)

    for _ in range(2):  # RFC 9449 §7.1: a DPoP-bound token goes with a proof (§9: one nonce)
        response = yield from retrying(config.retry, send, "idempotent")
        nonce = wants_nonce(response.status_code, response.headers, None)
        if token.dpop_key is None or nonce is None:
            break
    what = "the userinfo endpoint"
    claims = answer_fields(response, what)
    if not isinstance(claims.get("sub"), str):
        raise InvalidResponse(f"{what} answered without sub", response=response)
    expected = token.id_claims.get("sub") if token.id_claims else None
    if expected is not None and claims["sub"] != expected:
        raise InvalidResponse(
            f"{what} describes another user than the ID token (OIDC Core §5.3.2)",
            response=response,
        )
    return claims
