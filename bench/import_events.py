"""Batch import benchmark: the Sparkov training file (1.3M rows) in AFD's CSV layout, imported by a
CreateBatchImportJob into the embedded SQLite store.

    .venv/bin/python bench/import_events.py [--source ../shared/data/sparkov/fraudTrain.csv.xz]

Prints rows per second, peak memory of the importing process, the store's size, and the rate of
pyarrow merely parsing the same file (the floor any importer stands on).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).parent))
from run import machine

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "sparkov" / "fraudTrain.csv.xz"
MAPPING = {
    "event_time": "trans_date_trans_time",
    "time_format": "%Y-%m-%d %H:%M:%S",
    "entity_id": "cc_num",
    "event_id": "trans_num",
    "label": "is_fraud",
}


def afd_tables(source: Path) -> tuple[Iterator[Any], list[Any]]:
    """A Sparkov file's rows in AFD's layout (Arrow tables, read lazily) and the variables suggested for it."""
    from fraudhawk.events import raw
    from fraudhawk.events.csvsource import open_binary, read_csv

    mapping = raw.Mapping(**MAPPING)  # type: ignore[arg-type]
    with source.open("rb") as handle:
        header, sample = raw.sample_rows(open_binary(handle))
    columns = [c for c in header if c.strip() and c not in MAPPING.values()]
    variables = raw.suggest(sample, columns)

    def tables() -> Iterator[Any]:
        with source.open("rb") as handle:
            records = read_csv(open_binary(handle))
            yield from raw.convert_batches(records.batches(), mapping, variables, "bench")

    return tables(), variables


def convert(source: Path, target: Path) -> tuple[int, list[Any]]:
    from fraudhawk.events import raw

    tables, variables = afd_tables(source)
    return raw.write_afd_csv(tables, target).rows, variables


def import_job(data_dir: str, afd_file: str, variables: list[Any], out: Any) -> None:
    """Runs in a child process so its peak memory is the import's alone."""
    import fraudhawk
    from fraudhawk.settings import Settings

    settings = Settings.load(data_dir=data_dir, environ={})
    with fraudhawk.Client(settings=settings) as client:
        client.put_entity_type(name="customer")
        client.put_label(name="fraud")
        client.put_label(name="legit")
        for start in range(0, len(variables), 25):
            client.batch_create_variable(
                variableEntries=[
                    {
                        "name": v.variable,
                        "dataType": v.data_type,
                        "dataSource": "EVENT",
                        "defaultValue": "0.0" if v.data_type == "FLOAT" else "",
                        "variableType": v.variable_type,
                    }
                    for v in variables[start : start + 25]
                ]
            )
        client.put_event_type(
            name="cc_txn",
            eventVariables=[v.variable for v in variables],
            labels=["fraud", "legit"],
            entityTypes=["customer"],
            eventIngestion="ENABLED",
        )
        started = time.perf_counter()
        client.create_batch_import_job(
            jobId="bench",
            inputPath=afd_file,
            outputPath=str(Path(afd_file).parent) + "/",
            eventTypeName="cc_txn",
            iamRoleArn="arn:aws:iam::123456789012:role/bench",
        )
        while True:
            job = client.get_batch_import_jobs(jobId="bench")["batchImports"][0]
            if job["status"] not in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING"):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    out.put({"job": job, "seconds": elapsed, "peak_mb": peak_rss_mb()})


def peak_rss_mb() -> float:
    """This process's peak resident memory. (ru_maxrss would include the parent's before exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="a Sparkov/Kaggle fraudTrain file")
    args = parser.parse_args()
    if not args.source.exists():
        raise SystemExit(f"{args.source} not found: pass --source")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        afd_file = data_dir / "files" / "fraudTrain_afd.csv.gz"
        started = time.perf_counter()
        rows, variables = convert(args.source, afd_file)
        print(f"converted {args.source.name} to AFD layout: {rows:,} rows in {time.perf_counter() - started:.1f}s")

        started = time.perf_counter()
        parsed = pacsv.read_csv(afd_file).num_rows
        parse_rate = parsed / (time.perf_counter() - started)

        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=import_job, args=(str(data_dir), str(afd_file), variables, queue))
        child.start()
        result = queue.get()
        child.join()
        peak_mb = result["peak_mb"]
        job, seconds = result["job"], result["seconds"]
        store = sum(f.stat().st_size for f in data_dir.glob("fraudhawk.db*"))
        rate = job["processedRecordsCount"] / seconds
        print(
            f"batch import: {job['status']}, {job['processedRecordsCount']:,} stored, {job['failedRecordsCount']:,} "
            f"failed, {seconds:.1f}s -> {rate:,.0f} events/s"
        )
        print(f"peak memory of the importing process: {peak_mb:,.0f} MB; store size: {store / 2**20:,.0f} MB")
        print(
            f"pyarrow parse-only of the same file: {parse_rate:,.0f} rows/s (import at {rate / parse_rate:.0%} of it)"
        )


if __name__ == "__main__":
    main()
