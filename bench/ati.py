"""Account Takeover Insights on simulated logins: the project's simulator and an independent one
(`bench/logins_other.py`), several seeds each, about a million logins per data set.

    .venv/bin/python bench/ati.py [--quick] [--cache DIR] [--seconds 20] [--workers N] [--json FILE]

Per data set: the logins of the first 75% of its time span are imported as stored events (through
the library client, variables declared by their types, ingestion ENABLED) and an ATI model is trained
on them (in a child process: training wall time and that process's peak memory). The last 25% are
then scored in time order as a live system scores them: a batch prediction job with a detector using
the model, each entity's history replayed from its stored state. (Only the first 75% is stored: a
store holding the later logins too would give the scored logins a history with their own future.)
The scores are joined with the simulator's ground truth; among logins with valid credentials whose
entity had an earlier event (score != -1): ROC AUC of attack against legit, the share of attacks
caught at 1% and 5% challenge rate (the threshold the top 1% / 5% of those logins reach), per attack
kind, and the real challenge rate at scores 500 and 900 (the calibration's targets: 5% and 0.1%).
Labels are used as the simulators write them (a share of the successful takeovers labelled, as an
investigation team would leave them), through the version's labelMapper, as AFD's workflow does.

Real-time throughput on the first data set: `fraudhawk serve` with the walk-through's detector (deny
>= 950, challenge 855-950, approve below), wrk at saturation with the test period's logins (fresh
event ids), alternated with a Transaction Fraud Insights detector (3 rules on its score) on
`datagen.transactions` data (or, with --tfi-sparkov, on Sparkov as bench/predictions.py: the
generated transactions are so easily told apart that their model is a single tree), ATI, TFI, ATI,
TFI, with the same server settings and wrk parameters.

Simulated files are cached (default ~/.cache/fraudhawk-bench) and reused; stores are temporary.
Goals are judged on the worst data set; the training goal (60 s for 1M logins) on the training
time scaled linearly to 1M stored logins (about 750k are stored per data set). `--only 0 3` runs
a subset (positions in the list of data sets).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from import_events import peak_rss_mb
from logins_other import VARIABLES as OTHER_VARIABLES
from logins_other import generate as generate_other
from predictions import SATURATE, serve, wrk
from run import machine, speed_probe
from tfi_sparkov import _progress, _run

SPARKOV = Path(__file__).resolve().parents[2] / "shared" / "data" / "sparkov"
ATI, TFI = "ACCOUNT_TAKEOVER_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS"
ROLE = "arn:aws:iam::123456789012:role/bench"
LOGIN, MODEL, DETECTOR = "login", "login_ati", "login_detector"
TXN, TFI_MODEL, TFI_DETECTOR = "txn", "txn_tfi", "txn_detector"
TRAIN_SHARE = 0.75
RATES = (0.01, 0.05)
WARM_UP_SECONDS = 5
GOALS = {"asi": 0.98, "caught_at_5%": 0.97, "caught_at_1%": 0.88, "training_s_per_1M": 60.0, "throughput_ratio": 0.8}


@dataclass(frozen=True)
class DataSet:
    simulator: str  # "fraudhawk" (datagen.logins) or "other" (bench/logins_other.py)
    seed: int
    users: int
    days: int

    @property
    def name(self) -> str:
        return f"{self.simulator}-s{self.seed}-u{self.users}-d{self.days}"

    @property
    def variables(self) -> dict[str, tuple[str, str]]:
        from fraudhawk import datagen

        return dict(datagen.LOGIN_VARIABLES) if self.simulator == "fraudhawk" else dict(OTHER_VARIABLES)

    @property
    def entity_type(self) -> str:
        return "customer" if self.simulator == "fraudhawk" else "user"

    @property
    def labels(self) -> tuple[str, str]:
        """The fraud and legit labels the simulator writes."""
        return ("fraud", "legit") if self.simulator == "fraudhawk" else ("1", "0")

    @property
    def attack_column(self) -> str:
        return "attack" if self.simulator == "fraudhawk" else "attack_kind"

    def credentials(self) -> str:
        return next(name for name, (_, kind) in self.variables.items() if kind == "ARE_CREDENTIALS_VALID")


FULL = [DataSet("fraudhawk", seed, 10_000, 60) for seed in (100, 101, 102)] + [
    DataSet("other", seed, 10_000, 135) for seed in (11, 12)
]
QUICK = [DataSet("fraudhawk", 100, 2_000, 60), DataSet("other", 11, 2_000, 135)]


def generated(data: DataSet, cache: Path) -> Path:
    """The data set's logins (and `<file>.truth.csv`), generated unless the cache has them."""
    path = cache / f"{data.name}.csv"
    truth = path.with_name(path.name + ".truth.csv")
    if path.exists() and truth.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    partial = path.with_name(path.name + ".part")
    if data.simulator == "fraudhawk":
        from fraudhawk import datagen

        datagen.logins(partial, users=data.users, days=data.days, seed=data.seed)
    else:
        generate_other(partial, data.users, data.days, data.seed)
    partial.with_name(partial.name + ".truth.csv").replace(truth)
    partial.replace(path)  # last: a file without its truth is never taken for a finished one
    print(f"  generated {path.name} in {time.perf_counter() - started:.0f}s")
    return path


