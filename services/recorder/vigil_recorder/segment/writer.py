"""One segment, end to end: read a window from Redis, write the MP4 crash-safely, index it.

:func:`write_segment` is the job's body with its dependencies passed in (tests and the
benchmark call it, or :func:`build_file`, directly); :mod:`vigil_recorder.jobs` wraps it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, cast

import redis
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.contract.days import ns_to_datetime
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.streams import redis_now_ms
from vigil_common.contract.windows import stream_id_ms
from vigil_common.db.models import CameraEvent
from vigil_common.runtime.settings import Settings
from vigil_recorder.media import frames as fr
from vigil_recorder.media import mp4meta
from vigil_recorder.media.encode import EncoderOptions, Written, encode_jpegs, remux_h264
from vigil_recorder.segment import h264_span, runs
from vigil_recorder.segment import motion_gate as motion_recording
from vigil_recorder.segment.index import SegmentRow, insert_segment
from vigil_recorder.segment.runs import Arrived
from vigil_recorder.storage import paths as storage
from vigil_recorder.storage import reclaim

log = logging.getLogger(__name__)

XRANGE_PAGE = 256
LOOKAHEAD_PAGE = 16  # a keyframe interval's tail is usually found in the first page or two
OUTPUT_CODEC = "h264"


def encoder_options(settings: Settings) -> EncoderOptions:
    return EncoderOptions(preset=settings.x264_preset, crf=settings.x264_crf, threads=settings.x264_threads)


def window_pages(
    client: redis.Redis, camera_id: str, start_ms: int, end_ms: int, page: int = XRANGE_PAGE
) -> Iterator[list[fr.StreamEntry]]:
    """The entries that arrived in ``[start_ms, end_ms)``, a page at a time: XRANGE
    ``{start_ms}-0`` .. ``{end_ms-1}`` (an incomplete end id means any sequence number)."""
    key = keys.frames_stream(camera_id)
    low = f"{start_ms}-0"
    high = f"{end_ms - 1}"
    while True:
        batch = client.xrange(key, min=low, max=high, count=page) or []
        entries = [(entry_id, cast(Mapping[bytes, bytes], fields)) for entry_id, fields in batch
                   if entry_id is not None and fields is not None]
        if entries:
            yield entries
        if len(batch) < page:
            return
        last = batch[-1][0]
        last_id = last.decode() if isinstance(last, bytes) else str(last)
        ms, _, seq = last_id.partition("-")
        low = f"{ms}-{int(seq) + 1}"


def read_window(
    client: redis.Redis, camera_id: str, start_ms: int, end_ms: int, page: int = XRANGE_PAGE
) -> list[fr.StreamEntry]:
    """Every entry that arrived in ``[start_ms, end_ms)``, read in pages."""
    return [entry for batch in window_pages(client, camera_id, start_ms, end_ms, page) for entry in batch]


def read_after(client: redis.Redis, camera_id: str, end_ms: int, matches: Callable[[Frame], bool]) -> list[Arrived]:
    """The frames that arrived after a window's end, up to the first that ends its span (or the
    whole lookahead when none does): what :func:`h264_span.plan_span` looks at, read in small
    pages so the next window's body is never read (it is, by the next job)."""
    out: list[Arrived] = []
    for batch in window_pages(client, camera_id, end_ms, end_ms + h264_span.LOOKAHEAD_MS, LOOKAHEAD_PAGE):
        arrived, _ = parse_arrived(batch)
        out += arrived
        if any(h264_span.ends_span(frame, matches) for _, frame in arrived):
            break
    return out


@dataclass(frozen=True, slots=True)
class Built:
    """A committed segment file and what it holds."""

    path: Path
    written: Written
    timing: fr.Timing
    bytes: int
    meta: dict[str, Any]
    selection: fr.Selection


def build_file(
    frames: Sequence[Frame],
    final: Path,
    options: EncoderOptions,
    *,
    max_frame_ns: int | None = None,
    meta: dict[str, Any] | None = None,
) -> Built | None:
    """Order the frames (capture time, one codec), then :func:`write_selection`."""
    return write_selection(fr.select_frames(frames), final, options, max_frame_ns=max_frame_ns, meta=meta)


