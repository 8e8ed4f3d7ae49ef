"""Engine and session factory for PostgreSQL (psycopg 3) or embedded SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.db.models import Base


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` / ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, sqlite_immediate: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``. ``sqlite_immediate``: on SQLite, take the write lock when a
    transaction begins (for writers that read first: a deferred transaction upgrading its
    lock fails at once with "database is locked" when another process committed meanwhile,
    without waiting for the busy timeout)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _rec: Any) -> None:
            if sqlite_immediate:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        if sqlite_immediate:

            @event.listens_for(engine, "begin")
            def _begin_immediate(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, connect_args={"connect_timeout": 10}, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upsert(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]] | dict[str, Any],
    *,
    conflict: Iterable[str],
    update: Iterable[str] = (),
) -> None:
    """INSERT ... ON CONFLICT (conflict) DO UPDATE SET update (or DO NOTHING), on either backend."""
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model)
    stmt = ins.values(rows)
    update = list(update)
    conflict = list(conflict)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=conflict, set_={c: getattr(stmt.excluded, c) for c in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=conflict)
    session.execute(stmt)
