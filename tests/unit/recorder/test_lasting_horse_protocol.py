"""The lasting work horse's request line (vigil_recorder.lasting_horse)."""

from __future__ import annotations

import pytest

from vigil_recorder.lasting_horse import Request, decode_request, encode_request


def test_a_request_round_trips_as_one_line() -> None:
    req = Request("seg-cam-1-1700000000000", "0f" * 16, "vigil-recorder")
    line = encode_request(req)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_request(line) == req


def test_ids_with_spaces_or_quotes_survive() -> None:
    req = Request('odd "job" id\n', "e", "q")
    assert decode_request(encode_request(req)) == req


@pytest.mark.parametrize("line", [b"", b"not json\n", b"[1, 2]\n", b'{"job": "j", "execution": 3, "queue": "q"}\n',
                                  b'{"job": "j", "queue": "q"}\n'])
def test_a_malformed_request_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode_request(line)


def test_a_request_longer_than_one_atomic_pipe_write_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        encode_request(Request("j" * 5000, "e", "q"))
