"""Live views (MJPEG and fragmented MP4): one Redis reader per camera, fanned out to every viewer.

A :class:`LiveHub` keeps a channel per camera that has viewers, of either kind. The channel's
reader task blocks on ``XREAD`` from the newest entry and hands each frame to every viewer's
small queue; a slow viewer never stalls the others. The reader is cancelled as soon as the
channel's last viewer leaves. The number of viewers is bounded, both kinds together: per user
(``max_per_user``) and in all, with ``admin_reserve`` of the slots kept for admins, so one viewer
account cannot take every stream (issue 12).

MJPEG viewers (:class:`Viewer`) get the newest JPEG of each read; a full queue loses its oldest.

MP4 viewers (:class:`Mp4Viewer`, H.264 cameras) need every frame from a keyframe on. The channel
keeps the frames since the newest keyframe that can start a track (IDR with SPS/PPS; read back
from the stream when the reader starts), so a new viewer begins there at once; then every frame
as it arrives. A viewer whose queue overflows drops frames up to the next such keyframe (never a
frame whose reference it did not get), and its response closes the gap in its timeline
(:class:`vigil_api.live_mp4.Timeline`). Each frame carries the :class:`AvcTrack` it belongs to;
a keyframe with other parameter sets (a new size) starts a new track, and a viewer reaching it
(or a JPEG frame: the camera switched codec) ends its response: the player reconnects and gets
the new init segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import redis.asyncio as aioredis
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vigil_api.live_mp4 import AvcTrack, Mp4Error, Timeline, fragment_header, to_sample
from vigil_common.contract import h264, keys, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)
_rl = RateLimitedLog(log)

BOUNDARY = "vigilframe"
MEDIA_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
MP4_MEDIA_TYPE = "video/mp4"
# What one MP4 viewer may have queued (frames, bytes) before it drops up to the next keyframe,
# and the most the channel keeps of the current group of pictures (a new viewer's start).
MP4_QUEUE_FRAMES = 300
MP4_QUEUE_BYTES = 24 * 1024 * 1024
GOP_MAX_FRAMES = 300
GOP_MAX_BYTES = 24 * 1024 * 1024
_READBACK_PAGE = 32


class HubFullError(Exception):
    """Raised by :meth:`LiveHub.join` when the viewer limit is reached or the hub is closing."""


class Viewer:
    """One connected client: a bounded queue of JPEGs, oldest dropped when full."""

    def __init__(self, camera_id: str, queue_size: int, user_id: int | None = None) -> None:
        self.camera_id = camera_id
        self.user_id = user_id
        # None is the end-of-stream marker (server shutting down).
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0
        self.left = False

    def offer(self, jpeg: bytes | None) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(jpeg)


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """An H.264 frame as MP4 viewers get it: the sample (length-prefixed NAL units, converted
    once for every viewer), its capture time, and the track it belongs to."""

    track: AvcTrack
    sample: bytes
    capture_ns: int
    sync: bool  # an IDR picture (the sample flags)
    start: bool  # an IDR with its SPS/PPS: a viewer may begin here


class Mp4Viewer:
    """One live.mp4 client: a queue of frames bounded in frames and bytes.

    It takes frames from a track start on. When the queue is full it drops up to the next
    start (which then replaces whatever is still queued: those frames are older anyway) and
    marks that frame ``gap`` so the response's timeline closes the hole.
    """

    def __init__(self, camera_id: str, user_id: int | None = None, *, max_frames: int = MP4_QUEUE_FRAMES,
                 max_bytes: int = MP4_QUEUE_BYTES) -> None:
        self.camera_id = camera_id
        self.user_id = user_id
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._queue: deque[tuple[LiveFrame, bool] | None] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._waiting = True  # for a start: nothing taken yet, or dropping after an overflow
        self._gap = False
        self.dropped = 0
        self.left = False
        self.ended = False

    def offer(self, frame: LiveFrame | None) -> None:
        """Queue a frame (``None``: end the response). Never blocks."""
        if self.ended:
            return
        if frame is None:
            self.ended = True
            self._queue.append(None)
            self._ready.set()
            return
        if self._waiting and not frame.start:
            if self._gap:
                self.dropped += 1
            return
        full = len(self._queue) >= self.max_frames or self._bytes + len(frame.sample) > self.max_bytes
        if frame.start and (self._waiting or full):
            if self._queue:
                self._gap = True
                self.dropped += len(self._queue)
            self._queue.clear()
            self._bytes = 0
        elif full:
            self._waiting = self._gap = True
            self.dropped += 1
            return
        self._waiting = False
        self._queue.append((frame, self._gap))
        self._gap = False
        self._bytes += len(frame.sample)
        self._ready.set()

    def end(self) -> None:
        self.offer(None)

    def resync(self) -> None:
        """Drop up to the next start (frames were lost before the ones to come)."""
        self._waiting = self._gap = True

    async def get(self) -> tuple[LiveFrame, bool] | None:
        """The next frame and whether frames were dropped before it; ``None`` at the end."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        item = self._queue.popleft()
        if item is not None:
            self._bytes -= len(item[0].sample)
        return item

    @property
    def queued(self) -> int:
        return len(self._queue)