def write_selection(
    selection: fr.Selection,
    final: Path,
    options: EncoderOptions,
    *,
    max_frame_ns: int | None = None,
    meta: dict[str, Any] | None = None,
    end_ns: int | None = None,
) -> Built | None:
    """Write the frames to a temporary file next to ``final``, append the index metadata,
    fsync and rename into place. ``end_ns`` (H.264) is the capture time of the next segment's
    first frame, where this one ends. Returns None (and leaves no file) when no frame could be
    written."""
    if selection.codec is None or not selection.frames:
        return None
    storage.ensure_dir(final.parent)
    tmp = storage.partial_path(final)
    try:
        if selection.codec == Codec.H264:
            written = remux_h264(selection.frames, tmp, max_frame_ns, end_ns=end_ns)
        else:
            written = encode_jpegs(selection.frames, tmp, options, max_frame_ns)
        if written.frames == 0:
            storage.discard(tmp)
            return None
        timing = fr.segment_timing(written.capture_ns, max_frame_ns, end_ns=end_ns)
        doc = {
            **(meta or {}),
            "start_ns": timing.start_ns,
            "end_ns": timing.end_ns,
            "frames": written.frames,
            "width": written.width,
            "height": written.height,
            "codec": OUTPUT_CODEC,
            "source_codec": written.source_codec,
        }
        mp4meta.append_box(tmp, doc)
        storage.commit(tmp, final)
    except BaseException:
        storage.discard(tmp)
        raise
    return Built(final, written, timing, final.stat().st_size, doc, selection)


def _int(doc: dict[str, Any], key: str) -> int:
    value = doc[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} is not an integer")
    return value


def row_from_meta(camera_id: str, relpath: PurePosixPath, meta: dict[str, Any], size: int) -> SegmentRow:
    """The index row for a segment file from its embedded metadata (ValueError if unusable)."""
    try:
        start_ns, end_ns = _int(meta, "start_ns"), _int(meta, "end_ns")
        frames, width, height = _int(meta, "frames"), _int(meta, "width"), _int(meta, "height")
    except KeyError as exc:
        raise ValueError(f"missing {exc}") from exc
    if end_ns <= start_ns or frames <= 0:
        raise ValueError("inconsistent segment metadata")
    return SegmentRow(
        camera_id=camera_id,
        start=ns_to_datetime(start_ns),
        end=ns_to_datetime(end_ns),
        duration_s=(end_ns - start_ns) / fr.NS_PER_S,
        frames=frames,
        bytes=size,
        width=width,
        height=height,
        codec=str(meta.get("codec", OUTPUT_CODEC)),
        path=relpath.as_posix(),
    )


def _existing_row(final: Path, camera_id: str, start_ms: int, relpath: PurePosixPath,
                  part: int = 0) -> tuple[SegmentRow, int] | None:
    """The row for a segment file an earlier run already committed, if it is ours and sound,
    with the number of parts its window was written in."""
    if not final.exists():
        return None
    meta = mp4meta.read_meta(final)
    if (meta is None or meta.get("camera_id") != camera_id or meta.get("window_start_ms") != start_ms
            or meta.get("part", 0) != part):
        log.warning("segment file %s has no usable metadata; rewriting it", relpath)
        return None
    parts = meta.get("parts", 1)
    try:
        if not isinstance(parts, int) or isinstance(parts, bool) or not 1 <= parts <= runs.MAX_PARTS:
            raise ValueError(f"invalid parts {parts!r}")
        return row_from_meta(camera_id, relpath, meta, final.stat().st_size), parts
    except ValueError as exc:
        log.warning("segment file %s: %s; rewriting it", relpath, exc)
        return None


def _existing_rows(settings: Settings, camera_id: str, start_ms: int) -> list[SegmentRow] | None:
    """Every part an earlier run committed for this window, or None if any is missing (the
    window is then written again, which replaces the same files)."""
    rows: list[SegmentRow] = []
    parts = 1
    part = 0
    while part < parts:
        relpath = storage.segment_relpath(camera_id, start_ms, settings.tz, part)
        found = _existing_row(settings.data_dir / relpath, camera_id, start_ms, relpath, part)
        if found is None:
            return None
        row, count = found
        if part == 0:
            parts = count
        rows.append(row)
        part += 1
    return rows


