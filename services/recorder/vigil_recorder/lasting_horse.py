"""Work horses that run many segment jobs: forked once, then fed one job at a time over a pipe.

RQ forks a work horse per job, so a crash inside libav kills one job and not the worker. With a
job per camera per 10 s window, the fork costs more than the job (docs/benchmarks.md): the fork
of a 100 MB worker, about 6400 copy-on-write and zero-fill page faults after it, and every
connection and cache started cold, ≈ 30 ms of CPU on a job of ≈ 17 ms. A lasting horse keeps
what the fork is for (its own process and process group: a crash, the job timeout or RQ's
stop-job command kills it and not the worker, which forks a fresh one for the next job) and
pays for the fork once per ``VIGIL_RECORDER_HORSE_JOBS`` jobs, after which the horse retires
(bounding what a slow leak in a library can grow to); a job that failed or timed out retires it
too, so no job runs on state another one was cut off in.

The worker side is :class:`LastingHorse`; :class:`vigil_recorder.main.RecorderWorker` hands it
the jobs from RQ's ``fork_work_horse`` and waits for it in ``wait_for_horse``, so RQ's own
monitoring loop (heartbeats, the hard kill after the job timeout, the handling of a horse that
died or was stopped) applies unchanged. The protocol, two pipes: the worker writes one request
line per job (:func:`encode_request`) and reads one byte back, :data:`DONE` (the horse waits
for the next job) or :data:`RETIRING` (done, and the horse exits). End of file on either pipe
means the other side is gone: the horse exits when the worker's end closes (it stopped) or the
worker is gone (checked every second: other processes the worker forked may hold the pipe open),
and the worker reaps a horse whose reply pipe ends without a reply.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import select
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rq.executions import Execution

if TYPE_CHECKING:
    from resource import struct_rusage

    from rq.worker import Worker

log = logging.getLogger(__name__)

DONE = b"."
RETIRING = b"R"
# An idle horse that has not exited this long after its requests pipe closed is killed.
RETIRE_TIMEOUT_S = 5.0
# How often an idle horse checks that the worker that forked it still lives.
PARENT_CHECK_S = 1.0
# The wait status of a horse that ended without replying but exited 0 (it must not read as a
# finished job: RQ then checks the job's own status and fails it if it did not finish).
EXITED_WITHOUT_REPLY = 1 << 8


@dataclass(frozen=True, slots=True)
class Request:
    job_id: str
    execution_id: str
    queue: str


def encode_request(req: Request) -> bytes:
    """One line (well under PIPE_BUF, so a single atomic write)."""
    line = json.dumps({"job": req.job_id, "execution": req.execution_id, "queue": req.queue},
                      separators=(",", ":")).encode() + b"\n"
    if len(line) > 4096:
        raise ValueError("job request too long for one pipe write")
    return line


def decode_request(line: bytes) -> Request:
    data = json.loads(line)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("job", "execution", "queue")):
        raise ValueError(f"malformed job request: {line[:120]!r}")
    return Request(data["job"], data["execution"], data["queue"])


class LastingHorse:
    """The worker's handle on one lasting horse: its pid and the worker's ends of the pipes.

    :meth:`wait` runs inside RQ's monitoring loop, whose alarm (every few seconds, to renew the
    heartbeats) raises out of whatever is running. A reply is therefore read with that alarm
    held off and kept (:attr:`result`) until the next job is sent: a wait cut short after the
    reply was read returns the same result when RQ calls it again, instead of blocking on a
    horse that has nothing more to say."""

    def __init__(self, pid: int, requests_fd: int, replies_fd: int) -> None:
        self.pid = pid
        self._requests = requests_fd
        self._replies = replies_fd
        self.exited = False
        self.busy = False  # a job was sent and its result not read yet
        self.result: tuple[int, int, struct_rusage | None] | None = None
        self.jobs = 0

    @classmethod
    def fork(cls, worker: Worker, max_jobs: int) -> LastingHorse:
        """Fork a horse from ``worker`` (it never returns in the child)."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the horse
            os.close(req_w)
            os.close(rep_r)
            serve(worker, req_r, rep_w, max_jobs, parent)
        os.close(req_r)
        os.close(rep_w)
        # The horse makes itself a process group leader too; doing it from here as well means a
        # kill of the group right after the fork never reaches the worker's own group.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        log.debug("forked lasting work horse %d", pid)
        return cls(pid, req_w, rep_r)

    def alive(self) -> bool:
        """True while the horse runs (reaps it if it has ended)."""
        if self.exited:
            return False
        try:
            pid, _status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid = self.pid
        if pid:
            self._ended()
        return not self.exited

    def send(self, req: Request) -> bool:
        """Hand the horse a job; False if it is gone (it is then reaped)."""
        if self.exited:
            return False
        try:
            os.write(self._requests, encode_request(req))
        except BrokenPipeError:
            self._reap()
            return False
        self.result = None
        self.busy = True
        self.jobs += 1
        return True

    def wait(self) -> tuple[int, int, struct_rusage | None]:
        """Block until the horse has finished its job (``(pid, 0, None)``) or ended: then the
        ``os.wait4`` triple, never a 0 status for a horse that did not reply. Interruptible by
        the signals RQ's monitoring loop raises through (its death penalty), as ``os.wait4`` is,
        but never between reading a reply and keeping it."""
        while self.result is None:
            if self.exited:  # reaped without a reply (a refused send, a retire)
                self.result = (self.pid, EXITED_WITHOUT_REPLY, None)
                break
            select.select([self._replies], [], [])  # the alarm may raise here: nothing read yet
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            try:
                reply = os.read(self._replies, 1)
                if reply == DONE:
                    self.result = (self.pid, 0, None)
                else:
                    pid, status, rusage = self._reap()
                    self.result = (pid, status if reply == RETIRING else status or EXITED_WITHOUT_REPLY, rusage)
                self.busy = False
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return self.result

    def retire(self) -> None:
        """Close the requests pipe: an idle horse exits on it (killed if it has not within a few
        seconds); a busy one (the worker's loop ended during a job) is left to finish that job."""
        if self.exited:
            return
        with contextlib.suppress(OSError):
            os.close(self._requests)
        deadline = time.monotonic() + RETIRE_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.05)
        if self.busy:
            log.warning("lasting work horse %d is still running a job: left to finish it", self.pid)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> tuple[int, int, struct_rusage | None]:
        try:
            pid, status, rusage = os.wait4(self.pid, 0)
        except ChildProcessError:
            pid, status, rusage = self.pid, 0, None
        self._ended()
        return pid, status, rusage

    def _ended(self) -> None:
        for fd in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.exited = True


