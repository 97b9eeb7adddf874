"""Console pages at size: every page reachable from / timed on a store of 1.2M events and 100,000
recorded predictions (the console's goal: every page under 300 ms).

    .venv/bin/python bench/console_pages.py [--events 1200000] [--predictions 100000] [--requests 10]
                                            [--data-dir DIR] [--cache DIR] [--workers N]

Set-up (skipped when --data-dir already holds it for the same sizes): card payments from the
project's simulator (`fraudhawk.datagen.transactions`, cached under ~/.cache/fraudhawk-bench) imported
as stored events, a Transaction Fraud Insights model trained on them and activated, and a detector
with that model and 3 rules; then the real server records the predictions: GetEventPrediction over 8 keep-alive
connections from an asyncio client sending prepared requests, each once (every prediction stores its
event, advances its card's history and records itself).

Then `fraudhawk serve` is started on that store and the console is crawled from / (same-origin GET
links only; /static, downloads and sign-out left out): pages are told apart by their path with the
names and ids in it replaced, so one detector, one model version, one prediction... page is kept
per kind. Each page is fetched once to warm up, then --requests times in a row on one keep-alive
connection. Prints the pages sorted by slowest (median and p95 ms), and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).parent))
from predictions import serve
from run import machine, speed_probe

EVENT_TYPE, MODEL, DETECTOR = "txn", "txn_tfi", "txn_detector"
TFI = "TRANSACTION_FRAUD_INSIGHTS"
ROLE = "arn:aws:iam::123456789012:role/bench"
DAYS = 180
EVENTS_PER_CARD_DAY = 2.25  # datagen.transactions: a card buys 0.5 to 4 times a day
MIN_CARDS = 200
GOAL_MS = 300.0
MAX_PAGES = 300  # kinds of page; a crawl that finds more is cut there (and says so)
SKIPPED_PATHS = ("/static/", "/files/download", "/signout", "/sign-out", "/logout", "/health")

#: connections recording predictions at once (each waits for its answer before the next request)
CONNECTIONS = 8


# --- data -------------------------------------------------------------------------------------------


def span(events: int) -> tuple[int, int]:
    """(days, cards) of a simulation of about `events` payments: half a year of activity, or fewer
    days for a small store, with at least MIN_CARDS cards (fewer have too few compromised ones to train on)."""
    days = (
        DAYS
        if events >= MIN_CARDS * DAYS * EVENTS_PER_CARD_DAY
        else max(30, round(events / (MIN_CARDS * EVENTS_PER_CARD_DAY)))
    )
    return days, max(MIN_CARDS, round(events / (days * EVENTS_PER_CARD_DAY)))


def transactions_file(events: int, cache: Path) -> Path:
    """A simulated card-payment file of about `events` rows, made once and cached."""
    from fraudhawk import datagen

    days, cards = span(events)
    path = cache / f"console-transactions-c{cards}-d{days}-s7.csv"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        rows = datagen.transactions(partial, cards=cards, days=days, seed=7)
        partial.rename(path)
        print(
            f"generated {rows:,} card payments ({cards:,} cards, {days} days) in {time.perf_counter() - started:.0f}s"
        )
    return path


def wait_job(poll: Any, wanted: tuple[str, ...] = ("COMPLETE",)) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = poll()
        if not job["status"].startswith("IN_PROGRESS") and job["status"] not in ("TRAINING_IN_PROGRESS",):
            if job["status"] not in wanted:
                raise SystemExit(f"set-up failed: {json.dumps(job, default=str)[:2000]}")
            return job
        time.sleep(0.5)


def prepare(data_dir: Path, source: Path) -> None:
    """Stored events, a trained and ACTIVE TFI model, and an ACTIVE detector (in-process)."""
    import fraudhawk
    from fraudhawk import datagen
    from fraudhawk.settings import Settings

    settings = Settings.load(data_dir=data_dir, environ={})
    with fraudhawk.Client(settings=settings) as afd:
        started = time.perf_counter()
        datagen.declare_transactions(afd, EVENT_TYPE)
        bucket = data_dir / "s3" / "bench"
        bucket.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, bucket / "history.csv")
        afd.create_batch_import_job(
            jobId="history",
            inputPath="s3://bench/history.csv",
            outputPath="s3://bench/reports/",
            eventTypeName=EVENT_TYPE,
            iamRoleArn=ROLE,
        )
        job = wait_job(lambda: afd.get_batch_import_jobs(jobId="history")["batchImports"][0])
        (bucket / "history.csv").unlink()
        print(f"imported {job['processedRecordsCount']:,} events in {time.perf_counter() - started:.0f}s")
        started = time.perf_counter()
        stats = afd.get_event_types(name=EVENT_TYPE)["eventTypes"][0]["ingestedEventStatistics"]
        afd.create_model(modelId=MODEL, modelType=TFI, eventTypeName=EVENT_TYPE)
        afd.create_model_version(
            modelId=MODEL,
            modelType=TFI,
            trainingDataSource="INGESTED_EVENTS",
            trainingDataSchema={
                "modelVariables": list(datagen.TRANSACTION_VARIABLES),
                "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
            },
            ingestedEventsDetail={
                "ingestedEventsTimeWindow": {
                    "startTime": stats["leastRecentEvent"],
                    "endTime": stats["mostRecentEvent"],
                }
            },
        )
        version = {"modelId": MODEL, "modelType": TFI, "modelVersionNumber": "1.0"}
        trained = wait_job(lambda: afd.get_model_version(**version), ("TRAINING_COMPLETE", "ERROR"))
        if trained["status"] != "TRAINING_COMPLETE":
            detail = afd.describe_model_versions(**version)["modelVersionDetails"][0]
            raise SystemExit(f"training failed: {json.dumps(detail.get('trainingResult', {}), default=str)[:3000]}")
        afd.update_model_version_status(**version, status="ACTIVE")
        while afd.get_model_version(**version)["status"] != "ACTIVE":
            time.sleep(0.5)
        print(f"trained and activated {MODEL} in {time.perf_counter() - started:.0f}s")
        for outcome in ("block", "review", "approve"):
            afd.put_outcome(name=outcome)
        afd.put_detector(detectorId=DETECTOR, eventTypeName=EVENT_TYPE, description="console benchmark")
        score = f"${MODEL}_insightscore"
        rules = [
            afd.create_rule(
                ruleId=rule_id, detectorId=DETECTOR, expression=expression, language="DETECTORPL", outcomes=[outcome]
            )["rule"]
            for rule_id, expression, outcome in (
                ("high_risk", f"{score} > 900", "block"),
                ("online_large", '$category in ["shopping_net", "misc_net"] and $amt > 1000', "review"),
                ("rest", f"{score} <= 900", "approve"),
            )
        ]
        afd.create_detector_version(detectorId=DETECTOR, rules=rules, modelVersions=[version])
        afd.update_detector_version_status(detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE")


def prediction_bodies(source: Path, count: int, days: int) -> list[str]:
    """GetEventPrediction requests: payments of the file drawn again, later than every stored event
    (in time order, so the cards' histories move forward), with fresh event ids."""
    import polars as pl

    rows = pl.read_csv(source, infer_schema=False).sample(count, with_replacement=True, seed=11)
    variables = [name for name in rows.columns if name == name.lower()]
    begin = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=days + 1)  # datagen's payments start in 2024
    step = timedelta(days=30) / max(count, 1)
    out = []
    for i, row in enumerate(rows.iter_rows(named=True)):
        out.append(
            json.dumps(
                {
                    "detectorId": DETECTOR,
                    "eventId": f"bench_{i:07d}",
                    "eventTypeName": EVENT_TYPE,
                    "eventTimestamp": (begin + step * i).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "entities": [{"entityType": row["ENTITY_TYPE"], "entityId": row["ENTITY_ID"]}],
                    "eventVariables": {name: row[name] for name in variables if row[name]},
                }
            )
        )
    return out


