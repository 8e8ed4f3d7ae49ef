"""Fragmented MP4 for live H.264 (``GET /cameras/{id}/live.mp4``), boxes written by hand.

A viewer's body is an init segment (``ftyp`` + ``moov`` with one ``avc1`` track whose ``avcC``
holds the keyframe's SPS/PPS), then one ``moof`` + ``mdat`` fragment per frame: the access unit's
NAL units, length-prefixed (4 bytes), with a ``tfdt`` on a 90 kHz clock taken from the capture
times and the sample flags of a keyframe or of a dependent frame. ISO/IEC 14496-12 (boxes) and
14496-15 §5 (``avcC``, ``avc1``); Media Source Extensions' ISO BMFF byte stream format.

Why not PyAV's muxer (``movflags=empty_moov+default_base_moof+frag_every_frame``): it would need a
muxer per viewer (each viewer's timeline starts at its own keyframe and closes its own gaps, see
:class:`Timeline`), its output would have to be re-parsed to split the init segment from the
fragments, and it buffers internally (a fragment is written when the *next* packet arrives
unless flushed by hand). The boxes themselves are a few fixed layouts: writing them is ~150
lines, pure, unit-tested by decoding the result with PyAV, costs no codec library in the API and
nothing per viewer but a 100-byte ``moof``.

Parameter sets stay in band in the samples too (``avc1`` allows it; decoders use the newest),
so a camera that re-sends the same SPS/PPS is fine. One with *different* ones (a new size, a new
profile) needs a new init segment, which a Media Source ``SourceBuffer`` only takes with
``changeType`` / a reset: the live route ends the response instead and the player reconnects,
getting the new init (see ``AvcTrack.key`` and ``vigil_api.live``).

B-frames are not supported: samples get no composition offset (decode order = display order),
which is what every camera Vigil knows sends (Vigil's capture, the Pi's encoder: no B-frames).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from vigil_common.contract.h264 import NAL_PPS, NAL_SPS, join_length_prefixed, split_annexb

TIMESCALE = 90_000
TRACK_ID = 1
# Sample flags (ISO/IEC 14496-12 §8.8.3.1): a keyframe depends on no other sample; any other
# frame depends on others and is not a sync sample.
KEY_FLAGS = 0x0200_0000
DELTA_FLAGS = 0x0101_0000
DEFAULT_DURATION = TIMESCALE // 30  # a first frame's duration, before any interval is known
MAX_DURATION = TIMESCALE  # intervals are clamped to 1 s (a camera pausing is a gap, not a slow frame)
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


class Mp4Error(ValueError):
    """An access unit that cannot start an MP4 track (no SPS or PPS)."""


def box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def to_sample(access_unit: bytes) -> bytes:
    """An Annex B access unit as an MP4 sample (NAL units with 4-byte length prefixes)."""
    return join_length_prefixed(split_annexb(access_unit), 4)


def _rbsp(nal: bytes) -> bytes:
    """A NAL unit's payload without its emulation-prevention bytes (00 00 03 -> 00 00)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        byte = self.data[self.pos >> 3]  # IndexError past the end: the caller gives up
        self.pos += 1
        return (byte >> (7 - ((self.pos - 1) & 7))) & 1

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        value = 0
        for _ in range(zeros):
            value = (value << 1) | self.bit()
        return (1 << zeros) - 1 + value


