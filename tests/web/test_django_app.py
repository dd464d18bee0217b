"""The Django integration beyond its views (which the example app's browser tests cover): who
the app user is, the system check, and the command that moves tokens saved under usernames."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from oauthkit import Token
from oauthkit.errors import ConfigurationError


def _in_thread(work: Any) -> Any:
    """The ORM refuses to run where an event loop runs (pytest-anyio's); a thread is safe."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@pytest.fixture
def django(django_databases: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """Django with the oauthkit app, its store on the SQLite database, and a configuration
    naming one provider (never contacted here)."""
    from django.test import override_settings

    import oauthkit.web.django.views as views

    config = tmp_path / "oauthkit.toml"
    config.write_text(
        '[providers.sandbox]\nclient_id = "c"\ntoken_endpoint = "http://127.0.0.1:9/token"\n'
        'authorization_endpoint = "http://127.0.0.1:9/authorize"\n'
    )
    settings = {"CONFIG": str(config), "STORE": "django", "DATABASE": "sqlite"}
    with override_settings(OAUTHKIT=settings):
        views._flow = None
        yield views
        views._flow = None


def test_the_app_user_is_the_primary_key_not_the_username(django: Any) -> None:
    """A rename frees a username for someone else: tokens keyed by it would pass to them."""
    user = SimpleNamespace(is_authenticated=True, pk=42, get_username=lambda: "alice")
    assert django.current_user(SimpleNamespace(user=user)) == "42"
    anonymous = SimpleNamespace(is_authenticated=False, pk=None, get_username=lambda: "")
    assert django.current_user(SimpleNamespace(user=anonymous)) is None


def test_the_system_check_warns_about_atomic_requests(django: Any) -> None:
    from django.conf import settings
    from django.core.checks import run_checks

    def ids() -> list[str]:
        return [m.id for m in run_checks(tags=["database"]) if m.id.startswith("oauthkit")]

    assert ids() == []
    database = settings.DATABASES["sqlite"]
    database["ATOMIC_REQUESTS"] = True
    try:
        assert ids() == ["oauthkit.W001"]
    finally:
        database["ATOMIC_REQUESTS"] = False


def test_rekey_users_moves_tokens_saved_under_usernames(django: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from oauthkit.web.django.store import DjangoStore

    def setup() -> tuple[str, str]:
        users = get_user_model().objects
        users.filter(username__in=["alice", "bob"]).delete()
        alice = users.create_user("alice")
        bob = users.create_user("bob")
        return str(alice.pk), str(bob.pk)

    def run(*args: str) -> str:
        out = io.StringIO()
        call_command("oauthkit_rekey_users", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    # "default" and "sqlite" are the same file (tests/stores/django_setup.py)
    alice, bob = _in_thread(setup)
    store = DjangoStore("sqlite")
    _in_thread(lambda: store.put("user:alice:sandbox", Token("alice-token")))
    _in_thread(lambda: store.put("user:bob:sandbox", Token("bob-token")))
    _in_thread(lambda: store.put(f"user:{bob}:sandbox", Token("bob-newer")))
    dry = _in_thread(lambda: run("--dry-run"))
    assert "would move 1 token(s)" in dry
    assert _in_thread(lambda: store.get("user:alice:sandbox")) == Token("alice-token")
    assert "moved 1 token(s)" in _in_thread(run)
    assert _in_thread(lambda: store.get(f"user:{alice}:sandbox")) == Token("alice-token")
    assert _in_thread(lambda: store.get("user:alice:sandbox")) is None
    # bob had a token under his key already: neither is touched
    assert _in_thread(lambda: store.get(f"user:{bob}:sandbox")) == Token("bob-newer")
    assert _in_thread(lambda: store.get("user:bob:sandbox")) == Token("bob-token")


def test_the_system_check_reports_a_configuration_that_cannot_work(
    django_databases: dict[str, Any], tmp_path: Path
) -> None:
    """No store named (the tokens would land in the command's personal file): manage.py
    check says so at start-up, not the first user's sign-in."""
    from django.core.checks import run_checks
    from django.test import override_settings

    import oauthkit.web.django.views as views

    config = tmp_path / "oauthkit.toml"
    config.write_text('[providers.p]\nclient_id = "c"\ntoken_endpoint = "http://127.0.0.1:9/t"\n')
    config.chmod(0o600)
    with override_settings(OAUTHKIT={"CONFIG": str(config)}):
        views._flow = None
        errors = [m for m in run_checks() if m.id == "oauthkit.E001"]
        views._flow = None
    assert len(errors) == 1 and "names no store" in errors[0].msg


def test_store_keys_env_encrypts_the_project_database(
    django: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OAUTHKIT["STORE_KEYS_ENV"]: the Django store seals every entry; a row written in clear
    before is read, and ``manage.py oauthkit_store_rekey`` seals it."""
    from django.core.management import call_command
    from django.test import override_settings

    from oauthkit.stores import Encryption
    from oauthkit.web.django.models import StoredEntry
    from oauthkit.web.django.store import DjangoStore

    monkeypatch.setenv("APP_TOKEN_KEYS", Encryption.generate("k1"))
    from django.conf import settings

    rows = StoredEntry.objects.using("sqlite")
    _in_thread(lambda: rows.all().delete())
    _in_thread(lambda: DjangoStore("sqlite").put("user:1:sandbox", Token("in-clear-before")))
    options = {**settings.OAUTHKIT, "STORE_KEYS_ENV": "APP_TOKEN_KEYS"}
    with override_settings(OAUTHKIT=options):
        django._flow = None
        store = _in_thread(lambda: django.flow().store)
        assert store.encryption.kid == "k1"
        _in_thread(lambda: store.put("user:2:sandbox", Token("sealed-secret")))
        assert _in_thread(lambda: store.get("user:1:sandbox")) == Token("in-clear-before")
        out = io.StringIO()
        _in_thread(lambda: call_command("oauthkit_store_rekey", stdout=out))
        assert out.getvalue().strip() == "2 entries now under key k1"
        data = _in_thread(lambda: list(rows.values_list("data", flat=True)))
        assert data and not any("in-clear-before" in d or "sealed-secret" in d for d in data)
        assert _in_thread(lambda: store.get("user:1:sandbox")) == Token("in-clear-before")
    with override_settings(OAUTHKIT={**options, "STORE": None}):
        django._flow = None
        with pytest.raises(ConfigurationError, match=r"STORE_KEYS_ENV.*is for"):
            django.flow()
