"""Segments: one frame window written as an MP4 and indexed.

- ``writer``: a window end to end (read from Redis, encode or remux, commit, index);
- ``index``: the ``segments`` row, idempotent insert;
- ``motion_gate``: whether a motion-only window is kept (the motion duty's verdicts in Redis).
"""
