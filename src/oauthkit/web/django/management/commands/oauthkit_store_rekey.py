"""``python manage.py oauthkit_store_rekey``: write every entry of the app's token store again
under the first of its keys (``OAUTHKIT["STORE_KEYS_ENV"]``, or ``store_keys_env`` of the
configuration's store): entries in clear are encrypted, entries of older keys sealed anew.

Safe while the app serves: each entry is rewritten under its renewal lease, by
compare-and-set. Afterwards the older key can leave the list (once the pending sign-ins it
sealed, a few minutes' worth, have expired)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from .....errors import OAuthKitError
from ...views import flow


class Command(BaseCommand):  # type: ignore[misc]
    help = "Encrypt every oauthkit token under the first key of the store's keys."

    def handle(self, *args: Any, **options: Any) -> None:
        store: Any = None
        try:
            store = flow().store
            written = store.rekey()
        except OAuthKitError as exc:
            raise CommandError(str(exc)) from None
        except AttributeError:
            raise CommandError(f"{type(store).__name__} keeps nothing encrypted") from None
        kid = store.encryption.kid
        self.stdout.write(f"{written} entr{'y' if written == 1 else 'ies'} now under key {kid}")
