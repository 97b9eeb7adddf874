"""Compare a change against its parent in one run: the same benchmark scripts, run alternately on the
two trees, so that the machine's drift falls on both alike.

    .venv/bin/python bench/compare.py --base e00bd16 --rounds 2 -- import_events.py
    .venv/bin/python bench/compare.py --base HEAD~3 -- predictions.py --workers 2 --seconds 10

The base is checked out into a temporary git worktree beside this checkout and run with this checkout's virtual
environment (its `src` first on PYTHONPATH), so it must need no dependency this one lacks. Each
script's output is printed whole, labelled with the tree and the round, in the order the runs were
made (base, change, base, change, ...).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(tree: Path, label: str, round_number: int, script: str, arguments: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    started = time.perf_counter()
    print(f"===== {label}, round {round_number}: bench/{script} {' '.join(arguments)}", flush=True)
    completed = subprocess.run(
        [sys.executable, str(tree / "bench" / script), *arguments], env=env, cwd=tree, check=False
    )
    print(f"===== {label}, round {round_number}: exit {completed.returncode}, {time.perf_counter() - started:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare against (e.g. the parent)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("script", help="a script in bench/, e.g. import_events.py")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the script's own arguments")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    # beside this checkout, so that the scripts find ../shared/data from either tree
    base = Path(tempfile.mkdtemp(prefix=".fraudhawk-base-", dir=ROOT.parent))
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.base], cwd=ROOT, check=True)
    try:
        for round_number in range(1, args.rounds + 1):
            run(base, f"base {args.base}", round_number, args.script, args.arguments)
            run(ROOT, f"change {head} (+ working tree)", round_number, args.script, args.arguments)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