def split(source: Path, train: Path, test: Path) -> tuple[int, int]:
    """The first 75% of the time span to `train`, the rest (without labels) to `test`."""
    frame = pl.read_csv(source, infer_schema=False)
    moment = pl.col("EVENT_TIMESTAMP").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    stamps = frame.select(moment.dt.epoch("ms")).to_series()
    first, last = int(stamps.min()), int(stamps.max())  # type: ignore[arg-type]
    early = stamps <= first + TRAIN_SHARE * (last - first)
    train.parent.mkdir(parents=True, exist_ok=True)
    test.parent.mkdir(parents=True, exist_ok=True)
    frame.filter(early).write_csv(train)
    later = frame.filter(~early).drop("EVENT_LABEL", "LABEL_TIMESTAMP", strict=False)
    later.write_csv(test)
    return int(early.sum()), later.height


def import_job(
    data_dir: str,
    source: str,
    event_type: str,
    entity_type: str,
    variables: dict[str, tuple[str, str]],
    labels: list[str],
    out: Any,
) -> None:
    """Declare the variables by their types and an event type storing events, then import `source`."""
    import fraudhawk
    from fraudhawk.settings import Settings

    with fraudhawk.Client(settings=Settings.load(data_dir=data_dir, environ={})) as client:
        client.put_entity_type(name=entity_type)
        for label in labels:
            client.put_label(name=label)
        for name, (data_type, variable_type) in variables.items():
            default = {"BOOLEAN": "false", "FLOAT": "0", "INTEGER": "0"}.get(data_type, "unknown")
            client.create_variable(
                name=name, dataType=data_type, dataSource="EVENT", defaultValue=default, variableType=variable_type
            )
        client.put_event_type(
            name=event_type,
            eventVariables=list(variables),
            labels=labels,
            entityTypes=[entity_type],
            eventIngestion="ENABLED",
        )
        started = time.perf_counter()
        client.create_batch_import_job(
            jobId=f"import_{event_type}",
            inputPath=source,
            outputPath=str(Path(source).parent) + "/",
            eventTypeName=event_type,
            iamRoleArn=ROLE,
        )
        while True:
            job = client.get_batch_import_jobs(jobId=f"import_{event_type}")["batchImports"][0]
            if job["status"] not in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING"):
                break
            time.sleep(0.1)
    out.put({"job": job, "seconds": time.perf_counter() - started})


