"""``vigil migrate`` and ``vigil user add|passwd|delete|list``."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys

from sqlalchemy import select

from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    env = os.environ.get("VIGIL_NEW_PASSWORD")
    if env:
        return env
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("vigil user: passwords differ")
    return first


def check_admin_password(settings: Settings) -> None:
    from vigil_common.db.users import MIN_PASSWORD_LENGTH

    if settings.admin_password and len(settings.admin_password.get_secret_value()) < MIN_PASSWORD_LENGTH:
        raise SystemExit(f"VIGIL_ADMIN_PASSWORD must be at least {MIN_PASSWORD_LENGTH} characters")


def _migrate(settings: Settings) -> int:
    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.db.migrate import upgrade
    from vigil_common.db.users import bootstrap_admin

    url = settings.effective_database_url()
    check_admin_password(settings)
    upgrade(url)
    engine = make_engine(url)
    try:
        password = bootstrap_admin(
            make_sessionmaker(engine),
            settings.admin_password.get_secret_value() if settings.admin_password else None,
        )
    finally:
        engine.dispose()
    if password:
        print(f"created user 'admin' with password: {password}\n(shown once; set VIGIL_ADMIN_PASSWORD to reset)")
    return 0


def main(argv: list[str]) -> int:
    from vigil_common.db.users import USERNAME_PATTERN

    command, rest = argv[0], argv[1:]
    settings = Settings()
    setup_logging(command, settings.log_level, settings.log_format)
    if command == "migrate":
        argparse.ArgumentParser(prog="vigil migrate", description="apply database migrations").parse_args(rest)
        return _migrate(settings)

    parser = argparse.ArgumentParser(prog="vigil user", description="manage users")
    sub = parser.add_subparsers(dest="action", required=True)
    for action in ("add", "passwd"):
        p = sub.add_parser(action)
        p.add_argument("username")
        p.add_argument("--role", choices=["admin", "viewer"], default="viewer" if action == "add" else None,
                       help="role (add: default viewer; passwd: keep the current role)")
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("delete").add_argument("username")
    sub.add_parser("list")
    args = parser.parse_args(rest)

    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.db.models import User
    from vigil_common.db.users import delete_user, set_user

    engine = make_engine(settings.effective_database_url())
    factory = make_sessionmaker(engine)
    try:
        if args.action == "list":
            with factory() as db:
                for user in db.scalars(select(User).order_by(User.username)):
                    print(f"{user.username}\t{user.role}\t{user.created_at.isoformat()}")
            return 0
        if not re.fullmatch(USERNAME_PATTERN, args.username):
            print(f"vigil user: invalid username (allowed: {USERNAME_PATTERN})", file=sys.stderr)
            return 2
        if args.action == "delete":
            with factory.begin() as db:
                if not delete_user(db, args.username):
                    print(f"vigil user: no user {args.username!r}", file=sys.stderr)
                    return 1
            print(f"deleted {args.username}")
            return 0
        password = _read_password(args)
        with factory.begin() as db:
            exists = db.scalars(select(User.id).where(User.username == args.username)).first() is not None
            if args.action == "passwd" and not exists:
                print(f"vigil user: no user {args.username!r} (use `vigil user add`)", file=sys.stderr)
                return 1
            try:
                user = set_user(db, args.username, password, args.role)
            except ValueError as exc:
                print(f"vigil user: {exc}", file=sys.stderr)
                return 2
            role = user.role
        print(f"{'created' if args.action == 'add' else 'updated'} {args.username} ({role})")
        return 0
    finally:
        engine.dispose()
