"""What every service process runs on: ``settings`` (the ``VIGIL_`` environment) and its
``bounds``, ``logsetup``, ``lifecycle`` (signals, retries with backoff) and ``counters``
(metrics to Redis)."""
