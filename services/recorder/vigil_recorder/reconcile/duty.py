"""Reconciliation of the segment files with the index (a duty; at once when this recorder
becomes the duties leader, then every ``VIGIL_RECONCILE_INTERVAL_S``).

Each run:

1. finishes deletions a retention pass left marked (``deleting``);
2. checks every *changed* day directory (:func:`vigil_recorder.reconcile.dirs.check_day`):
   indexes orphan files from their metadata box (a job that failed after writing its file,
   e.g. while the database was down), removes stale ``.partial`` temporaries, drops rows
   whose file is gone;
3. reconciles storage accounting: the bytes on disk (from the walk) against the index's
   ``SUM(bytes)``, into ``vigil:storage`` (``bytes_disk``, ``reconciled_at``);
4. on a completed full sweep, removes unindexed stills past retention
   (:mod:`vigil_recorder.reconcile.stills`).

Cost. A day directory is re-read only if its mtime changed since it was last found
consistent (creating, renaming or deleting a file changes it), or it vanished; the clean
ones are remembered in the Redis hash ``vigil:reconcile:dirs`` (mtime, bytes), so a new
leader continues where the last one stopped. So a steady run lists the camera and day
directories (cameras x days ``stat`` calls) and re-reads only today's directories. Once a
day (and whenever that state is lost) a full sweep re-reads every directory and also
checks the days the index has but the disk does not: one indexed range query and one
``scandir`` per day directory, O(segments) in total. A run stops after ``BUDGET_S`` seconds
and continues a second later, so other duties are never held up for long.

Safety. Rows are never dropped when the recordings directory has no day directory at all
while the index has rows (an unmounted disk looks exactly like that).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import redis
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.db.models import Segment
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import Duty, DutyContext
from vigil_recorder.reconcile.dirs import DirResult, check_day, rel_dir
from vigil_recorder.reconcile.stills import sweep_unindexed_stills
from vigil_recorder.storage import disk
from vigil_recorder.storage import paths as storage
from vigil_recorder.storage.delete import finish_marked, storage_lock
from vigil_recorder.storage.figures import first_line as _first_line
from vigil_recorder.storage.figures import human, publish_counts, write_storage
from vigil_recorder.storage.plan import policy_from
from vigil_recorder.storage.reclaim import with_overrides

log = logging.getLogger(__name__)

DIRS_KEY = f"{keys.PREFIX}:reconcile:dirs"  # rel dir -> "mtime_ns:bytes:files:checked_at"
SWEEP_KEY = f"{keys.PREFIX}:reconcile:sweep"  # start time of the full sweep in progress
FULL_KEY = f"{keys.PREFIX}:reconcile:full"  # exists while the last full sweep is recent
SWEPT_KEY = f"{keys.PREFIX}:reconcile:swept"  # rel dir -> bytes, checked by the unfinished run series
FULL_EVERY_S = 24 * 3600
BUDGET_S = 5.0
CONTINUE_AFTER_S = 1.0
SETTLE_S = 2.0  # a directory changed this recently is not remembered as clean (mtime granularity)


def default_partial_age_s(settings: Settings) -> float:
    """Temporaries older than this belong to dead writers: well above the job timeout
    (``max(60, 6 x segment)`` s), and never under ten minutes."""
    return max(600.0, 12.0 * settings.segment_seconds)


@dataclass(frozen=True, slots=True)
class Entry:
    mtime_ns: int
    size: int
    files: int
    checked_at: float

    def encode(self) -> str:
        return f"{self.mtime_ns}:{self.size}:{self.files}:{self.checked_at:.3f}"

    @classmethod
    def decode(cls, raw: bytes | str) -> Entry | None:
        try:
            text = raw.decode() if isinstance(raw, bytes) else raw
            m, b, f, c = text.split(":")
            return cls(int(m), int(b), int(f), float(c))
        except ValueError:
            return None


@dataclass(slots=True)
class Report:
    result: DirResult = field(default_factory=DirResult)
    finished: int = 0
    checked: int = 0
    skipped: int = 0
    full: bool = False
    complete: bool = True
    bytes_disk: int | None = None  # only when every directory was accounted for
    bytes_index: int = 0
    stills_removed: int = 0  # unindexed snapshot/thumbnail files past retention (full sweeps)

    def metric_deltas(self) -> dict[str, int]:
        r = self.result
        return {
            sample_name("vigil_recorder_reconcile_indexed_total"): r.indexed,
            sample_name("vigil_recorder_reconcile_dropped_total"): r.dropped,
            sample_name("vigil_recorder_reconcile_partials_removed_total"): r.partials_removed,
            sample_name("vigil_recorder_reconcile_unindexable_total"): r.unindexable,
            sample_name("vigil_recorder_reconcile_stills_removed_total"): self.stills_removed,
            sample_name("vigil_recorder_reconcile_runs_total", full=str(self.full).lower()): 1,
        }


def _day_dir(settings: Settings, camera_id: str, day: date) -> disk.DayDir:
    return disk.DayDir(camera_id, day, settings.recordings_dir / camera_id / day.isoformat())


def _from_rel(settings: Settings, rel: str) -> disk.DayDir | None:
    parts = rel.split("/")
    day = disk.parse_day(parts[-1]) if len(parts) == 3 and parts[0] == storage.RECORDINGS else None
    return None if day is None else _day_dir(settings, parts[1], day)


def index_days(settings: Settings, sessions: sessionmaker[Session]) -> list[disk.DayDir]:
    """Every day (in the server time zone) between each camera's first and last segment,
    one day wider on each side: where the index says files should be."""
    tz = settings.tz
    out: list[disk.DayDir] = []
    with sessions() as s:
        spans = s.execute(
            select(Segment.camera_id, func.min(Segment.start), func.max(Segment.start)).group_by(Segment.camera_id)
        ).all()
    for cam, first, last in spans:
        day = first.astimezone(tz).date() - timedelta(days=1)
        end = last.astimezone(tz).date() + timedelta(days=1)
        while day <= end:
            out.append(_day_dir(settings, cam, day))
            day += timedelta(days=1)
    return out


def _index_bytes(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        n, b = s.execute(
            select(func.count(), func.coalesce(func.sum(Segment.bytes), 0)).where(Segment.deleting.is_(False))
        ).one()
    return int(n), int(b)


def reconcile(settings: Settings, sessions: sessionmaker[Session], client: redis.Redis, *,
              partial_age_s: float | None = None, budget_s: float | None = None, full: bool | None = None,
              now: float | None = None) -> Report:
    """One run (see the module docstring). ``full`` forces (or suppresses) a full sweep;
    ``budget_s`` None = no time limit."""
    started = time.monotonic()
    now = time.time() if now is None else now
    age = default_partial_age_s(settings) if partial_age_s is None else partial_age_s
    report = Report()
    with storage_lock(client):
        report.finished = finish_marked(settings.data_dir, sessions).rows
    report.full = not client.exists(FULL_KEY) if full is None else full
    sweep_start = 0.0
    if report.full:
        raw = client.get(SWEEP_KEY)
        sweep_start = float(raw) if isinstance(raw, bytes) else now
        client.set(SWEEP_KEY, f"{sweep_start:.3f}", ex=FULL_EVERY_S)
    cache: dict[str, Entry] = {}
    for k, v in client.hgetall(DIRS_KEY).items():
        e = Entry.decode(v)
        if e is not None:
            cache[k.decode() if isinstance(k, bytes) else str(k)] = e

    on_disk = list(disk.day_dirs(settings.recordings_dir))
    index_count, report.bytes_index = _index_bytes(sessions)
    allow_drop = bool(on_disk) or index_count == 0
    if not allow_drop:
        log.error("the index holds %d segments but %s has no day directories: is the disk mounted? "
                  "No rows are dropped until it has", index_count, settings.recordings_dir)

    # A run cut short by its budget leaves what it checked in SWEPT_KEY; the next runs skip
    # those, so a series of runs always progresses and ends.
    swept = {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in client.hgetall(SWEPT_KEY).items()}
    todo: list[tuple[disk.DayDir, int | None]] = []
    seen: set[str] = set()
    bytes_disk = 0
    for d in on_disk:
        rel = rel_dir(d)
        seen.add(rel)
        mtime = disk.dir_mtime_ns(d.path)
        e = cache.get(rel)
        if rel in swept:
            bytes_disk += swept[rel]
            report.skipped += 1
        elif e is not None and e.mtime_ns == mtime and (not report.full or e.checked_at >= sweep_start):
            bytes_disk += e.size
            report.skipped += 1
        else:
            todo.append((d, mtime))
    for rel in cache.keys() - seen:  # vanished since it was last seen
        gone = _from_rel(settings, rel)
        if gone is None:
            client.hdel(DIRS_KEY, rel)
        elif rel not in swept:
            todo.append((gone, None))
            seen.add(rel)
    if report.full:
        todo += [(d, None) for d in index_days(settings, sessions) if rel_dir(d) not in seen | swept.keys()]

    for d, mtime in todo:
        if budget_s is not None and report.checked and time.monotonic() - started > budget_s:
            report.complete = False
            break
        with storage_lock(client):
            r = check_day(settings, sessions, d, partial_age_s=age, allow_drop=allow_drop, now=now)
        report.checked += 1
        report.result.add(r)
        bytes_disk += r.bytes
        rel = rel_dir(d)
        if mtime is not None and r.settled and mtime < (now - SETTLE_S) * 1e9:
            client.hset(DIRS_KEY, rel, Entry(mtime, r.bytes, r.files, now).encode())
        else:
            client.hdel(DIRS_KEY, rel)
        if budget_s is not None:
            client.hset(SWEPT_KEY, rel, r.bytes)
            client.expire(SWEPT_KEY, FULL_EVERY_S)
    if report.complete:
        client.delete(SWEPT_KEY)

    if report.full and report.complete:
        policy = policy_from(with_overrides(settings, sessions))  # retention as changed at run time
        with storage_lock(client):
            report.stills_removed = sweep_unindexed_stills(
                settings.data_dir, sessions, settings.tz, datetime.fromtimestamp(now, UTC),
                snapshot_keep=policy.retention, thumbnail_keep=policy.keep_motion).files
        client.set(FULL_KEY, f"{now:.3f}", ex=FULL_EVERY_S)
        client.delete(SWEEP_KEY)
    if report.complete:
        report.bytes_disk = bytes_disk
        _account(client, report, now)
    _log(report, time.monotonic() - started)
    publish_counts(client, report.metric_deltas())
    return report


def _account(client: redis.Redis, report: Report, now: float) -> None:
    disk_b, index_b = report.bytes_disk or 0, report.bytes_index
    if abs(disk_b - index_b) > max(index_b // 100, 1 << 20):
        log.warning("storage accounting: segment files on disk hold %s, the index says %s",
                    human(disk_b), human(index_b))
    write_storage(client, {"bytes_disk": disk_b, "bytes_index_segments": index_b, "reconciled_at": f"{now:.3f}"})


def _log(report: Report, took: float) -> None:
    r = report.result
    busy = report.finished or r.indexed or r.dropped or r.partials_removed or r.unindexable or r.conflicts
    (log.info if busy or report.full else log.debug)(
        "reconcile%s: %d directories checked, %d unchanged; indexed %d orphans, dropped %d rows without file, "
        "removed %d partials, finished %d deletions, %d unindexable, %d conflicts%s (%.1fs)",
        " (full sweep)" if report.full else "", report.checked, report.skipped, r.indexed, r.dropped,
        r.partials_removed, report.finished, r.unindexable, r.conflicts,
        "" if report.complete else "; continuing", took,
    )


def duties(settings: Settings) -> list[Duty]:
    """The reconcile duty; an unfinished run (time budget) continues a second later."""
    duty = Duty("reconcile", settings.reconcile_interval_s, lambda _ctx: None)

    def run(ctx: DutyContext) -> None:
        try:
            report = reconcile(ctx.settings, ctx.sessions, ctx.redis, budget_s=BUDGET_S)
        except (SQLAlchemyError, redis.RedisError) as exc:  # an outage: one line, not a traceback
            log.warning("reconcile skipped, it runs again in %.0fs: %s", duty.interval_s, _first_line(exc))
            return
        if not report.complete:
            duty.next_at = time.monotonic() + CONTINUE_AFTER_S

    duty.run = run
    return [duty]