def record_predictions(port: int, bodies: list[str]) -> float:
    """Send every body once over CONNECTIONS keep-alive connections (prepared bytes, asyncio: the
    client costs far less than a prediction); returns the seconds it took. Any answer but 200 stops it."""
    requests = [
        (
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
            "X-Amz-Target: AWSHawksNestServiceFacade.GetEventPrediction\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n"
        ).encode()
        + body.encode()
        for body in bodies
    ]
    pending = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in pending:  # one shared iterator: each request is sent once
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                found = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
                answer = await reader.readexactly(int(found.group(1)) if found else 0)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"recording predictions: {head.splitlines()[0]!r} {answer[:500]!r}")
        finally:
            writer.close()

    async def everything() -> None:
        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))

    started = time.perf_counter()
    asyncio.run(everything())
    return time.perf_counter() - started


def recorded_predictions(data_dir: Path) -> int:
    """How many predictions the store has recorded (counted in the database: no page may count them)."""
    from sqlalchemy import func, select

    import fraudhawk
    from fraudhawk.settings import Settings
    from fraudhawk.storage import schema

    settings = Settings.load(data_dir=data_dir, environ={})
    with fraudhawk.Client(settings=settings) as client, client._service.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.predictions)).scalar_one())


# --- the crawl ----------------------------------------------------------------------------------------


