"""`vigil user` and the user functions: resets keep the role and end sessions."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Session, User
from vigil_common.db.users import bootstrap_admin, set_user, verify_password

pytestmark = pytest.mark.integration


def vigil(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_DATABASE_URL": database_url}
    env.pop("VIGIL_ADMIN_PASSWORD", None)
    return subprocess.run([sys.executable, "-m", "vigil_common.cli.main", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


def test_passwd_keeps_the_role_and_ends_sessions(database_url: str) -> None:
    factory = make_sessionmaker(make_engine(database_url))
    generated = bootstrap_admin(factory, None)
    assert generated and bootstrap_admin(factory, None) is None  # printed once, not regenerated
    with factory.begin() as db:
        admin = db.scalars(select(User).where(User.username == "admin")).one()
        db.add(Session(token_hash="x" * 64, user_id=admin.id, csrf_token="c",
                       expires_at=datetime.now(UTC) + timedelta(hours=1)))
    out = vigil(database_url, "user", "passwd", "admin", "--password-stdin", stdin="brand-new-password\n")
    assert out.returncode == 0 and "(admin)" in out.stdout, out.stderr
    with factory() as db:
        admin = db.scalars(select(User).where(User.username == "admin")).one()
        assert admin.role == "admin" and verify_password(admin.password_hash, "brand-new-password")
        assert db.scalars(select(Session)).first() is None


def test_user_cli_add_list_delete_and_errors(database_url: str) -> None:
    assert vigil(database_url, "user", "add", "bob", "--password-stdin", stdin="longenough1\n").returncode == 0
    assert "bob\tviewer" in vigil(database_url, "user", "list").stdout
    short = vigil(database_url, "user", "add", "eve", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert vigil(database_url, "user", "add", "bad name!", "--password-stdin", stdin="x" * 9).returncode == 2
    assert vigil(database_url, "user", "passwd", "ghost", "--password-stdin", stdin="x" * 9).returncode == 1
    assert vigil(database_url, "user", "delete", "bob").returncode == 0
    assert vigil(database_url, "user", "delete", "bob").returncode == 1


def test_set_user_creates_with_role(database_url: str) -> None:
    factory = make_sessionmaker(make_engine(database_url))
    with factory.begin() as db:
        assert set_user(db, "carol", "longenough1", "admin").role == "admin"
        assert set_user(db, "dave", "longenough1").role == "viewer"


def test_a_removed_admin_account_does_not_come_back_while_another_admin_exists(database_url: str) -> None:
    """Without VIGIL_ADMIN_PASSWORD, user `admin` is created only on a fresh install (no admin
    at all): an admin who hardened the install by removing `admin` does not get it back (with a
    new password printed in the logs) on the next start."""
    factory = make_sessionmaker(make_engine(database_url))
    with factory.begin() as db:
        set_user(db, "alice", "alice-password-1", "admin")
        set_user(db, "vera", "vera-password-1", "viewer")
    assert bootstrap_admin(factory, None) is None
    with factory() as db:
        assert db.scalars(select(User).where(User.username == "admin")).first() is None
    with factory.begin() as db:  # no admin left at all (e.g. demoted by hand): recovery creates one
        db.execute(delete(User).where(User.username == "alice"))
    assert bootstrap_admin(factory, None)
    with factory() as db:
        assert db.scalars(select(User.role).where(User.username == "admin")).one() == "admin"
