"""The stream writer's RESP encoding: what it sends is what Redis expects, and payloads are not copied."""

from __future__ import annotations

from vigil_ingest.resp import BIG, CommandPacker


def wire(chunks: list[bytes | memoryview]) -> bytes:
    return b"".join(bytes(c) for c in chunks)


def test_commands_are_encoded_as_resp_arrays_of_bulk_strings() -> None:
    p = CommandPacker()
    p.add([b"ZADD", "k", b"NX", 123, "m"])
    p.add([b"PEXPIRE", "s", 5000])
    assert p.commands == 2
    assert wire(p.packed()) == (b"*5\r\n$4\r\nZADD\r\n$1\r\nk\r\n$2\r\nNX\r\n$3\r\n123\r\n$1\r\nm\r\n"
                                b"*3\r\n$7\r\nPEXPIRE\r\n$1\r\ns\r\n$4\r\n5000\r\n")


def test_non_ascii_and_empty_values_keep_their_byte_length() -> None:
    p = CommandPacker()
    p.add(["SET", "caméra", b""])
    assert wire(p.packed()) == "*3\r\n$3\r\nSET\r\n$7\r\ncaméra\r\n$0\r\n\r\n".encode()


def test_big_values_go_out_as_their_own_chunk_uncopied() -> None:
    payload = bytes(range(256)) * (BIG // 256 + 4)
    view = memoryview(payload)[3:]
    p = CommandPacker()
    for _ in range(3):
        p.add([b"XADD", "s", b"*", b"data", view])
    chunks = p.packed()
    assert [c for c in chunks if c is view] == [view] * 3  # the very object, three times
    # The small pieces around them are joined: 3 payloads, 4 joined runs.
    assert len(chunks) == 7
    one = b"*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$4\r\ndata\r\n$%d\r\n" % len(view) + bytes(view) + b"\r\n"
    assert wire(chunks) == one * 3


def test_the_all_bytes_fast_path_encodes_exactly_as_add() -> None:
    payload = bytes(range(256)) * (BIG // 256 + 4)
    args: list[bytes | memoryview] = [b"XADD", b"vigil:frames:c", b"*", b"t", b"123", b"data", b"",
                                      memoryview(b"small")]
    for value in (payload, memoryview(payload)[5:], b"x" * (BIG - 1)):
        slow, fast = CommandPacker(), CommandPacker()
        slow.add([*args, value])
        fast.add_bytes([*args, value])
        assert wire(fast.packed()) == wire(slow.packed()) and fast.commands == slow.commands == 1
    big = memoryview(payload)
    fast = CommandPacker()
    fast.add_bytes([b"XADD", b"s", big])
    assert any(c is big for c in fast.packed())  # a big value still goes out uncopied