class Browser:
    """GET requests on one keep-alive connection, opened again when the server has closed it (its
    idle timeout) between two requests."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, url: str) -> tuple[int, str, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request("GET", url)
                response = self.conn.getresponse()
                return response.status, response.getheader("content-type", ""), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href and "download" not in dict(attrs):
                self.hrefs.append(href)


def pattern(url: str, names: set[str]) -> str:
    """A page's kind: its path with names and ids replaced (one detail page of each kind is timed),
    and the names of its query parameters (their values left out)."""
    parts = urlsplit(url)
    segments = []
    for segment in parts.path.split("/"):
        is_id = segment in names or any(c.isdigit() for c in segment) or "_" in segment or "%" in segment
        segments.append("{id}" if segment and is_id else segment)
    keys = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return "/".join(segments) + (f"?{'&'.join(keys)}" if keys else "")


def resource_names(port: int) -> set[str]:
    """Names the store's resources have (pages put them in paths): the crawl reads them as ids."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    names: set[str] = set()
    for operation, body, key, field in (
        ("GetVariables", {}, "variables", "name"),
        ("GetEventTypes", {}, "eventTypes", "name"),
        ("GetEntityTypes", {}, "entityTypes", "name"),
        ("GetLabels", {}, "labels", "name"),
        ("GetOutcomes", {}, "outcomes", "name"),
        ("GetListsMetadata", {}, "lists", "name"),
        ("GetDetectors", {}, "detectors", "detectorId"),
        ("GetRules", {"detectorId": DETECTOR}, "ruleDetails", "ruleId"),
        ("GetModels", {}, "models", "modelId"),
        ("GetExternalModels", {}, "externalModels", "modelEndpoint"),
        ("GetBatchImportJobs", {}, "batchImports", "jobId"),
        ("GetBatchPredictionJobs", {}, "batchPredictions", "jobId"),
    ):
        conn.request(
            "POST",
            "/",
            json.dumps(body),
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSHawksNestServiceFacade.{operation}"},
        )
        answer = json.loads(conn.getresponse().read())
        names |= {item[field] for item in answer.get(key, [])}  # the first page: enough to tell names apart
    return names | {TFI, "ONLINE_FRAUD_INSIGHTS", "ACCOUNT_TAKEOVER_INSIGHTS"}


def same_origin_path(base: str, href: str) -> str | None:
    """The path and query of a link to this server's console, or None for anything else."""
    target = urlsplit(urljoin(base, href))
    if target.scheme not in ("http", "") or target.netloc != urlsplit(base).netloc:
        return None
    path = target.path or "/"
    if path.startswith(SKIPPED_PATHS) or "download" in path:
        return None
    return path + (f"?{target.query}" if target.query else "")


def crawl(port: int, names: set[str]) -> tuple[dict[str, str], int]:
    """Pages reachable from / (kind -> first URL of that kind), and how many links were followed."""
    base = f"http://127.0.0.1:{port}/"
    browser = Browser(port)
    pages: dict[str, str] = {}
    queue = ["/"]
    fetched = 0
    while queue and len(pages) < MAX_PAGES:
        url = queue.pop(0)
        kind = pattern(url, names)
        if kind in pages:
            continue
        status, content_type, body = browser.get(url)
        fetched += 1
        if not content_type.startswith("text/html"):
            continue
        pages[kind] = url  # an error page too: the table shows its status
        if status != 200:
            continue
        parser = Links()
        parser.feed(body.decode("utf-8", "replace"))
        for href in parser.hrefs:
            found = same_origin_path(base + url.lstrip("/"), href)
            if found is not None and pattern(found, names) not in pages:
                queue.append(found)
    return pages, fetched


