"""The login simulator for Account Takeover Insights: its files, its addresses and its attacks."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import fraudhawk
from fraudhawk import datagen
from fraudhawk.datagen import networks
from fraudhawk.datagen.attacks import KINDS
from fraudhawk.datagen.places import BY_CODE
from fraudhawk.settings import Settings

HEADER = [
    "EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "ip_address", "user_agent", "fingerprint",
    "session_id", "credentials_valid", "EVENT_LABEL", "LABEL_TIMESTAMP",
]  # fmt: skip
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


class Run:
    """One simulation's rows joined with their truth, and what each account's owner did."""

    def __init__(self, path: Path, summary: datagen.LoginSummary) -> None:
        self.summary = summary
        with path.open(newline="") as source:
            self.rows = list(csv.DictReader(source))
        with summary.truth.open(newline="") as source:
            self.truth = list(csv.DictReader(source))
        for row, truth in zip(self.rows, self.truth, strict=True):
            assert row["EVENT_ID"] == truth["EVENT_ID"]
            row.update(truth)
        self.own: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in self.rows:
            if not row["attack"]:
                self.own[row["ENTITY_ID"]].append(row)

    def attacks(self, kind: str, valid: bool = True) -> list[dict[str, str]]:
        flag = "true" if valid else "false"
        return [r for r in self.rows if r["attack"] == kind and r["credentials_valid"] == flag]

    def before(self, row: dict[str, str]) -> list[dict[str, str]]:
        """The owner's own successful logins before an attack row."""
        return [
            r
            for r in self.own[row["ENTITY_ID"]]
            if r["EVENT_TIMESTAMP"] < row["EVENT_TIMESTAMP"] and r["credentials_valid"] == "true"
        ]

    def country(self, user: str) -> str:
        """Where the owner lives, as the truth says; checked against their home network when they use it."""
        (home,) = {r["home_country"] for r in self.own[user]}
        assert {r["ip_country"] for r in self.own[user] if r["network"] in ("home", "mobile")} <= {home}
        return home


def _run(path: Path, **options: Any) -> Run:
    return Run(path, datagen.logins(path, **options))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("logins") / "logins.csv", users=500, days=30, seed=3, attack_share=0.03)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    files = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        path = tmp_path / f"{name}.csv"
        summary = datagen.logins(path, users=80, days=10, seed=seed)
        files[name] = (path.read_bytes(), summary.truth.read_bytes())
    # another process, with other string hashes (set and dict orders): the same bytes still
    script = "import sys, pathlib; from fraudhawk import datagen; datagen.logins(pathlib.Path(sys.argv[1]), 80, 10, 5)"
    other = tmp_path / "other.csv"
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(other)], check=True, env=environment, timeout=120)
    files["other"] = (other.read_bytes(), other.with_name("other.csv.truth.csv").read_bytes())
    assert files["a"] == files["b"] == files["other"]
    assert files["a"][0] != files["c"][0]
    assert files["a"][1] != files["c"][1]


def test_header_and_value_formats(run: Run, tmp_path: Path) -> None:
    assert list(run.rows[0])[: len(HEADER)] == HEADER
    assert len({r["EVENT_ID"] for r in run.rows}) == len(run.rows) == run.summary.events
    stamps = [r["EVENT_TIMESTAMP"] for r in run.rows]
    assert all(STAMP.fullmatch(s) for s in stamps)
    assert stamps == sorted(stamps)
    assert stamps[0] >= "2024-01-01T00:00:00Z"
    assert {r["ENTITY_TYPE"] for r in run.rows} == {"customer"}
    assert {r["credentials_valid"] for r in run.rows} == {"true", "false"}
    assert {r["EVENT_LABEL"] for r in run.rows} == {"fraud", ""}
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["fingerprint"]) for r in run.rows)
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["session_id"]) for r in run.rows)
    for row in run.rows:
        if row["EVENT_LABEL"]:
            delay = _time(row["LABEL_TIMESTAMP"]) - _time(row["EVENT_TIMESTAMP"])
            assert timedelta(days=1) <= delay <= timedelta(days=7)
        else:
            assert row["LABEL_TIMESTAMP"] == ""
    logins = Counter(r["ENTITY_ID"] for r in run.rows if not r["attack"])
    assert len(logins) == run.summary.users == 500
    assert min(logins.values()) >= 2
    assert max(logins.values()) > 10 * sorted(logins.values())[250]  # a heavy tail: some log in very often

    bare = tmp_path / "bare.csv"
    datagen.logins(bare, users=20, days=5, fingerprint=False, session=False)
    with bare.open(newline="") as source:
        assert next(csv.reader(source)) == [h for h in HEADER if h not in ("fingerprint", "session_id")]
    assert datagen.LOGIN_VARIABLES["credentials_valid"] == ("BOOLEAN", "ARE_CREDENTIALS_VALID")
    assert list(datagen.LOGIN_VARIABLES) == HEADER[4:9]


