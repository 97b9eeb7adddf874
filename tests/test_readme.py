"""The README's first contact, as a new user meets it: its Python examples pasted in order into one
Python against a fresh `make run`-like server, and `make run` installing only what serving needs.

A Python block preceded by the line `<!-- readme-test: skip (why) -->` is not run: today the Account
Takeover Insights walk-through, whose data must span 1,500 accounts and 30 days (minutes of set-up;
tests/test_wire_ati.py trains on such data).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, start_server_process

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP = "<!-- readme-test: skip"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: the address the README's examples use: `make run`'s default
DOCUMENTED_URL = "http://127.0.0.1:8000"

# Runs the blocks in one namespace, as pasted into one interpreter, and names the block that failed.
RUNNER = """
import json, sys, time, traceback
namespace = {"__name__": "__main__"}
for line, code in json.load(open(sys.argv[1])):
    started = time.monotonic()
    try:
        exec(compile(code, f"README.md block at line {line}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"README.md: the Python block at line {line} failed", file=sys.stderr)
        sys.exit(1)
    print(f"block at line {line}: {time.monotonic() - started:.1f}s", flush=True)
"""


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line of the block's first code line, code) of each Python block not marked to be skipped."""
    blocks = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rpartition("\n")[2]
        if before.startswith(SKIP):
            continue
        blocks.append((text.count("\n", 0, match.start()) + 2, match.group(1)))
    return blocks


def test_python_blocks_are_found() -> None:
    sample = "x\n```python\na = 1\n```\n<!-- readme-test: skip (needs S3) -->\n```python\nb = 2\n```\n```sh\nc\n```\n"
    assert python_blocks(sample) == [(3, "a = 1\n")]


@pytest.mark.timeout(600)  # about a minute; more on a loaded machine
def test_readme_examples_run_in_order(tmp_path: Path) -> None:
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 5
    assert any(DOCUMENTED_URL in code for _, code in blocks)
    port = free_port()
    data = tmp_path / "fraudhawk-data"  # `make run`'s DATA_DIR, relative to where the examples run
    blocks = [(line, code.replace(DOCUMENTED_URL, f"http://127.0.0.1:{port}")) for line, code in blocks]
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    server = start_server_process(data, data / "s3", port)  # data / "s3" is also the default
    try:
        ran = subprocess.run(
            [sys.executable, "-c", RUNNER, "blocks.json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(ran.stdout)  # each block's time, for -s
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.count("block at line") == len(blocks), ran.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_only_what_serving_needs(tmp_path: Path) -> None:
    """`make run` on a fresh checkout installs fraudhawk without its development tools; after
    `make test`'s install (which covers serving), it installs nothing."""
    venv = tmp_path / "venv"

    def planned(target: str) -> str:
        return subprocess.run(
            ["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"], capture_output=True, text=True, check=True
        ).stdout

    fresh = planned("run")
    assert "pip install --quiet -e .\n" in fresh
    assert "[dev]" not in fresh
    assert "fraudhawk serve" in fresh
    assert "pip install --quiet -e '.[dev]'" in planned("typecheck")
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".installed-dev").touch()  # what the dev install leaves, both stamps
    (venv / ".installed-serve").touch()
    after_test = planned("run")
    assert "pip" not in after_test
    assert "fraudhawk serve" in after_test


def test_quick_start_documents_the_variables() -> None:
    quick_start = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    for name in ("`PORT`", "`HOST`", "`DATA_DIR`", "http://127.0.0.1:8000/"):
        assert name in quick_start
