"""A process killed in the middle of a write leaves the store either before or after it, never between."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fraudhawk

ELEMENTS = 100_000


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_kill_during_large_list_write(tmp_path: Path, delay: float) -> None:
    data = tmp_path / "data"
    with fraudhawk.Client(data_dir=data) as client:  # migrate first, so the kill lands in the write
        client.put_label(name="before")
    request = json.dumps({"name": "huge", "elements": [f"element_{i}" for i in range(ELEMENTS)]})
    process = subprocess.Popen(
        [sys.executable, "-m", "fraudhawk.cli", "call", "CreateList", "-", "--data-dir", str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(request.encode())
    process.stdin.close()
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    with fraudhawk.Client(data_dir=data) as client:
        assert [label["name"] for label in client.get_labels()["labels"]] == ["before"]
        try:
            client.get_lists_metadata(name="huge")
        except client.exceptions.ResourceNotFoundException:
            return  # killed before the commit: nothing of it is visible
        count, token = 0, None
        while True:
            page = client.get_list_elements(name="huge", maxResults=5000, **({"nextToken": token} if token else {}))
            count += len(page["elements"])
            token = page.get("nextToken")
            if not token:
                break
        assert count == ELEMENTS  # committed: all of it