def parse_arrived(entries: Sequence[fr.StreamEntry]) -> tuple[list[Arrived], int]:
    """Frames with their arrival time (the entry id's milliseconds), in arrival order."""
    frames, malformed = fr.parse_identified(entries)
    return [(stream_id_ms(entry_id), frame) for entry_id, frame in frames], malformed


def newest_arrival_ms(client: redis.Redis, camera_id: str) -> int | None:
    newest = client.xrevrange(keys.frames_stream(camera_id), count=1)
    return stream_id_ms(newest[0][0]) if newest else None


@dataclass(slots=True)
class _Planned:
    selection: fr.Selection
    end_ns: int | None = None


def plan_parts(
    client: redis.Redis, camera_id: str, window_runs: list[runs.Run], start_ms: int, end_ms: int
) -> tuple[list[_Planned], dict[str, int]] | h264_span.Wait:
    """What each run of the window becomes (see :mod:`h264_span` for H.264 runs), with the
    counts of frames that went elsewhere or nowhere; or :class:`h264_span.Wait`."""
    planned: list[_Planned] = []
    counts = {"lead": 0, "tail": 0, "skipped": 0}
    for i, run in enumerate(window_runs):
        if run.codec != Codec.H264:
            planned.append(_Planned(fr.select_frames(run.frames)))
            continue
        last = i == len(window_runs) - 1
        after: list[Arrived] = []
        if last and h264_span.first_keyframe(run.items) is not None:
            after = read_after(client, camera_id, end_ms, run.matches)
        plan = h264_span.plan_span(
            run.items, after, end_ms=end_ms, now_ms=redis_now_ms(client),
            newest_arrival_ms=newest_arrival_ms(client, camera_id) if last else None,
            matches=run.matches, closed=not last,
        )
        if isinstance(plan, h264_span.Wait):
            return plan
        # Frames before a run's first keyframe: the previous segment's tail in the first run,
        # undecodable leftovers after a codec switch in a later one.
        counts["skipped" if i else "lead"] += plan.lead
        counts["tail"] += plan.tail
        planned.append(_Planned(fr.Selection(Codec.H264, plan.frames, 0, 0), plan.end_ns))
    return planned, counts


def _window(start_ms: object, end_ms: object) -> tuple[int, int]:
    for value in (start_ms, end_ms):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"window bounds must be non-negative integers, got {value!r}")
    assert isinstance(start_ms, int) and isinstance(end_ms, int)
    if end_ms <= start_ms:
        raise ValueError(f"empty window [{start_ms}, {end_ms})")
    return start_ms, end_ms


def record_lost(sessions: sessionmaker[Session], camera_id: str, start_ms: int) -> None:
    """A ``recording_lost`` camera event at the window's start, so the timeline says why."""
    with sessions.begin() as db:
        db.add(CameraEvent(camera_id=camera_id, time=ns_to_datetime(start_ms * 1_000_000), kind="recording_lost",
                           detail="frames expired from the Redis buffer before they were recorded"))


def window_expired(client: redis.Redis, camera_id: str, start_ms: int) -> bool:
    """True when the window's frames were trimmed away: entries were removed from the stream
    (more ever added than it holds) and the oldest one left is newer than the window."""
    try:
        info = client.xinfo_stream(keys.frames_stream(camera_id))
    except redis.ResponseError:  # no such stream
        return False
    added, length = info.get("entries-added"), int(info.get("length", 0))
    if added is not None and int(added) <= length:
        return False  # nothing was ever trimmed
    first = info.get("recorded-first-entry-id") or (info.get("first-entry") or (None,))[0]
    return first is not None and stream_id_ms(first) > start_ms


