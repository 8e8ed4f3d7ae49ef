"""Several detector processes share the cameras (``docker compose up --scale detector=2``, k8s
replicas), so each camera is looked at by exactly one of them.

Each process is a member of a Redis sorted set (:data:`MEMBERS_KEY`: member = its instance
name, score = when it last said it was alive), refreshed with the camera list every 10 s; a
member silent for :data:`MEMBER_TTL_S` is dropped, and one that stops cleanly leaves at once.
Who owns a camera is rendezvous hashing (:func:`owner`, pure): the live member with the
highest hash of ``member/camera``. Every member computes the same answer from the same member
list, a member joining or leaving moves only the cameras it gains or had, and no coordination
beyond the set is needed. While the member list changes, a camera may for one refresh be
looked at by two processes or by none (its open event then ends on the old owner and a new one
starts on the new); that is the price of needing no lock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable

import redis

from vigil_common.contract import keys

MEMBERS_KEY = keys.DETECTOR_MEMBERS
MEMBER_TTL_S = 30.0


def owner(camera_id: str, members: Iterable[str]) -> str | None:
    """The member that looks at ``camera_id`` (None when there is none)."""
    best: tuple[bytes, str] | None = None
    for member in members:
        score = hashlib.blake2b(f"{member}/{camera_id}".encode(), digest_size=8).digest()
        if best is None or (score, member) > best:
            best = (score, member)
    return best[1] if best else None


class Membership:
    def __init__(self, client: redis.Redis, instance: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.instance = instance
        self.clock = clock

    def members(self) -> list[str]:
        """Say this process is alive, drop the silent ones, and return the live members."""
        now = self.clock()
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(MEMBERS_KEY, {self.instance: now})
        pipe.zremrangebyscore(MEMBERS_KEY, "-inf", now - MEMBER_TTL_S)
        pipe.zrange(MEMBERS_KEY, 0, -1)
        pipe.expire(MEMBERS_KEY, int(MEMBER_TTL_S * 4))
        raw = pipe.execute()[2]
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in raw)

    def leave(self) -> None:
        self.client.zrem(MEMBERS_KEY, self.instance)
