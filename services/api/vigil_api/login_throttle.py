"""Failed logins per client address, in Redis, so one address cannot try passwords forever.

The per-account lockout (``auth.after_failure``) stops guessing one account; this stops one
address from walking through many accounts. Counts live in Redis (shared by every API replica)
under keys that expire with the window, so memory is bounded by the addresses that failed
recently. Behind a reverse proxy the address is the one uvicorn takes from ``X-Forwarded-For``
for peers listed in ``VIGIL_TRUSTED_PROXIES``. If Redis is away the throttle lets logins through
(the per-account lockout in the database still holds).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
KEY_PREFIX = "vigil:login-failures:"


def address_key(host: str | None) -> str:
    """A Redis key for a client address: the normalised IP (an IPv6 client's /64, which one
    host usually owns entirely), or a hash of anything that is not an IP."""
    if host:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            if isinstance(ip, ipaddress.IPv6Address):
                if ip.ipv4_mapped is not None:
                    return KEY_PREFIX + str(ip.ipv4_mapped)
                return KEY_PREFIX + str(ipaddress.IPv6Network((ip, 64), strict=False).network_address) + "/64"
            return KEY_PREFIX + str(ip)
    digest = hashlib.sha256((host or "").encode()).hexdigest()[:16]
    return KEY_PREFIX + "h-" + digest


class LoginThrottle:
    """Synchronous (it runs in the login's worker thread, next to the password check)."""

    def __init__(self, client: redis.Redis, max_failures: int, window_s: int) -> None:
        self.client = client
        self.max_failures = max_failures
        self.window_s = window_s

    def blocked_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(key)
            pipe.pttl(key)
            count, ttl_ms = pipe.execute()
        except RedisError as exc:
            log.warning("login throttle unavailable (%s); relying on per-account lockout", exc)
            return 0.0
        if count is None or int(count) < self.max_failures:
            return 0.0
        return max(float(ttl_ms) / 1000.0, 1.0) if ttl_ms and ttl_ms > 0 else float(self.window_s)

    def failed(self, key: str) -> None:
        """Count one failure; the window starts at the first failure and is not extended.
        (``SET NX EX`` then ``INCR``: works on every Redis, including the embedded 6.x.)"""
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.set(key, 0, ex=self.window_s, nx=True)
            pipe.incr(key)
            pipe.execute()
        except RedisError as exc:
            log.warning("login throttle unavailable (%s)", exc)
