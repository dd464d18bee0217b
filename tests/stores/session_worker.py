"""A separate process sharing a Session's store, for the multi-process and crash tests.

    python session_worker.py '<json config>'

Config: ``store`` ("sqlite", "redis" or "sqlalchemy"), ``location`` (file path, Redis URL
or database URL; ``table`` names the SQLAlchemyStore's table), ``store_keys`` (the store's
keys, ``kid:key,…``: its entries encrypted), ``key``,
``client`` (OAuth2Client keyword arguments: client_id, client_secret, token_endpoint, …),
``api`` (a URL answering 200 to a valid bearer token), ``threads``, ``calls`` (per thread),
``mode`` ("requests": wait for a line on stdin, then every thread calls the API, ``pause``
seconds apart, and each call's status and duration are reported; "token":
wait for a line, then call ``session.token()`` once; "users": wait for a line, then every
thread renews the token of each of ``keys`` in turn; "churn": wait for a line, then
``cycles`` rounds of lock, load, save and a pending flow put and taken, over ``keys``; "hold": take the key's lock and keep
it until killed). Prints one JSON line with the outcome.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import httpx2

from oauthkit import OAuth2Client, Session
from oauthkit.stores import Encryption, RedisStore, SQLiteStore


def main() -> int:
    config: dict[str, Any] = json.loads(sys.argv[1])
    store: Any
    sealed = config.get("store_keys")
    encryption = Encryption.parse(sealed) if sealed else None
    if config["store"] == "sqlite":
        store = SQLiteStore(config["location"], encryption=encryption)
    elif config["store"] == "django":
        sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
        from stores.django_setup import configure

        configure(config["databases"])
        from oauthkit.web.django.store import DjangoStore

        store = DjangoStore(
            config["location"],
            lease_seconds=config.get("lease_seconds", 120),
            encryption=encryption,
        )
    elif config["store"] == "sqlalchemy":
        from oauthkit.stores import SQLAlchemyStore

        store = SQLAlchemyStore(
            config["location"],
            table_name=config["table"],
            lease_seconds=config.get("lease_seconds", 120),
            encryption=encryption,
        )
    else:
        store = RedisStore(
            config["location"], lock_ttl=config.get("lock_ttl", 30), encryption=encryption
        )
    if config["mode"] == "hold":  # take the key's lock and keep it until killed
        with store.lock(config["key"]):
            print("locked", flush=True)
            import time

            time.sleep(600)
    if config["mode"] == "churn":  # store operations only, as fast as they go
        import secrets

        from oauthkit import Token

        print("ready", flush=True)
        sys.stdin.readline()
        errors: list[str] = []
        for n in range(config["cycles"]):
            key = config["keys"][n % len(config["keys"])]
            try:
                with store.lock(key) as transaction:
                    entry = transaction.load()
                    transaction.save(Token(f"t{n}"), entry.version if entry else None)
                handle = secrets.token_hex(8)
                store.put_pending(handle, "record", ttl=60)
                if store.take_pending(handle) != "record":
                    errors.append("pending flow lost")
            except Exception as exc:  # reported, not raised: the parent asserts
                errors.append(f"{type(exc).__name__}: {exc}")
        print(json.dumps({"errors": errors}), flush=True)
        return 0
    client = OAuth2Client(**config["client"])
    session = Session(client, store, config["key"], leeway=config.get("leeway", 60))
    print("ready", flush=True)
    sys.stdin.readline()  # the go signal: every process starts together
    if config["mode"] == "users":  # every thread renews every user's due token, in turn
        found: list[str] = []
        failed: list[str] = []

        def renew_all() -> None:
            for key in config["keys"]:
                try:
                    found.append(Session(client, store, key).token().access_token)
                except Exception as exc:  # reported, not raised: the parent asserts
                    failed.append(f"{type(exc).__name__}: {exc}")

        workers = [threading.Thread(target=renew_all) for _ in range(config["threads"])]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        print(json.dumps({"tokens": len(found), "errors": failed}), flush=True)
        return 0
    if config["mode"] == "token":
        try:
            token = session.token()
            print(json.dumps({"token": token.access_token}), flush=True)
        except Exception as exc:
            print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
        return 0
    statuses: list[int] = []
    errors: list[str] = []
    seconds: list[float] = []
    barrier = threading.Barrier(config["threads"])

    def work() -> None:
        import time

        with httpx2.Client(auth=session.auth(), timeout=30) as http:
            barrier.wait()
            for _ in range(config["calls"]):
                started = time.monotonic()
                try:
                    statuses.append(http.get(config["api"]).status_code)
                except Exception as exc:  # reported, not raised: the parent asserts
                    errors.append(f"{type(exc).__name__}: {exc}")
                seconds.append(time.monotonic() - started)
                time.sleep(config.get("pause", 0))

    threads = [threading.Thread(target=work) for _ in range(config["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"statuses": statuses, "errors": errors, "seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