def test_every_address_resolves_to_the_network_meant(run: Run) -> None:
    pools = networks.pools()
    for row in run.rows[::20]:
        assert networks.resolve(row["ip_address"]) == (row["ip_country"], row["ip_network"]), row
        if row["network"] in ("hosting", "vpn"):
            assert networks.HOSTING.search(row["ip_network"]), row
        if row["network"] in ("home", "residential"):
            assert row["ip_network"] in [n.name for n in pools.isps[row["ip_country"]]], row
    assert {r["network"] for r in run.rows} >= {"home", "mobile", "office", "hotel", "vpn", "hosting", "residential"}
    # some homes, carriers and attackers at home speak IPv6 too
    six = [r for r in run.rows if ":" in r["ip_address"]]
    assert 0.02 * len(run.rows) < len(six) < 0.5 * len(run.rows)
    assert {"home", "mobile"} <= {r["network"] for r in six} <= {"home", "mobile", "roaming", "residential"}
    for row in six[::10]:
        assert networks.resolve(row["ip_address"]) == (row["ip_country"], row["ip_network"]), row


def test_truth_covers_every_event(run: Run) -> None:
    assert [t["EVENT_ID"] for t in run.truth] == [r["EVENT_ID"] for r in run.rows]
    assert {t["attack"] for t in run.truth} == {"", *KINDS}
    share = sum(1 for t in run.truth if t["attack"]) / len(run.truth)
    assert 0.015 < share < 0.05  # attack_share 0.03, roughly
    assert run.summary.attacks == dict(Counter(t["attack"] for t in run.truth if t["attack"]))


def test_labels_mark_only_successful_takeovers(run: Run, tmp_path: Path) -> None:
    labelled = [r for r in run.rows if r["EVENT_LABEL"]]
    assert labelled
    assert len(labelled) == run.summary.labelled
    assert all(r["attack"] and r["credentials_valid"] == "true" for r in labelled)
    informed = {r["ENTITY_ID"] for r in labelled}
    # an account is labelled whole or not at all; about half the attacked accounts are
    taken = [r for r in run.rows if r["attack"] and r["credentials_valid"] == "true"]
    assert all(bool(r["EVENT_LABEL"]) == (r["ENTITY_ID"] in informed) for r in taken)
    attacked = {r["ENTITY_ID"] for r in taken}
    assert len(attacked) == run.summary.attacked_accounts
    assert 0.25 < len(informed) / len(attacked) < 0.75

    every = _run(tmp_path / "all.csv", users=120, days=20, labelled_share=1.0)
    assert all(bool(r["EVENT_LABEL"]) == (r["attack"] != "" and r["credentials_valid"] == "true") for r in every.rows)
    none = _run(tmp_path / "none.csv", users=120, days=20, labelled_share=0.0)
    assert not any(r["EVENT_LABEL"] for r in none.rows)


def test_credential_stuffing_tries_many_accounts_from_few_datacenter_addresses(run: Run) -> None:
    tries = run.attacks("credential_stuffing", valid=False) + run.attacks("credential_stuffing")
    accounts = defaultdict(set)
    for row in tries:
        accounts[row["ip_address"]].add(row["ENTITY_ID"])
    assert max(len(found) for found in accounts.values()) >= 8
    assert len(accounts) * 5 < len({r["ENTITY_ID"] for r in tries})
    assert len(run.attacks("credential_stuffing", valid=False)) > 2 * len(run.attacks("credential_stuffing"))
    assert {r["network"] for r in tries} == {"hosting"}
    assert len({r["fingerprint"] for r in tries}) > 0.8 * len(tries)


def test_targeted_takeover_comes_from_a_new_device_abroad(run: Run) -> None:
    rows = run.attacks("targeted_takeover")
    assert rows
    for row in rows:
        assert row["ip_country"] != run.country(row["ENTITY_ID"])
        assert row["fingerprint"] not in {r["fingerprint"] for r in run.own[row["ENTITY_ID"]]}


