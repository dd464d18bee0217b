"""The Django example's own views: its stand-in login, /me and the API relay."""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from oauthkit.web.django import arelay, flow, relay


def current_user(request):
    return request.session.get("user")


def signed_in(request, done):
    request.session["user"] = done.user


def me(request):
    user = current_user(request)
    return JsonResponse({"user": user, "connected": flow().connected(user) if user else []})


def api(request, provider, path):
    return relay(request, provider, path)


async def aapi(request, provider, path):
    return await arelay(request, provider, path)


# -- the app's own login (a stand-in) -------------------------------------------------------


@csrf_exempt
@require_POST
def app_login(request):
    request.session["user"] = request.POST["user"]
    return redirect("/", permanent=False)


def index(request):
    links = "".join(
        f'<li><a href="/connect/{name}">Connect {name}</a> · '
        f'<a href="/signin/{name}">Sign in with {name}</a></li>'
        for name in flow().providers
    )
    return HttpResponse(
        "<!doctype html><title>oauthkit + Django</title><h1>oauthkit + Django</h1>"
        '<form method="post" action="/app/login"><input name="user" value="alice">'
        '<button type="submit">Log in to the app</button></form>'
        f'<ul>{links}</ul><p><a href="/me">/me</a></p>'
    )