_HIGH_PROFILES = frozenset({100, 110, 122, 144, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def _high_profile_extension(sps: bytes) -> bytes:
    """The ``avcC`` fields that follow the PPS for High profiles (chroma format, bit depths)."""
    try:
        bits = _Bits(_rbsp(sps[4:]))  # after the header byte, profile, constraints and level
        bits.ue()  # seq_parameter_set_id
        chroma = bits.ue()
        if chroma == 3:
            bits.bit()  # separate_colour_plane_flag
        luma_minus8, chroma_minus8 = bits.ue(), bits.ue()
    except (IndexError, ValueError):
        chroma, luma_minus8, chroma_minus8 = 1, 0, 0
    return bytes([0xFC | (chroma & 3), 0xF8 | (luma_minus8 & 7), 0xF8 | (chroma_minus8 & 7), 0])


@dataclass(frozen=True, slots=True)
class AvcTrack:
    """The track an init segment describes: size and parameter sets (from a keyframe)."""

    width: int
    height: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]

    @classmethod
    def from_access_unit(cls, access_unit: bytes, width: int, height: int) -> AvcTrack:
        units = split_annexb(access_unit)
        sps = tuple(u for u in units if u[0] & 0x1F == NAL_SPS and len(u) >= 4)
        pps = tuple(u for u in units if u[0] & 0x1F == NAL_PPS)
        if not sps or not pps:
            raise Mp4Error("the access unit carries no SPS or no PPS")
        return cls(width, height, sps, pps)

    @property
    def key(self) -> tuple[int, int, tuple[bytes, ...], tuple[bytes, ...]]:
        """Two keyframes with the same key share an init segment; a new key needs a new one."""
        return (self.width, self.height, self.sps, self.pps)

    @property
    def codec(self) -> str:
        """The RFC 6381 codec string, ``avc1.PPCCLL`` (profile, constraint flags, level)."""
        return "avc1." + self.sps[0][1:4].hex()

    def avcc(self) -> bytes:
        first = self.sps[0]
        parts = [bytes([1, first[1], first[2], first[3], 0xFF, 0xE0 | len(self.sps)])]
        parts += [struct.pack(">H", len(s)) + s for s in self.sps]
        parts.append(bytes([len(self.pps)]))
        parts += [struct.pack(">H", len(p)) + p for p in self.pps]
        if first[1] in _HIGH_PROFILES:
            parts.append(_high_profile_extension(first))
        return box(b"avcC", *parts)

    def init_segment(self) -> bytes:
        """``ftyp`` + ``moov`` (one video track, no samples, ``mvex`` for fragments)."""
        w, h = self.width & 0xFFFF, self.height & 0xFFFF
        ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso6", b"avc1", b"mp41")
        mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 0), struct.pack(">IH", 0x10000, 0x100),
                        bytes(10), _MATRIX, bytes(24), struct.pack(">I", TRACK_ID + 1))
        tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, TRACK_ID, 0, 0), bytes(8),
                        struct.pack(">hhhH", 0, 0, 0, 0), _MATRIX, struct.pack(">II", w << 16, h << 16))
        mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, 0), struct.pack(">HH", 0x55C4, 0))
        hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
        avc1 = box(b"avc1", bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", w, h),
                   struct.pack(">III", 0x480000, 0x480000, 0), struct.pack(">H", 1), bytes(32),
                   struct.pack(">Hh", 0x18, -1), self.avcc())
        stbl = box(b"stbl",
                   full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
                   full_box(b"stts", 0, 0, struct.pack(">I", 0)),
                   full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
                   full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
                   full_box(b"stco", 0, 0, struct.pack(">I", 0)))
        dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
        minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
        trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
        mvex = box(b"mvex", full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, 0)))
        return ftyp + box(b"moov", mvhd, trak, mvex)


# moof = mfhd(16) + traf(8 + tfhd 16 + tfdt 20 + trun 32) + its own 8 bytes; samples follow
# the mdat header.
_MOOF_SIZE = 8 + 16 + 8 + 16 + 20 + 32
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400  # data offset, duration, size, flags
_TFHD_FLAGS = 0x020000  # default-base-is-moof


def fragment_header(sequence: int, decode_time: int, duration: int, size: int, keyframe: bool) -> bytes:
    """``moof`` + the ``mdat`` header for one sample of ``size`` bytes (the sample follows)."""
    moof = box(
        b"moof",
        full_box(b"mfhd", 0, 0, struct.pack(">I", sequence & 0xFFFFFFFF)),
        box(b"traf",
            full_box(b"tfhd", 0, _TFHD_FLAGS, struct.pack(">I", TRACK_ID)),
            full_box(b"tfdt", 1, 0, struct.pack(">Q", decode_time)),
            full_box(b"trun", 0, _TRUN_FLAGS, struct.pack(">IiIII", 1, _MOOF_SIZE + 8, duration, size,
                                                           KEY_FLAGS if keyframe else DELTA_FLAGS))),
    )
    return moof + struct.pack(">I4s", 8 + size, b"mdat")


def fragment(sequence: int, decode_time: int, duration: int, sample: bytes, keyframe: bool) -> bytes:
    return fragment_header(sequence, decode_time, duration, len(sample), keyframe) + sample


class Timeline:
    """One viewer's decode times (90 kHz), from the frames' capture times, without gaps.

    The first frame is at 0. Each later frame is at its capture-time distance from the one
    before, except where that would leave a hole a Media Source would treat as a discontinuity
    (more than twice the previous sample's duration: the browser then drops frames up to the
    next keyframe) or run backwards (a camera's clock reset): frames the viewer did not get
    (``gap=True``), a camera pausing, a clock step. There the frame follows its predecessor
    directly, so a viewer's fragments are always continuous.

    A sample's duration is not known until the next frame arrives (a fragment is written at
    once, for latency), so it is the longest interval of the last 16: jitter up to twice that
    is no discontinuity; an overestimate only overlaps the next frame, which a Media Source
    accepts (the next frame starts at its own ``tfdt``).
    """

    def __init__(self) -> None:
        self.sequence = 0
        self._last_ns: int | None = None
        self._last_time = 0
        self._last_duration = DEFAULT_DURATION
        self._intervals: deque[int] = deque(maxlen=16)

    def next(self, capture_ns: int, *, gap: bool = False) -> tuple[int, int, int]:
        """(sequence number, decode time, duration) of the next fragment."""
        self.sequence += 1
        if self._last_ns is None:
            time = 0
        else:
            delta = (capture_ns - self._last_ns) * 9 // 100_000  # ns -> 90 kHz ticks
            if gap or delta <= 0 or delta > 2 * self._last_duration:
                time = self._last_time + self._last_duration
            else:
                time = self._last_time + delta
            if not gap and delta > 0:
                self._intervals.append(min(delta, MAX_DURATION))
        duration = max(self._intervals) if self._intervals else DEFAULT_DURATION
        self._last_ns, self._last_time, self._last_duration = capture_ns, time, duration
        return self.sequence, time, duration