def test_residential_proxy_copies_the_victims_user_agent_from_their_own_country(run: Run) -> None:
    firsts = _first_successes(run.attacks("residential_proxy"))
    assert firsts
    for row in firsts:
        own = run.before(row)
        assert row["user_agent"] == own[-1]["user_agent"]
        assert row["ip_country"] == run.country(row["ENTITY_ID"])
        theirs = {r["ip_network"] for r in run.own[row["ENTITY_ID"]] if r["network"] in ("home", "mobile")}
        assert row["ip_network"] not in theirs
        assert row["ip_address"] not in {r["ip_address"] for r in own}
        assert row["fingerprint"] not in {r["fingerprint"] for r in own}


def test_session_hijack_replays_a_recent_session_elsewhere(run: Run) -> None:
    firsts = _first_successes(run.attacks("session_hijack"))
    assert firsts
    for row in firsts:
        own = run.before(row)
        stolen = [r for r in own if r["session_id"] == row["session_id"]]
        assert stolen
        assert _time(row["EVENT_TIMESTAMP"]) - _time(stolen[-1]["EVENT_TIMESTAMP"]) <= timedelta(hours=8)
        assert row["ip_address"] != stolen[-1]["ip_address"]
        assert row["fingerprint"] != stolen[-1]["fingerprint"]
        assert row["user_agent"] != stolen[-1]["user_agent"]


def test_impossible_travel_follows_an_own_login_from_another_continent(run: Run) -> None:
    firsts = _first_successes(run.attacks("impossible_travel"))
    assert firsts
    for row in firsts:
        last = run.before(row)[-1]
        assert _time(row["EVENT_TIMESTAMP"]) - _time(last["EVENT_TIMESTAMP"]) <= timedelta(hours=1)
        assert BY_CODE[row["ip_country"]].continent != BY_CODE[run.country(row["ENTITY_ID"])].continent


def test_attackers_come_back_with_the_same_device(run: Run) -> None:
    visits = Counter(
        (r["ENTITY_ID"], r["fingerprint"]) for r in run.rows if r["attack"] and r["credentials_valid"] == "true"
    )
    again = [key for key, count in visits.items() if count >= 2]
    assert len(again) >= 10


def test_attack_mix_and_share(tmp_path: Path) -> None:
    only = _run(tmp_path / "only.csv", users=150, days=20, attacks={"session_hijack": 1.0}, attack_share=0.03)
    assert {r["attack"] for r in only.rows} == {"", "session_hijack"}
    clean = _run(tmp_path / "clean.csv", users=150, days=20, attack_share=0.0)
    assert {r["attack"] for r in clean.rows} == {""}
    assert not any(r["EVENT_LABEL"] for r in clean.rows)
    with pytest.raises(ValueError, match="unknown attack kinds"):
        datagen.logins(tmp_path / "x.csv", users=10, attacks={"phishing": 1.0})


def _first_successes(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each account's first successful attack login (later ones are the attacker coming back)."""
    firsts: dict[str, dict[str, str]] = {}
    for row in rows:
        firsts.setdefault(row["ENTITY_ID"], row)
    return list(firsts.values())


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_run_imports_whole_as_stored_events(tmp_path: Path) -> None:
    files = tmp_path / "data" / "files"  # where the server may read by default
    files.mkdir(parents=True)
    path = files / "logins.csv"
    summary = datagen.logins(path, users=60, days=10, seed=2, attack_share=0.05)
    with fraudhawk.Client(settings=Settings.load(data_dir=tmp_path / "data", environ={})) as client:
        datagen.declare_logins(client, "login")
        client.create_batch_import_job(
            jobId="logins",
            inputPath=str(path),
            outputPath=str(files),
            eventTypeName="login",
            iamRoleArn="arn:aws:iam::123456789012:role/afd",
        )
        deadline = time.monotonic() + 120
        while (job := client.get_batch_import_jobs(jobId="logins")["batchImports"][0])["status"] != "COMPLETE":
            assert job["status"] in ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS"), job
            assert time.monotonic() < deadline, "the import did not finish"
            time.sleep(0.05)
    assert job["processedRecordsCount"] == summary.events
    assert job["failedRecordsCount"] == 0
