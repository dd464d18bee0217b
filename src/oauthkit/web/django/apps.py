"""The Django app configuration of :mod:`oauthkit.web.django`."""

from django.apps import AppConfig


class OAuthKitConfig(AppConfig):  # type: ignore[misc]
    """``oauthkit.web.django`` in ``INSTALLED_APPS``."""

    name = "oauthkit.web.django"
    label = "oauthkit"
    verbose_name = "oauthkit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
