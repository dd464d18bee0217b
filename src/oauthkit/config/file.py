"""The command's configuration: a TOML file in the platform's config folder.

::

    store = "~/.local/share/oauthkit/tokens.sqlite3"   # optional; or "redis://…", "keyring",
                                                       # "postgresql+psycopg://app@db/app";
                                                       # relative: beside this file

    [providers.work]                       # OAuth 2: an issuer (discovery) or endpoints
    issuer = "https://id.example.com"
    client_id = "abc"
    client_secret_env = "WORK_CLIENT_SECRET"         # or client_secret_command = "pass show x"
    scope = "openid profile offline_access"          # or client_secret_keyring = "service/user"
    api_base = "https://api.example.com/v1/"

    [providers.gh]                         # a preset (oauthkit providers lists them);
    preset = "github"                      # its options (tenant, base, …) are keys too
    client_id = "Iv1.abc"
    client_secret_env = "GITHUB_SECRET"

    [providers.bank]                       # FAPI 2.0: PAR, PKCE, DPoP, private_key_jwt…
    issuer = "https://as.bank.example"
    client_id = "abc"
    private_key_file = "~/.config/oauthkit/bank-key.pem"
    dpop = true                            # or tls_client_cert/tls_client_key (mTLS)
    profile = "fapi2"

    [providers.legacy]                     # OAuth 1.0a
    type = "oauth1"
    request_token_url = "…"; authorize_url = "…"; access_token_url = "…"
    consumer_key = "…"; consumer_secret_env = "LEGACY_SECRET"

A secret is never required in the file: it can come from an environment variable, a command
or the keyring. Relative file paths (``store``, ``private_key_file``, …) are the file's own
folder's. Mistakes are :class:`~oauthkit.errors.ConfigurationError` naming the file and the
line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._paths import config_file, data_file
from ..errors import ConfigurationError
from ..protocol.endpoints import OAUTH1_ENDPOINTS, OAUTH2_ENDPOINTS

__all__ = [
    "Config",
    "ProviderConfig",
    "config_path",
    "load_config",
    "store_file",
]

_OAUTH2_KEYS = {
    "type",
    "preset",
    "issuer",
    *OAUTH2_ENDPOINTS,
    "client_id",
    "client_secret",
    "client_secret_env",
    "client_secret_command",
    "client_secret_keyring",
    "auth_method",
    "private_key_file",
    "decryption_key_file",
    "dpop",
    "tls_client_cert",
    "tls_client_key",
    "profile",
    "scope",
    "redirect_host",
    "redirect_port",
    "redirect_path",
    "api_base",
    "allow_insecure_http",
    "audience",
    "response_mode",
    "par",
    "jar",
    "whoami_url",
    "whoami_field",
    "whoami_tenant_field",
    "options",
}
#: ``[web]``: options of :meth:`oauthkit.web.WebFlow.from_config`.
_WEB_KEYS = {"base_url", "pending_seconds", "callback_path", "key"}
_OAUTH1_KEYS = {
    "type",
    "preset",
    *OAUTH1_ENDPOINTS,
    "consumer_key",
    "consumer_secret",
    "consumer_secret_env",
    "consumer_secret_command",
    "consumer_secret_keyring",
    "rsa_key_file",
    "signature_method",
    "redirect_host",
    "redirect_port",
    "redirect_path",
    "api_base",
    "allow_insecure_http",
    "whoami_url",
    "whoami_field",
    "whoami_tenant_field",
    "options",
}


def config_path() -> Path:
    """``$OAUTHKIT_CONFIG``, else ``config.toml`` in the platform's user config folder."""
    return config_file()


#: ``store =`` values that name no file.
_NOT_FILES = ("redis://", "rediss://", "unix://", "keyring", "memory")


def store_file(spec: str | None) -> Path | None:
    """The SQLite file a ``--store`` value or the config's ``store`` names (``None`` or
    ``"sqlite"``: the default one), or ``None`` for a store that is not a file. The command
    and its fast path both read ``store`` through this."""
    if spec is None or spec == "sqlite":
        return data_file()
    if spec.startswith(_NOT_FILES) or "://" in spec:  # a Redis or database URL
        return None
    return Path(spec).expanduser()