def train_job(data_dir: str, model_id: str, model_type: str, event_type: str, labels: list[str], out: Any) -> None:
    """Train on every stored event of the event type; runs in a child process so its peak memory is
    the training's alone."""
    import fraudhawk
    from fraudhawk.settings import Settings

    with fraudhawk.Client(settings=Settings.load(data_dir=data_dir, environ={})) as client:
        found = client.get_event_types(name=event_type)["eventTypes"][0]
        stats = found["ingestedEventStatistics"]
        window = {"startTime": stats["leastRecentEvent"], "endTime": stats["mostRecentEvent"]}
        client.create_model(modelId=model_id, modelType=model_type, eventTypeName=event_type)
        started = time.perf_counter()
        client.create_model_version(
            modelId=model_id,
            modelType=model_type,
            trainingDataSource="INGESTED_EVENTS",
            trainingDataSchema={
                "modelVariables": found["eventVariables"],
                "labelSchema": {"labelMapper": {"FRAUD": labels[:1], "LEGIT": labels[1:]}},
            },
            ingestedEventsDetail={"ingestedEventsTimeWindow": window},
        )
        last = ""
        while True:
            detail = client.describe_model_versions(modelId=model_id, modelType=model_type)["modelVersionDetails"][0]
            if detail["status"] != "TRAINING_IN_PROGRESS":
                break
            progress = _progress(client)
            if progress != last:
                print(f"    {time.perf_counter() - started:6.1f}s {progress}", flush=True)
                last = progress
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
    out.put({"detail": detail, "seconds": elapsed, "peak_mb": peak_rss_mb(), "events": stats["numberOfEvents"]})


def deploy(data_dir: Path, model_id: str, model_type: str, event_type: str, detector: str, names: list[str]) -> None:
    """Activate the model's version 1.0 and publish a detector with the walk-through's three rules
    (FIRST_MATCHED): deny at 950 and above, challenge from 855, approve below."""
    import fraudhawk
    from fraudhawk.settings import Settings

    with fraudhawk.Client(settings=Settings.load(data_dir=data_dir, environ={})) as client:
        model = {"modelId": model_id, "modelType": model_type, "modelVersionNumber": "1.0"}
        client.update_model_version_status(**model, status="ACTIVE")
        while client.get_model_version(**model)["status"] != "ACTIVE":
            time.sleep(0.2)
        score = f"${model_id}_insightscore"
        deny, challenge, approve = names
        rules = [
            ("deny", f"{score} >= 950", deny),
            ("challenge", f"{score} >= 855 and {score} < 950", challenge),
            ("approve", f"{score} < 855", approve),
        ]
        client.put_detector(detectorId=detector, eventTypeName=event_type)
        created = []
        for rule_id, expression, outcome in rules:
            client.put_outcome(name=outcome)
            created.append(
                client.create_rule(
                    ruleId=rule_id,
                    detectorId=detector,
                    expression=expression,
                    language="DETECTORPL",
                    outcomes=[outcome],
                )["rule"]
            )
        client.create_detector_version(
            detectorId=detector, rules=created, modelVersions=[model], ruleExecutionMode="FIRST_MATCHED"
        )
        client.update_detector_version_status(detectorId=detector, detectorVersionId="1", status="ACTIVE")


def trees(data_dir: Path, model_id: str) -> int:
    """The trees of the model's trained version (its LightGBM text file): what a prediction walks."""
    (model,) = (data_dir / "models" / model_id).rglob("model.txt")
    return sum(1 for line in model.read_text().splitlines() if line.startswith("Tree="))


