"""The API reports the delivery channel the notifier actually uses (published by the notifier
when it starts), not one guessed from the API process's own environment."""


from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import Api
from tests.integration.support.notifier import API_KEY, SENDER
from vigil_common.db.models import Notification
from vigil_common.runtime.settings import Settings
from vigil_notifier.service import NotifierService

pytestmark = pytest.mark.integration
BASE = "/api/v1/notifications"


def test_settings_and_test_rows_carry_the_notifiers_channel(api: Api, factory: sessionmaker[Session],
                                                            settings: Settings) -> None:
    csrf = api.login()
    h = {"X-CSRF-Token": csrf}
    assert api.client.get(f"{BASE}/settings").json()["channel"] == "console"  # never ran: the API's guess
    # The notifier runs elsewhere, with the SendGrid key the API process does not have.
    notifier = NotifierService(Settings(_env_file=None, **(settings.model_dump() | {  # type: ignore[call-arg]
        "sendgrid_api_key": API_KEY, "email_from": SENDER})))
    try:
        notifier.publish_identity()
    finally:
        notifier.redis.close()
        notifier.engine.dispose()
    assert api.client.get(f"{BASE}/settings").json()["channel"] == "sendgrid"
    r = api.client.put(f"{BASE}/settings", json={"offline_grace_s": 90}, headers=h)
    assert r.status_code == 200 and r.json()["channel"] == "sendgrid"
    r = api.client.post(f"{BASE}/test", json={"to": ["me@example.org"]}, headers=h)
    assert r.status_code == 202
    with factory() as db:
        row = db.get(Notification, r.json()["id"])
        assert row is not None and row.channel == "sendgrid"
    assert api.client.get(BASE).json()["items"][0]["channel"] == "sendgrid"
    # The channel is not a setting an admin can write.
    assert api.client.put(f"{BASE}/settings", json={"channel": "smtp"}, headers=h).status_code == 422
