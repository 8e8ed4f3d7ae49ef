"""The recorder's settings: segments, the watchdog, the encoder, snapshots, motion."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RecordingSettings(BaseModel):
    # Recording.
    segment_seconds: int = Field(default=10, ge=2, le=600)
    segment_grace_s: float = Field(default=2.0, ge=0, le=60)
    stream_buffer_s: int = Field(default=120, ge=10, le=3600)
    # The recording watchdog: a streaming camera whose newest recorded window trails its frames by
    # more than this many segment lengths is "stalled" (/health degraded, an alert, a banner).
    recording_stall_segments: float = Field(default=3, ge=1.5, le=100)
    x264_preset: str = "veryfast"
    x264_crf: int = Field(default=23, ge=0, le=51)
    x264_threads: int = Field(default=1, ge=0, le=64)  # per job; scale with recorder workers (0 = auto)
    snapshot_interval_s: float = Field(default=5, ge=0.5, le=3600)
    # Motion detection (on a low-rate decoded sample of each camera).
    motion_enabled: bool = True
    motion_sample_fps: float = Field(default=2.0, gt=0, le=30)
    motion_sensitivity: float = Field(default=0.5, ge=0, le=1)  # per-camera override in the registry
    motion_min_area: float = Field(default=0.002, gt=0, lt=1)  # fraction of the frame that must change
    motion_pre_roll_s: float = Field(default=10, ge=0, le=60)  # motion-only recording keeps this before
    motion_post_roll_s: float = Field(default=10, ge=0, le=600)  # ... and this after an event
    recorder_workers: int = Field(default=1, ge=1, le=64)  # `vigil up` starts this many
    # Segment jobs in the worker's own process instead of a forked work horse each: about 2.4x
    # less recorder CPU per H.264 camera (docs/benchmarks.md). A crash inside libav then takes
    # the worker down (it is restarted; a job abandoned once runs in a work horse of its own),
    # and a killed worker's job is found within its timeout rather than 15 s (docs/operations.md).
    recorder_jobs_in_process: bool = False
    # Segment jobs one work horse runs before it retires and the next job forks a new one: a fork
    # per job costs more CPU than the job (docs/benchmarks.md). 1 = a fork per job (RQ's way).
    recorder_horse_jobs: int = Field(default=100, ge=1, le=100_000)
