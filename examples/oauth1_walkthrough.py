"""The OAuth 1.0a three-legged flow (RFC 5849 §2), step by step, against a local provider.

Run it with ``./run demo``. It starts the test suite's oauthlib-based provider on a free
loopback port, then walks the flow with oauthkit, saying what each step is for. No secret is
printed. (The ``oauthkit demo`` command and its sandbox provider will replace this script.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from oauthkit import OAuth1Client
from peers import oauth1_authlib, oauth1_oauthlib
from peers.oauth1_common import OAuth1Peer


def step(number: int, title: str, text: str) -> None:
    print(f"\n{number}. {title}\n   {text}")


def main() -> int:
    for start in (oauth1_oauthlib.start, oauth1_authlib.start):
        peer = start()
        try:
            walk(peer)
        finally:
            peer.stop()
    print("\nDone: both providers completed the three-legged flow and a signed request.")
    return 0


def walk(peer: OAuth1Peer) -> None:
    print(f"\n=== OAuth 1.0a against the {peer.name} provider at {peer.base_url} ===")
    step(
        1,
        "Consumer credentials",
        f"The provider registered this app as consumer key {peer.consumer_key!r} with a "
        "shared secret (kept out of this output).",
    )
    callback = "http://127.0.0.1:8765/callback"
    with OAuth1Client(
        peer.consumer_key,
        peer.consumer_secret,
        request_token_url=peer.request_token_url,
        authorize_url=peer.authorize_url,
        access_token_url=peer.access_token_url,
        signature_method="HMAC-SHA256",
    ) as client:
        temp = client.fetch_request_token(callback=callback)
        step(
            2,
            "Request token (temporary credentials, §2.1)",
            f"POST {peer.request_token_url}, signed HMAC-SHA256 with the consumer secret; the "
            f"provider confirmed the callback {callback}.",
        )
        url = client.authorization_url(temp)
        step(
            3,
            "User authorization (§2.2)",
            f"The user's browser goes to {url.split('?')[0]}?oauth_token=… and approves.",
        )
        redirect = peer.approve(url)
        verifier = client.parse_callback(temp, redirect)
        step(
            4,
            "Callback",
            "The provider redirected back to the callback; oauthkit checked that its "
            f"oauth_token is ours and took the verifier ({len(verifier)} characters).",
        )
        creds = client.fetch_access_token(temp, verifier)
        step(
            5,
            "Verifier exchange (token credentials, §2.3)",
            f"POST {peer.access_token_url} signed with the request token; the provider "
            f"returned an access token for screen_name={creds.extra.get('screen_name')!r}.",
        )
        response = client.get(
            peer.resource_url, credentials=creds, params={"greeting": "héllo wörld"}
        )
        response.raise_for_status()
        step(
            6,
            "Signed request (§3)",
            f"GET {peer.resource_url}?greeting=… → {response.status_code}; the provider "
            f"verified the signature and saw query {response.json()['query']}.",
        )


if __name__ == "__main__":
    sys.exit(main())