def batch_scores(data_dir: Path, s3_root: Path, test_name: str) -> tuple[pl.DataFrame, float]:
    """Every test login's EVENT_ID and ATI score from a batch prediction job's output file, and the
    job's seconds from create to COMPLETE."""
    import fraudhawk
    from fraudhawk.settings import Settings

    settings = Settings.load(data_dir=data_dir, s3_root=s3_root, environ={})
    with fraudhawk.Client(settings=settings) as client:
        started = time.perf_counter()
        client.create_batch_prediction_job(
            jobId="ati_test",
            inputPath=f"s3://bench/{test_name}",
            outputPath="s3://bench/out",
            eventTypeName=LOGIN,
            detectorName=DETECTOR,
            iamRoleArn=ROLE,
        )
        while True:
            job = client.get_batch_prediction_jobs(jobId="ati_test")["batchPredictions"][0]
            if job["status"] in ("COMPLETE", "FAILED", "CANCELED"):
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    if job["status"] != "COMPLETE":
        raise SystemExit(f"batch prediction ended {job['status']}: {job.get('failureReason')}")
    (output,) = (s3_root / "bench" / "out").rglob("*_output.csv")
    frame = pl.read_csv(output, infer_schema=False, columns=["EVENT_ID", "MODEL_SCORES", "STATUS"])
    bad = frame.filter(pl.col("STATUS") != "Success").height
    if bad:
        raise SystemExit(f"batch prediction: {bad} rows not scored")
    number = re.escape(f"'{MODEL}': ") + r"(-?[\d.]+)"
    scores = frame.select("EVENT_ID", pl.col("MODEL_SCORES").str.extract(number).cast(pl.Float64).alias("score"))
    return scores, elapsed


def judged(data: DataSet, test: Path, truth: Path, scores: pl.DataFrame) -> dict[str, Any]:
    """The scores against the truth: AUC, attacks caught at 1% and 5% challenge rate (overall and per
    kind), the real challenge rate at 500 and 900, and attacks left unscored (-1)."""
    from fraudhawk.training import metrics

    valid = data.credentials()
    logins = pl.read_csv(test, infer_schema=False, columns=["EVENT_ID", valid])
    kinds = pl.read_csv(truth, infer_schema=False, columns=["EVENT_ID", data.attack_column])
    frame = (
        logins.join(kinds, on="EVENT_ID", how="left")
        .join(scores, on="EVENT_ID", how="left")
        .select(
            pl.col(data.attack_column).fill_null("").alias("kind"),
            (pl.col(valid).str.to_lowercase() == "true").alias("valid"),
            "score",
        )
    )
    if frame["score"].null_count():
        raise SystemExit(f"{frame['score'].null_count()} test logins have no score")
    attack = frame["kind"] != ""
    unknown = frame["score"] == -1
    judged_rows = frame.filter(pl.col("valid") & (pl.col("score") != -1))
    score = judged_rows["score"].to_numpy()
    target = (judged_rows["kind"] != "").to_numpy()
    out: dict[str, Any] = {
        "test_logins": frame.height,
        "judged_logins": judged_rows.height,
        "judged_attacks": int(target.sum()),
        "attacks": int(attack.sum()),
        "attacks_scored_-1": int((attack & unknown).sum()),
        "valid_attacks_scored_-1": int((attack & unknown & frame["valid"]).sum()),
        "roc_auc": metrics.roc_auc(score, target.astype(np.float64)),
        "cr_at_500": float((score >= 500).mean()),
        "cr_at_900": float((score >= 900).mean()),
        "kinds": {},
    }
    for rate in RATES:
        threshold = _threshold(score, rate)
        out[f"threshold_at_{rate:.0%}"] = threshold
        out[f"real_cr_at_{rate:.0%}"] = float((score >= threshold).mean())
        out[f"caught_at_{rate:.0%}"] = float((score[target] >= threshold).mean())
        for kind in sorted(set(judged_rows["kind"].to_list()) - {""}):
            of_kind = score[(judged_rows["kind"] == kind).to_numpy()]
            entry = out["kinds"].setdefault(kind, {"judged": len(of_kind)})
            entry[f"caught_at_{rate:.0%}"] = float((of_kind >= threshold).mean())
    return out


def _threshold(score: np.ndarray, rate: float) -> float:
    """The lowest score at or above which at most `rate` of the logins fall (scores are whole
    numbers, so a tie at the quantile would otherwise challenge more than `rate`)."""
    values = np.unique(score)
    share = 1.0 - np.searchsorted(np.sort(score), values, side="left") / len(score)
    return float(values[np.argmax(share <= rate)]) if (share <= rate).any() else float("inf")


def ati_bodies(data: DataSet, test: Path, rows: slice, run: str) -> list[str]:
    """GetEventPrediction bodies of test logins (time order) with fresh event ids."""
    frame = pl.read_csv(test, infer_schema=False)[rows]
    return _bodies(frame, list(data.variables), LOGIN, DETECTOR, run)


