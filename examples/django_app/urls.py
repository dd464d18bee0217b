import os

from django.urls import include, path

from . import views

# Under ASGI (./run example django-async) the async views; under WSGI the sync ones.
ASYNC = os.environ.get("OAUTHKIT_EXAMPLE_ASYNC") == "1"

urlpatterns = [
    path("", include("oauthkit.web.django.async_urls" if ASYNC else "oauthkit.web.django.urls")),
    path("app/login", views.app_login),
    path("me", views.me),
    path("api/<str:provider>/<path:path>", views.aapi if ASYNC else views.api),
    path("", views.index),
]
