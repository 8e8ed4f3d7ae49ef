"""Live MJPEG: one Redis reader per camera, fanned out to every viewer of that camera.

A :class:`LiveHub` keeps a channel per camera that has viewers. The channel's reader task
blocks on ``XREAD`` from the newest entry and hands each JPEG to every viewer's small queue;
a slow viewer loses its oldest queued frame, never stalls the others. The reader is cancelled
as soon as the channel's last viewer leaves. The number of viewers is bounded: per user
(``max_per_user``) and in all, with ``admin_reserve`` of the slots kept for admins, so one viewer
account cannot take every stream (issue 12).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import redis.asyncio as aioredis
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vigil_common.contract import keys, streams
from vigil_common.contract.envelope import Codec
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)
_rl = RateLimitedLog(log)

BOUNDARY = "vigilframe"
MEDIA_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"


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


class _Channel:
    def __init__(self) -> None:
        self.viewers: set[Viewer] = set()
        self.latest: bytes | None = None
        self.task: asyncio.Task[None] | None = None
        # Set when the last viewer leaves. The reader is also cancelled, but it checks this flag
        # on every round too: a cancellation that lands inside the Redis client can be lost.
        self.closed = False

    def fan_out(self, jpeg: bytes) -> None:
        self.latest = jpeg
        for viewer in self.viewers:
            viewer.offer(jpeg)


def _jpeg_of(fields: dict[bytes, bytes]) -> bytes | None:
    try:
        frame = streams.from_fields(fields)
    except (KeyError, ValueError):
        return None
    return frame.payload if frame.codec == Codec.JPEG else None


class LiveHub:
    """Per-camera broadcasters over Redis streams. Use from one event loop."""

    def __init__(
        self, redis: aioredis.Redis, *, max_viewers: int = 64, queue_size: int = 2, block_ms: int = 1000,
        max_per_user: int = 8, admin_reserve: int = 0,
    ) -> None:
        self._redis = redis
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
        """Register a viewer (starting the camera's reader if it is the first). Raises
        :class:`HubFullError` past the caller's own limit, or when every slot not reserved for
        admins is taken (for a non-admin) or every slot is (for an admin)."""
        if self.closing:
            raise HubFullError("server shutting down")
        if self._viewers >= self.max_viewers:
            raise HubFullError(f"too many live viewers (limit {self.max_viewers})")
        if not admin and self._viewers >= self.max_viewers - self.admin_reserve:
            raise HubFullError(f"too many live viewers (limit {self.max_viewers}, "
                               f"{self.admin_reserve} kept for admins)")
        if user_id is not None and self._per_user.get(user_id, 0) >= self.max_per_user:
            raise HubFullError(f"you have {self.max_per_user} live streams open already (the limit per user)")
        # Validates the id before it names a key.
        stream_key = keys.frames_stream(camera_id)
        viewer = Viewer(camera_id, self._queue_size, user_id)
        if user_id is not None:
            self._per_user[user_id] = self._per_user.get(user_id, 0) + 1
        channel = self._channels.get(camera_id)
        if channel is None:
            channel = self._channels[camera_id] = _Channel()
            channel.task = asyncio.get_running_loop().create_task(
                self._read(stream_key, channel), name=f"live-reader-{camera_id}"
            )
            self._tasks.add(channel.task)
            channel.task.add_done_callback(self._tasks.discard)
        elif channel.latest is not None:
            viewer.offer(channel.latest)  # something to show at once
        channel.viewers.add(viewer)
        self._viewers += 1
        return viewer

    def leave(self, viewer: Viewer) -> None:
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
        channel.viewers.discard(viewer)
        if not channel.viewers:
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
                    newest: Any = await self._redis.xrevrange(stream_key, count=1)
                    primed = True
                    if newest:
                        last_id, fields = newest[0]
                        jpeg = _jpeg_of(fields)
                        if jpeg is not None:
                            channel.fan_out(jpeg)
                reply: Any = await self._redis.xread({stream_key: last_id}, count=16, block=self._block_ms)
                delay = 0.5
            except Exception as exc:  # noqa: BLE001 - a dead reader would hang every viewer of the camera
                if channel.closed:
                    return
                _rl.warning("live-redis", "live reader for %s: error %r; retrying", stream_key, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                primed = False  # resume from the newest frame, not the backlog
                continue
            newest_jpeg: bytes | None = None
            for _key, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    newest_jpeg = _jpeg_of(fields) or newest_jpeg
            # Only the newest frame of a batch matters to a live view.
            if newest_jpeg is not None:
                channel.fan_out(newest_jpeg)
                self.frames_out += len(channel.viewers)


def mjpeg_part(jpeg: bytes) -> bytes:
    """One multipart part carrying a JPEG."""
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


class MjpegResponse(Response):
    """Streams a viewer's frames until the client disconnects, then leaves the hub.

    Disconnects are watched on ``receive`` whatever the server's ASGI version, so an idle
    camera (no frames to write) still notices a viewer that went away.
    """

    media_type = MEDIA_TYPE

    def __init__(self, hub: LiveHub, viewer: Viewer, headers: dict[str, str] | None = None) -> None:
        super().__init__(content=None, status_code=200, headers=headers, media_type=MEDIA_TYPE)
        self._hub = hub
        self._viewer = viewer
        # No Content-Length for an endless body.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]

    async def _frames(self) -> AsyncIterator[bytes]:
        while (jpeg := await self._viewer.queue.get()) is not None:
            yield mjpeg_part(jpeg)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async with anyio.create_task_group() as tg:

                async def pump() -> None:
                    try:
                        async for part in self._frames():
                            await send({"type": "http.response.body", "body": part, "more_body": True})
                        await send({"type": "http.response.body", "body": f"--{BOUNDARY}--\r\n".encode()})
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
