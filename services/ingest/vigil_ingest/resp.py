"""RESP2 command encoding for the stream writer's hot path (pure; no I/O).

redis-py's pipeline spends about twice ingest's Redis CPU on building and answering its
command objects; the writer packs its batch itself and uses redis-py's connection only to
send and read. Large values (frame payloads) are never copied: they go out as their own
chunk, and the small pieces between them are joined.
"""

from __future__ import annotations

from collections.abc import Sequence

Arg = bytes | memoryview | str | int

# A value at least this long is sent as its own chunk instead of being joined. Joining copies,
# a chunk of its own costs a send call: below this size the copy is the cheaper (H.264 access
# units are mostly a few KB to a few tens of KB; JPEG frames and keyframes go out uncopied).
BIG = 64 * 1024


class CommandPacker:
    """Accumulates commands as a short list of chunks for ``send_packed_command``."""

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []
        self.commands = 0
        self._small: list[bytes | memoryview] = []

    def add(self, args: Sequence[Arg]) -> None:
        self.add_bytes([arg.encode() if isinstance(arg, str) else b"%d" % arg if isinstance(arg, int) else arg
                        for arg in args])

    def add_bytes(self, args: Sequence[bytes | memoryview]) -> None:
        """:meth:`add` for arguments that are all bytes already (the per-frame XADD: no
        per-argument conversion)."""
        small = self._small
        small.append(b"*%d\r\n" % len(args))
        for arg in args:
            size = len(arg)
            if size >= BIG:
                small.append(b"$%d\r\n" % size)
                self.chunks.append(b"".join(small))
                self.chunks.append(arg)
                small.clear()
                small.append(b"\r\n")
            else:
                small += (b"$%d\r\n" % size, arg, b"\r\n")
        self.commands += 1

    def packed(self) -> list[bytes | memoryview]:
        """The chunks to send, in order (the packer is spent afterwards)."""
        if self._small:
            self.chunks.append(b"".join(self._small))
            self._small = []
        return self.chunks
