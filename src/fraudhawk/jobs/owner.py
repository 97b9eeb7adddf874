"""Who holds a job: a worker's id names its machine and process, so a worker on the same machine can
tell when the holder's process is gone without waiting for its heartbeat to go stale."""

from __future__ import annotations

import os
import socket
import uuid

HOST = socket.gethostname()


def new_owner_id() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str | None) -> bool:
    """True when `owner` was a process on this machine that no longer runs (or there is no owner)."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
