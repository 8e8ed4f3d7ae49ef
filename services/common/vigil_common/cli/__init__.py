"""Operator tooling: the ``vigil`` command (``main``), one module per subcommand family:
``up`` (the whole stack, with ``supervisor`` and the ``embedded`` broker/Redis), ``db``
(migrate, users), ``provision`` (cameras), ``health`` (container probes), ``bench``; and
``mosquitto_passwd`` for the broker's password files. Nothing in a service imports this."""
