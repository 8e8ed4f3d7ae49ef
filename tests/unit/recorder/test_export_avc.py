"""H.264 sample plumbing used when joining files (vigil_recorder.remux.avc): pure rules."""

from __future__ import annotations

import pytest

from vigil_recorder.remux.avc import (
    AvcError,
    annexb_to_sample,
    join_length_prefixed,
    nal_type,
    parse_avcc,
    relength,
    split_annexb,
    split_length_prefixed,
    with_parameter_sets,
)

# avcC written by libx264 through PyAV for a 320x240 stream (High profile, level 1.2).
X264_AVCC = bytes.fromhex(
    "0164000cffe1001a6764000cacd94141fa6a04040c800000030080015f90078a14cb01000468ef8fcbfdf8f800"
)
SPS = bytes.fromhex("6764000cacd94141fa6a04040c800000030080015f90078a14cb")
PPS = bytes.fromhex("68ef8fcb")
IDR = b"\x65\x88\x84\x00\x11"
SLICE = b"\x41\x9a\x26\x21"
SEI = b"\x06\x05\x01\x80"


def test_parse_avcc() -> None:
    cfg = parse_avcc(X264_AVCC)
    assert cfg.length_size == 4
    assert cfg.sps == (SPS,) and cfg.pps == (PPS,)
    assert nal_type(cfg.sps[0]) == 7 and nal_type(cfg.pps[0]) == 8


@pytest.mark.parametrize("bad", [b"", b"\x00" * 10, X264_AVCC[:12], X264_AVCC[:5] + b"\xe0" + X264_AVCC[6:]])
def test_parse_avcc_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(AvcError):
        parse_avcc(bad)


def test_length_prefixed_round_trip() -> None:
    units = [SEI, IDR]
    for size in (1, 2, 4):
        sample = join_length_prefixed(units, size)
        assert split_length_prefixed(sample, size) == units
    assert relength(join_length_prefixed(units, 2), 2) == join_length_prefixed(units, 4)
    with pytest.raises(AvcError):
        split_length_prefixed(b"\x00\x00\x00\x09\x65", 4)  # overruns
    with pytest.raises(AvcError):
        join_length_prefixed([b"x" * 300], 1)


def test_annexb_with_3_and_4_byte_start_codes() -> None:
    stream = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + IDR
    assert split_annexb(stream) == [SPS, PPS, IDR]
    assert annexb_to_sample(stream) == join_length_prefixed([SPS, PPS, IDR])


def test_keyframes_get_exactly_one_copy_of_the_files_parameter_sets() -> None:
    cfg = parse_avcc(X264_AVCC)
    plain = join_length_prefixed([SEI, IDR])
    assert split_length_prefixed(with_parameter_sets(plain, cfg), 4) == [SPS, PPS, SEI, IDR]
    # a sample with its own SPS and PPS keeps them (they are the ones that apply to it)
    own = join_length_prefixed([b"\x67own", b"\x68own", IDR], 2)
    assert split_length_prefixed(with_parameter_sets(own, parse_avcc(X264_AVCC[:4] + b"\xfd" + X264_AVCC[5:])), 4) == [
        b"\x67own", b"\x68own", IDR]
    # a lone PPS without its SPS is replaced by the file's pair
    partial = join_length_prefixed([b"\x68old", IDR])
    assert split_length_prefixed(with_parameter_sets(partial, cfg), 4) == [SPS, PPS, IDR]
    assert split_length_prefixed(join_length_prefixed([SLICE]), 4) == [SLICE]
