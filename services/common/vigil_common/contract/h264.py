"""H.264 Annex B inspection without decoding (the VGF1 codec-2 rules, docs/protocol.md): NAL unit
types of an access unit.

Enough to find where a remuxed segment can start: an IDR access unit that carries its
SPS and PPS in band (the MP4 ``avcC`` box is built from them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vigil_common.contract.envelope import Frame

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
VCL_TYPES = frozenset(range(1, 6))  # coded slice NAL units
_START = b"\x00\x00\x01"


class NalError(ValueError):
    """Malformed NAL unit data (``vigil_recorder.remux.avc.AvcError`` is this class)."""


def nal_types(access_unit: bytes, *, stop_at_slice: bool = True, start: int = 0) -> list[int]:
    """Types of the NAL units in an Annex B access unit (from offset ``start``), in order.

    With ``stop_at_slice`` the scan ends at the first coded slice: parameter sets, SEI and
    delimiters precede it, so a large frame is not walked to the end.
    """
    types: list[int] = []
    i = access_unit.find(_START, start)
    n = len(access_unit)
    while 0 <= i and i + 3 < n:
        header = access_unit[i + 3]
        if header & 0x80 == 0:  # forbidden_zero_bit must be 0
            nal_type = header & 0x1F
            types.append(nal_type)
            if stop_at_slice and nal_type in VCL_TYPES:
                break
        i = access_unit.find(_START, i + 3)
    return types


def has_slice(access_unit: bytes) -> bool:
    """True if the access unit holds at least one coded slice (it is a picture at all)."""
    return any(t in VCL_TYPES for t in nal_types(access_unit))


def is_idr(access_unit: bytes) -> bool:
    return NAL_IDR in nal_types(access_unit)


def can_start_segment(access_unit: bytes) -> bool:
    """An IDR picture preceded by its SPS and PPS: a decoder can start here."""
    types = nal_types(access_unit)
    return NAL_IDR in types and NAL_SPS in types and NAL_PPS in types


def first_start(frames: Sequence[Frame]) -> int | None:
    """Index of the first frame a remuxed segment can start at, or None.

    The envelope's keyframe flag is advisory; the NAL types decide.
    """
    for i, frame in enumerate(frames):
        if can_start_segment(frame.payload):
            return i
    return None


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes)."""
    units: list[bytes] = []
    i = data.find(_START)
    while i >= 0:
        begin = i + 3
        nxt = data.find(_START, begin)
        end = len(data) if nxt < 0 else nxt
        unit = data[begin:end]
        if nxt >= 0 and unit.endswith(b"\x00"):
            unit = unit[:-1]  # the leading zero of the next 4-byte start code
        if unit:
            units.append(unit)
        i = nxt
    return units


def join_length_prefixed(units: Iterable[bytes], length_size: int = 4) -> bytes:
    """NAL units as an MP4 sample: each prefixed by its length (``length_size`` bytes, big-endian).
    Raises :class:`NalError` for a unit too large for the prefix."""
    out = bytearray()
    limit = 1 << (8 * length_size)
    for unit in units:
        if len(unit) >= limit:
            raise NalError("NAL unit too large for the length size")
        out += len(unit).to_bytes(length_size, "big")
        out += unit
    return bytes(out)
