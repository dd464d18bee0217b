"""The sans-I/O core: protocol steps that yield requests and receive responses.

Nothing under this package performs I/O or imports an HTTP library (a test holds it to
that); the drivers in :mod:`oauthkit.drivers` run its steps over httpx2, and anyone may run
them over their own I/O: a step is a generator that yields an
:class:`~oauthkit.protocol.http.HttpRequest` (or a :class:`~oauthkit.protocol.http.Wait`)
and is sent the :class:`~oauthkit.protocol.http.HttpResponse`.

This package is public, like h11 beside an HTTP client: each module's ``__all__`` is its
contract.

- :mod:`.http` — the step, request, response and wait values; :mod:`.url_policy` — which
  URLs may carry credentials; :mod:`.redirect` — reading a callback; :mod:`.endpoints` — the
  endpoint names; :mod:`.jsontext` — JSON from a server; :mod:`.redaction` — secret-free
  messages; :mod:`.retry` — transient failures tried again.
- :mod:`.oauth1` — RFC 5849: :mod:`~.oauth1.encoding`, :mod:`~.oauth1.signature`,
  :mod:`~.oauth1.signing`, :mod:`~.oauth1.credentials`, :mod:`~.oauth1.flow`.
- :mod:`.oauth2` — RFC 6749 and its extensions: :mod:`~.oauth2.config` (a client's settings
  and caches), :mod:`~.oauth2.metadata` (RFC 8414 discovery), :mod:`~.oauth2.authorization`
  (the request and the callback check), :mod:`~.oauth2.token_endpoint`,
  :mod:`~.oauth2.grants`, :mod:`~.oauth2.device`, :mod:`~.oauth2.token_management`,
  :mod:`~.oauth2.oidc`, :mod:`~.oauth2.dpop`, :mod:`~.oauth2.pkce`,
  :mod:`~.oauth2.client_auth`, :mod:`~.oauth2.response`, :mod:`~.oauth2.token`,
  :mod:`~.oauth2.bearer`, :mod:`~.oauth2.hooks`.

Outside it, the public names are those of :mod:`oauthkit`, :mod:`oauthkit.errors`,
:mod:`oauthkit.oauth1`, :mod:`oauthkit.oauth2`, :mod:`oauthkit.auth`,
:mod:`oauthkit.stores`, :mod:`oauthkit.providers`, :mod:`oauthkit.sandbox` and
:mod:`oauthkit.drivers`. Modules whose name starts with ``_`` and the command's
:mod:`oauthkit.cli` are private.
"""
