"""The ``oauthkit`` command line (click). See :mod:`oauthkit.cli` for the exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..config.file import Config, load_config
from ..errors import (
    ConfigurationError,
    OAuthKitError,
    OAuthServerError,
    ReauthenticationRequired,
    TemporarilyUnavailable,
    TransportError,
)
from .display import inert

if TYPE_CHECKING:
    from ..config.provider import ResolvedProvider

EXIT_ERROR, EXIT_USAGE, EXIT_SIGN_IN, EXIT_NETWORK, EXIT_REFUSED, EXIT_HTTP = 1, 2, 3, 4, 5, 22
#: Ctrl-C, as shells report a command ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def _say(text: str) -> None:
    """A message on stderr, with anything a server or store supplied made inert."""
    click.echo(inert(text), err=True)


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    _say(f"oauthkit: {message}")
    sys.exit(code)


class _Context:
    def __init__(self, config_file: str | None, store: str | None) -> None:
        self._config_file = Path(config_file) if config_file else None
        self._store_spec = store
        self._config: Config | None = None
        self._store: Any = None
        self._resolved: dict[str, ResolvedProvider] = {}

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self._config_file)
        return self._config

    def provider(self, name: str) -> ResolvedProvider:
        """The provider ``name`` merged with its preset, resolved once; an unknown one is a
        usage error (exit 2)."""
        if name not in self._resolved:
            configured = self.config  # a broken file is an error of its own (exit 1)
            try:
                config = configured.provider(name)
            except ConfigurationError as exc:
                _fail(str(exc), EXIT_USAGE)
            from ..config.provider import ResolvedProvider

            self._resolved[name] = ResolvedProvider(config)
        return self._resolved[name]

    @property
    def store(self) -> Any:
        if self._store is None:
            from ..config.factories import open_store

            self._store = open_store(
                self._store_spec or self.config.store, keys_env=self.config.store_keys_env
            )
        return self._store


pass_context = click.make_pass_decorator(_Context)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 sign in again, 4 network, 5 refused by "
    "the server, 22 request --fail got an HTTP error.",
)
@click.option("--config", "config_file", metavar="FILE", help="Configuration file to use.")
@click.option("--store", metavar="STORE", help="Token store: a file, redis://…, or keyring.")
@click.version_option(package_name="oauthkit", prog_name="oauthkit")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, store: str | None) -> None:
    """oauthkit: sign in to OAuth providers and use their APIs from the terminal."""
    ctx.obj = _Context(config_file, store)


@cli.command()
@click.argument("name")
@click.option("--device", is_flag=True, help="Sign in with a device code (RFC 8628).")
@click.option(
    "--ciba", is_flag=True, help="Ask the provider to confirm on the user's own device (CIBA)."
)
@click.option("--login-hint", metavar="USER", help="With --ciba: who is signing in.")
@click.option("--binding-message", metavar="TEXT", help="With --ciba: the text both see.")
@click.option("--pin", is_flag=True, help="OAuth 1.0a: type the PIN instead of a redirect.")
@click.option("--no-browser", is_flag=True, help="Only print the address to open.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
@pass_context
def login(
    context: _Context,
    name: str,
    device: bool,
    ciba: bool,
    login_hint: str | None,
    binding_message: str | None,
    pin: bool,
    no_browser: bool,
    timeout: float,
) -> None:
    """Sign in to NAME and store its tokens. NAME may be a resource's URL (an MCP server's):
    its authorization server is discovered and the command registers itself there."""

    if _is_url(name):
        auth = _resource_auth(context, name, timeout)
        token = auth.login()
        _say(f"Signed in for {name}; tokens stored in {_where(context)}.")
        if token.scope:
            _say(f"Scope: {inert(token.scope)}")
        return
    provider = context.provider(name)
    with _client_refused(provider):
        _sign_in(
            context,
            name,
            provider,
            device,
            ciba,
            pin,
            no_browser,
            timeout,
            login_hint,
            binding_message,
        )


def _sign_in(
    context: _Context,
    name: str,
    provider: ResolvedProvider,
    device: bool,
    ciba: bool,
    pin: bool,
    no_browser: bool,
    timeout: float,
    login_hint: str | None,
    binding_message: str | None,
) -> None:
    """``login`` for a configured provider (not a resource's URL)."""
    from ..signin.prompts import Printer
    from . import login

    printer = Printer(
        say=_say,
        ask=lambda q: click.prompt(q, err=True),
        open_browser=not no_browser,
        read_line=sys.stdin.readline if no_browser else None,
    )
    if provider.type == "oauth1":
        if device:
            _fail(f"{name} uses OAuth 1.0a, which has no device flow; try --pin", EXIT_USAGE)
        credentials = login.login_oauth1(provider, printer, pin=pin, timeout=timeout)
        context.store.put(name, credentials)
        who = credentials.extra.get("screen_name") or credentials.extra.get("user_id")
        _say(f"Signed in to {name}" + (f" as {who}" if who else "") + ".")
        return
    if pin:
        _fail(f"--pin is for OAuth 1.0a providers; {name} uses OAuth 2", EXIT_USAGE)
    if ciba != (login_hint is not None):
        _fail("--ciba and --login-hint USER go together", EXIT_USAGE)
    if ciba and login_hint is not None:
        token, who = login.login_ciba(
            provider,
            printer,
            login_hint=login_hint,
            binding_message=binding_message,
            timeout=timeout,
        )
    elif device:
        token, who = login.login_device(
            provider, printer, show_qr=sys.stderr.isatty(), countdown=_countdown()
        )
    else:
        token, who = login.login_browser(provider, printer, timeout=timeout)
    if who:
        token = token.replace(extra={**token.extra, login.ACCOUNT: who})
    context.store.put(name, token)
    _say(
        f"Signed in to {name}"
        + (f" as {who}" if who else "")
        + f"; tokens stored in {_where(context)}."
    )


def _countdown() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(left: float, _next_poll: float) -> None:
        minutes, seconds = divmod(int(left), 60)
        click.echo(
            f"\rWaiting for approval… code expires in {minutes}:{seconds:02d} ", err=True, nl=False
        )

    return show


def _where(context: _Context) -> str:
    return str(getattr(context.store, "path", None) or context.store)


@contextmanager
def _session(context: _Context, name: str) -> Iterator[Any]:
    """A Session for ``name``; its client (and HTTP connections) closed afterwards. A sign-in
    the provider no longer honours is one line saying what to run; a client the provider
    refuses names where its secret came from."""
    from ..config.factories import make_oauth2_client
    from ..session import Session

    provider = context.provider(name)
    try:
        with _client_refused(provider), make_oauth2_client(provider) as client:
            yield Session(client, context.store, name)
    except ReauthenticationRequired as exc:
        reason = str(exc).split(": sign in", 1)[0].rstrip(";,. ")
        _fail(f"{reason}: run  oauthkit login {name}", EXIT_SIGN_IN)


@contextmanager
def _client_refused(provider: ResolvedProvider) -> Iterator[None]:
    """A refusal of the client's own credentials (``invalid_client``) named with where they
    come from."""
    from ..errors import InvalidClient, UnauthorizedClient

    try:
        yield
    except (InvalidClient, UnauthorizedClient) as exc:
        _fail(f"{exc} — {_client_hint(provider)}", EXIT_REFUSED)


def _client_hint(provider: ResolvedProvider) -> str:
    """Where the client's credentials come from, for a refusal of them (``invalid_client``):
    the user's token is not the problem, and stays stored."""
    source = provider.source or "the configuration"
    sources = {
        "client_secret_env": "${}",
        "client_secret_command": "the command {!r}",
        "client_secret_keyring": "the keyring entry {!r}",
    }
    for key, spelling in sources.items():
        value = provider.get(key)
        if value:
            what = spelling.format(value)
            return (
                f"check client_id and the client secret from {what} ({source}); the stored "
                "token is kept"
            )
    if provider.get("client_secret"):
        return f"check client_id and client_secret in {source}; the stored token is kept"
    return f"check client_id in {source} (a public client: no secret); the stored token is kept"


def _is_url(name: str) -> bool:
    return name.startswith(("https://", "http://"))


def _resource_auth(context: _Context, url: str, timeout: float) -> Any:
    """``oauthkit.for_resource`` for the command: its store, the name ``oauthkit``, the
    loopback browser sign-in speaking on stderr."""
    from ..resource import browser_sign_in, for_resource

    return for_resource(
        url,
        store=context.store,
        client_name="oauthkit",
        sign_in=browser_sign_in(timeout=timeout, say=_say),
    )


@cli.command()
@click.argument("name")
@pass_context
def token(context: _Context, name: str) -> None:
    """Print a fresh access token for NAME (renewed first if due), for scripts. NAME may be
    a resource's URL signed in to with ``oauthkit login URL``."""
    from ..protocol.oauth2.token import Token

    if _is_url(name):
        click.echo(_resource_auth(context, name, 300.0).token().access_token)
        return
    context.provider(name)  # an unknown provider is a configuration error, said first
    stored = context.store.get(name)
    if stored is None:
        _fail(f"not signed in to {name}: run  oauthkit login {name}", EXIT_SIGN_IN)
    if not isinstance(stored, Token):
        _fail(f"{name} uses OAuth 1.0a: its requests are signed, use  oauthkit request {name}")
    with _session(context, name) as session:
        fresh = session.token()
        renewable = session.can_renew(fresh)
    if fresh.is_expired() and not renewable:
        _fail(
            f"the token for {name} expired and cannot be renewed: run  oauthkit login {name}",
            EXIT_SIGN_IN,
        )
    click.echo(fresh.access_token)


@cli.command()
@click.argument("name")
@click.argument("method")
@click.argument("url")
@click.option("-H", "--header", "headers", multiple=True, metavar="'K: V'", help="A header.")
@click.option("-d", "--data", metavar="DATA", help="A body (form or text); @file reads a file.")
@click.option("--json", "json_body", metavar="JSON", help="A JSON body.")
@click.option("-o", "--output", metavar="FILE", help="Write the body to FILE.")
@click.option("-f", "--fail", is_flag=True, help="Exit 22 on an HTTP error status.")
@click.option(
    "--outside-api-base",
    is_flag=True,
    help="Allow a URL outside NAME's api_base: the credentials go there too.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each step of the exchange (connect, send, each read).",
)
@pass_context
def request(
    context: _Context,
    name: str,
    method: str,
    url: str,
    headers: tuple[str, ...],
    data: str | None,
    json_body: str | None,
    output: str | None,
    fail: bool,
    outside_api_base: bool,
    timeout: float,
) -> None:
    """An authenticated request to NAME's API, curl-like. URL is relative to NAME's api_base,
    or an absolute URL under it; the credentials never go elsewhere unless
    --outside-api-base says so."""
    from ..config.factories import api_base

    provider = context.provider(name)
    url = _request_url(name, api_base(provider, context.store.get(name)), url, outside_api_base)
    header_map: dict[str, str] = {}
    for line in headers:
        key, sep, value = line.partition(":")
        if not sep:
            _fail(f"a header is 'Name: value', not {line!r}", EXIT_USAGE)
        header_map[key.strip()] = value.strip()
    kwargs: dict[str, Any] = {"headers": header_map}
    if json_body is not None:
        try:
            kwargs["json"] = json.loads(json_body)
        except ValueError as exc:
            _fail(f"--json is not JSON: {exc}", EXIT_USAGE)
    elif data is not None:
        content = Path(data[1:]).read_bytes() if data.startswith("@") else data.encode()
        kwargs["content"] = content
        if (
            "=" in data
            and not data.startswith("@")
            and "content-type" not in {k.lower() for k in header_map}
        ):
            from ..protocol.http import FORM_TYPE

            header_map["Content-Type"] = FORM_TYPE
    stored = context.store.get(name)
    if stored is None:
        _fail(f"not signed in to {name}: run  oauthkit login {name}", EXIT_SIGN_IN)
    if provider.type == "oauth1":
        from ..config.factories import make_oauth1_client

        with make_oauth1_client(provider) as client:
            response = client.request(
                method.upper(), url, credentials=stored, timeout=timeout, **kwargs
            )
    else:
        import httpx2

        from ..drivers import transport_error

        with (
            _session(context, name) as session,
            httpx2.Client(auth=session.auth(), timeout=timeout) as http,
        ):
            try:
                response = http.request(method.upper(), url, **kwargs)
            except httpx2.RequestError as exc:
                raise transport_error(exc, method.upper(), url) from exc
    _emit(response, output)
    if fail and response.status_code >= 400:
        sys.exit(EXIT_HTTP)


def _request_url(name: str, base: str | None, url: str, outside: bool) -> str:
    """``url`` resolved against ``base`` (a relative URL, even ``//host/x``, stays a path
    under it), or a usage error when the result is outside ``base`` and ``outside`` is off."""
    import httpx2

    try:
        if "://" in url:
            target = httpx2.URL(url)
        elif base:
            target = httpx2.URL(base if base.endswith("/") else base + "/").join(url.lstrip("/"))
        else:
            _fail(
                f"{url!r} is relative but {name} has no api_base in the configuration", EXIT_USAGE
            )
    except httpx2.InvalidURL as exc:
        _fail(f"{url!r} is not a valid URL: {exc}", EXIT_USAGE)
    if outside:
        return str(target)
    if not base:
        _fail(
            f"{name} has no api_base in the configuration, so oauthkit cannot tell where its "
            "credentials may go: set api_base, or pass --outside-api-base",
            EXIT_USAGE,
        )
    from ..protocol.url_policy import under

    inside = under(str(target), base) if "\\" not in url else None
    if inside is None:
        _fail(
            f"{target.copy_with(query=None, fragment=None)} is outside {name}'s api_base "
            f"{base}: the credentials go only there (pass --outside-api-base to send them "
            "elsewhere)",
            EXIT_USAGE,
        )
    return inside


def _emit(response: Any, output: str | None) -> None:
    if not 200 <= response.status_code < 300:
        wait = response.headers.get("retry-after")
        later = f" (Retry-After: {inert(wait)[:40]})" if wait else ""
        _say(f"HTTP {response.status_code} {response.reason_phrase}{later}")
    if output:
        Path(output).write_bytes(response.content)
        return
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if sys.stdout.isatty():  # a person reads it: nothing in it may drive the terminal
        text = response.text
        if media.endswith("json"):
            with suppress(ValueError):
                text = json.dumps(response.json(), indent=2, ensure_ascii=False)
        click.echo(inert(text))
        return
    sys.stdout.buffer.write(response.content)  # a pipe or a file gets the bytes as sent
    sys.stdout.flush()


@cli.command()
@click.argument("name", required=False)
@pass_context
def status(context: _Context, name: str | None) -> None:
    """What is stored, for whom, and until when (never a secret)."""
    from ..protocol.oauth2.registration import ClientRegistration
    from ..protocol.oauth2.token import Token

    keys = [name] if name else context.store.keys()
    rows = []
    for key in keys:
        value = context.store.get(key)
        if value is None:
            rows.append((key, "-", "not signed in", "", "", ""))
        elif isinstance(value, Token):
            account = str(value.extra.get("oauthkit_account", ""))
            expiry = _expiry(value.expires_at)
            from ..session import refused_at

            if refused_at(value):
                refreshable = "refused: sign in again"
            else:
                refreshable = "yes" if value.refresh_token else "no"
            rows.append((key, "OAuth 2", account, value.scope or "", expiry, refreshable))
        elif isinstance(value, ClientRegistration):
            expires = value.client_secret_expires_at
            secret = _expiry(datetime.fromtimestamp(expires, UTC)) if expires else "never"
            rows.append((key, "registration", value.client_id, "", secret, "n/a"))
        else:
            account = str(value.extra.get("screen_name") or value.extra.get("user_id") or "")
            rows.append((key, "OAuth 1.0a", account, "", "never", "n/a"))
    if not rows:
        _say(f"Nothing stored in {_where(context)}.")
        return
    _table(("provider", "kind", "account", "scopes", "expires", "refreshable"), rows)


def _expiry(at: datetime | None) -> str:
    if at is None:
        return "unknown"
    seconds = (at - datetime.now(UTC)).total_seconds()
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(int(seconds), 3600)
    return f"in {hours}h{rest // 60:02d}m" if hours else f"in {rest // 60}m{rest % 60:02d}s"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A table on a terminal, tab-separated lines through a pipe; every cell inert (a stored
    account name is data: no escape sequence, no rich markup, no tab)."""
    cells = [tuple(inert(cell, one_line=True) for cell in row) for row in rows]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(*header)
        for row in cells:
            table.add_row(*(Text(cell) for cell in row))
        Console(markup=False, emoji=False, highlight=False).print(table)
        return
    click.echo("\t".join(header))
    for row in cells:
        click.echo("\t".join(row))


@cli.command()
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Also revoke the tokens at the provider (RFC 7009).")
@pass_context
def logout(context: _Context, name: str, revoke: bool) -> None:
    """Forget NAME's tokens (and revoke them with --revoke)."""
    from ..protocol.oauth2.token import Token

    stored = context.store.get(name)
    if stored is None:
        _say(f"Not signed in to {name}.")
        return
    if revoke and isinstance(stored, Token):
        from ..config.factories import make_oauth2_client

        with make_oauth2_client(context.provider(name)) as client:
            client.revoke(stored)
        _say(f"Revoked the tokens at {name}.")
    elif revoke:
        _say(
            f"{name} uses OAuth 1.0a, which has no revocation endpoint (RFC 5849): its token "
            f"stays valid until you revoke this app's access in your {name} account settings."
        )
    context.store.delete(name)
    _say(f"Signed out of {name}.")


@cli.group()
def store() -> None:
    """The token store's keys: encryption at rest (store_keys_env in the configuration)."""


@store.command()
@click.argument("kid")
def keygen(kid: str) -> None:
    """Print a new key entry KID:KEY (32 random bytes) for the store's key list.

    Put it in front of the list in the variable store_keys_env names (the first key
    encrypts, every one listed decrypts), then run  oauthkit store rekey."""
    from ..stores.encryption import Encryption

    click.echo(Encryption.generate(kid))


@store.command()
@pass_context
def rekey(context: _Context) -> None:
    """Encrypt every entry of the store under the first of its keys.

    Entries in clear are encrypted and entries of older keys sealed anew, each under its
    renewal lock, so programs using the store meanwhile lose nothing."""
    if context.config.store_keys_env is None:
        _fail(
            f"{context.config.path} names no store_keys_env: add  store_keys_env = "
            '"OAUTHKIT_STORE_KEYS"  at its top and put the keys in that variable '
            "(oauthkit store keygen KID makes one)"
        )
    written = context.store.rekey()
    plural = "entry" if written == 1 else "entries"
    _say(f"{written} {plural} of {_where(context)} now under key {context.store.encryption.kid}.")


@cli.command()
@pass_context
def providers(context: _Context) -> None:
    """The presets, the configured providers, and what each supports."""
    from ..providers import all_presets

    rows = []
    for name, provider in sorted(context.config.providers.items()):
        kind = "OAuth 1.0a" if provider.type == "oauth1" else "OAuth 2"
        source = (
            provider.get("preset")
            or provider.get("issuer")
            or provider.get("token_endpoint")
            or provider.get("request_token_url")
            or "endpoints"
        )
        rows.append((name, kind, f"configured ({source})", ""))
    for preset in all_presets():
        kind = "OAuth 1.0a" if preset.protocol == "oauth1" else "OAuth 2"
        rows.append((preset.name, kind, f"preset: {preset.title}", ", ".join(preset.features())))
    _table(("name", "kind", "what", "features"), rows)
    if not context.config.providers:
        _say(
            "No providers configured yet; add [providers.NAME] with preset = … to "
            f"{context.config.path}."
        )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address.")
@click.option("--port", default=8600, show_default=True, help="Port (0: any free one).")
@click.option("--show-secrets", is_flag=True, help="Print the clients' secrets too.")
@click.option(
    "--secret",
    "fixed_secrets",
    multiple=True,
    metavar="CLIENT=SECRET",
    help="A fixed secret for a client (repeatable); the others get random ones.",
)
@click.option(
    "--client",
    "extra_clients",
    multiple=True,
    metavar="NAME[:KIND]",
    help="Register another client; KIND is web (default: confidential, code + refresh), "
    "public (code, refresh, device), service (client credentials) or oauth1.",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    metavar="URI",
    help="Also allow this redirect URI for every client (compared exactly, but an http URI "
    "on 127.0.0.1 or [::1] matches any port).",
)
@click.option(
    "--token-ttl",
    type=click.IntRange(min=1),
    default=3600,
    show_default=True,
    help="Access token lifetime in seconds.",
)
@click.option("--no-rotate", is_flag=True, help="Keep refresh tokens instead of rotating them.")
@click.option("--log", "log_requests", is_flag=True, help="Print each request (no query).")
def sandbox(
    host: str,
    port: int,
    show_secrets: bool,
    fixed_secrets: tuple[str, ...],
    extra_clients: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    token_ttl: int,
    no_rotate: bool,
    log_requests: bool,
) -> None:
    """Run the local OAuth 1.0a + OAuth 2 provider, for development only (loopback only)."""
    import time

    from ..sandbox import Sandbox

    clients = _sandbox_clients(fixed_secrets, extra_clients, redirect_uris)
    with Sandbox(
        host=host,
        port=port,
        clients=clients,
        access_token_ttl=token_ttl,
        rotate_refresh_tokens=not no_rotate,
        request_log=_say if log_requests else None,
    ) as running:
        _say(f"oauthkit sandbox at {running.base_url} (issuer {running.issuer})")
        _say(
            "FOR DEVELOPMENT ONLY: any user name signs in, consent is one click, and "
            "everything is kept in memory and lost when it stops."
        )
        for client in running.clients.values():
            line = f"  {client.kind} client {client.client_id}"
            if client.kind == "oauth2":
                line += f" ({client.token_endpoint_auth_method}; {', '.join(client.grant_types)})"
            if show_secrets and client.client_secret:
                line += f"  secret: {client.client_secret}"
            _say(line)
        if not show_secrets:
            _say("  (secrets hidden; --show-secrets prints them, --secret CLIENT=SECRET fixes one)")
        uris = sorted({uri for c in running.clients.values() for uri in c.redirect_uris})
        _say("Redirect URIs (any port on 127.0.0.1 and [::1], RFC 8252 §7.3): " + ", ".join(uris))
        _say(
            f"Access tokens live {token_ttl} s; refresh tokens {'stay' if no_rotate else 'rotate'}."
        )
        _say("Press Ctrl+C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            _say("stopped")


def _sandbox_clients(
    fixed_secrets: tuple[str, ...], extra_clients: tuple[str, ...], redirect_uris: tuple[str, ...]
) -> list[Any]:
    """The default clients and the extra ones, with the extra redirect URIs and fixed
    secrets; a mistake is a usage error."""
    import dataclasses

    from ..sandbox import DEVICE_CODE_GRANT, SandboxClient
    from ..sandbox.clients import LOOPBACK_CALLBACKS, default_clients

    kinds: dict[str, dict[str, Any]] = {
        "web": {"grant_types": ("authorization_code", "refresh_token")},
        "public": {
            "grant_types": ("authorization_code", "refresh_token", DEVICE_CODE_GRANT),
            "token_endpoint_auth_method": "none",
        },
        "service": {"grant_types": ("client_credentials",)},
        "oauth1": {"kind": "oauth1"},
    }
    clients = default_clients()
    for spec in extra_clients:
        name, _, kind = spec.partition(":")
        if (kind and kind not in kinds) or not name:
            _fail(f"--client is NAME or NAME:KIND with KIND one of {', '.join(kinds)}", EXIT_USAGE)
        options = kinds[kind or "web"]
        callbacks: tuple[str, ...] = () if kind == "service" else LOOPBACK_CALLBACKS
        if kind == "oauth1":
            callbacks = (*LOOPBACK_CALLBACKS, "oob")
        try:
            clients.append(SandboxClient(name, redirect_uris=callbacks, **options))
        except ConfigurationError as exc:
            _fail(f"--client {spec}: {exc}", EXIT_USAGE)
    secrets = {}
    for item in fixed_secrets:
        name, sep, secret = item.partition("=")
        if not sep or not secret:
            _fail(f"--secret is CLIENT=SECRET, not {item!r}", EXIT_USAGE)
        secrets[name] = secret
    unknown = sorted(set(secrets) - {c.client_id for c in clients})
    if unknown:
        _fail(f"--secret names no client: {', '.join(unknown)}", EXIT_USAGE)
    result = []
    for client in clients:
        changes: dict[str, Any] = {}
        if client.redirect_uris and redirect_uris:
            changes["redirect_uris"] = (*client.redirect_uris, *redirect_uris)
        if client.client_id in secrets:
            changes["client_secret"] = secrets[client.client_id]
        try:
            result.append(dataclasses.replace(client, **changes) if changes else client)
        except ConfigurationError as exc:
            _fail(f"{client.client_id}: {exc}", EXIT_USAGE)
    return result


@cli.command()
@click.option("--browser", is_flag=True, help="Do the consent in a real browser.")
@pass_context
def demo(context: _Context, browser: bool) -> None:
    """Both OAuth walkthroughs end to end on the local sandbox, step by step."""
    from .demo import run_demo

    run_demo(context.store, interactive_browser=browser, say=click.echo)


def run(args: list[str]) -> int:
    """Run the click application and map oauthkit's errors to exit codes and one line."""
    try:
        cli.main(args=args, prog_name="oauthkit", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            _say("interrupted")
            return EXIT_INTERRUPTED
        _say("aborted")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ReauthenticationRequired as exc:
        _say(f"oauthkit: {exc}")
        return EXIT_SIGN_IN
    except TransportError as exc:
        _say(f"oauthkit: {exc}")
        return EXIT_NETWORK
    except TemporarilyUnavailable as exc:  # not a refusal: nothing is lost, try again
        later = f" in {exc.retry_after:.0f} s" if exc.retry_after is not None else " later"
        _say(f"oauthkit: {exc}; nothing was lost: try again{later}")
        return EXIT_NETWORK
    except OAuthServerError as exc:
        _say(f"oauthkit: {exc}")
        return EXIT_REFUSED
    except (OAuthKitError, ConfigurationError) as exc:
        _say(f"oauthkit: {exc}")
        return EXIT_ERROR
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    return 0
