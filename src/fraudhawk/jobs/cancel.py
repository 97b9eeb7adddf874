"""The caller's cancel: a job no worker has started ends at once; a running one is asked to stop and
sees the request at its next step (`Job.step`, `Job.beat`), then ends CANCELLED."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from fraudhawk.jobs.finish import finish_unclaimed
from fraudhawk.jobs.outcome import End, Outcome
from fraudhawk.jobs.table import JobTable


def request_cancel(conn: Connection, table: JobTable, key: Sequence[Any], **values: Any) -> Any:
    """Cancel the job if it has not ended, writing `values` too; the job's row as it was before (None
    if there is no such job), so the caller can tell an ended job (left unchanged) by its status."""
    if table.cancel_requested is None:
        raise ValueError(f"{table.name} jobs cannot be cancelled")
    row = conn.execute(select(table.table).where(table.where(key)).with_for_update()).first()
    if row is None or getattr(row, table.status) not in table.active:
        return row
    flag = {table.cancel_requested: True, **values}
    unstarted = table.waiting is None or getattr(row, table.status) == table.waiting
    if getattr(row, table.owner) is None and unstarted:
        finish_unclaimed(conn, table, key, Outcome(End.CANCELLED, values=flag))
        return row
    if table.cancelling is not None:
        flag[table.status] = table.cancelling
    conn.execute(update(table.table).where(table.where(key)).values(flag))
    return row
