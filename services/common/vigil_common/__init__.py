"""What the services share (docs/architecture.md has the map and the import rules): ``contract``
(the formats between processes), ``bus`` (MQTT), ``runtime`` (settings, logging, lifecycle,
counters), ``db`` (models, engine, migrations; server side) and ``cli`` (the ``vigil`` command)."""

__version__ = "0.1.0"
