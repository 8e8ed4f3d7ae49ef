"""Vigil's benchmarks, outside the services so no image ships them (``vigil bench NAME``;
``make bench`` runs them all). Each prints its figure and the ratio to a raw baseline measured
in the same run; results are recorded in docs/benchmarks.md.

- ``capture``: the capture pipeline vs bare ``cv2.imencode``;
- ``ingest``: ingest throughput vs a bare paho subscriber, publish -> Redis latency;
- ``noloss``: several cameras end to end, every frame inside a recording;
- ``recorder``: JPEG -> H.264 segments vs bare PyAV;
- ``recorder_scale``: recorder workers N=1 vs N=2.
"""
