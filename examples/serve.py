"""Start an example web app on a production server: ``./run example NAME [--port P]
[--workers N]`` (NAME: flask, fastapi, django — its sync views under gunicorn — or
django-async — its async views under uvicorn).

With ``OAUTHKIT_CONFIG`` set, the app reads its providers and store from that TOML file (the
same as the ``oauthkit`` command's). Without it, this starts the built-in sandbox provider
and writes a configuration for it — an OAuth 2 provider ``sandbox`` and an OAuth 1.0a
provider ``sandbox1``, tokens and pending sign-ins in an SQLite file — so the app works on a
fresh machine with nothing else to set up. The app's session secret comes from
``OAUTHKIT_EXAMPLE_SECRET`` (made up when unset), the same for every worker. The Django
example keeps its users' tokens in its own database (``OAUTHKIT_EXAMPLE_DATABASE``, default
an SQLite file), migrated here before the server starts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS = {
    "flask": ["gunicorn", "--chdir", str(HERE), "flask_app:app"],
    "django": ["gunicorn", "--chdir", str(HERE), "django_app.wsgi:application"],
    "fastapi": ["uvicorn", "--app-dir", str(HERE), "fastapi_app:app"],
    "django-async": ["uvicorn", "--app-dir", str(HERE), "django_app.asgi:application"],
}


def sandbox_config(
    folder: Path, access_token_ttl: int, pending_seconds: int | None
) -> tuple[object, Path]:
    """Start the sandbox with clients for this app's callbacks; write its configuration."""
    from oauthkit.sandbox import Sandbox, SandboxClient

    clients = [
        SandboxClient("example-web", redirect_uris=("http://127.0.0.1/callback/sandbox",)),
        SandboxClient(
            "example-oauth1", kind="oauth1", redirect_uris=("http://127.0.0.1/callback/sandbox1",)
        ),
    ]
    sandbox = Sandbox(clients=clients, access_token_ttl=access_token_ttl).start()
    web, oauth1 = sandbox.clients["example-web"], sandbox.clients["example-oauth1"]
    base = sandbox.base_url
    path = folder / "oauthkit.toml"
    web_table = f"[web]\npending_seconds = {pending_seconds}\n\n" if pending_seconds else ""
    path.write_text(
        f'store = "{folder / "tokens.sqlite3"}"\n\n' + web_table + "[providers.sandbox]\n"
        f'issuer = "{sandbox.issuer}"\n'
        f'client_id = "{web.client_id}"\nclient_secret = "{web.client_secret}"\n'
        'scope = "profile"\n'
        f'api_base = "{base}/api/"\nwhoami_url = "me"\nwhoami_field = "sub"\n\n'
        "[providers.sandbox1]\n"
        'type = "oauth1"\n'
        f'request_token_url = "{base}/oauth1/request_token"\n'
        f'authorize_url = "{base}/oauth1/authorize"\n'
        f'access_token_url = "{base}/oauth1/access_token"\n'
        f'consumer_key = "{oauth1.client_id}"\nconsumer_secret = "{oauth1.client_secret}"\n'
        f'api_base = "{base}/oauth1/api/"\nwhoami_url = "me"\nwhoami_field = "user"\n'
    )
    path.chmod(0o600)
    print(f"sandbox provider at {base} (users: any name; consent in the browser)", flush=True)
    return sandbox, path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./run example")
    parser.add_argument("name", choices=sorted(SERVERS))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--access-token-ttl", type=int, default=3600, help="the sandbox's token lifetime (s)"
    )
    parser.add_argument(
        "--pending-seconds", type=int, help="how long a begun sign-in waits (default 600)"
    )
    parser.add_argument("--certfile", help="serve https with this PEM certificate")
    parser.add_argument("--keyfile", help="and its PEM private key")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.setdefault("OAUTHKIT_EXAMPLE_SECRET", secrets.token_hex(32))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    sandbox = None
    with tempfile.TemporaryDirectory(prefix="oauthkit-example-") as folder:
        os.chmod(folder, 0o700)
        if not env.get("OAUTHKIT_CONFIG"):
            sandbox, config = sandbox_config(
                Path(folder), args.access_token_ttl, args.pending_seconds
            )
            env["OAUTHKIT_CONFIG"] = str(config)
        if args.name.startswith("django"):  # its tokens live in its own database: migrate it
            env["OAUTHKIT_EXAMPLE_ASYNC"] = "1" if args.name == "django-async" else "0"
            env.setdefault("OAUTHKIT_EXAMPLE_DATABASE", str(Path(folder) / "django.sqlite3"))
            migrate = [sys.executable, "-m", "django", "migrate", "--verbosity", "0"]
            settings = {"DJANGO_SETTINGS_MODULE": "django_app.settings"}
            subprocess.run(migrate, env={**env, **settings}, check=True)  # noqa: S603
        bind = f"127.0.0.1:{args.port}"
        command = [
            str(Path(sys.executable).parent / SERVERS[args.name][0]),
            *SERVERS[args.name][1:],
        ]
        if SERVERS[args.name][0] == "uvicorn":
            command += ["--host", "127.0.0.1", "--port", str(args.port)]
            command += ["--workers", str(args.workers), "--log-level", "warning"]
        else:
            command += ["--bind", bind, "--workers", str(args.workers), "--log-level", "warning"]
        scheme = "http"
        if args.certfile:  # https, as a CIBA notification endpoint must be
            scheme = "https"
            if SERVERS[args.name][0] == "uvicorn":
                command += ["--ssl-certfile", args.certfile, "--ssl-keyfile", args.keyfile]
            else:
                command += ["--certfile", args.certfile, "--keyfile", args.keyfile]
        print(f"{args.name} example at {scheme}://{bind}/ ({args.workers} workers)", flush=True)
        server = subprocess.Popen(command, env=env)  # noqa: S603 - our own server command

        def stop(signum: int, frame: object) -> None:
            server.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            return server.wait()
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(10)
            if sandbox is not None:
                sandbox.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
