"""Benchmarks of the foundation: wire-server throughput and latency (wrk on loopback), and the
in-process library call. Prints the machine it ran on with every figure.

    make bench                                    # SQLite in a temporary data directory
    .venv/bin/python bench/run.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import fraudhawk

LUA = """
local bodies, i = {}, 0
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  i = math.random(#bodies)
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/", {["Content-Type"] = "application/x-amz-json-1.1",
    ["X-Amz-Target"] = "AWSHawksNestServiceFacade.%s"}, bodies[i])
end
"""


def machine() -> str:
    cpu = "unknown cpu"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = match.group(1) if match else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.platform()}"
    )


def speed_probe() -> str:
    """How fast this machine runs Python right now: shared virtual machines drift, by 40% and more
    within an hour here, so figures are read against it."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return f"CPU probe: a 10M-step Python loop took {time.perf_counter() - started:.2f}s (lower is faster)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("server exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def call(port: int, operation: str, body: dict[str, Any]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/",
        body=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSHawksNestServiceFacade.{operation}",
        },
    )
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"{operation} failed: {data.decode()}")


def seed(port: int, variables: int) -> None:
    call(port, "PutEntityType", {"name": "customer"})
    for label in ("fraud", "legit"):
        call(port, "PutLabel", {"name": label})
    names = [f"var_{i:03d}" for i in range(variables)]
    for start in range(0, variables, 25):
        entries = [
            {"name": n, "dataType": "FLOAT", "dataSource": "EVENT", "defaultValue": "0.0", "variableType": "NUMERIC"}
            for n in names[start : start + 25]
        ]
        call(port, "BatchCreateVariable", {"variableEntries": entries})
    call(
        port,
        "PutEventType",
        {"name": "payment", "eventVariables": names[:20], "labels": ["fraud", "legit"], "entityTypes": ["customer"]},
    )


def run_wrk(port: int, operation: str, bodies: list[dict[str, Any]], seconds: int, work: Path) -> dict[str, str]:
    script, lines = work / f"{operation}.lua", work / f"{operation}.jsonl"
    script.write_text(LUA.replace("%s", operation))
    lines.write_text("\n".join(json.dumps(body) for body in bodies) + "\n")
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
            "--",
            str(lines),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", output)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", output)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "requests/s": rate.group(1) if rate else "?",
        "p50": p50.group(1) if p50 else "?",
        "p99": p99.group(1) if p99 else "?",
        "non-2xx": errors.group(1) if errors else "0",
    }


def library_latency(data_dir: Path, database_url: str | None, calls: int) -> tuple[float, float]:
    with fraudhawk.Client(data_dir=data_dir, database_url=database_url) as client:
        for _ in range(50):
            client.get_variables(name="var_001")
        timings = []
        for i in range(calls):
            started = time.perf_counter()
            client.get_variables(name=f"var_{i % 100:03d}")
            timings.append(time.perf_counter() - started)
    timings.sort()
    return statistics.median(timings) * 1000, timings[int(len(timings) * 0.99)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per operation")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: `make bench` installs it (apt-get install wrk)")
    print(f"machine: {machine()}")
    print(f"backend: {'PostgreSQL' if args.database_url else 'SQLite (WAL)'}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        env = {**os.environ, "FRAUDHAWK_DATA_DIR": str(work / "data")}
        env.pop("FRAUDHAWK_ACCESS_KEYS", None)
        if args.database_url:
            env["FRAUDHAWK_DATABASE_URL"] = args.database_url
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fraudhawk.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(port, server)
            seed(port, 100)
            cases = {
                "GetVariables": [{"name": f"var_{i:03d}"} for i in range(100)],
                "GetEventTypes": [{"name": "payment"}],
                "PutLabel": [{"name": f"label_{i}", "description": f"run {i}"} for i in range(500)],
            }
            print(f"wire server, wrk -t2 -c16 {args.seconds}s per operation, one server process:")
            for operation, bodies in cases.items():
                figures = run_wrk(port, operation, bodies, args.seconds, work)
                print(
                    f"  {operation:14} {figures['requests/s']:>9} req/s   p50 {figures['p50']:>8}   "
                    f"p99 {figures['p99']:>8}   non-2xx {figures['non-2xx']}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
        p50, p99 = library_latency(work / "data", args.database_url, 5000)
        print(f"library client get_variables(name=...): p50 {p50:.3f} ms, p99 {p99:.3f} ms (5000 sequential calls)")


if __name__ == "__main__":
    main()
