"""The contracts between Vigil's services, and with cameras and integrations (docs/protocol.md):
what crosses a process boundary, defined once. Pure definitions and the small helpers that
read or write exactly that format; nothing here starts a connection of its own.

- MQTT: ``topics``, ``messages``, ``envelope`` (VGF1), ``jpeg``, ``broker_acl``;
- identifiers: ``ids``; errors for refused input: ``errors``;
- Redis: ``keys``, ``streams`` (frame entries), ``windows`` (segment windows),
  ``storage_figures``, ``recorder_jobs`` (the recorder's jobs: names, ids, queues);
- files and time: ``paths`` (files named by index rows), ``days``, ``exports``, ``sizes``;
- the recording watchdog's decision: ``recording_watch``.
"""
