"""How often one client may do something (send the public form, try a tracking code).

Counts live in Django's cache, keyed by purpose and client address. Each key holds the
moments of the last hits, so the window slides: "5 in 10 minutes" means any 10 minutes,
not 10-minute slots a client could straddle to double its allowance.

The client is `REMOTE_ADDR` and nothing else: `X-Forwarded-For` can be written by anyone, so
trusting it would let a robot pick a new address per request. Behind a reverse proxy, the
proxy must set `REMOTE_ADDR` itself (nginx `real_ip` module, Apache `mod_remoteip`, or
gunicorn's `--forwarded-allow-ips`), otherwise every citizen shares the proxy's address.
IPv6 clients are counted per /64 network, the block one household or phone usually gets.

The default cache (LocMemCache) is private to each process: with several web processes each
keeps its own counts, so a client gets up to that many times the limit. A shared cache
(Redis, Memcached, or Django's database cache) makes the limit exact (docs/configuration.md).
Reading and writing a key are two steps, so a few simultaneous hits may slip through; that
is fine for slowing down robots, which is all this is for.
"""

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

_KEY_PREFIX = "qualicite:ratelimit"


def client_address(request) -> str:
    """The address the limit counts: REMOTE_ADDR, IPv6 reduced to its /64 network."""
    raw = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` hits per `window` seconds, per client, for one `purpose`."""

    purpose: str
    limit: int
    window: int

    def key(self, request) -> str:
        # Hashed: cache keys must be short and plain (Memcached), and addresses are personal.
        digest = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
        return f"{_KEY_PREFIX}:{self.purpose}:{digest}"

    def _recent(self, request, now: float) -> list[float]:
        hits = cache.get(self.key(request)) or []
        return [moment for moment in hits if now - moment < self.window]

    def exceeded(self, request, *, now: float | None = None) -> bool:
        """Whether the client already used up its hits (checking does not count as a hit)."""
        now = time.time() if now is None else now
        return len(self._recent(request, now)) >= self.limit

    def hit(self, request, *, now: float | None = None) -> None:
        """Count one hit for the client."""
        now = time.time() if now is None else now
        hits = [*self._recent(request, now), now][-self.limit :]
        cache.set(self.key(request), hits, timeout=self.window)

    def retry_after(self, request, *, now: float | None = None) -> int:
        """Seconds until the client may try again (0 when it may now)."""
        now = time.time() if now is None else now
        hits = self._recent(request, now)
        if len(hits) < self.limit:
            return 0
        return max(1, math.ceil(hits[-self.limit] + self.window - now))

    def reset(self, request) -> None:
        cache.delete(self.key(request))