def _bodies(frame: pl.DataFrame, variables: list[str], event_type: str, detector: str, run: str) -> list[str]:
    out = []
    for i, row in enumerate(frame.iter_rows(named=True)):
        out.append(
            json.dumps(
                {
                    "detectorId": detector,
                    "eventId": f"{run}_{i}",
                    "eventTypeName": event_type,
                    "eventTimestamp": row["EVENT_TIMESTAMP"],
                    "entities": [{"entityType": row["ENTITY_TYPE"], "entityId": row["ENTITY_ID"]}],
                    "eventVariables": {name: row[name] for name in variables if row.get(name)},
                }
            )
        )
    return out


@dataclass
class Reference:
    """A TFI detector, deployed, to measure ATI's real-time throughput against."""

    name: str
    data_dir: Path
    event_type: str
    variables: list[str]
    events: pl.DataFrame  # later events than those stored, in time order, to send
    trained: dict[str, Any]


def _tfi(data_dir: Path, model_id: str, event_type: str) -> dict[str, Any]:
    """Train TFI on the stored events and deploy it with three rules on its score, as ATI's."""
    trained = _run(train_job, str(data_dir), model_id, TFI, event_type, ["fraud", "legit"])
    if trained["detail"]["status"] != "TRAINING_COMPLETE":
        raise SystemExit(f"TFI training ended {trained['detail']['status']}")
    auc = trained["detail"]["trainingResultV2"]["trainingMetricsV2"]["tfi"]["modelPerformance"]["auc"]
    trained["auc"], trained["trees"] = auc, trees(data_dir, model_id)
    print(f"  TFI: trained in {trained['seconds']:.0f}s: {trained['trees']} trees, validation AUC {auc:.4f}")
    deploy(data_dir, model_id, TFI, event_type, TFI_DETECTOR, ["block", "review", "approve"])
    return trained


def generated_reference(data_dir: Path, cache: Path, cards: int, days: int) -> Reference:
    """TFI on `datagen.transactions`: the first 75% stored and trained on, the rest sent."""
    from fraudhawk import datagen

    source = cache / f"transactions-s7-c{cards}-d{days}.csv"
    if not source.exists():
        partial = source.with_name(source.name + ".part")
        datagen.transactions(partial, cards=cards, days=days, seed=7)
        partial.replace(source)
    train, test = data_dir / "files" / "txn_train.csv", data_dir / "txn_test.csv"
    stored, _ = split(source, train, test)
    job = _run(import_job, str(data_dir), str(train), TXN, "card", datagen.TRANSACTION_VARIABLES, ["fraud", "legit"])
    print(f"  TFI: imported {job['job']['processedRecordsCount']:,} of {stored:,} transactions")
    trained = _tfi(data_dir, TFI_MODEL, TXN)
    events = pl.read_csv(test, infer_schema=False)
    name = f"datagen.transactions, {cards:,} cards x {days} days"
    return Reference(name, data_dir, TXN, list(datagen.TRANSACTION_VARIABLES), events, trained)


def sparkov_reference(data_dir: Path, folder: Path) -> Reference:
    """TFI on Sparkov's fraudTrain, fraudTest sent: bench/predictions.py's model and data."""
    from import_events import convert
    from import_events import import_job as import_sparkov

    afd_file = data_dir / "files" / "fraudTrain_afd.csv.gz"
    rows, variables = convert(folder / "fraudTrain.csv.xz", afd_file)
    job = _run(import_sparkov, str(data_dir), str(afd_file), variables)["job"]
    print(f"  TFI: imported {job['processedRecordsCount']:,} of {rows:,} fraudTrain events")
    afd_file.unlink()
    trained = _tfi(data_dir, "cc_tfi", "cc_txn")
    test = data_dir / "fraudTest_afd.csv.gz"
    convert(folder / "fraudTest.csv.xz", test)
    events = pl.read_csv(test, infer_schema=False)
    names = [name for name in events.columns if name == name.lower()]
    return Reference("Sparkov fraudTrain / fraudTest", data_dir, "cc_txn", names, events, trained)