def _next_request(fd: int, buffer: bytearray, parent: int) -> bytes | None:
    """The next request line, or None once the worker's end is closed or the worker is gone
    (other processes it forked may hold the pipe open: its pid is checked every second)."""
    while b"\n" not in buffer:
        ready, _, _ = select.select([fd], [], [], PARENT_CHECK_S)
        if not ready:
            if os.getppid() != parent:
                return None
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line + b"\n"


def serve(worker: Worker, requests_fd: int, replies_fd: int, max_jobs: int, parent: int) -> None:
    """The horse: run the jobs the worker sends, each as RQ's own work horse runs it
    (``perform_job``: the job's timeout, its result or failure, the registries), until the
    worker's end closes, the worker is gone, ``max_jobs`` are done or a job failed (a job cut
    off by its timeout may leave state behind: the next one gets a fresh horse). Never returns."""
    code = 1
    try:
        os.setpgrp()  # as RQ's horse: the stop-job command and the hard kill take the group
        random.seed()
        worker.setup_work_horse_signals()
        os.environ["RQ_WORKER_ID"] = worker.name
        buffer = bytearray()
        served = 0
        while (line := _next_request(requests_fd, buffer, parent)) is not None:
            req = decode_request(line)
            job = worker.job_class.fetch(req.job_id, connection=worker.connection, serializer=worker.serializer)
            execution = Execution.fetch(req.execution_id, req.job_id, connection=worker.connection)
            queue = next(q for q in worker.queues if q.name == req.queue)
            # This process's view of the worker's executions is the one at the fork.
            worker.executions.clear()
            worker.executions[execution.id] = execution
            os.environ["RQ_JOB_ID"] = job.id
            ok = worker.perform_job(job, queue, execution)
            served += 1
            retiring = served >= max_jobs or not ok
            os.write(replies_fd, RETIRING if retiring else DONE)
            if retiring:
                break
        code = 0
    except BaseException:  # the horse ends here, whatever happened: the worker sees it end
        log.exception("lasting work horse %d failed", os.getpid())
    finally:
        os._exit(code)
