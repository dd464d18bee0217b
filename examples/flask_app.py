"""A Flask app that connects its users' accounts and signs them in with a provider.

Run it with ``./run example flask`` (gunicorn, 2 workers, the sandbox provider unless
``OAUTHKIT_CONFIG`` names a configuration). The OAuth part is the ``OAuthKit`` extension and
the two routes that use it; the rest stands in for the app's own login.
"""

import os

from flask import Flask, jsonify, redirect, request, session

from oauthkit.web import WebFlow
from oauthkit.web.flask import OAuthKit

app = Flask(__name__)
app.secret_key = os.environ["OAUTHKIT_EXAMPLE_SECRET"]  # the same in every worker
app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)

flow = WebFlow.from_config()  # providers and store from $OAUTHKIT_CONFIG
oauth = OAuthKit(
    app,
    flow,
    current_user=lambda: session.get("user"),
    on_sign_in=lambda done: session.update(user=done.user),
)


@app.get("/me")
def me():
    user = session.get("user")
    return jsonify(user=user, connected=flow.connected(user) if user else [])


@app.get("/api/<provider>/<path:path>")
def api(provider, path):
    return oauth.relay(provider, path)


# -- the app's own login (a stand-in) -------------------------------------------------------


@app.post("/app/login")
def app_login():
    session["user"] = request.form["user"]
    return redirect("/", code=303)


@app.get("/")
def index():
    links = "".join(
        f'<li><a href="/connect/{name}">Connect {name}</a> · '
        f'<a href="/signin/{name}">Sign in with {name}</a></li>'
        for name in flow.providers
    )
    return (
        "<!doctype html><title>oauthkit + Flask</title><h1>oauthkit + Flask</h1>"
        '<form method="post" action="/app/login"><input name="user" value="alice">'
        '<button type="submit">Log in to the app</button></form>'
        f'<ul>{links}</ul><p><a href="/me">/me</a></p>'
    )
