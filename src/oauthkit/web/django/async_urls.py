"""The sign-in routes as async views (under ASGI): ``include("oauthkit.web.django.async_urls")``."""

from django.urls import path

from .. import routes
from . import views

app_name = "oauthkit"
urlpatterns = [
    path(f"{name}/<str:provider>", getattr(views, f"a{name}"), name=name)
    for name, _, _ in routes.table()
]
