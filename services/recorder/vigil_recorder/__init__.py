"""Vigil recorder service: RQ workers turning frame windows into H.264 MP4 segments.

Modules, pure first:

- ``frames``: ordering, dedup, codec choice, timestamps, segment timing (pure);
- ``h264``: Annex B NAL inspection, where a remuxed segment may start (pure);
- ``storage``: segment paths, crash-safe commit (tmp + fsync + rename + dir fsync);
- ``mp4meta``: index metadata embedded in each file (a trailing ``uuid`` box);
- ``encode``: PyAV: JPEG -> libx264 encode, or H.264 remux, into a faststart MP4;
- ``index``: the ``segments`` row, idempotent insert;
- ``segment``: one window end to end (read, write, index); ``jobs``: the RQ entry point;
- ``context``: per-process Settings / engine / Redis; ``metrics``: counters for /metrics;
- ``main``: ``vigil recorder`` (the worker); ``bench``: ``vigil bench recorder``.
"""
