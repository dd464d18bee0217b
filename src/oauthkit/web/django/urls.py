"""The sign-in routes as sync views: ``include("oauthkit.web.django.urls")``."""

from django.urls import path

from . import views

app_name = "oauthkit"
urlpatterns = [
    path("connect/<str:provider>", views.connect, name="connect"),
    path("signin/<str:provider>", views.signin, name="signin"),
    path("callback/<str:provider>", views.callback, name="callback"),
    path("disconnect/<str:provider>", views.disconnect, name="disconnect"),
    path("backchannel/<str:provider>", views.backchannel, name="backchannel"),
]
