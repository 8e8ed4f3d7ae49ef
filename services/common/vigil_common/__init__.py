"""Vigil shared contracts, used by every service (see docs/protocol.md)."""

__version__ = "0.1.0"
