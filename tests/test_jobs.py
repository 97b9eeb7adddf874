"""The job framework on a table of its own (names unlike any kind's, as a new kind would bring), on a
real SQLite file and on PostgreSQL: atomic claims across processes, stale takeover, cancel, resume
after the last committed step, and the end of a job that cannot resume."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, String, Table, Text, insert, select, update

from fraudhawk.jobs import (
    COMPLETE,
    Cancelled,
    Deferred,
    Job,
    JobTable,
    Kind,
    LostClaim,
    Outcome,
    Seen,
    Stopping,
    claim,
    failed,
    new_owner_id,
    request_cancel,
    run_pending,
)
from fraudhawk.jobs import Worker as JobWorker
from fraudhawk.storage.database import Database

_metadata = MetaData()
runs = Table(
    "test_runs",
    _metadata,
    Column("run_id", String(64), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("queued_ms", BigInteger, nullable=False),
    Column("holder", String(128)),
    Column("beat_ms", BigInteger),
    Column("stop_wanted", Boolean, nullable=False),
    Column("why", Text),
    Column("finished_ms", BigInteger),
    Column("steps_done", Integer, nullable=False),
)
# What each step did, once: the primary key refuses a step done twice.
steps_table = Table(
    "test_run_steps",
    _metadata,
    Column("run_id", String(64), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("done_by", String(128), nullable=False),
)
RUNS = JobTable(
    runs,
    key=("run_id",),
    active=("QUEUED", "RUNNING", "STOPPING"),
    complete="DONE",
    failed="BROKEN",
    cancelled="STOPPED",
    waiting="QUEUED",
    running="RUNNING",
    cancelling="STOPPING",
    order=("queued_ms",),
    status="state",
    owner="holder",
    heartbeat="beat_ms",
    cancel_requested="stop_wanted",
    reason="why",
    ended="finished_ms",
)
INTERRUPTED = failed("its worker went away")
_spawn = multiprocessing.get_context("spawn")


@pytest.fixture
def url(backend_url: str) -> str:
    db = Database(backend_url)
    _metadata.create_all(db.engine)
    db.dispose()
    return backend_url


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url)
    yield database
    database.dispose()


def queue_run(db: Database, run_id: str, *, at: int = 0) -> None:
    with db.write() as conn:
        conn.execute(insert(runs).values(run_id=run_id, state="QUEUED", queued_ms=at, stop_wanted=False, steps_done=0))


def run_row(db: Database, run_id: str) -> Any:
    with db.read() as conn:
        return conn.execute(select(runs).where(runs.c.run_id == run_id)).one()


def done_by(db: Database, run_id: str) -> list[tuple[int, str]]:
    with db.read() as conn:
        query = select(steps_table.c.step, steps_table.c.done_by).where(steps_table.c.run_id == run_id)
        return [tuple(row) for row in conn.execute(query.order_by(steps_table.c.step))]


def counting(total: int, pause: float = 0.0) -> Callable[[Job], Outcome]:
    """A resumable kind's steps: step n is recorded with the job's progress (n) in one commit."""

    def run(job: Job) -> Outcome:
        with job.step() as step:
            step.start()
        done = job.row.steps_done
        while done < total:
            if job.stopping():
                raise Stopping
            time.sleep(pause)
            with job.step() as step:
                done = step.row.steps_done + 1
                step.conn.execute(insert(steps_table).values(run_id=job.key[0], step=done, done_by=job.owner))
                step.progress(steps_done=done)
            if step.cancel_requested:
                raise Cancelled
        return COMPLETE

    return run


def wait_for(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- helpers run in processes of their own -------------------------------------------------------


def _race(url: str, keys: list[str], barrier: Any, results: Any) -> None:
    db = Database(url)
    owner = new_owner_id()
    barrier.wait()
    won = [key for key in keys if claim(db, RUNS, (key,), owner).seen is Seen.CLAIMED]
    results.put(won)
    db.dispose()


def _claim_and_exit(url: str, key: str) -> None:
    db = Database(url)
    assert claim(db, RUNS, (key,), new_owner_id()).seen is Seen.CLAIMED
    db.dispose()


def _work_until_killed(url: str, total: int) -> None:
    db = Database(url)
    worker = JobWorker(db)
    worker.register(Kind("counting", RUNS, counting(total, pause=0.05)))
    worker.run()  # in this thread, until the test kills the process


def _in_process(target: Callable[..., None], *args: Any) -> Any:
    process = _spawn.Process(target=target, args=args)
    process.start()
    return process


# --- the contract ---------------------------------------------------------------------------------


def test_a_job_table_names_columns_its_table_has() -> None:
    with pytest.raises(ValueError, match="holder_id"):
        replace(RUNS, owner="holder_id")
    with pytest.raises(ValueError, match="cancel_requested"):
        replace(RUNS, cancel_requested="cancel_requested")  # another kind's name: this table says stop_wanted
    with pytest.raises(ValueError, match="waiting"):
        replace(RUNS, active=("RUNNING",))


def test_a_kind_that_cannot_resume_says_how_its_jobs_end() -> None:
    with pytest.raises(ValueError, match="interruption"):
        Kind("training-like", RUNS, counting(1), resumable=False)


# --- claims ---------------------------------------------------------------------------------------


def test_two_processes_race_for_each_job_and_exactly_one_wins(url: str, db: Database) -> None:
    keys = [f"r{i:02d}" for i in range(30)]
    for key in keys:
        queue_run(db, key)
    barrier, results = _spawn.Barrier(2), _spawn.Queue()
    processes = [_in_process(_race, url, keys, barrier, results) for _ in range(2)]
    won = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert sorted(won[0] + won[1]) == keys  # every job claimed, none by both
    holders = {run_row(db, key).holder for key in keys}
    assert len(holders) == (2 if won[0] and won[1] else 1)


def test_a_held_claim_is_refused_and_a_stale_one_taken_over(db: Database) -> None:
    queue_run(db, "r1")
    first, second = new_owner_id(), new_owner_id()
    got = claim(db, RUNS, ("r1",), first)
    assert got.seen is Seen.CLAIMED
    assert claim(db, RUNS, ("r1",), second).seen is Seen.HELD  # its holder beats and its process runs
    time.sleep(0.2)
    assert claim(db, RUNS, ("r1",), second, stale_ms=100).seen is Seen.CLAIMED  # no beat for longer
    assert run_row(db, "r1").holder == second
    superseded = Job(db, RUNS, got.row, first, lambda: False)
    with pytest.raises(LostClaim):  # the first holder, thought gone, can no longer commit a step
        superseded.beat(steps_done=99)
    assert run_row(db, "r1").steps_done == 0


def test_a_claim_whose_process_is_gone_is_taken_over_at_once(url: str, db: Database) -> None:
    queue_run(db, "r1")
    process = _in_process(_claim_and_exit, url, "r1")
    process.join(timeout=60)
    assert process.exitcode == 0
    held = run_row(db, "r1").holder
    assert held is not None
    assert claim(db, RUNS, ("r1",), new_owner_id()).seen is Seen.CLAIMED  # well inside STALE_MS


# --- running, resuming, ending --------------------------------------------------------------------


def test_a_killed_job_resumes_after_its_last_committed_step(url: str, db: Database) -> None:
    total = 60
    queue_run(db, "r1")
    process = _in_process(_work_until_killed, url, total)
    try:
        wait_for(lambda: run_row(db, "r1").steps_done >= 5)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.join(timeout=60)
    killed_at = run_row(db, "r1").steps_done
    assert killed_at < total
    owner = new_owner_id()
    assert run_pending(Kind("counting", RUNS, counting(total)), db, owner, lambda: False)
    job = run_row(db, "r1")
    assert (job.state, job.holder, job.steps_done) == ("DONE", None, total)
    assert job.finished_ms is not None
    steps = done_by(db, "r1")
    assert [step for step, _ in steps] == list(range(1, total + 1))  # each step once, none lost
    assert {by for step, by in steps if step > killed_at} == {owner}
    assert owner not in {by for step, by in steps if step <= killed_at}


def test_a_stopped_worker_hands_its_job_back_for_the_next_to_resume(db: Database) -> None:
    total = 400
    queue_run(db, "r1")
    first = JobWorker(db)
    first.register(Kind("counting", RUNS, counting(total, pause=0.01)))
    first.start()
    wait_for(lambda: run_row(db, "r1").steps_done >= 3)
    first.stop()
    stopped = run_row(db, "r1")
    assert (stopped.state, stopped.holder) == ("RUNNING", None)
    assert stopped.steps_done < total
    assert run_pending(Kind("counting", RUNS, counting(total)), db, new_owner_id(), lambda: False)
    assert [step for step, _ in done_by(db, "r1")] == list(range(1, total + 1))


def test_cancel_is_seen_by_the_running_job(db: Database) -> None:
    queue_run(db, "r1")
    worker = JobWorker(db)
    worker.register(Kind("counting", RUNS, counting(10_000, pause=0.01)))
    worker.start()
    try:
        wait_for(lambda: run_row(db, "r1").steps_done >= 2)
        with db.write() as conn:
            before = request_cancel(conn, RUNS, ("r1",))
        assert before.state == "RUNNING"
        assert run_row(db, "r1").state in ("STOPPING", "STOPPED")  # ends at its next step
        wait_for(lambda: run_row(db, "r1").state == "STOPPED")
    finally:
        worker.stop()
    job = run_row(db, "r1")
    assert job.holder is None
    assert job.steps_done < 10_000
    assert job.finished_ms is not None


def test_a_job_no_worker_started_is_cancelled_at_once(db: Database) -> None:
    queue_run(db, "r1")
    with db.write() as conn:
        assert request_cancel(conn, RUNS, ("r1",)).state == "QUEUED"
    job = run_row(db, "r1")
    assert (job.state, job.stop_wanted) == ("STOPPED", True)
    assert claim(db, RUNS, ("r1",), new_owner_id()).seen is Seen.HELD  # ended: nothing to claim
    with db.write() as conn:
        assert request_cancel(conn, RUNS, ("r1",)).state == "STOPPED"  # an ended job is left as it is
        assert request_cancel(conn, RUNS, ("nothing",)) is None


def test_a_job_that_cannot_resume_ends_when_its_worker_is_gone(url: str, db: Database) -> None:
    ran: list[Any] = []

    def run(job: Job) -> Outcome:
        ran.append(job.key)
        return COMPLETE

    kind = Kind("training-like", RUNS, run, resumable=False, interruption=INTERRUPTED)
    for key in ("gone", "gone-cancelled"):
        queue_run(db, key)
        process = _in_process(_claim_and_exit, url, key)
        process.join(timeout=60)
        assert process.exitcode == 0
    with db.write() as conn:
        conn.execute(update(runs).where(runs.c.run_id == "gone-cancelled").values(stop_wanted=True))
    assert run_pending(kind, db, new_owner_id(), lambda: False)
    assert ran == []  # never run again half-way
    gone, cancelled = run_row(db, "gone"), run_row(db, "gone-cancelled")
    assert (gone.state, gone.why, gone.holder) == ("BROKEN", "its worker went away", None)
    assert (cancelled.state, cancelled.holder) == ("STOPPED", None)


def test_jobs_start_in_queue_order_after_started_ones_resume(db: Database) -> None:
    order: list[str] = []

    def run(job: Job) -> Outcome:
        order.append(job.key[0])
        return COMPLETE

    queue_run(db, "late", at=3)
    queue_run(db, "early", at=1)
    queue_run(db, "started", at=2)
    with db.write() as conn:
        conn.execute(update(runs).where(runs.c.run_id == "started").values(state="RUNNING"))
    assert run_pending(Kind("recording", RUNS, run), db, new_owner_id(), lambda: False)
    assert order == ["started", "early", "late"]
    assert {run_row(db, key).state for key in order} == {"DONE"}


def test_a_deferred_job_is_released_to_wait(db: Database) -> None:
    def run(job: Job) -> Outcome:
        raise Deferred

    queue_run(db, "r1")
    assert not run_pending(Kind("waiting", RUNS, run), db, new_owner_id(), lambda: False)
    job = run_row(db, "r1")
    assert (job.state, job.holder) == ("QUEUED", None)


def test_a_failing_job_ends_failed_with_its_reason(db: Database) -> None:
    def run(job: Job) -> Outcome:
        raise RuntimeError("the disk is full")

    queue_run(db, "r1")
    assert run_pending(Kind("failing", RUNS, run), db, new_owner_id(), lambda: False)
    job = run_row(db, "r1")
    assert (job.state, job.why, job.holder) == ("BROKEN", "The job stopped: the disk is full", None)


def test_the_worker_wakes_for_a_new_job(db: Database) -> None:
    worker = JobWorker(db)
    worker.register(Kind("counting", RUNS, counting(3)))
    seen = threading.Event()

    def look(owner: str, stopping: Callable[[], bool]) -> bool:
        seen.set()
        return False

    worker.every(look)
    worker.start()
    try:
        with pytest.raises(RuntimeError):
            worker.register(Kind("late", RUNS, counting(1)))  # what a worker runs is fixed when it starts
        seen.wait(30)
        queue_run(db, "r1")
        worker.wake()
        wait_for(lambda: run_row(db, "r1").state == "DONE", timeout=30)
    finally:
        worker.stop()