def write_segment(
    settings: Settings,
    client: redis.Redis,
    sessions: sessionmaker[Session],
    camera_id: str,
    start_ms: int,
    end_ms: int,
    *,
    motion_gate: bool = True,
) -> dict[str, Any]:
    """Record the arrival window ``[start_ms, end_ms)`` of ``camera_id`` as one indexed MP4.

    Idempotent: if an earlier run already committed the file (same deterministic name), it
    is indexed from its embedded metadata without re-reading Redis, and the insert does
    nothing if the row exists. Raises if Redis or the database fails (RQ retries); a
    committed file stays for the retry.
    """
    cam = require_camera_id(camera_id)
    start_ms, end_ms = _window(start_ms, end_ms)
    summary: dict[str, Any] = {"camera_id": cam, "start_ms": start_ms, "end_ms": end_ms}
    max_frame_ns = (end_ms - start_ms) * 1_000_000

    rows = _existing_rows(settings, cam, start_ms) or []
    if rows:
        summary["status"] = "exists"
    else:
        if motion_gate:
            decision = motion_recording.keep_window(sessions, client, settings, cam, start_ms, end_ms)
            if decision.action is motion_recording.Action.SKIP:
                summary.update(status="skipped", reason=decision.reason)
                log.info("camera %s window %d not recorded: %s (motion-only recording)", cam, start_ms,
                         decision.reason)
                return summary
            if decision.action is motion_recording.Action.WAIT:
                summary.update(status="waiting", reason=decision.reason, until_ms=decision.until_ms)
                return summary
        entries = read_window(client, cam, start_ms, end_ms)
        arrived, malformed = parse_arrived(entries)
        arrived, duplicates = runs.dedupe(arrived)
        window_runs, other = runs.split_runs(arrived)
        summary.update(entries=len(entries), malformed=malformed, duplicates=duplicates, other_codec=other)
        outcome = plan_parts(client, cam, window_runs, start_ms, end_ms)
        if isinstance(outcome, h264_span.Wait):
            summary.update(status="waiting", reason="next_keyframe", until_ms=outcome.until_ms)
            return summary
        planned, counts = outcome
        planned = [p for p in planned if p.selection.frames]
        if planned:  # make room first: the disk at its floor must never fail this write
            reclaim.ensure_space(settings, sessions, client,
                                 sum(len(f.payload) for p in planned for f in p.selection.frames))
        built_parts: list[Built] = []
        for part, plan in enumerate(planned):
            relpath = storage.segment_relpath(cam, start_ms, settings.tz, part)
            meta = {"camera_id": cam, "window_start_ms": start_ms, "window_end_ms": end_ms}
            if len(planned) > 1:
                meta.update(part=part, parts=len(planned))
            built = write_selection(plan.selection, settings.data_dir / relpath, encoder_options(settings),
                                    max_frame_ns=max_frame_ns, meta=meta, end_ns=plan.end_ns)
            if built is not None:
                built_parts.append(built)
                rows.append(row_from_meta(cam, relpath, built.meta, built.bytes))
        if not built_parts:
            summary["status"] = "empty"
            if entries and not counts["lead"]:
                log.warning("camera %s window %d: %d entries, no frame could be written", cam, start_ms, len(entries))
            elif not entries and window_expired(client, cam, start_ms):
                # Windows are only enqueued when they held frames: none left means Redis trimmed
                # them (the job ran later than VIGIL_STREAM_BUFFER_S). That is a recording gap.
                summary["status"] = "expired"
                record_lost(sessions, cam, start_ms)
                log.error("camera %s window %d expired from the Redis buffer before it was recorded: "
                          "footage lost (raise VIGIL_STREAM_BUFFER_S or add recorder workers)", cam, start_ms)
            return summary
        summary.update(
            status="written",
            carried=counts["lead"],
            tail=counts["tail"],
            decode_errors=sum(b.written.decode_errors for b in built_parts),
            skipped=counts["skipped"] + sum(b.written.skipped for b in built_parts),
            source_codec=built_parts[0].written.source_codec,
            parts=len(built_parts),
        )

    conflicts = [row for row in rows if not insert_segment(sessions, row)]
    if conflicts:
        summary["status"] = "conflict"
        for row in conflicts:
            log.warning("camera %s: another segment already starts at %s; %s not indexed", cam, row.start, row.path)
    row = rows[0]
    summary.update(
        path=row.path,
        frames=sum(r.frames for r in rows),
        bytes=sum(r.bytes for r in rows),
        duration_s=sum(r.duration_s for r in rows),
        width=row.width,
        height=row.height,
    )
    if len(rows) > 1:
        summary["paths"] = [r.path for r in rows]
    log.info(
        "segment %s camera=%s frames=%d bytes=%d duration=%.2fs parts=%d",
        summary["status"],
        cam,
        summary["frames"],
        summary["bytes"],
        summary["duration_s"],
        len(rows),
    )
    return summary


def data_dir_writable(settings: Settings) -> bool:
    """True if the recordings directory exists (or can be created) and is writable."""
    try:
        settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(settings.recordings_dir, os.W_OK)
