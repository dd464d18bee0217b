"""The command's configuration: a TOML file in the platform's config folder.

::

    store = "~/.local/share/oauthkit/tokens.sqlite3"   # optional; or "redis://…", "keyring"

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

    [providers.legacy]                     # OAuth 1.0a
    type = "oauth1"
    request_token_url = "…"; authorize_url = "…"; access_token_url = "…"
    consumer_key = "…"; consumer_secret_env = "LEGACY_SECRET"

A secret is never required in the file: it can come from an environment variable, a command
or the keyring. Mistakes are :class:`~oauthkit.errors.ConfigurationError` naming the file and
the line.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ["OAUTH2_ENDPOINTS", "Config", "ProviderConfig", "config_path", "load_config"]

#: The endpoints a ``[providers.NAME]`` table may give instead of (or beside) an issuer.
OAUTH2_ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
)
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
    "scope",
    "redirect_host",
    "redirect_port",
    "redirect_path",
    "api_base",
    "allow_insecure_http",
    "audience",
    "options",
}
_OAUTH1_KEYS = {
    "type",
    "preset",
    "request_token_url",
    "authorize_url",
    "access_token_url",
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
    "options",
}


def config_path() -> Path:
    """``config.toml`` in the platform's user config folder for oauthkit."""
    import platformdirs

    return Path(platformdirs.user_config_dir("oauthkit", appauthor=False)) / "config.toml"


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[providers.NAME]`` table, checked."""

    name: str
    type: str
    values: Mapping[str, Any]
    source: str = field(default="", compare=False)

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
                raise ConfigurationError(
                    f"{self.source}: provider {self.name!r} reads its secret from ${env}, "
                    "which is not set"
                )
            return value
        command = self.get(f"{prefix}_command")
        if command is not None:
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


@dataclass(frozen=True)
class Config:
    """The whole file: the providers and the store to use."""

    path: Path
    providers: Mapping[str, ProviderConfig]
    store: str | None = None

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


def _preset_protocol(preset: object, where: str) -> str:
    if preset is None:
        return "oauth2"
    from ..providers import get

    try:
        return str(get(str(preset)).protocol)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _preset_options(preset: object) -> list[str]:
    """A preset's own options (``tenant``, ``base``, …), which may be keys of its table."""
    from ..providers import get

    return list(get(str(preset)).placeholders())


def load_config(path: Path | None = None) -> Config:
    """Read and check the configuration; a missing file is an empty configuration."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path, providers={})
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: malformed TOML: {exc}") from None
    store = document.get("store")
    if store is not None and not isinstance(store, str):
        raise ConfigurationError(f"{path}: 'store' must be a string")
    providers: dict[str, ProviderConfig] = {}
    tables = document.get("providers", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"{path}: 'providers' must be a table of [providers.NAME]")
    for name, table in tables.items():
        where = f"{path}:{_line_of(text, name)}"
        if not isinstance(table, dict):
            raise ConfigurationError(f"{where}: [providers.{name}] must be a table")
        kind = table.get("type") or _preset_protocol(table.get("preset"), where)
        if kind not in ("oauth2", "oauth1"):
            raise ConfigurationError(f"{where}: type must be 'oauth2' or 'oauth1', not {kind!r}")
        allowed = _OAUTH2_KEYS if kind == "oauth2" else _OAUTH1_KEYS
        if table.get("preset"):
            allowed = allowed | set(_preset_options(table["preset"]))
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown key(s) in [providers.{name}]: {', '.join(unknown)}"
            )
        identity = "client_id" if kind == "oauth2" else "consumer_key"
        if not table.get(identity):
            raise ConfigurationError(f"{where}: [providers.{name}] has no {identity}")
        if not isinstance(table.get("options", {}), dict):
            raise ConfigurationError(f'{where}: options must be a table, e.g. {{tenant = "x"}}')
        providers[name] = ProviderConfig(name=name, type=kind, values=table, source=where)
    return Config(path=path, providers=providers, store=store)
