"""An RTSP (or HTTP) H.264 camera forwarded as it encodes: :class:`RtspPassthroughSource`.

PyAV demuxes the stream (RTSP over TCP, open and read timeouts); each video packet is handed on
as one :class:`~vigil_capture.access_units.AccessUnit` without decoding or re-encoding. What the
VGF1 codec-2 rules (docs/protocol.md) need is made true on the way:

- **Annex B.** Packets are Annex B already from FFmpeg's RTSP depacketiser; a demuxer that gives
  length-prefixed samples (``avcC`` extradata) has them rewritten with start codes.
- **SPS/PPS on every keyframe.** Many cameras send the parameter sets only in the SDP
  (``sprop-parameter-sets``, FFmpeg's extradata), or once. An IDR that lacks them gets the
  newest ones seen (in band, else from the extradata) inserted after its access unit delimiter.
- **Keyframe** = an IDR slice in the access unit (the NAL types decide, not ``packet.is_keyframe``
  alone), with SPS and PPS in band.
- **Packet loss.** Over RTSP/TCP (the default) nothing is lost on the way. Over UDP
  (``--rtsp-transport udp``, for cameras that offer nothing else) FFmpeg's RTP reorder queue
  reports each sequence gap ("RTP: missed N packets") while it assembles the access unit the
  gap falls in; that unit, and one FFmpeg marks corrupt, is returned with ``damaged=True`` and
  the pipeline drops it and every unit up to the next keyframe (counted as dropped), so no
  access unit with a hole is ever recorded (the decoder would conceal it as smeared
  macroblocks). PyAV has no public per-packet loss flag for this; the report is read from
  FFmpeg's log through PyAV's public ``av.logging.Capture`` on the reading thread, and
  ``tests/unit/capture/test_rtsp_passthrough.py`` fails if that message ever changes. After each
  (re)connection, units before the first keyframe are dropped (they cannot be decoded) and counted
  in :attr:`RtspPassthroughSource.skipped`.
- **Size** is read from the SPS (:func:`vigil_capture.h264_sps.sps_dimensions`): a keyframe with
  a new SPS after the camera changed resolution reports the new width and height at once
  (FFmpeg's codec context keeps the opening size when nothing is decoded).
- **Capture time**: the stream's timestamps anchored to the wall clock at the first packet of
  each connection, kept monotonic and close to the wall clock (:class:`CaptureClock`).

Choices, refused with a one-line :class:`~vigil_capture.sources.SourceError`:

- **H.265**: "camera sends H.265 (HEVC); Vigil records H.264 only — set the camera's encoder to
  H.264". Browsers mostly cannot play H.265; a recording nobody can play is no recording.
- **B-frames**: VGF1 carries one time per frame, and the recorder's remux and the live view
  write every frame with decode time = presentation time, in the order sent. A stream with
  B-frames (decode order differs from presentation order) would play its pictures out of order,
  so it is refused: at ``open()`` when FFmpeg reports picture reordering for the stream
  (``has_b_frames``, from the SPS), and in ``read()`` (a fatal ``SourceError``) at the first
  packet whose pts differs from its dts. Every
  unit that is forwarded is therefore in decode order == presentation order == send order.
  Cameras call the setting "B-frames", "GOP structure IP(P)" or the Baseline profile.

Connection failures are told apart for the operator (authentication, unreachable host, no such
path, not a video stream); a URL is only ever shown through :func:`~vigil_capture.sources.redact_url`
and FFmpeg's own message (which repeats the URL) is never shown. ``open()`` must succeed once;
afterwards a dropped stream is reopened inside ``read()`` with exponential backoff
(:func:`~vigil_common.runtime.lifecycle.backoff_delays`), ``read()`` returning ``None`` meanwhile.
A camera that comes back with an unsupported stream (H.265, B-frames) raises ``SourceError``
from ``read()``: that needs the operator, not a retry.

PyAV is imported when the source opens, so a JPEG-only camera does not need it.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from vigil_capture.access_units import AccessUnit
from vigil_capture.h264_sps import (
    START_CODE,
    ParameterSets,
    SpsError,
    length_prefixed_to_annexb,
    parameter_sets_of,
    parse_extradata,
    sps_dimensions,
)
from vigil_capture.sources import SourceError, SourceKind, redact_url
from vigil_common.contract import h264
from vigil_common.runtime.lifecycle import backoff_delays
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)
_limited = RateLimitedLog(log)

SECOND_NS = 1_000_000_000
DEFAULT_FRAME_NS = SECOND_NS // 30
HEVC_MESSAGE = "camera sends H.265 (HEVC); Vigil records H.264 only — set the camera's encoder to H.264"
BFRAMES_MESSAGE = (
    "camera sends B-frames (pictures out of decode order); Vigil forwards H.264 without B-frames only "
    "— turn B-frames off in the camera's encoder (GOP structure IP, or Baseline profile)"
)
MAX_NON_PICTURE_PACKETS = 16  # parameter-set-only packets skipped within one read()
RTP_MISSED = "RTP: missed"  # FFmpeg's rtpdec.c warning for a sequence gap ("RTP: missed %d packets")


# --- capture time ------------------------------------------------------------------------


class CaptureClock:
    """Stream timestamps (ns, any origin) -> wall-clock capture times (ns since the epoch).

    - The first timestamp of a connection (:meth:`new_connection`) is anchored to the wall clock
      at that moment; later ones keep the stream's own spacing (the camera's clock, not packet
      arrival jitter).
    - A picture cannot arrive before it was taken: a time ahead of the wall clock means the
      anchor came from a delayed packet (a burst at connection start), and the anchor moves back
      to the packet that arrived soonest. So times are never in the future.
    - Never backwards, never a jump on reconnect: the first frame after a reconnect is at
      ``max(now, previous + one frame)``, and every time is above the previous one.
    - Drift: when the anchored time falls more than ``max_drift_ns`` behind the wall clock, the
      anchor is slewed towards it by ``slew`` of each frame interval (10 %: a 1 s drift is gone
      after about 10 s) until it is within a quarter of that. More than ``step_ns`` behind (the
      wall clock stepped forward, e.g. NTP after a Pi boots) re-anchors at once. A wall clock
      stepped back behind the last time given makes times advance at ``1 - fast_slew`` of the
      stream's pace until it has caught up (times may not go back).
    - A stream timestamp that goes back or leaps (more than ``step_ns``) re-anchors like a
      reconnect. A packet without a timestamp gets the previous time plus one frame.
    """

    def __init__(
        self,
        wall: Callable[[], int] = time.time_ns,
        *,
        max_drift_ns: int = SECOND_NS,
        step_ns: int = 20 * SECOND_NS,
        slew: float = 0.10,
        fast_slew: float = 0.5,
        frame_ns: int = DEFAULT_FRAME_NS,
    ) -> None:
        self._wall = wall
        self.max_drift_ns = max_drift_ns
        self.step_ns = step_ns
        self.slew = slew
        self.fast_slew = fast_slew
        self.frame_ns = frame_ns
        self.last: int | None = None
        self._anchor: int | None = None
        self._prev_ts: int | None = None
        self._slewing = False
        self._stamped = 0  # times given since new_connection()
        self.reanchors = 0

    def new_connection(self, frame_ns: int | None = None) -> None:
        """The next timestamp starts a new timeline (a new connection or encoder run)."""
        self._anchor = None
        self._prev_ts = None
        self._slewing = False
        self._stamped = 0
        if frame_ns and frame_ns > 0:
            self.frame_ns = frame_ns

    def stamp(self, ts_ns: int | None) -> int:
        """The capture time of the frame with stream timestamp ``ts_ns`` (call in stream order)."""
        now = self._wall()
        if ts_ns is None:
            t = self._next_after(now) if self._anchor is None else self._advance(self.frame_ns)
        elif self._anchor is None or self._prev_ts is None or not 0 <= ts_ns - self._prev_ts <= self.step_ns:
            if self._anchor is not None:
                self.reanchors += 1
            t = self._next_after(now)
            self._anchor = t - ts_ns
            self._prev_ts = ts_ns
        else:
            delta = ts_ns - self._prev_ts
            if 0 < delta < SECOND_NS:
                self.frame_ns = delta
            self._prev_ts = ts_ns
            t = self._correct(self._anchor + ts_ns, now, ts_ns, delta)
        if self.last is not None and t <= self.last:
            t = self.last + 1
        self.last = t
        self._stamped += 1
        return t

    def stamp_now(self) -> int:
        """A frame without any timestamp: the wall clock, kept above the previous time."""
        t = self._wall()
        if self.last is not None and t <= self.last:
            t = self.last + 1
        self.last = t
        return t

    def _next_after(self, now: int) -> int:
        """Where a new timeline starts: now, but at least one frame after the previous
        connection's last time (just after, within the same connection)."""
        if self.last is None:
            return now
        return max(now, self.last + (self.frame_ns if self._stamped == 0 else 1))

    def _advance(self, delta: int) -> int:
        return (self.last if self.last is not None else self._wall()) + delta

    def _correct(self, t: int, now: int, ts_ns: int, delta: int) -> int:
        drift = t - now
        if drift > 0:  # ahead of the wall clock
            if self.last is None or now >= self.last:
                t = now  # the anchor came from a late packet: this one arrived sooner
            else:  # the wall clock went back behind the last time given: slow down
                t = self._advance(max(1, int(delta * (1 - self.fast_slew))))
            self._anchor = t - ts_ns
            return t
        if -drift > self.step_ns:  # the wall clock stepped forward: follow it at once
            self.reanchors += 1
            self._anchor = now - ts_ns
            self._slewing = False
            return now
        if -drift > self.max_drift_ns:
            self._slewing = True
        if self._slewing:
            correction = min(-drift, max(1, int(max(delta, self.frame_ns) * self.slew)))
            t += correction
            self._anchor = t - ts_ns
            if now - t <= self.max_drift_ns // 4:
                self._slewing = False
        return t


