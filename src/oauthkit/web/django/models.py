"""The table of :class:`~oauthkit.web.django.store.DjangoStore`: tokens, pending web flows and
renewal leases, each under ``(kind, key)`` — the same layout as
:class:`~oauthkit.stores.SQLAlchemyStore`'s."""

from django.db import models


class StoredEntry(models.Model):  # type: ignore[misc]
    """One row: a token's record (``kind="token"``, with its version), a pending web flow's
    (``"pending"``, until ``expires_at``) or a renewal lease (``"lease"``: its owner in
    ``data``, until ``expires_at``)."""

    kind = models.CharField(max_length=16)
    key = models.CharField(max_length=1024)
    data = models.TextField()
    version = models.BigIntegerField(default=1)
    expires_at = models.FloatField(null=True)

    class Meta:
        db_table = "oauthkit_tokens"
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="oauthkit_kind_key")]
        indexes = [models.Index(fields=["kind", "expires_at"], name="oauthkit_expiry")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
