"""The base of every "input refused" error: a message for people and a short ``reason``
label for metrics and for rate-limited logging (one log line per reason per minute)."""

from __future__ import annotations


class ReasonedError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
