"""Which object events become e-mails (pure): a camera opts in per label
(``cameras.notify_objects``); an event of such a label e-mails when it starts, at most once per
camera and label per cooldown (a person pottering about the garden for an hour is one e-mail,
not one per sighting gap), and never twice for one event (QoS 1 may deliver a message again).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from vigil_common.contract.messages import ObjectEventMessage, ObjectPhase

MAX_REMEMBERED = 4096  # event ids and (camera, label) pairs kept (bounded memory)


@dataclass
class ObjectAlerts:
    cooldown_s: float = 300.0
    last_sent: OrderedDict[tuple[str, str], float] = field(default_factory=OrderedDict)
    seen: OrderedDict[int, None] = field(default_factory=OrderedDict)

    def decide(self, message: ObjectEventMessage, wanted: set[str] | frozenset[str], now: float) -> bool:
        """True when ``message`` should be e-mailed now (and remember that it was)."""
        if message.type is not ObjectPhase.START or message.label not in wanted or message.id in self.seen:
            return False
        self._remember(self.seen, message.id, None)
        key = (message.camera_id, message.label)
        last = self.last_sent.get(key)
        if last is not None and 0 <= now - last < self.cooldown_s:
            return False
        self._remember(self.last_sent, key, now)
        return True

    @staticmethod
    def _remember(store: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > MAX_REMEMBERED:
            store.popitem(last=False)
