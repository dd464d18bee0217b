"""Signing a person in from a program on their own machine: the loopback redirect (RFC 8252
§7.3, :mod:`.loopback`) and the prompts around it — the address to open, the browser
opened when one can be, a redirect pasted from another machine (:mod:`.prompts`). The
command's sign-ins and :func:`oauthkit.for_resource` use them."""