def throughput(data: DataSet, ati_dir: Path, ati_test: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """ATI and TFI detectors at saturation, alternated: ATI, TFI, ATI, TFI. Both servers run
    throughout (the one not measured idles) and are warmed first on the test period's first 10%
    (entity states loaded, code paths hot), as a server in service is; each round then sends the
    next part of the test period, in time order, with fresh event ids."""
    if args.tfi_sparkov is not None:
        reference = sparkov_reference(work / "tfi", args.tfi_sparkov)
    else:
        cards, days = (2_000, 120) if not args.quick else (500, 60)
        reference = generated_reference(work / "tfi", args.cache, cards, days)
    tfi_frame, trained = reference.events, reference.trained
    ati_rows = pl.scan_csv(ati_test, infer_schema=False).select(pl.len()).collect().item()
    run = uuid.uuid4().hex[:6]

    def parts(rows: int) -> list[slice]:
        """The warm-up's 10%, then two rounds of 45% each."""
        cuts = [0, rows // 10, rows // 10 + (rows - rows // 10) // 2, rows]
        return [slice(a, b) for a, b in itertools.pairwise(cuts)]

    loads = {
        "ATI": [ati_bodies(data, ati_test, part, f"a{run}{i}") for i, part in enumerate(parts(ati_rows))],
        "TFI": [
            _bodies(tfi_frame[part], reference.variables, reference.event_type, TFI_DETECTOR, f"t{run}{i}")
            for i, part in enumerate(parts(tfi_frame.height))
        ],
    }
    servers = {"ATI": serve(ati_dir, args.workers), "TFI": serve(reference.data_dir, args.workers)}
    rounds: dict[str, list[dict[str, Any]]] = {"ATI": [], "TFI": []}
    try:
        for kind, (_, port) in servers.items():
            wrk(port, loads[kind][0], WARM_UP_SECONDS, work, 16, SATURATE)
        for turn in (1, 2):
            for kind, (_, port) in servers.items():
                measured = wrk(port, loads[kind][turn], args.seconds, work, 16, SATURATE)
                rounds[kind].append(measured)
                print(
                    f"  {kind} round {turn}: {measured['rate']:,.0f} predictions/s, p50 {measured['p50']:.2f} ms, "
                    f"p99 {measured['p99']:.2f} ms, non-2xx {measured['errors']}",
                    flush=True,
                )
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=60)
    ati_rate = float(np.mean([r["rate"] for r in rounds["ATI"]]))
    tfi_rate = float(np.mean([r["rate"] for r in rounds["TFI"]]))
    return {
        "rounds": rounds,
        "ati_rate": ati_rate,
        "tfi_rate": tfi_rate,
        "ratio": ati_rate / tfi_rate if tfi_rate else float("nan"),
        "tfi_reference": reference.name,
        "tfi_training_seconds": trained["seconds"],
        "tfi_auc": trained["auc"],
        "tfi_trees": trained["trees"],
        "ati_trees": trees(ati_dir, MODEL),
        "workers": args.workers,
        "seconds": args.seconds,
    }


def bench(data: DataSet, args: argparse.Namespace, first: bool) -> dict[str, Any]:
    print(f"\n{data.name}", flush=True)
    source = generated(data, args.cache)
    truth = source.with_name(source.name + ".truth.csv")
    with tempfile.TemporaryDirectory(dir=args.cache, prefix="store-") as tmp:
        work = Path(tmp)
        data_dir, s3_root = work / "data", work / "s3"
        train, test = data_dir / "files" / "train.csv", s3_root / "bench" / "test.csv"
        stored, tested = split(source, train, test)
        fraud, legit = data.labels
        job = _run(import_job, str(data_dir), str(train), LOGIN, data.entity_type, data.variables, [fraud, legit])
        imported = job["job"]["processedRecordsCount"]
        print(f"  imported {imported:,} of {stored:,} logins in {job['seconds']:.0f}s; {tested:,} to score")
        train.unlink()
        trained = _run(train_job, str(data_dir), MODEL, ATI, LOGIN, [fraud, legit])
        detail = trained["detail"]
        if detail["status"] != "TRAINING_COMPLETE":
            messages = detail["trainingResult"]["dataValidationMetrics"]
            raise SystemExit(f"training ended {detail['status']}: {messages}")
        ati = detail["trainingResultV2"]["trainingMetricsV2"]["ati"]
        points = {int(p["threshold"]): p for p in ati["metricDataPoints"]}
        deploy(data_dir, MODEL, ATI, LOGIN, DETECTOR, ["deny_login", "challenge_login", "approve_login"])
        scores, batch_seconds = batch_scores(data_dir, s3_root, test.name)
        result: dict[str, Any] = {
            "data_set": asdict(data),
            "name": data.name,
            "stored_events": imported,
            "training_seconds": trained["seconds"],
            "training_peak_mb": trained["peak_mb"],
            "training_s_per_1M": trained["seconds"] * 1e6 / imported,
            "asi": ati["modelPerformance"]["asi"],
            "points": {t: points[t] for t in (500, 900) if t in points},
            "batch_seconds": batch_seconds,
            **judged(data, test, truth, scores),
        }
        show(result)
        if first:
            result["throughput"] = throughput(data, data_dir, test, work, args)
    return result


def show(r: dict[str, Any]) -> None:
    print(
        f"  training: {r['training_seconds']:.1f}s wall on {r['stored_events']:,} stored logins "
        f"({r['training_s_per_1M']:.1f}s per 1M), peak memory {r['training_peak_mb']:,.0f} MB"
    )
    print(f"  ASI {r['asi']:.4f}", end="")
    for threshold, point in r["points"].items():
        extra = f", atodr {point['atodr']:.3f}" if "atodr" in point else ""
        print(f"; at {threshold}: cr {point['cr']:.4f}, adr {point['adr']:.3f}{extra}", end="")
    print()
    print(
        f"  test period: {r['test_logins']:,} logins scored by batch prediction in {r['batch_seconds']:.0f}s; "
        f"judged (valid credentials, score != -1): {r['judged_logins']:,} logins, {r['judged_attacks']:,} attacks"
    )
    print(f"  ROC AUC {r['roc_auc']:.4f}")
    for rate in ("1%", "5%"):
        threshold, real = r[f"threshold_at_{rate}"], r[f"real_cr_at_{rate}"]
        print(
            f"  at {rate} challenge rate (score >= {threshold:.0f}, real {real:.2%}): "
            f"{r[f'caught_at_{rate}']:.1%} of attacks caught"
        )
    print(f"  {'attack kind':20s} {'judged':>7s} {'at 1%':>7s} {'at 5%':>7s}")
    for kind, entry in r["kinds"].items():
        print(f"  {kind:20s} {entry['judged']:7,d} {entry['caught_at_1%']:7.1%} {entry['caught_at_5%']:7.1%}")
    print(
        f"  real challenge rate: {r['cr_at_500']:.2%} at score >= 500 (target 5%), "
        f"{r['cr_at_900']:.3%} at >= 900 (target 0.1%)"
    )
    print(
        f"  attacks scored -1 (entity's first login): {r['attacks_scored_-1']:,} of {r['attacks']:,} "
        f"({r['valid_attacks_scored_-1']:,} with valid credentials)"
    )


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    def spread(name: str, worst: Any) -> dict[str, float]:
        values = [r[name] for r in results]
        return {"mean": float(np.mean(values)), "worst": float(worst(values))}

    out = {
        "asi": spread("asi", min),
        "caught_at_1%": spread("caught_at_1%", min),
        "caught_at_5%": spread("caught_at_5%", min),
        "roc_auc": spread("roc_auc", min),
        "training_seconds": spread("training_seconds", max),
        "training_s_per_1M": spread("training_s_per_1M", max),
        "training_peak_mb": spread("training_peak_mb", max),
    }
    rated = next((r["throughput"] for r in results if "throughput" in r), None)
    goals = {
        "asi": out["asi"]["worst"] >= GOALS["asi"],
        "caught_at_5%": out["caught_at_5%"]["worst"] >= GOALS["caught_at_5%"],
        "caught_at_1%": out["caught_at_1%"]["worst"] >= GOALS["caught_at_1%"],
        "training_s_per_1M": out["training_s_per_1M"]["worst"] <= GOALS["training_s_per_1M"],
    }
    if rated is not None:
        goals["throughput_ratio"] = rated["ratio"] >= GOALS["throughput_ratio"]
    return {"figures": out, "throughput": rated, "goals": goals}


def show_summary(s: dict[str, Any], count: int) -> None:
    f = s["figures"]
    print(f"\nsummary over {count} data set(s) (mean / worst):")
    for name, label, form in (
        ("asi", "ASI", "{:.4f}"),
        ("caught_at_1%", "attacks caught at 1% CR", "{:.1%}"),
        ("caught_at_5%", "attacks caught at 5% CR", "{:.1%}"),
        ("roc_auc", "ROC AUC", "{:.4f}"),
        ("training_seconds", "training wall time (s)", "{:.1f}"),
        ("training_s_per_1M", "training s per 1M stored logins", "{:.1f}"),
        ("training_peak_mb", "training peak memory (MB)", "{:,.0f}"),
    ):
        print(f"  {label:34s} {form.format(f[name]['mean']):>9s} / {form.format(f[name]['worst'])}")
    rated = s["throughput"]
    if rated is not None:
        workers = rated["workers"] or f"default ({len(os.sched_getaffinity(0))})"
        print(
            f"  real-time, wrk -t2 -c16 {rated['seconds']}s x 2 rounds each, server processes {workers}: "
            f"ATI {rated['ati_rate']:,.0f} predictions/s, TFI {rated['tfi_rate']:,.0f}/s "
            f"(ATI at {rated['ratio']:.0%} of TFI; models of {rated['ati_trees']} and {rated['tfi_trees']} trees; "
            f"TFI on {rated['tfi_reference']})"
        )
    print("goals (judged on the worst data set):")
    wording = {
        "asi": f"ASI >= {GOALS['asi']}",
        "caught_at_5%": f">= {GOALS['caught_at_5%']:.0%} of attacks caught at 5% challenge rate",
        "caught_at_1%": f">= {GOALS['caught_at_1%']:.0%} of attacks caught at 1% challenge rate",
        "training_s_per_1M": f"training <= {GOALS['training_s_per_1M']:.0f} s for 1M logins (scaled linearly)",
        "throughput_ratio": f"ATI throughput >= {GOALS['throughput_ratio']:.0%} of TFI's",
    }
    for name, met in s["goals"].items():
        print(f"  {wording[name]:62s} {'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one data set per simulator, 2,000 users")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "fraudhawk-bench")
    parser.add_argument("--only", type=int, nargs="*", help="run only these data sets (0-based positions)")
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration per round")
    parser.add_argument("--workers", type=int, default=None, help="server processes (default: `fraudhawk serve`'s)")
    parser.add_argument(
        "--tfi-sparkov",
        type=Path,
        nargs="?",
        const=SPARKOV,
        help=f"measure ATI against TFI on Sparkov (a folder with fraudTrain/fraudTest.csv.xz; default {SPARKOV}) "
        "instead of datagen.transactions",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: `make bench` installs it (apt-get install wrk)")
    args.cache = args.cache.expanduser().resolve()
    sets = QUICK if args.quick else FULL
    if args.only is not None:
        sets = [sets[i] for i in args.only]
    print(f"machine: {machine()}")
    print(speed_probe())
    results = [bench(data, args, first=i == 0) for i, data in enumerate(sets)]
    totals = summary(results)
    show_summary(totals, len(results))
    print(speed_probe())
    if args.json:
        report = {"machine": machine(), "quick": args.quick, "data_sets": results, "summary": totals}
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
