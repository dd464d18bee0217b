"""The typed factories of the configuration: the client of a ``[providers.NAME]`` table (a
preset, an issuer, or its endpoints), the store its ``store`` names, its API base and its
who-am-I request — what the command, ``Session.from_config`` and ``WebFlow.from_config``
build from one file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..protocol.endpoints import OAUTH2_ENDPOINTS
from ..providers.identity import WhoAmI
from .file import store_file
from .provider import ResolvedProvider

if TYPE_CHECKING:
    from ..clients.oauth1 import OAuth1Client
    from ..clients.oauth2 import OAuth2Client
    from ..stores.base import TokenStore

__all__ = ["api_base", "make_oauth1_client", "make_oauth2_client", "open_store", "whoami_of"]


#: URL schemes of databases served by SQLAlchemyStore (extra ``sqlalchemy``).
DATABASE_SCHEMES = ("postgresql", "postgres", "sqlite+", "mysql", "mariadb")


def open_store(spec: str | None, *, keys_env: str | None = None) -> TokenStore:
    """The store a ``--store`` value or the config's ``store`` names: a file path (SQLite),
    a Redis URL (``redis://``, ``rediss://``, ``unix://``, ``redis+cluster://``,
    ``redis+sentinel://``: see :class:`~oauthkit.stores.RedisStore`), ``keyring``, a
    database URL (``postgresql+psycopg://…``: its table is created on first use if missing);
    default the SQLite store in the user data folder. ``keys_env`` (the configuration's
    ``store_keys_env``) names the environment variable of the store's keys: its entries are
    then encrypted at rest (:mod:`oauthkit.stores.encryption`)."""
    from ..stores.sqlite import SQLiteStore

    encryption = None
    if keys_env is not None:
        if spec in ("keyring", "memory"):
            raise ConfigurationError(
                f"store_keys_env does not apply to the {spec} store (the OS keyring encrypts "
                "its entries itself; memory keeps nothing at rest): remove it or choose "
                "another store"
            )
        from ..stores.encryption import Encryption

        encryption = Encryption.from_env(keys_env)
    path = store_file(spec)
    if path is not None:
        return SQLiteStore(path, encryption=encryption)
    assert spec is not None
    from ..stores.redis import SCHEMES as REDIS_SCHEMES

    if spec.startswith(tuple(f"{scheme}://" for scheme in REDIS_SCHEMES)):
        from ..stores.redis import RedisStore

        return RedisStore(spec, encryption=encryption)
    if spec.startswith(DATABASE_SCHEMES) and "://" in spec:
        from ..stores.sqlalchemy import SQLAlchemyStore

        url = "postgresql" + spec[len("postgres") :] if spec.startswith("postgres:") else spec
        # its table is made on first use when missing
        return SQLAlchemyStore(url, encryption=encryption)
    if spec == "keyring":
        from ..stores.keyring import KeyringStore

        return KeyringStore()
    if spec == "memory":
        from ..stores.memory import MemoryStore

        return MemoryStore()
    raise ConfigurationError(
        f"unknown store {spec!r}: a file path, redis://…, a database URL, or keyring"
    )


def _common(provider: ResolvedProvider) -> dict[str, Any]:
    arguments: dict[str, Any] = dict(provider.options)
    if provider.get("allow_insecure_http"):
        arguments["allow_insecure_http"] = True
    return arguments


def _read_file(provider: ResolvedProvider, name: str) -> bytes:
    path = Path(provider.get(name)).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"{provider.source}: {name} of {provider.name!r} cannot be read: {exc}"
        ) from None


def make_oauth2_client(
    provider: ResolvedProvider, *, redirect_uri: str | None = None
) -> OAuth2Client:
    """An ``OAuth2Client`` for ``[providers.NAME]``: a preset, an issuer, or endpoints."""
    from ..clients.oauth2 import OAuth2Client

    arguments = _common(provider)
    arguments.update({key: provider.get(key) for key in OAUTH2_ENDPOINTS if provider.get(key)})
    for key in ("issuer", "scope", "auth_method", "profile", "dpop"):
        if provider.get(key):
            arguments[key] = provider.get(key)
    if provider.get("private_key_file"):
        arguments["private_key"] = _read_file(provider, "private_key_file")
    if provider.get("decryption_key_file"):
        arguments["decryption_key"] = _read_file(provider, "decryption_key_file")
    if provider.get("tls_client_cert"):
        cert = str(Path(provider.get("tls_client_cert")).expanduser())
        key = provider.get("tls_client_key")
        arguments["tls_client_cert"] = (cert, str(Path(key).expanduser())) if key else cert
    if redirect_uri is not None:
        arguments["redirect_uri"] = redirect_uri
    client_id, secret = provider.get("client_id"), provider.secret("client_secret")
    if provider.get("preset"):
        return OAuth2Client.from_preset(provider.get("preset"), client_id, secret, **arguments)
    if not provider.get("issuer") and not provider.get("token_endpoint"):
        raise ConfigurationError(f"{provider.source}: give preset=, issuer= or the endpoints")
    return OAuth2Client(client_id, secret, **arguments)


def make_oauth1_client(provider: ResolvedProvider) -> OAuth1Client:
    """An ``OAuth1Client`` for an OAuth 1.0a provider (a preset, or its three URLs)."""
    from ..clients.oauth1 import OAuth1Client

    arguments = _common(provider)
    for key in ("request_token_url", "authorize_url", "access_token_url", "signature_method"):
        if provider.get(key):
            arguments[key] = provider.get(key)
    if provider.get("rsa_key_file"):
        arguments["rsa_key"] = _read_file(provider, "rsa_key_file")
    key, secret = provider.get("consumer_key"), provider.secret("consumer_secret")
    if provider.get("preset"):
        return OAuth1Client.from_preset(provider.get("preset"), key, secret, **arguments)
    return OAuth1Client(key, secret, **arguments)


def api_base(provider: ResolvedProvider, token: Any = None) -> str | None:
    """The API base for relative request URLs: the config's, else the preset's (or, for a
    provider like Salesforce, the one its token names)."""
    if provider.get("api_base"):
        return str(provider.get("api_base"))
    preset = provider.preset
    if preset is not None:
        if preset.api_base_from and token is not None:
            value = getattr(token, "extra", {}).get(preset.api_base_from)
            if isinstance(value, str):
                return value.rstrip("/") + "/"
        base = preset.api_base_url(**provider.options)
        return str(base) if base else None
    return None


def whoami_of(provider: ResolvedProvider) -> WhoAmI | None:
    """The request that says who signed in: ``whoami_url`` and ``whoami_field`` (the field of
    the provider's immutable account id; ``whoami_tenant_field`` where ids repeat across
    tenants) when the table gives them, else the preset's, its placeholders filled."""
    if provider.get("whoami_url"):
        field = provider.get("whoami_field", "sub")
        tenant = provider.get("whoami_tenant_field")
        if not isinstance(field, str) or not (tenant is None or isinstance(tenant, str)):
            raise ConfigurationError(
                f"{provider.name}: whoami_field (and whoami_tenant_field) name one field of "
                "the who-am-I answer: the provider's immutable account id (and its tenant)"
            )
        return WhoAmI(str(provider.get("whoami_url")), field, tenant=(tenant,) if tenant else ())
    preset = provider.preset
    whoami = preset.whoami if preset is not None else None
    if preset is not None and whoami is not None and "{" in whoami.url:
        whoami = replace(whoami, url=preset.whoami_url(**provider.options) or whoami.url)
    return whoami
