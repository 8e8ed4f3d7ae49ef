"""Vigil recorder service: RQ workers turning frame windows into H.264 MP4 segments, and the
periodic duties that keep the recordings (snapshots, motion, retention, reconciliation, day
videos). One package per feature; docs/architecture.md has the map and the import rules.

Base (imported by the features, never importing them):

- ``media``: frames, H.264, encode, MP4 metadata, stills (what a file holds);
- ``remux``: joining and cutting segments without re-encoding;
- ``storage``: the data directory: paths, disk, deletion, reclaiming space, figures;
- ``duties``: the leader-elected runner of periodic duties (knows no feature);
- ``context``: per-process Settings / engine / Redis; ``metrics``: counters for /metrics;
  ``progress``: what the watchdog reads (recorded-through marks, liveness, crashes);
  ``lasting_horse``: work horses that run many segment jobs.

The newest frame of a stream and its decoding are common's (``vigil_common.media``): the
detector reads them too.

Recording: ``segment`` (one window written and indexed) and ``jobs`` (the RQ entry point).

Features (each offers ``duties(settings)``; none imports another): ``snapshots``, ``motion``,
``retention``, ``reconcile``, ``days``, ``exports``, ``homeassistant`` (MQTT discovery).

Composition root: ``main`` (``vigil recorder``: the worker, and the list of duties).
"""
