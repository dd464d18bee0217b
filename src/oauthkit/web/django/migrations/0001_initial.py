from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="StoredEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("kind", models.CharField(max_length=16)),
                ("key", models.CharField(max_length=512)),
                ("data", models.TextField()),
                ("version", models.BigIntegerField(default=1)),
                ("expires_at", models.FloatField(null=True)),
            ],
            options={
                "db_table": "oauthkit_tokens",
                "indexes": [models.Index(fields=["kind", "expires_at"], name="oauthkit_expiry")],
                "constraints": [
                    models.UniqueConstraint(fields=("kind", "key"), name="oauthkit_kind_key")
                ],
            },
        ),
    ]
