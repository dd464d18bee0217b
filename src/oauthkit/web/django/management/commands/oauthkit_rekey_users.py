"""``python manage.py oauthkit_rekey_users``: move the tokens that earlier versions of oauthkit
saved under each user's username to the user's primary key.

Run it once, right after upgrading and before users sign in again: until then a user renamed
since, and someone who took their old name, would each see the other's connected accounts.
``--dry-run`` shows what would move."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from ...views import flow


class Command(BaseCommand):  # type: ignore[misc]
    help = "Move oauthkit tokens saved under usernames to the users' primary keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="show, change nothing")

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        web = flow()
        store, moved = web.store, 0
        for user in get_user_model().objects.all().iterator():
            name, pk = str(user.get_username()), str(user.pk)
            if name == pk:
                continue
            for provider in web.providers:
                old, new = web.key_for(provider, name), web.key_for(provider, pk)
                value = store.get(old)
                if value is None:
                    continue
                if store.get(new) is not None:
                    self.stderr.write(f"{old}: {new} exists already, left as it is")
                    continue
                self.stdout.write(f"{old} -> {new}")
                moved += 1
                if not dry_run:
                    store.put(new, value)
                    store.delete(old)
        verb = "would move" if dry_run else "moved"
        self.stdout.write(f"{verb} {moved} token(s)")
