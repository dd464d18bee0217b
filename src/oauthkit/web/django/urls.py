"""The sign-in routes as sync views: ``include("oauthkit.web.django.urls")``."""

from django.urls import path

from .. import routes
from . import views

app_name = "oauthkit"
urlpatterns = [
    path(f"{name}/<str:provider>", getattr(views, name), name=name) for name, _, _ in routes.table()
]
