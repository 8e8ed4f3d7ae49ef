"""H.264 parameter sets on the camera side, without decoding: the picture size an SPS declares,
the SPS/PPS held in a stream's extradata (Annex B or ``avcC``), and length-prefixed samples
turned into Annex B.

Pure functions (plain unit tests). Malformed input raises :class:`SpsError` (a ``ValueError``).
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil_common.contract.h264 import NAL_PPS, NAL_SPS, split_annexb

START_CODE = b"\x00\x00\x00\x01"
# profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling matrices (7.3.2.1.1)
_HIGH_PROFILES = frozenset((100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135))


class SpsError(ValueError):
    """An SPS, ``avcC`` record or sample that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class ParameterSets:
    """The SPS and PPS NAL units (no start codes) a stream declares."""

    sps: tuple[bytes, ...] = ()
    pps: tuple[bytes, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sps) and bool(self.pps)

    def annexb(self) -> bytes:
        return b"".join(START_CODE + unit for unit in (*self.sps, *self.pps))


def unescape_rbsp(nal: bytes) -> bytes:
    """The NAL payload with emulation-prevention bytes (``00 00 03``) removed."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _Bits:
    """An MSB-first bit reader with Exp-Golomb codes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        index = self.pos >> 3
        if index >= len(self.data):
            raise SpsError("SPS truncated")
        self.pos += 1
        return (self.data[index] >> (7 - ((self.pos - 1) & 7))) & 1

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise SpsError("bad Exp-Golomb code in SPS")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + bits.se() + 256) % 256
        last = nxt if nxt != 0 else last


def sps_dimensions(sps: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels, after cropping, of an SPS NAL unit (header byte included).

    Follows ITU-T H.264 7.3.2.1.1 up to the frame cropping fields. Raises :class:`SpsError`.
    """
    if not sps or sps[0] & 0x1F != NAL_SPS:
        raise SpsError("not an SPS NAL unit")
    bits = _Bits(unescape_rbsp(sps[1:]))
    profile_idc = bits.bits(8)
    bits.bits(16)  # constraint flags, reserved bits, level_idc
    bits.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    separate_colour_plane = 0
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = bits.ue()
        if chroma_format_idc == 3:
            separate_colour_plane = bits.bit()
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.bit()  # qpprime_y_zero_transform_bypass_flag
        if bits.bit():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if bits.bit():
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.bit()
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_map_units = bits.ue() + 1
    frame_mbs_only = bits.bit()
    if not frame_mbs_only:
        bits.bit()  # mb_adaptive_frame_field_flag
    bits.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_map_units * 16
    if bits.bit():  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        if separate_colour_plane or chroma_format_idc == 0:
            crop_x, crop_y = 1, 2 - frame_mbs_only
        else:
            sub_w = 1 if chroma_format_idc == 3 else 2
            sub_h = 2 if chroma_format_idc == 1 else 1
            crop_x, crop_y = sub_w, sub_h * (2 - frame_mbs_only)
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    if width <= 0 or height <= 0 or width > 16384 or height > 16384:
        raise SpsError(f"implausible SPS size {width}x{height}")
    return width, height


def parse_avcc(record: bytes) -> tuple[int, ParameterSets]:
    """``(length_size, parameter sets)`` of an ``AVCDecoderConfigurationRecord`` (ISO 14496-15)."""
    data = bytes(record)
    if len(data) < 7 or data[0] != 1:
        raise SpsError("not an avcC record")
    length_size = (data[4] & 0x03) + 1
    if length_size == 3:
        raise SpsError("invalid NAL length size 3")
    pos = 5
    found: list[list[bytes]] = []
    for mask in (0x1F, 0xFF):
        if pos >= len(data):
            raise SpsError("truncated avcC")
        count = data[pos] & mask
        pos += 1
        units: list[bytes] = []
        for _ in range(count):
            if pos + 2 > len(data):
                raise SpsError("truncated avcC")
            size = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
            if pos + size > len(data):
                raise SpsError("truncated avcC")
            units.append(data[pos : pos + size])
            pos += size
        found.append(units)
    return length_size, ParameterSets(tuple(found[0]), tuple(found[1]))


def is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")


def parameter_sets_of(nal_units: list[bytes]) -> ParameterSets:
    """The SPS and PPS among NAL units (no start codes), in order."""
    sps = tuple(u for u in nal_units if u and u[0] & 0x1F == NAL_SPS)
    pps = tuple(u for u in nal_units if u and u[0] & 0x1F == NAL_PPS)
    return ParameterSets(sps, pps)


def parse_extradata(extradata: bytes | None) -> tuple[int | None, ParameterSets]:
    """A demuxer's extradata: ``(None, sets)`` for Annex B, ``(length_size, sets)`` for avcC.

    Empty or unknown extradata gives ``(None, ParameterSets())``: packets are then taken as
    Annex B and the parameter sets must arrive in band.
    """
    data = bytes(extradata or b"")
    if not data:
        return None, ParameterSets()
    if data[0] == 1:
        return parse_avcc(data)
    if is_annexb(data):
        return None, parameter_sets_of(split_annexb(data))
    raise SpsError("extradata is neither Annex B nor avcC")


def length_prefixed_to_annexb(sample: bytes, length_size: int = 4) -> bytes:
    """An MP4-style sample (NAL units each behind a big-endian length) as Annex B."""
    out = bytearray()
    pos, n = 0, len(sample)
    while pos < n:
        if pos + length_size > n:
            raise SpsError("truncated NAL length")
        size = int.from_bytes(sample[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > n:
            raise SpsError("NAL length past the end of the sample")
        out += START_CODE
        out += sample[pos : pos + size]
        pos += size
    return bytes(out)
