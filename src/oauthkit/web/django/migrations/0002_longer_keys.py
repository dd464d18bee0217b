from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]
    """Store keys up to 1,024 characters (a user key, a provider and a long id together)."""

    dependencies = [("oauthkit", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="storedentry", name="key", field=models.CharField(max_length=1024)
        ),
    ]
