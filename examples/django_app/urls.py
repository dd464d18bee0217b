from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("oauthkit.web.django.urls")),
    path("app/login", views.app_login),
    path("me", views.me),
    path("api/<str:provider>/<path:path>", views.api),
    path("", views.index),
]