def time_pages(port: int, pages: dict[str, str], requests: int) -> list[dict[str, Any]]:
    browser = Browser(port)
    results = []
    for kind, url in pages.items():
        timings = []
        statuses = set()
        for attempt in range(requests + 1):
            started = time.perf_counter()
            status, _, _ = browser.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            statuses.add(status)
            if attempt:  # the first warms caches (templates, the model) and is not counted
                timings.append(elapsed)
        timings.sort()
        results.append(
            {
                "kind": kind,
                "url": url,
                "median": statistics.median(timings),
                "p95": timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))],
                "status": ",".join(str(s) for s in sorted(statuses)),
            }
        )
    return sorted(results, key=lambda r: -r["median"])


def report(results: list[dict[str, Any]]) -> None:
    width = min(max((len(r["url"]) for r in results), default=10), 90)
    print(f"{'page':{width}}  {'median ms':>9}  {'p95 ms':>7}  status")
    for r in results:
        note = "" if r["status"] == "200" else "  (an error page: a link to a page that does not answer)"
        if r["status"] == "200" and r["p95"] >= GOAL_MS:
            note = f"  over {GOAL_MS:.0f} ms"
        print(f"{r['url'][:width]:{width}}  {r['median']:9.1f}  {r['p95']:7.1f}  {r['status']}{note}")
    pages = [r for r in results if r["status"] == "200"]
    slow = [r for r in pages if r["p95"] >= GOAL_MS]
    errors = len(results) - len(pages)
    print(
        f"{len(pages)} page(s) answered 200"
        + (f", {errors} link(s) an error" if errors else "")
        + f"; goal, every page under {GOAL_MS:.0f} ms at p95: "
        + ("met" if not slow else f"NOT met by {len(slow)} page(s)")
    )


@contextmanager
def server(data_dir: Path, workers: int | None) -> Iterator[int]:
    process, port = serve(data_dir, workers)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_200_000, help="stored events (about)")
    parser.add_argument("--predictions", type=int, default=100_000, help="recorded predictions")
    parser.add_argument("--requests", type=int, default=10, help="timed requests per page")
    parser.add_argument("--data-dir", type=Path, help="keep the store here (reused when it holds these sizes)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "fraudhawk-bench")
    parser.add_argument("--workers", type=int, default=None, help="server processes (default: one per core)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(speed_probe())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir = (args.data_dir or work / "data").resolve()
        marker = data_dir / "console-bench.json"
        sizes = {"events": args.events, "predictions": args.predictions}
        source = transactions_file(args.events, args.cache)
        if not marker.exists() or json.loads(marker.read_text()) != sizes:
            if data_dir.exists() and any(data_dir.iterdir()):
                raise SystemExit(f"{data_dir} holds something else: give an empty or new --data-dir")
            prepare(data_dir, source)
            bodies = prediction_bodies(source, args.predictions, span(args.events)[0])
            with server(data_dir, args.workers) as port:
                seconds = record_predictions(port, bodies)
                print(f"recorded {len(bodies):,} predictions in {seconds:.0f}s ({len(bodies) / seconds:,.0f}/s)")
            marker.write_text(json.dumps(sizes))
        recorded = recorded_predictions(data_dir)
        with server(data_dir, args.workers) as port:
            names = resource_names(port)
            pages, fetched = crawl(port, names)
            print(
                f"store: about {args.events:,} events, {recorded:,} recorded predictions; "
                f"{len(pages)} kind(s) of page found from / ({fetched} fetched)"
                + (f", cut at {MAX_PAGES}" if len(pages) >= MAX_PAGES else "")
            )
            results = time_pages(port, pages, args.requests)
        report(results)
        print(f"server processes: {args.workers or os.cpu_count()}")
        print(speed_probe())


if __name__ == "__main__":
    main()
