"""The sign-in routes as async views (under ASGI): ``include("oauthkit.web.django.async_urls")``."""

from django.urls import path

from . import views

app_name = "oauthkit"
urlpatterns = [
    path("connect/<str:provider>", views.aconnect, name="connect"),
    path("signin/<str:provider>", views.asignin, name="signin"),
    path("callback/<str:provider>", views.acallback, name="callback"),
    path("disconnect/<str:provider>", views.adisconnect, name="disconnect"),
    path("backchannel/<str:provider>", views.abackchannel, name="backchannel"),
]