def _check_trusted(path: Path, text_mode: int, owner: int) -> None:
    """A configuration someone else can write could run any command (``*_command``) or send
    the user's sign-in elsewhere: refuse it, with what to do."""
    if os.name != "posix":
        return
    if owner not in (os.getuid(), 0):
        raise ConfigurationError(
            f"{path} belongs to another user (uid {owner}); oauthkit does not use a "
            "configuration someone else controls"
        )
    if text_mode & 0o022:
        raise ConfigurationError(
            f"{path} is writable by other users (mode {text_mode & 0o777:o}); oauthkit does "
            f"not use it until you run  chmod go-w {path}"
        )


class ProviderConfig:
    """One ``[providers.NAME]`` table, checked. (Plain classes here, not dataclasses: this
    module is on the command's fast path, where every import counts.)"""

    __slots__ = ("name", "source", "type", "values")

    def __init__(
        self, *, name: str, type: str, values: Mapping[str, Any], source: str = ""
    ) -> None:
        self.name = name
        self.type = type
        self.values = values
        self.source = source

    def __repr__(self) -> str:
        return f"ProviderConfig(name={self.name!r}, type={self.type!r})"

    def get(self, key: str, default: Any = None) -> Any:
        """A value of the table."""
        return self.values.get(key, default)

    def secret(self, prefix: str) -> str | None:
        """``<prefix>`` (``client_secret``/``consumer_secret``) from the file, an environment
        variable, a command's output, or the keyring — whichever the table names."""
        if self.get(prefix) is not None:
            return str(self.get(prefix))
        env = self.get(f"{prefix}_env")
        if env is not None:
            value = os.environ.get(env)
            if not value:
                state = "is set but empty" if value is not None else "is not set"
                raise ConfigurationError(
                    f"{self.source}: provider {self.name!r} reads its secret from ${env}, "
                    f"which {state}"
                )
            return value
        command = self.get(f"{prefix}_command")
        if command is not None:
            import shlex
            import subprocess

            try:
                done = subprocess.run(  # noqa: S603 - the user's own configured command
                    shlex.split(command), capture_output=True, text=True, timeout=30, check=True
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise ConfigurationError(
                    f"{self.source}: the secret command of {self.name!r} failed: {exc}"
                ) from None
            return done.stdout.strip()
        where = self.get(f"{prefix}_keyring")
        if where is not None:
            import keyring

            service, _, user = str(where).partition("/")
            value = keyring.get_password(service, user or self.name)
            if value is None:
                raise ConfigurationError(
                    f"{self.source}: no keyring entry {where!r} for provider {self.name!r}"
                )
            return str(value)
        return None


class Config:
    """The whole file: the providers and the store to use."""

    __slots__ = ("path", "providers", "store", "store_keys_env", "web")

    def __init__(
        self,
        *,
        path: Path,
        providers: Mapping[str, ProviderConfig],
        store: str | None = None,
        store_keys_env: str | None = None,
        web: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.providers = providers
        self.store = store
        #: The environment variable that holds the store's keys (encryption at rest).
        self.store_keys_env = store_keys_env
        self.web = dict(web or {})

    def __repr__(self) -> str:
        return f"Config(path={str(self.path)!r}, providers={sorted(self.providers)!r})"

    def provider(self, name: str) -> ProviderConfig:
        """The provider ``name`` or a clear error listing the known ones."""
        try:
            return self.providers[name]
        except KeyError:
            known = ", ".join(sorted(self.providers)) or "none"
            raise ConfigurationError(
                f"unknown provider {name!r} (configured: {known}); add [providers.{name}] to "
                f"{self.path}"
            ) from None


def _line_of(text: str, name: str) -> int:
    needle = f"[providers.{name}]"
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(needle) or line.strip().startswith(f'[providers."{name}"]'):
            return number
    return 0


def _key_line(text: str, table_line: int, key: str) -> int:
    """The line of ``key =`` in the table that starts at ``table_line`` (else that line)."""
    lines = text.splitlines()
    for number in range(table_line, len(lines)):
        line = lines[number].strip()
        if line.startswith("["):
            break
        if line.split("=", 1)[0].strip().strip('"') == key:
            return number + 1
    return table_line


def _preset(preset: object, where: str) -> tuple[str, str, tuple[str, ...]]:
    """The preset's name, protocol and options, from the cheap index; an unknown name gets
    the presets' own error (with its suggestions)."""
    from ..providers.index import INDEX

    found = INDEX.get(str(preset).strip().lower())
    if found is not None:
        return found
    from ..providers import get

    try:
        get(str(preset))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    raise ConfigurationError(f"{where}: the preset index lacks {preset!r}")  # a test forbids


def load_config(path: Path | None = None) -> Config:
    """Read and check the configuration (``path``, else ``$OAUTHKIT_CONFIG``, else the default
    file); a missing default file is an empty configuration, a missing named one an error."""
    given = path is not None or bool(os.environ.get("OAUTHKIT_CONFIG", "").strip())
    path = path or config_path()
    try:
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            _check_trusted(path, info.st_mode, info.st_uid)
            text = file.read().decode("utf-8")
    except FileNotFoundError:
        if given:
            raise ConfigurationError(f"the configuration file {path} does not exist") from None
        return Config(path=path, providers={})
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: malformed TOML: {exc}") from None
    unknown_top = sorted(set(document) - {"store", "store_keys_env", "providers", "web"})
    if unknown_top:
        hint = " (tables are [providers.NAME])" if "provider" in unknown_top else ""
        raise ConfigurationError(
            f"{path}: unknown key(s) or table(s): {', '.join(unknown_top)}{hint}"
        )
    store = document.get("store")
    if store is not None and not isinstance(store, str):
        raise ConfigurationError(f"{path}: 'store' must be a string")
    keys_env = document.get("store_keys_env")
    if keys_env is not None and (not isinstance(keys_env, str) or not keys_env.strip()):
        raise ConfigurationError(
            f"{path}: 'store_keys_env' names an environment variable, e.g. "
            '"OAUTHKIT_STORE_KEYS" (the keys themselves never go in this file)'
        )
    web = document.get("web", {})
    if not isinstance(web, dict) or set(web) - _WEB_KEYS:
        raise ConfigurationError(
            f"{path}: [web] takes {', '.join(sorted(_WEB_KEYS))} (for oauthkit.web)"
        )
    providers: dict[str, ProviderConfig] = {}
    tables = document.get("providers", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"{path}: 'providers' must be a table of [providers.NAME]")
    for name, table in tables.items():
        where = f"{path}:{_line_of(text, name)}"
        if not isinstance(table, dict):
            raise ConfigurationError(f"{where}: [providers.{name}] must be a table")
        preset = _preset(table["preset"], where) if table.get("preset") else None
        kind = table.get("type") or (preset[1] if preset else "oauth2")
        if kind not in ("oauth2", "oauth1"):
            raise ConfigurationError(f"{where}: type must be 'oauth2' or 'oauth1', not {kind!r}")
        allowed = _OAUTH2_KEYS if kind == "oauth2" else _OAUTH1_KEYS
        if preset:
            allowed = allowed | set(preset[2])
        unknown = sorted(set(table) - allowed)
        if unknown:
            import difflib

            first = unknown[0]
            close = difflib.get_close_matches(first, sorted(allowed), n=1, cutoff=0.7)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            at = _key_line(text, _line_of(text, name), first)
            raise ConfigurationError(
                f"{path}:{at}: unknown key {first!r} in [providers.{name}]{hint}"
                + (f"; also unknown: {', '.join(unknown[1:])}" if unknown[1:] else "")
            )
        identity = "client_id" if kind == "oauth2" else "consumer_key"
        if not table.get(identity):
            raise ConfigurationError(f"{where}: [providers.{name}] has no {identity}")
        if not isinstance(table.get("options", {}), dict):
            raise ConfigurationError(f'{where}: options must be a table, e.g. {{tenant = "x"}}')
        values = {
            key: _beside(path, value) if key in _PATH_KEYS and isinstance(value, str) else value
            for key, value in table.items()
        }
        providers[name] = ProviderConfig(name=name, type=kind, values=values, source=where)
    if store is not None and store_file(store) is not None and store != "sqlite":
        store = _beside(path, store)
    return Config(path=path, providers=providers, store=store, store_keys_env=keys_env, web=web)


#: Keys that name files: relative paths are the configuration file's folder's.
_PATH_KEYS = frozenset(
    {"private_key_file", "decryption_key_file", "rsa_key_file", "tls_client_cert", "tls_client_key"}
)


def _beside(config: Path, value: str) -> str:
    """A path of the configuration (``~`` expanded), relative ones taken from the file's own
    folder — not the working folder, which differs for a server started elsewhere (gunicorn
    ``--chdir``, systemd)."""
    found = Path(value).expanduser()
    return str(found if found.is_absolute() else config.resolve().parent / found)
