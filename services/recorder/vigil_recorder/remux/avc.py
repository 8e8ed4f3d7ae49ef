"""H.264 bitstream plumbing for remuxing MP4 samples, without decoding.

MP4 (``avc1``) samples hold NAL units prefixed by their length (1, 2 or 4 bytes, from the
``avcC`` box's ``lengthSizeMinusOne``); the sequence and picture parameter sets (SPS/PPS)
usually live only in ``avcC``. When files with different parameter sets are joined into one
track, each keyframe gets its own SPS/PPS in band (see :mod:`vigil_recorder.remux.concat`); these
helpers parse ``avcC``, convert between length prefixes and Annex B start codes, and build
such samples. Pure functions: plain unit tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vigil_common.contract.h264 import NalError, join_length_prefixed, split_annexb

__all__ = ["AvcConfig", "AvcError", "annexb_to_sample", "join_length_prefixed", "nal_type", "parse_avcc",
           "relength", "split_annexb", "split_length_prefixed", "with_parameter_sets"]

OUT_LENGTH_SIZE = 4  # what every sample this package writes uses (ffmpeg's choice too)

# Malformed ``avcC`` or sample data. The same class as the contract's, so that one ``except``
# covers both the helpers defined here and those moved to vigil_common.contract.h264.
AvcError = NalError


@dataclass(frozen=True, slots=True)
class AvcConfig:
    """The parts of an ``AVCDecoderConfigurationRecord`` a remux needs."""

    length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]

    def parameter_sets(self) -> list[bytes]:
        return [*self.sps, *self.pps]


def parse_avcc(extradata: bytes) -> AvcConfig:
    """Parse an ``avcC`` record (ISO/IEC 14496-15 §5.3.3.1). Raises :class:`AvcError`."""
    data = bytes(extradata)
    if len(data) < 7 or data[0] != 1:
        raise AvcError("not an avcC record")
    length_size = (data[4] & 0x03) + 1
    if length_size == 3:
        raise AvcError("invalid NAL length size 3")
    pos = 5
    sets: list[list[bytes]] = []
    for count_mask in (0x1F, 0xFF):
        if pos >= len(data):
            raise AvcError("truncated avcC")
        count = data[pos] & count_mask
        pos += 1
        units: list[bytes] = []
        for _ in range(count):
            if pos + 2 > len(data):
                raise AvcError("truncated avcC")
            (size,) = struct.unpack_from(">H", data, pos)
            pos += 2
            if size == 0 or pos + size > len(data):
                raise AvcError("truncated avcC parameter set")
            units.append(data[pos : pos + size])
            pos += size
        sets.append(units)
    if not sets[0] or not sets[1]:
        raise AvcError("avcC without SPS or PPS")
    return AvcConfig(length_size, tuple(sets[0]), tuple(sets[1]))


def split_length_prefixed(sample: bytes, length_size: int) -> list[bytes]:
    """The NAL units of an MP4 sample. Raises :class:`AvcError` if a length overruns."""
    units: list[bytes] = []
    pos, n = 0, len(sample)
    while pos < n:
        if pos + length_size > n:
            raise AvcError("truncated NAL length")
        size = int.from_bytes(sample[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > n:
            raise AvcError("NAL unit overruns the sample")
        units.append(sample[pos : pos + size])
        pos += size
    return units


def nal_type(unit: bytes) -> int:
    return unit[0] & 0x1F if unit else -1


_PARAMETER_SET_TYPES = frozenset({7, 8})  # SPS, PPS


def with_parameter_sets(sample: bytes, config: AvcConfig, out_length_size: int = OUT_LENGTH_SIZE) -> bytes:
    """``sample`` (length-prefixed as ``config`` says) with ``config``'s SPS/PPS in front,
    re-prefixed with ``out_length_size``. A sample that already carries its own SPS and PPS
    (a camera's remuxed H.264 does) is left as it is: those are the ones that apply to it."""
    units = split_length_prefixed(sample, config.length_size)
    types = {nal_type(u) for u in units}
    if _PARAMETER_SET_TYPES <= types:
        return join_length_prefixed(units, out_length_size)
    units = [u for u in units if nal_type(u) not in _PARAMETER_SET_TYPES]
    return join_length_prefixed([*config.parameter_sets(), *units], out_length_size)


def relength(sample: bytes, length_size: int, out_length_size: int = OUT_LENGTH_SIZE) -> bytes:
    """``sample`` with its NAL length prefixes rewritten to ``out_length_size`` bytes."""
    if length_size == out_length_size:
        return sample
    return join_length_prefixed(split_length_prefixed(sample, length_size), out_length_size)


def annexb_to_sample(data: bytes, out_length_size: int = OUT_LENGTH_SIZE) -> bytes:
    """An encoder's Annex B access unit as an MP4 sample (length-prefixed NAL units)."""
    return join_length_prefixed(split_annexb(data), out_length_size)
