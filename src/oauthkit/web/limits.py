"""How many anonymous sign-ins one client may begin: each ``/signin`` writes a pending flow to
the store before anyone is known, so without a bound a single client could fill it.

:class:`SignInLimit` is a token bucket per client address, in the worker's memory (each worker
bounds its share; several workers together allow their sum). Behind a reverse proxy the
address is the proxy's unless the framework is told to trust its ``X-Forwarded-For`` (Flask:
``ProxyFix``; uvicorn: ``--forwarded-allow-ips``; Django: the proxy's ``REMOTE_ADDR``
middleware) — or pass a larger limit, or ``None``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from ..errors import TooManySignIns

__all__ = ["SignInLimit"]


class SignInLimit:
    """At most ``burst`` anonymous sign-ins at once per client address, then one every
    ``60 / per_minute`` seconds; ``addresses`` bounds the memory (the least recent are
    forgotten)."""

    def __init__(self, per_minute: float = 30, *, burst: int = 60, addresses: int = 10_000):
        if per_minute <= 0 or burst < 1 or addresses < 1:
            raise ValueError("per_minute, burst and addresses are positive")
        self.rate = per_minute / 60.0
        self.burst = burst
        self.addresses = addresses
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._guard = threading.Lock()

    def take(self, address: str) -> None:
        """Count one sign-in begun by ``address``, or raise
        :class:`~oauthkit.errors.TooManySignIns` (``.retry_after`` seconds)."""
        now = time.monotonic()
        with self._guard:
            tokens, since = self._buckets.pop(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - since) * self.rate)
            if tokens < 1:
                self._buckets[address] = (tokens, now)
                wait = math.ceil((1 - tokens) / self.rate)
                raise TooManySignIns(
                    f"too many sign-ins begun from this address; try again in {wait} s",
                    retry_after=wait,
                )
            self._buckets[address] = (tokens - 1, now)
            while len(self._buckets) > self.addresses:
                self._buckets.popitem(last=False)

    def __repr__(self) -> str:
        return f"SignInLimit(per_minute={self.rate * 60:g}, burst={self.burst})"
