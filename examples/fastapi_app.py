"""A FastAPI app that connects its users' accounts and signs them in with a provider.

Run it with ``./run example fastapi`` (uvicorn, 2 workers, the sandbox provider unless
``OAUTHKIT_CONFIG`` names a configuration). The OAuth part is ``OAuthKitRoutes`` and the two
routes that use it; the rest stands in for the app's own login.
"""

import os

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from oauthkit.web import WebFlow
from oauthkit.web.starlette import OAuthKitRoutes

app = FastAPI()
app.add_middleware(SessionMiddleware, secret_key=os.environ["OAUTHKIT_EXAMPLE_SECRET"])

flow = WebFlow.from_config()  # providers and store from $OAUTHKIT_CONFIG
oauth = OAuthKitRoutes(
    flow,
    current_user=lambda request: request.session.get("user"),
    on_sign_in=lambda request, done: request.session.update(user=done.user),
)
oauth.install(app)


@app.get("/me")
async def me(request: Request):
    user = request.session.get("user")
    return {"user": user, "connected": await flow.aconnected(user) if user else []}


@app.get("/api/{provider}/{path:path}")
async def api(request: Request, provider: str, path: str):
    return await oauth.relay(request, provider, path)


# -- the app's own login (a stand-in) -------------------------------------------------------


@app.post("/app/login")
async def app_login(request: Request, user: str = Form()):
    request.session["user"] = user
    return RedirectResponse("/", status_code=303)


@app.get("/", response_class=HTMLResponse)
async def index():
    links = "".join(
        f'<li><a href="/connect/{name}">Connect {name}</a> · '
        f'<a href="/signin/{name}">Sign in with {name}</a></li>'
        for name in flow.providers
    )
    return (
        "<!doctype html><title>oauthkit + FastAPI</title><h1>oauthkit + FastAPI</h1>"
        '<form method="post" action="/app/login"><input name="user" value="alice">'
        '<button type="submit">Log in to the app</button></form>'
        f'<ul>{links}</ul><p><a href="/me">/me</a></p>'
    )
