"""The sans-I/O core: protocol steps that yield requests and receive responses.

Nothing under this package performs I/O or imports an HTTP library; the drivers in
:mod:`oauthkit.drivers` run its steps over httpx2.
"""