class _Channel:
    def __init__(self) -> None:
        self.viewers: set[Viewer] = set()
        self.mp4_viewers: set[Mp4Viewer] = set()
        self.latest: bytes | None = None
        # The H.264 track of the newest start, and the frames since that start (None: too
        # long a group of pictures; a new viewer waits for the next start).
        self.track: AvcTrack | None = None
        self.gop: list[LiveFrame] | None = None
        self.gop_bytes = 0
        self.last_ns: int | None = None  # capture time of the newest H.264 frame handed out
        self.task: asyncio.Task[None] | None = None
        # Set when the last viewer leaves. The reader is also cancelled, but it checks this flag
        # on every round too: a cancellation that lands inside the Redis client can be lost.
        self.closed = False

    def fan_out(self, jpeg: bytes) -> None:
        self.latest = jpeg
        for viewer in self.viewers:
            viewer.offer(jpeg)

    def push_h264(self, frame: Frame, *, replay: bool = False) -> int:
        """Hand an H.264 frame to the MP4 viewers (and keep it for later ones); how many got it.
        ``replay``: read back at a (re)start of the reader; viewers already past it skip it."""
        start = h264.can_start_segment(frame.payload)
        if start:
            try:
                track = AvcTrack.from_access_unit(frame.payload, frame.width, frame.height)
            except Mp4Error:
                return 0
            if self.track is None or self.track.key != track.key:
                self.track = track
            self.gop, self.gop_bytes = [], 0
        if self.track is None:
            return 0  # no start seen yet: nobody could decode it
        live = LiveFrame(self.track, to_sample(frame.payload), frame.capture_ns,
                         start or h264.is_idr(frame.payload), start)
        if self.gop is not None:
            self.gop.append(live)
            self.gop_bytes += len(live.sample)
            if len(self.gop) > GOP_MAX_FRAMES or self.gop_bytes > GOP_MAX_BYTES:
                self.gop, self.gop_bytes = None, 0
        if replay and self.last_ns is not None and frame.capture_ns <= self.last_ns:
            return 0
        self.last_ns = frame.capture_ns
        for viewer in self.mp4_viewers:
            viewer.offer(live)
        return len(self.mp4_viewers)

    def resync(self) -> None:
        """The reader lost its place (a Redis error): the frames in between are missing, so
        every MP4 viewer drops up to the next start."""
        for viewer in self.mp4_viewers:
            viewer.resync()

    def push_jpeg_to_mp4(self) -> None:
        """A JPEG frame: the camera is no longer sending H.264; MP4 responses end."""
        self.track, self.gop, self.gop_bytes = None, None, 0
        for viewer in self.mp4_viewers:
            viewer.end()


def _frame_of(fields: dict[bytes, bytes]) -> Frame | None:
    try:
        return streams.from_fields(fields)
    except (KeyError, ValueError):
        return None


