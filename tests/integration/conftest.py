"""Fixtures of the integration tests, shared by every service's directory (the basic ones,
``settings`` and the real broker, Redis and database URLs, are tests/conftest.py's). The
helpers behind them live in tests/integration/support/; test modules import helpers from
there, and get these fixtures from here."""

from tests.integration.support.api import api, api_process, factory, rds  # noqa: F401
from tests.integration.support.days import client  # noqa: F401
from tests.integration.support.exports import footage  # noqa: F401
from tests.integration.support.ingest import publisher  # noqa: F401
from tests.integration.support.notifier import capture  # noqa: F401
from tests.integration.support.recorder import forks  # noqa: F401
from tests.integration.support.retention import rclient, sessions  # noqa: F401
