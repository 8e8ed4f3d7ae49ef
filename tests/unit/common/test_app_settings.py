"""Runtime settings table: JSON round trip, prefix listing, key validation (SQLite in memory)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from vigil_common.db.app_settings import delete_setting, get_setting, get_settings, set_setting
from vigil_common.db.models import Base


@pytest.fixture
def db():  # type: ignore[no-untyped-def]
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_default_until_stored_then_round_trip(db: Session) -> None:
    assert get_setting(db, "alerts.recipients", ["a@x"]) == ["a@x"]
    set_setting(db, "alerts.recipients", ["b@y", "c@z"], by="admin")
    db.commit()
    assert get_setting(db, "alerts.recipients", []) == ["b@y", "c@z"]
    set_setting(db, "alerts.recipients", [])
    db.commit()
    assert get_setting(db, "alerts.recipients", ["a@x"]) == []


def test_prefix_listing_is_exact_on_the_dot(db: Session) -> None:
    set_setting(db, "retention.days", 7)
    set_setting(db, "retention.max_bytes", 1000)
    set_setting(db, "retentionx.days", 1)
    db.commit()
    assert get_settings(db, "retention") == {"days": 7, "max_bytes": 1000}


def test_delete_restores_default(db: Session) -> None:
    set_setting(db, "retention.days", 7)
    db.commit()
    assert delete_setting(db, "retention.days") is True
    db.commit()
    assert get_setting(db, "retention.days", 30) == 30
    assert delete_setting(db, "retention.days") is False


@pytest.mark.parametrize("key", ["", "A", "x;drop", "a..b", "a.", ".a", "x" * 65, "a/b", "a%"])
def test_bad_keys_refused(db: Session, key: str) -> None:
    with pytest.raises(ValueError):
        get_setting(db, key, None)
    with pytest.raises(ValueError):
        set_setting(db, key, 1)