class LiveHub:
    """Per-camera broadcasters over Redis streams. Use from one event loop."""

    def __init__(
        self, redis: aioredis.Redis, *, max_viewers: int = 64, queue_size: int = 2, block_ms: int = 1000,
        max_per_user: int = 8, admin_reserve: int = 0, mp4_queue_frames: int = MP4_QUEUE_FRAMES,
        mp4_queue_bytes: int = MP4_QUEUE_BYTES,
    ) -> None:
        self._redis = redis
        self.mp4_queue_frames = mp4_queue_frames
        self.mp4_queue_bytes = mp4_queue_bytes
        self.max_viewers = max_viewers
        self.max_per_user = max_per_user
        self.admin_reserve = min(admin_reserve, max_viewers)
        self._per_user: dict[int, int] = {}
        self._queue_size = queue_size
        self._block_ms = block_ms
        self._channels: dict[str, _Channel] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._viewers = 0
        self.frames_out = 0
        self.closing = False

    @property
    def viewers(self) -> int:
        return self._viewers

    @property
    def readers(self) -> int:
        """Reader tasks still running (including any that are on their way out)."""
        return len(self._tasks)

    def join(self, camera_id: str, user_id: int | None = None, *, admin: bool = False) -> Viewer:
        """Register an MJPEG viewer (starting the camera's reader if it is the first). Raises
        :class:`HubFullError` past the caller's own limit, or when every slot not reserved for
        admins is taken (for a non-admin) or every slot is (for an admin)."""
        self._admit(user_id, admin)
        viewer = Viewer(camera_id, self._queue_size, user_id)
        channel = self._channel(camera_id)
        if channel.latest is not None:
            viewer.offer(channel.latest)  # something to show at once
        channel.viewers.add(viewer)
        self._count(user_id)
        return viewer

    def join_mp4(self, camera_id: str, user_id: int | None = None, *, admin: bool = False) -> Mp4Viewer:
        """Register a live.mp4 viewer: the same limits as :meth:`join` (one pool of slots). It
        starts with the frames since the camera's newest keyframe, if the reader has them."""
        self._admit(user_id, admin)
        viewer = Mp4Viewer(camera_id, user_id, max_frames=self.mp4_queue_frames, max_bytes=self.mp4_queue_bytes)
        channel = self._channel(camera_id)
        for frame in channel.gop or ():
            viewer.offer(frame)
        channel.mp4_viewers.add(viewer)
        self._count(user_id)
        return viewer

    def _admit(self, user_id: int | None, admin: bool) -> None:
        if self.closing:
            raise HubFullError("server shutting down")
        if self._viewers >= self.max_viewers:
            raise HubFullError(f"too many live viewers (limit {self.max_viewers})")
        if not admin and self._viewers >= self.max_viewers - self.admin_reserve:
            raise HubFullError(f"too many live viewers (limit {self.max_viewers}, "
                               f"{self.admin_reserve} kept for admins)")
        if user_id is not None and self._per_user.get(user_id, 0) >= self.max_per_user:
            raise HubFullError(f"you have {self.max_per_user} live streams open already (the limit per user)")

    def _count(self, user_id: int | None) -> None:
        if user_id is not None:
            self._per_user[user_id] = self._per_user.get(user_id, 0) + 1
        self._viewers += 1

    def _channel(self, camera_id: str) -> _Channel:
        # Validates the id before it names a key.
        stream_key = keys.frames_stream(camera_id)
        channel = self._channels.get(camera_id)
        if channel is None:
            channel = self._channels[camera_id] = _Channel()
            channel.task = asyncio.get_running_loop().create_task(
                self._read(stream_key, channel), name=f"live-reader-{camera_id}"
            )
            self._tasks.add(channel.task)
            channel.task.add_done_callback(self._tasks.discard)
        return channel

    def leave(self, viewer: Viewer | Mp4Viewer) -> None:
        """Unregister a viewer (idempotent); the last one out stops the camera's reader."""
        if viewer.left:
            return
        viewer.left = True
        self._viewers -= 1
        if viewer.user_id is not None:
            left = self._per_user.get(viewer.user_id, 1) - 1
            if left > 0:
                self._per_user[viewer.user_id] = left
            else:
                self._per_user.pop(viewer.user_id, None)
        channel = self._channels.get(viewer.camera_id)
        if channel is None:
            return
        if isinstance(viewer, Mp4Viewer):
            channel.mp4_viewers.discard(viewer)
        else:
            channel.viewers.discard(viewer)
        if not channel.viewers and not channel.mp4_viewers:
            del self._channels[viewer.camera_id]
            channel.closed = True
            if channel.task is not None:
                channel.task.cancel()

    def end_streams(self) -> None:
        """Finish every viewer's response (server stopping): no stream holds up the shutdown."""
        self.closing = True
        for channel in self._channels.values():
            for viewer in channel.viewers:
                viewer.offer(None)
            for mp4 in channel.mp4_viewers:
                mp4.end()

    async def close(self) -> None:
        """Stop every reader (at shutdown, after the responses have ended)."""
        self.closing = True
        for channel in self._channels.values():
            channel.closed = True
        self._channels.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self._block_ms / 1000 + 2)

    async def _read(self, stream_key: str, channel: _Channel) -> None:
        last_id: bytes | str = "$"
        delay = 0.5
        primed = False
        while not channel.closed:
            try:
                if not primed:
                    last_id = await self._prime(stream_key, channel)
                    primed = True
                reply: Any = await self._redis.xread({stream_key: last_id}, count=16, block=self._block_ms)
                delay = 0.5
            except Exception as exc:  # noqa: BLE001 - a dead reader would hang every viewer of the camera
                if channel.closed:
                    return
                _rl.warning("live-redis", "live reader for %s: error %r; retrying", stream_key, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                primed = False  # resume from the newest frame, not the backlog
                channel.resync()
                continue
            newest_jpeg: bytes | None = None
            for _key, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    frame = _frame_of(fields)
                    if frame is None:
                        continue
                    if frame.codec == Codec.H264:
                        self.frames_out += channel.push_h264(frame)
                    else:
                        newest_jpeg = frame.payload
                        if channel.mp4_viewers or channel.track is not None:
                            channel.push_jpeg_to_mp4()
            # Only the newest JPEG of a batch matters to a live view; every H.264 frame does.
            if newest_jpeg is not None:
                channel.fan_out(newest_jpeg)
                self.frames_out += len(channel.viewers)

    async def _prime(self, stream_key: str, channel: _Channel) -> bytes | str:
        """Show what the stream already holds: its newest JPEG to MJPEG viewers; for H.264, the
        frames from the newest keyframe that can start a track (read back page by page, within
        the group-of-pictures bounds). Returns the id to read on from."""
        newest: Any = await self._redis.xrevrange(stream_key, count=1)
        if not newest:
            return "$"
        last_id, fields = newest[0]
        frame = _frame_of(fields)
        if frame is None:
            return last_id
        if frame.codec == Codec.JPEG:
            channel.fan_out(frame.payload)
            return last_id
        back: list[Frame] = [frame]
        size = len(frame.payload)
        cursor = last_id
        while not h264.can_start_segment(back[-1].payload):
            if len(back) >= GOP_MAX_FRAMES or size > GOP_MAX_BYTES:
                return last_id  # too long a GOP: wait for the next start
            cursor_text = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
            page: Any = await self._redis.xrevrange(stream_key, max=f"({cursor_text}", count=_READBACK_PAGE)
            if not page:
                return last_id  # the buffer holds no start
            for entry_id, entry_fields in page:
                cursor = entry_id
                older = _frame_of(entry_fields)
                if older is None or older.codec != Codec.H264:
                    return last_id  # (JPEG before: no start since)
                back.append(older)
                size += len(older.payload)
                if h264.can_start_segment(older.payload):
                    break
        for older in reversed(back):
            self.frames_out += channel.push_h264(older, replay=True)
        return last_id


def mjpeg_part(jpeg: bytes) -> bytes:
    """One multipart part carrying a JPEG."""
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


class _LiveResponse(Response):
    """Streams a viewer's parts until the client disconnects (or the stream ends), then leaves
    the hub.

    Disconnects are watched on ``receive`` whatever the server's ASGI version, so an idle
    camera (no frames to write) still notices a viewer that went away.
    """

    def __init__(self, hub: LiveHub, viewer: Viewer | Mp4Viewer, media_type: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(content=None, status_code=200, headers=headers, media_type=media_type)
        self._hub = hub
        self._viewer = viewer
        # No Content-Length for an endless body.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]

    def _parts(self) -> AsyncIterator[bytes]:
        raise NotImplementedError

    def _tail(self) -> bytes:
        return b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async with anyio.create_task_group() as tg:

                async def pump() -> None:
                    try:
                        async for part in self._parts():
                            await send({"type": "http.response.body", "body": part, "more_body": True})
                        await send({"type": "http.response.body", "body": self._tail()})
                    except OSError:
                        pass  # client went away mid-write
                    tg.cancel_scope.cancel()

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                tg.start_soon(pump)
                tg.start_soon(watch)
        finally:
            self._hub.leave(self._viewer)


class MjpegResponse(_LiveResponse):
    """A viewer's JPEGs as ``multipart/x-mixed-replace`` parts."""

    media_type = MEDIA_TYPE

    def __init__(self, hub: LiveHub, viewer: Viewer, headers: dict[str, str] | None = None) -> None:
        super().__init__(hub, viewer, MEDIA_TYPE, headers)
        self._jpegs = viewer

    async def _parts(self) -> AsyncIterator[bytes]:
        while (jpeg := await self._jpegs.queue.get()) is not None:
            yield mjpeg_part(jpeg)

    def _tail(self) -> bytes:
        return f"--{BOUNDARY}--\r\n".encode()


class Mp4Response(_LiveResponse):
    """A viewer's frames as fragmented MP4: the init segment of the first frame's track, then a
    ``moof`` + ``mdat`` per frame on the viewer's own gapless timeline. The body ends when a
    frame of another track arrives (new parameter sets: the client reconnects for the new init)
    or the camera switches to JPEG."""

    media_type = MP4_MEDIA_TYPE

    def __init__(self, hub: LiveHub, viewer: Mp4Viewer, headers: dict[str, str] | None = None) -> None:
        super().__init__(hub, viewer, MP4_MEDIA_TYPE, headers)
        self._frames = viewer

    async def _parts(self) -> AsyncIterator[bytes]:
        track: AvcTrack | None = None
        timeline = Timeline()
        while (item := await self._frames.get()) is not None:
            frame, gap = item
            head = b""
            if track is None:
                track = frame.track
                head = track.init_segment()
            elif frame.track is not track and frame.track.key != track.key:
                log.info("live.mp4 of %s: new parameter sets (%dx%d); ending the stream for a new init",
                         self._frames.camera_id, frame.track.width, frame.track.height)
                return
            sequence, decode_time, duration = timeline.next(frame.capture_ns, gap=gap)
            yield b"".join((head, fragment_header(sequence, decode_time, duration, len(frame.sample), frame.sync),
                            frame.sample))