class UnsupportedStreamError(SourceError):
    """The camera answers, but with a stream Vigil does not forward (H.265, B-frames, no video,
    another codec): the operator has to change the camera's settings."""


def ts_to_ns(ts: int | None, time_base: Fraction | None) -> int | None:
    if ts is None or time_base is None:
        return None
    return int(ts * time_base.numerator * SECOND_NS // time_base.denominator)


# --- access units ------------------------------------------------------------------------


class AnnexBForwarder:
    """Packets of one connection -> Annex B access units with SPS/PPS on every IDR.

    ``extradata`` is the demuxer's (Annex B or ``avcC``); ``width``/``height`` the size to report
    until an SPS says otherwise. Parameter sets seen in band replace the remembered ones (a new
    resolution comes with a new SPS).
    """

    def __init__(self, extradata: bytes | None, width: int = 0, height: int = 0) -> None:
        try:
            self.length_size, self.sets = parse_extradata(extradata)
        except SpsError as exc:
            log.warning("ignoring unreadable H.264 extradata: %s", exc)
            self.length_size, self.sets = None, ParameterSets()
        self.width, self.height = width, height
        self._sps_seen: bytes | None = None
        if self.sets.sps:
            self._learn_size(self.sets.sps[0])
        self.inserted = 0  # keyframes that got their parameter sets from here

    def forward(self, packet: bytes, *, corrupt: bool = False) -> tuple[bytes, bool] | None:
        """``(annex_b, keyframe)``, or ``None`` for a packet without a coded picture (its
        parameter sets, if any, are remembered for the next IDR). Raises :class:`SpsError` for a
        length-prefixed sample that does not parse."""
        data = length_prefixed_to_annexb(packet, self.length_size) if self.length_size else packet
        types = h264.nal_types(data)
        if h264.NAL_SPS in types or h264.NAL_PPS in types:
            self._learn(data)
        if not any(t in h264.VCL_TYPES for t in types):
            return None
        if h264.NAL_IDR not in types:
            return data, False
        if h264.NAL_SPS not in types or h264.NAL_PPS not in types:
            data = self._with_parameter_sets(data, types)
        keyframe = not corrupt and h264.can_start_segment(data)
        return data, keyframe

    def _learn(self, data: bytes) -> None:
        units = h264.split_annexb(data[: self._prefix_end(data)])
        found = parameter_sets_of(units)
        self.sets = ParameterSets(found.sps or self.sets.sps, found.pps or self.sets.pps)
        if found.sps:
            self._learn_size(found.sps[0])

    @staticmethod
    def _prefix_end(data: bytes) -> int:
        """Offset of the first coded slice's start code (parameter sets precede it)."""
        pos = data.find(b"\x00\x00\x01")
        while 0 <= pos and pos + 3 < len(data):
            if data[pos + 3] & 0x1F in h264.VCL_TYPES:
                return pos
            pos = data.find(b"\x00\x00\x01", pos + 3)
        return len(data)

    def _learn_size(self, sps: bytes) -> None:
        if sps == self._sps_seen:
            return
        try:
            self.width, self.height = sps_dimensions(sps)
            self._sps_seen = sps
        except SpsError as exc:
            _limited.warning("sps", "cannot read the picture size from the camera's SPS: %s", exc)

    def _with_parameter_sets(self, data: bytes, types: list[int]) -> bytes:
        """Insert the remembered SPS and/or PPS the IDR lacks, after a leading delimiter."""
        missing = [*(self.sets.sps if h264.NAL_SPS not in types else ()),
                   *(self.sets.pps if h264.NAL_PPS not in types else ())]
        if not missing:
            return data  # nothing known yet: forwarded, but it cannot be a keyframe
        prefix = b"".join(START_CODE + unit for unit in missing)
        at = 0
        if types and types[0] == h264.NAL_AUD:
            second = data.find(b"\x00\x00\x01", data.find(b"\x00\x00\x01") + 3)
            at = second if second > 0 else len(data)
            if at > 0 and data[at - 1] == 0:  # a 4-byte start code: insert before its zero
                at -= 1
        self.inserted += 1
        return data[:at] + prefix + data[at:]


# --- errors ------------------------------------------------------------------------------


def describe_open_error(exc: BaseException, url: str, *, probe: Callable[[str, int], str | None] | None = None) -> str:
    """One line saying why ``url`` did not open: authentication, unreachable, no such path, or
    not a video stream. Never the password, never FFmpeg's message (it repeats the URL)."""
    label = redact_url(url)
    import av.error as ave

    if isinstance(exc, ave.HTTPUnauthorizedError | ave.HTTPForbiddenError | ave.PermissionError):
        has_credentials = "@" in urlsplit(url).netloc
        hint = "wrong user name or password" if has_credentials else "the URL has no user name and password"
        code = "403" if isinstance(exc, ave.HTTPForbiddenError) else "401"
        return f"{label}: authentication failed ({code}: {hint})"
    if isinstance(exc, ave.HTTPNotFoundError):
        return f"{label}: the camera has no stream at this path (404)"
    if isinstance(exc, ave.HTTPError):
        return f"{label}: the camera refused the stream ({_strerror(exc)})"
    reason = (probe or tcp_probe)(url, 3)
    if reason is not None:
        return f"{label}: camera unreachable ({reason})"
    if isinstance(exc, ave.ExitError | ave.TimeoutError) or getattr(exc, "errno", None) == errno.ETIMEDOUT:
        return f"{label}: camera unreachable (no answer before the timeout)"
    if isinstance(exc, ave.ConnectionRefusedError | ave.ConnectionResetError | ave.ConnectionAbortedError):
        return f"{label}: camera unreachable ({_strerror(exc)})"
    return f"{label}: the camera answered but sent no readable video stream ({_strerror(exc)})"


def _strerror(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None)
    return str(text) if text else type(exc).__name__


def tcp_probe(url: str, timeout_s: float) -> str | None:
    """Why a TCP connection to the URL's host and port fails, or ``None`` if one opens."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}.get(parts.scheme.lower(), 554)
    try:
        port = parts.port or default
    except ValueError:
        return "bad port in the URL"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return f"cannot resolve host {host}"
    try:
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
    except TimeoutError:
        return f"no answer from {host}:{port}"
    except ConnectionRefusedError:
        return f"connection refused by {host}:{port}"
    except OSError as exc:
        return f"{exc.strerror or type(exc).__name__} ({host}:{port})"
    return None


def check_stream(container: Any) -> Any:
    """The container's H.264 video stream; :class:`SourceError` if there is none or it is not
    H.264 without B-frames."""
    videos = list(container.streams.video)
    if not videos:
        raise UnsupportedStreamError("the camera's stream has no video")
    stream = videos[0]
    name = (stream.codec_context.name or "").lower()
    if name in ("hevc", "h265"):
        raise UnsupportedStreamError(HEVC_MESSAGE)
    if name != "h264":
        raise UnsupportedStreamError(
            f"camera sends {name.upper() or 'an unknown codec'} video; the passthrough forwards H.264 only — set the "
            "camera's encoder to H.264 (or use --codec jpeg)"
        )
    if getattr(stream.codec_context, "has_b_frames", 0):
        raise UnsupportedStreamError(BFRAMES_MESSAGE)
    return stream


# --- the source --------------------------------------------------------------------------


class _Connection:
    def __init__(self, container: Any, stream: Any) -> None:
        self.container = container
        self.stream = stream
        self.packets: Iterator[Any] = container.demux(stream)
        self.time_base: Fraction | None = stream.time_base
        cc = stream.codec_context
        self.forwarder = AnnexBForwarder(cc.extradata, cc.width or 0, cc.height or 0)
        self.started = False  # a keyframe has been forwarded on this connection
        self.watch_loss = False  # read FFmpeg's RTP gap reports (UDP)
        self.missed = False  # a gap was reported and no unit has carried it yet
        rate = stream.average_rate or stream.guessed_rate
        self.frame_ns = int(SECOND_NS / rate) if rate else None

    def close(self) -> None:
        try:
            self.container.close()
        except Exception as exc:  # noqa: BLE001 - closing a broken stream must not raise
            log.debug("closing the stream failed: %s", exc)


Opener = Callable[[str, dict[str, str], tuple[float, float]], Any]


def _watch_ffmpeg_warnings() -> None:
    """Route FFmpeg's warnings through PyAV (off by default) so a reading thread can capture its
    RTP gap reports; repeated identical reports must each arrive (PyAV folds repeats by default).
    Other threads' FFmpeg warnings then reach Python logging as ``libav.*``: kept to errors."""
    import av.logging

    level = av.logging.get_level()
    if level is None or level < av.logging.WARNING:
        av.logging.set_level(av.logging.WARNING)
    av.logging.set_skip_repeated(False)
    logging.getLogger("libav").setLevel(logging.ERROR)


def _av_open(url: str, options: dict[str, str], timeout: tuple[float, float]) -> Any:
    import av

    return av.open(url, options=options, timeout=timeout)


class RtspPassthroughSource:
    """An RTSP/RTSPS/HTTP(S) H.264 camera as an :class:`~vigil_capture.access_units.EncodedSource`
    (kind ``url``); see the module docstring. Used from one thread."""

    codec = "h264"

    def __init__(
        self,
        url: str,
        *,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        transport: str = "tcp",
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], int] = time.time_ns,
        opener: Opener | None = None,
    ) -> None:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in ("rtsp", "rtsps", "http", "https"):
            raise ValueError("the passthrough source takes an rtsp://, rtsps:// or http(s):// URL")
        self.url = url
        self.label = redact_url(url)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.transport = transport
        self._opener = opener or _av_open
        self._clock = clock
        self._initial = initial_backoff_s
        self._maximum = max_backoff_s
        self._delays = backoff_delays(initial_backoff_s, max_backoff_s)
        self._retry_at = 0.0
        self._conn: _Connection | None = None
        self.capture_clock = CaptureClock(wall)
        self.reconnects = 0
        self.skipped = 0  # units dropped before a connection's first keyframe
        self.corrupt = 0  # units FFmpeg marked corrupt
        self.damaged = 0  # units returned as damaged (corrupt, or RTP packets missed)
        self.width = 0
        self.height = 0

    @property
    def kind(self) -> str:
        return SourceKind.URL.value

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def options(self) -> dict[str, str]:
        """FFmpeg options: RTSP over TCP (UDP smears frames on Wi-Fi), video only, a socket
        I/O timeout (µs) so a silent camera is noticed, minimal probing."""
        timeout_us = str(int(self.read_timeout_s * 1_000_000))
        if self.url.lower().startswith("rtsp"):
            options = {"rtsp_transport": self.transport, "timeout": timeout_us, "allowed_media_types": "video"}
        else:
            options = {"timeout": timeout_us}
        # Probe as little as possible: the codec and size come from the SDP / the first SPS, and
        # every packet FFmpeg reads while probing would arrive in one late burst.
        return {**options, "analyzeduration": "0", "probesize": "32"}

    def open(self) -> None:
        self._conn = self._connect()
        log.info("opened %s (H.264 %dx%d, forwarded as sent)", self.label, self.width, self.height)

    def read(self) -> AccessUnit | None:
        if self._conn is None and not self._reconnect():
            return None
        conn = self._conn
        assert conn is not None
        for _ in range(MAX_NON_PICTURE_PACKETS):
            try:
                packet, missed = self._next_packet(conn)
            except StopIteration:
                self._lost("the stream ended")
                return None
            except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds: all mean the stream is gone
                self._lost(_strerror(exc))
                return None
            if packet.size == 0:  # the demuxer's flush packet: end of stream
                self._lost("the stream ended")
                return None
            conn.missed = conn.missed or missed
            unit = self._unit(conn, packet)
            if unit is not None:
                self._delays = backoff_delays(self._initial, self._maximum)  # healthy again
                return unit
        return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- internals ------------------------------------------------------------------------
    def _next_packet(self, conn: _Connection) -> tuple[Any, bool]:
        """The next packet, and whether FFmpeg reported RTP packets missing while reading it."""
        if not conn.watch_loss:
            return next(conn.packets), False
        import av.logging

        with av.logging.Capture(local=True) as logs:
            packet = next(conn.packets)
        return packet, any(RTP_MISSED in message for _level, _name, message in logs)

    def _unit(self, conn: _Connection, packet: Any) -> AccessUnit | None:
        if packet.pts is not None and packet.dts is not None and packet.pts != packet.dts:
            self.close()
            raise UnsupportedStreamError(BFRAMES_MESSAGE)
        corrupt = bool(packet.is_corrupt)
        try:
            forwarded = conn.forwarder.forward(bytes(packet), corrupt=corrupt)
        except SpsError as exc:
            _limited.warning(f"sample:{self.label}", "%s: dropped an unreadable packet (%s)", self.label, exc)
            return None
        if forwarded is None:
            return None
        data, keyframe = forwarded
        if keyframe != bool(getattr(packet, "is_keyframe", keyframe)) and not corrupt:
            log.debug("%s: FFmpeg's keyframe flag disagrees with the NAL types; the NAL types decide", self.label)
        self.corrupt += corrupt
        damaged = corrupt or conn.missed
        conn.missed = False
        if damaged:
            self.damaged += 1
            keyframe = False
            _limited.warning(f"damaged:{self.label}", "%s: an access unit damaged by packet loss; dropped up to "
                             "the next keyframe", self.label)
        if not conn.started:
            if not keyframe:
                self.skipped += 1
                return None
            conn.started = True
        ts = packet.pts if packet.pts is not None else packet.dts
        capture_ns = self.capture_clock.stamp(ts_to_ns(ts, conn.time_base or packet.time_base))
        self.width, self.height = conn.forwarder.width, conn.forwarder.height
        return AccessUnit(data, keyframe, capture_ns, self.width, self.height, damaged=damaged)

    def _connect(self) -> _Connection:
        try:
            container = self._opener(self.url, self.options(), (self.open_timeout_s, self.read_timeout_s))
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified into one operator-facing line
            raise SourceError(describe_open_error(exc, self.url)) from None
        try:
            stream = check_stream(container)
            conn = _Connection(container, stream)
        except BaseException:
            container.close()
            raise
        conn.watch_loss = self.transport == "udp" and self.url.lower().startswith("rtsp")
        if conn.watch_loss:
            _watch_ffmpeg_warnings()
        self.capture_clock.new_connection(conn.frame_ns)
        self.width, self.height = conn.forwarder.width, conn.forwarder.height
        return conn

    def _lost(self, reason: str) -> None:
        log.warning("%s stopped delivering video (%s); reconnecting", self.label, reason)
        self.close()
        self._retry_at = self._clock() + self._delays()

    def _reconnect(self) -> bool:
        if self._clock() < self._retry_at:
            return False
        try:
            self._conn = self._connect()
        except UnsupportedStreamError:
            raise  # the camera was reconfigured: that needs the operator, not a retry
        except SourceError as exc:
            delay = self._delays()
            self._retry_at = self._clock() + delay
            _limited.warning(f"reconnect:{self.label}", "cannot reopen: %s; retrying in %.1fs", exc, delay)
            return False
        self.reconnects += 1
        log.info("reconnected to %s", self.label)
        return True
