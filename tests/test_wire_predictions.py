"""GetEventPrediction, GetEventPredictionMetadata and ListEventPredictions over the wire, with rules
alone (a fresh server per test) and with real trained OFI and TFI models (one server per module)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import urllib.request
from contextlib import closing
from typing import Any

import pytest

from fraudhawk import datagen
from fraudhawk.features.history import EntityState
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings
from tests.helpers import OFI, TFI, Lab, RunningServer, boto_client, error_of, rule, setup_catalog, wait_status


def predict(afd: Any, variables: dict[str, str], event_id: str = "e1", **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "detectorId": "shop",
        "eventId": event_id,
        "eventTypeName": "checkout",
        "eventTimestamp": "2024-05-01T10:00:00Z",
        "entities": [{"entityType": "customer", "entityId": "c1"}],
        "eventVariables": variables,
        **extra,
    }
    result: dict[str, Any] = afd.get_event_prediction(**request)
    return result


@pytest.fixture
def shop(afd: Any) -> Any:
    """Three rules in order: block big orders, review throwaway emails, approve everything else."""
    setup_catalog(afd)
    afd.create_list(name="throwaway", elements=["mailinator.com", "guerrillamail.com"], variableType="EMAIL_ADDRESS")
    rules = [
        rule(afd, "big_order", "$order_amount > 1000 and !$is_member", ["block"]),
        rule(
            afd,
            "throwaway",
            'regex_match(".*@(mailinator|guerrillamail)\\.com", lowercase($email_address))',
            ["review"],
        ),
        rule(afd, "listed_ip", "$ip_address in @throwaway or $items >= 50", ["review", "block"]),
        rule(afd, "everyone", "$items >= 0", ["approve"]),
    ]
    afd.create_detector_version(detectorId="shop", rules=rules)
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
    return afd


def test_first_matched_returns_the_first_rule(shop: Any) -> None:
    result = predict(shop, {"order_amount": "1500", "email_address": "a@MAILINATOR.com"})
    assert result["modelScores"] == []
    assert result["externalModelOutputs"] == []
    assert result["ruleResults"] == [{"ruleId": "big_order", "outcomes": ["block"]}]
    result = predict(shop, {"order_amount": "1500", "is_member": "true", "email_address": "a@MAILINATOR.com"}, "e2")
    assert result["ruleResults"] == [{"ruleId": "throwaway", "outcomes": ["review"]}]
    result = predict(shop, {"order_amount": "20", "email_address": "someone@example.com"}, "e3")
    assert result["ruleResults"] == [{"ruleId": "everyone", "outcomes": ["approve"]}]


def test_all_matched_returns_every_match(shop: Any) -> None:
    rules = shop.get_detector_version(detectorId="shop", detectorVersionId="1")["rules"]
    created = shop.create_detector_version(detectorId="shop", rules=rules, ruleExecutionMode="ALL_MATCHED")
    result = predict(
        shop,
        {"order_amount": "1500", "email_address": "x@mailinator.com"},
        detectorVersionId=created["detectorVersionId"],
    )
    assert [r["ruleId"] for r in result["ruleResults"]] == ["big_order", "throwaway", "everyone"]
    # the ACTIVE version still answers when no version is named
    assert [r["ruleId"] for r in predict(shop, {"order_amount": "1500"}, "e2")["ruleResults"]] == ["big_order"]


def test_missing_variables_take_their_defaults(shop: Any) -> None:
    # items defaults to 1 and is_member to false: "everyone" matches on the default
    result = predict(shop, {"email_address": "someone@example.com"})
    assert result["ruleResults"] == [{"ruleId": "everyone", "outcomes": ["approve"]}]
    summaries = shop.list_event_predictions(eventId={"value": "e1"})["eventPredictionSummaries"]
    metadata = shop.get_event_prediction_metadata(
        eventId="e1",
        eventTypeName="checkout",
        detectorId="shop",
        detectorVersionId="1",
        predictionTimestamp=summaries[0]["predictionTimestamp"],
    )
    sources = {v["name"]: (v["value"], v["source"]) for v in metadata["eventVariables"]}
    assert sources["email_address"] == ("someone@example.com", "EVENT")
    assert sources["items"] == ("1", "DEFAULT")


def test_prediction_is_recorded_and_searchable(shop: Any) -> None:
    predict(shop, {"order_amount": "1500", "email_address": "a@mailinator.com"}, "e1")
    predict(shop, {"order_amount": "5", "email_address": "b@example.com"}, "e2")
    summaries = shop.list_event_predictions()["eventPredictionSummaries"]
    assert [s["eventId"] for s in summaries] == ["e2", "e1"]  # newest first
    first = next(s for s in summaries if s["eventId"] == "e1")
    assert first["detectorId"] == "shop"
    assert first["detectorVersionId"] == "1"
    assert first["eventTypeName"] == "checkout"
    assert first["eventTimestamp"] == "2024-05-01T10:00:00.000Z"
    metadata = shop.get_event_prediction_metadata(
        eventId="e1",
        eventTypeName="checkout",
        detectorId="shop",
        detectorVersionId="1",
        predictionTimestamp=first["predictionTimestamp"],
    )
    assert metadata["entityId"] == "c1"
    assert metadata["entityType"] == "customer"
    assert metadata["detectorVersionStatus"] == "ACTIVE"
    assert metadata["ruleExecutionMode"] == "FIRST_MATCHED"
    assert metadata["outcomes"] == ["block"]
    rules = {r["ruleId"]: r for r in metadata["rules"]}
    assert rules["big_order"]["matched"] is True
    assert rules["big_order"]["evaluated"] is True
    assert rules["big_order"]["expressionWithValues"].startswith("1500")
    assert rules["throwaway"]["evaluated"] is False  # FIRST_MATCHED stopped before it
    assert metadata["evaluatedModelVersions"] == []
    for filters, expected in (
        ({"eventId": {"value": "e2"}}, ["e2"]),
        ({"eventType": {"value": "checkout"}}, ["e2", "e1"]),
        ({"detectorId": {"value": "other"}}, []),
        ({"detectorVersionId": {"value": "1"}}, ["e2", "e1"]),
        (
            {"predictionTimeRange": {"startTime": "2000-01-01T00:00:00Z", "endTime": "2000-01-02T00:00:00Z"}},
            [],
        ),
    ):
        found = shop.list_event_predictions(**filters)["eventPredictionSummaries"]
        assert [s["eventId"] for s in found] == expected, filters
    code, _ = error_of(
        shop.get_event_prediction_metadata,
        eventId="e1",
        eventTypeName="checkout",
        detectorId="shop",
        detectorVersionId="1",
        predictionTimestamp="2000-01-01T00:00:00Z",
    )
    assert code == "ResourceNotFoundException"


def test_list_event_predictions_pages(shop: Any) -> None:
    for i in range(55):
        predict(shop, {"items": str(i)}, f"p{i:02d}")
    first = shop.list_event_predictions(maxResults=50)
    second = shop.list_event_predictions(maxResults=50, nextToken=first["nextToken"])
    ids = [s["eventId"] for s in first["eventPredictionSummaries"] + second["eventPredictionSummaries"]]
    assert sorted(ids) == [f"p{i:02d}" for i in range(55)]
    assert len(set(ids)) == 55
    assert "nextToken" not in second


def test_prediction_errors(shop: Any) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"detectorId": "nope"}, "ResourceNotFoundException", "nope"),
        ({"detectorVersionId": "9"}, "ResourceNotFoundException", "9"),
        ({"eventTypeName": "other"}, "ValidationException", "eventTypeName"),
        ({"eventVariables": {"shoe_size": "9"}}, "ValidationException", "shoe_size"),
        ({"eventVariables": {"items": "many"}}, "ValidationException", "items"),
        ({"eventVariables": {}}, "ValidationException", "eventVariables"),
        ({"entities": [{"entityType": "merchant", "entityId": "m"}]}, "ValidationException", "merchant"),
        ({"eventTimestamp": "yesterday at noon"}, "ValidationException", "eventTimestamp"),
    ]
    for change, code, text in cases:
        request = {
            "detectorId": "shop",
            "eventId": "bad",
            "eventTypeName": "checkout",
            "eventTimestamp": "2024-05-01T10:00:00Z",
            "entities": [{"entityType": "customer", "entityId": "c1"}],
            "eventVariables": {"items": "1"},
            **change,
        }
        got, message = error_of(shop.get_event_prediction, **request)
        assert (got, text in message) == (code, True), (change, message)
    assert shop.list_event_predictions()["eventPredictionSummaries"] == []


def test_draft_version_by_id_and_no_active_version(shop: Any) -> None:
    rules = shop.get_detector_version(detectorId="shop", detectorVersionId="1")["rules"]
    shop.create_detector_version(detectorId="shop", rules=rules[-1:])
    assert predict(shop, {"items": "2"}, detectorVersionId="2")["ruleResults"][0]["ruleId"] == "everyone"
    shop.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="INACTIVE")
    code, message = error_of(predict, shop, {"items": "2"})
    assert code == "ResourceNotFoundException"
    assert "ACTIVE" in message


def test_ingestion_stores_the_predicted_event(shop: Any) -> None:
    shop.put_event_type(
        name="checkout",
        eventVariables=["email_address", "ip_address", "order_amount", "items", "is_member"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
        eventIngestion="ENABLED",
    )
    predict(shop, {"order_amount": "12.5"}, "stored_1")
    event = shop.get_event(eventId="stored_1", eventTypeName="checkout")["event"]
    assert event["eventVariables"] == {"order_amount": "12.5"}
    # a second prediction of the same event is recorded but not stored twice
    predict(shop, {"order_amount": "99"}, "stored_1")
    assert shop.get_event(eventId="stored_1", eventTypeName="checkout")["event"]["eventVariables"] == {
        "order_amount": "12.5"
    }
    assert len(shop.list_event_predictions(eventId={"value": "stored_1"})["eventPredictionSummaries"]) == 2
    shop.delete_event(eventId="stored_1", eventTypeName="checkout", deleteAuditHistory=True)
    assert shop.list_event_predictions(eventId={"value": "stored_1"})["eventPredictionSummaries"] == []


def test_rules_see_list_changes_at_once(shop: Any) -> None:
    assert predict(shop, {"ip_address": "1.2.3.4"}, "e1")["ruleResults"][0]["ruleId"] == "everyone"
    shop.update_list(name="throwaway", elements=["1.2.3.4"], updateMode="APPEND")
    assert predict(shop, {"ip_address": "1.2.3.4"}, "e2")["ruleResults"][0]["ruleId"] == "listed_ip"


# --- with trained models -----------------------------------------------------------------------------


def signup(afd: Any, event_id: str, email: str, ip: str, version: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "detectorId": "signups",
        "eventId": event_id,
        "eventTypeName": "signup",
        "eventTimestamp": "2024-07-01T12:00:00Z",
        "entities": [{"entityType": "customer", "entityId": "new"}],
        "eventVariables": {
            "email_address": email,
            "ip_address": ip,
            "phone_number": "+1 415 555 0100",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
            "billing_state": "CA",
        },
    }
    if version:
        request["detectorVersionId"] = version
    result: dict[str, Any] = afd.get_event_prediction(**request)
    return result


def test_model_scores_rules_and_explanations(lab: Lab) -> None:
    afd = lab.afd
    afd.put_outcome(name="review")
    afd.put_outcome(name="approve")
    afd.put_detector(detectorId="signups", eventTypeName="signup")
    risky = afd.create_rule(
        ruleId="risky",
        detectorId="signups",
        expression="$signup_model_insightscore > 800",
        language="DETECTORPL",
        outcomes=["review"],
    )["rule"]
    rest = afd.create_rule(
        ruleId="rest",
        detectorId="signups",
        expression="$signup_model_insightscore >= 0",
        language="DETECTORPL",
        outcomes=["approve"],
    )["rule"]
    model = {"modelId": "signup_model", "modelType": OFI, "modelVersionNumber": "1.0"}
    code, message = error_of(
        afd.create_detector_version, detectorId="signups", rules=[risky, rest], modelVersions=[model]
    )
    assert code == "ValidationException"
    assert "ACTIVE" in message
    code, message = error_of(afd.create_detector_version, detectorId="signups", rules=[risky, rest])
    assert code == "ValidationException"
    assert "signup_model" in message
    afd.update_model_version_status(**model, status="ACTIVE")
    wait_status(afd, "signup_model", OFI, "1.0", "ACTIVE")
    afd.create_detector_version(detectorId="signups", rules=[risky, rest], modelVersions=[model])
    afd.update_detector_version_status(detectorId="signups", detectorVersionId="1", status="ACTIVE")
    code, message = error_of(afd.update_model_version_status, **model, status="INACTIVE")
    assert code == "ConflictException"
    assert "signups" in message
    bad = signup(afd, "s_bad", "xq7zk2v9r1@mailinator.com", "185.105.3.4")
    good = signup(afd, "s_good", "mary.smith@gmail.com", "64.12.9.80")
    scores = {}
    for name, result in (("bad", bad), ("good", good)):
        assert len(result["modelScores"]) == 1
        entry = result["modelScores"][0]
        assert entry["modelVersion"]["modelId"] == "signup_model"
        assert entry["modelVersion"]["modelVersionNumber"] == "1.0"
        scores[name] = entry["scores"]["signup_model_insightscore"]
        assert 0 <= scores[name] <= 1000
        expected_rule = "risky" if scores[name] > 800 else "rest"
        assert [r["ruleId"] for r in result["ruleResults"]] == [expected_rule]
    assert scores["bad"] > scores["good"]
    totals = {}
    for event_id in ("s_bad", "s_good"):
        summary = afd.list_event_predictions(eventId={"value": event_id})["eventPredictionSummaries"][0]
        metadata = afd.get_event_prediction_metadata(
            eventId=event_id,
            eventTypeName="signup",
            detectorId="signups",
            detectorVersionId="1",
            predictionTimestamp=summary["predictionTimestamp"],
        )
        evaluated = metadata["evaluatedModelVersions"]
        assert [(e["modelId"], e["modelVersion"], e["modelType"]) for e in evaluated] == [("signup_model", "1.0", OFI)]
        evaluation = evaluated[0]["evaluations"][0]
        assert evaluation["outputVariableName"] == "signup_model_insightscore"
        assert float(evaluation["evaluationScore"]) == scores["bad" if event_id == "s_bad" else "good"]
        explanations = evaluation["predictionExplanations"]
        impacts = explanations["variableImpactExplanations"]
        assert {i["eventVariableName"] for i in impacts} <= set(datagen.REGISTRATION_VARIABLES)
        assert all(i["relativeImpact"] in {"0", "1", "2", "3", "4", "5"} for i in impacts)
        totals[event_id] = sum(i["logOddsImpact"] for i in impacts) + sum(
            g["logOddsImpact"] for g in explanations["aggregatedVariablesImpactExplanations"]
        )
    # contributions add up to the raw score less a constant, and scores rise with the raw score
    assert totals["s_bad"] > totals["s_good"]


def _state_count(settings: Settings, entity: str) -> int:
    with closing(sqlite3.connect(settings.data_dir / "fraudhawk.db")) as db:
        row = db.execute("SELECT state FROM entity_states WHERE entity_id = ?", (entity,)).fetchone()
    return EntityState.from_bytes(row[0]).n if row else 0


def test_tfi_prediction_stores_the_event_and_advances_history(lab: Lab) -> None:
    afd = lab.afd
    afd.put_outcome(name="hold")
    afd.put_detector(detectorId="cards", eventTypeName="payment")
    everyone = afd.create_rule(
        ruleId="all",
        detectorId="cards",
        expression="$card_model_insightscore >= 0",
        language="DETECTORPL",
        outcomes=["hold"],
    )["rule"]
    model = {"modelId": "card_model", "modelType": TFI, "modelVersionNumber": "1.0"}
    afd.update_model_version_status(**model, status="ACTIVE")
    wait_status(afd, "card_model", TFI, "1.0", "ACTIVE")
    # activation compiled the trees to native code, which real-time and batch scoring now use; the
    # store keeps the library's SHA-256, and only a file with that content is loaded
    libraries = list((lab.settings.data_dir / "models" / "card_model").rglob("compiled-*.so"))
    assert len(libraries) == 1
    with closing(sqlite3.connect(lab.settings.data_dir / "fraudhawk.db")) as db:
        recorded = db.execute("SELECT compiled_sha256 FROM model_versions WHERE model_id = 'card_model'").fetchone()
    assert recorded[0] == hashlib.sha256(libraries[0].read_bytes()).hexdigest()
    afd.create_detector_version(detectorId="cards", rules=[everyone], modelVersions=[model])
    afd.update_detector_version_status(detectorId="cards", detectorVersionId="1", status="ACTIVE")
    before = _state_count(lab.settings, "card_00007")
    assert before > 0  # the card has history from the imported events
    scores = []
    for i in range(3):
        result = afd.get_event_prediction(
            detectorId="cards",
            eventId=f"burst_{i}",
            eventTypeName="payment",
            eventTimestamp=f"2030-02-01T03:0{i}:00Z",
            entities=[{"entityType": "card", "entityId": "card_00007"}],
            eventVariables={
                "amt": "950.00",
                "category": "shopping_net",
                "merchant": "merchant_149",
                "card_bin": "411111",
            },
        )
        scores.append(result["modelScores"][0]["scores"]["card_model_insightscore"])
        assert (
            afd.get_event(eventId=f"burst_{i}", eventTypeName="payment")["event"]["eventVariables"]["amt"] == "950.00"
        )
    assert _state_count(lab.settings, "card_00007") == before + 3
    assert all(0 <= s <= 1000 for s in scores)


def test_concurrent_predictions_over_http_commit_together_and_each_counts_once(lab: Lab) -> None:
    """Many clients at once: the server commits their writes in shared transactions, and every
    prediction is answered, stored once and advances its card's history once."""
    afd = lab.afd
    try:
        afd.get_detectors(detectorId="cards")
    except afd.exceptions.ResourceNotFoundException:  # run alone: the test before sets it up
        test_tfi_prediction_stores_the_event_and_advances_history(lab)
    cards = [f"card_{n:05d}" for n in (11, 12, 13, 14)]
    before = {card: _state_count(lab.settings, card) for card in cards}
    clients = [boto_client(afd.meta.endpoint_url) for _ in range(12)]
    per_client = 8
    errors: list[BaseException] = []

    def send(number: int) -> None:
        try:
            for i in range(per_client):
                result = clients[number].get_event_prediction(
                    detectorId="cards",
                    eventId=f"many_{number}_{i}",
                    eventTypeName="payment",
                    eventTimestamp=f"2030-03-01T{number:02d}:{i:02d}:00Z",
                    entities=[{"entityType": "card", "entityId": cards[(number + i) % len(cards)]}],
                    eventVariables={"amt": f"{10 + i}.00", "category": "grocery_pos", "merchant": f"m_{number}"},
                )
                assert result["ruleResults"][0]["outcomes"] == ["hold"]
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent = dict.fromkeys(cards, 0)
    for number in range(len(clients)):
        for i in range(per_client):
            sent[cards[(number + i) % len(cards)]] += 1
    assert {card: _state_count(lab.settings, card) - before[card] for card in cards} == sent
    with closing(sqlite3.connect(lab.settings.data_dir / "fraudhawk.db")) as db:
        stored = db.execute("SELECT count(*) FROM streamed_events WHERE event_id LIKE 'many_%'").fetchone()[0]
        recorded = db.execute("SELECT count(*) FROM predictions WHERE event_id LIKE 'many_%'").fetchone()[0]
    assert stored == recorded == len(clients) * per_client


def test_a_starting_server_loads_the_active_detectors_plans(shop: Any, settings: Settings) -> None:
    """A restarted server loads the ACTIVE detector versions' plans (rules compiled, models loaded)
    as soon as it starts, so its first predictions do not wait for them."""
    service = Service(settings)  # the restarted server's, to look at what it holds
    with closing(service), RunningServer(settings, service) as restarted:
        plans = service.context.plans
        deadline = time.monotonic() + 10
        while not plans.held() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert plans.held() == [("shop", "")]
        result = boto_client(restarted.url).get_event_prediction(
            detectorId="shop",
            eventId="after_restart",
            eventTypeName="checkout",
            eventTimestamp="2024-05-01T10:00:00Z",
            entities=[{"entityType": "customer", "entityId": "c1"}],
            eventVariables={"order_amount": "5000", "is_member": "false"},
        )
        assert [r["ruleId"] for r in result["ruleResults"]] == ["big_order"]


def _raw_call(afd: Any, operation: str, **params: Any) -> dict[str, Any]:
    """An operation's JSON answer as the server sends it (boto3 drops fraudhawk's extra members)."""
    request = urllib.request.Request(
        afd.meta.endpoint_url,
        data=json.dumps(params).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSHawksNestServiceFacade.{operation}",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
    return result


def test_a_new_customer_scores_as_new_customers_do_and_is_explained_as_new(lab: Lab) -> None:
    """A card the store has never seen: its ordinary daytime purchase is scored on the young
    entities' curve (900 flags about 2% of new customers' legitimate events, as of known ones') and
    stays below 900; its explanation speaks of a new customer, not of the card's id."""
    afd = lab.afd
    model = {"modelId": "card_model", "modelType": TFI, "modelVersionNumber": "1.0"}
    if afd.get_model_version(**model)["status"] != "ACTIVE":
        afd.update_model_version_status(**model, status="ACTIVE")
        wait_status(afd, "card_model", TFI, "1.0", "ACTIVE")
    with closing(sqlite3.connect(lab.settings.data_dir / "fraudhawk.db")) as db:
        result_text = db.execute("SELECT training_result FROM model_versions WHERE model_id = 'card_model'").fetchone()
    # fraudhawk's figures beside AFD's (`fraudhawk train`, the console's model page)
    buckets = {b["earlierEvents"]: b for b in json.loads(result_text[0])["extra"]["historyLength"]}
    assert set(buckets) == {"new", "1-2", "3-9", "10-29", "30-99", "100+"}
    assert buckets["new"]["asIfNew"]["events"] > 0  # validation events scored as if their card were new
    afd.put_outcome(name="hold")
    afd.put_detector(detectorId="new_cards", eventTypeName="payment")
    everyone = rule(afd, "new_all", "$card_model_insightscore >= 0", ["hold"], detector="new_cards")
    afd.create_detector_version(detectorId="new_cards", rules=[everyone], modelVersions=[model])
    afd.update_detector_version_status(detectorId="new_cards", detectorVersionId="1", status="ACTIVE")
    purchase = {"amt": "58.20", "category": "grocery_pos", "merchant": "merchant_010", "card_bin": "411111"}
    result = afd.get_event_prediction(
        detectorId="new_cards",
        eventId="never_seen_1",
        eventTypeName="payment",
        eventTimestamp="2024-03-05T14:10:00Z",
        entities=[{"entityType": "card", "entityId": "card_never_seen"}],
        eventVariables=purchase,
    )
    score = result["modelScores"][0]["scores"]["card_model_insightscore"]
    assert 0 <= score < 900
    summary = afd.list_event_predictions(eventId={"value": "never_seen_1"})["eventPredictionSummaries"][0]
    metadata = _raw_call(
        afd,
        "GetEventPredictionMetadata",
        eventId="never_seen_1",
        eventTypeName="payment",
        detectorId="new_cards",
        detectorVersionId="1",
        predictionTimestamp=summary["predictionTimestamp"],
    )
    explanations = metadata["evaluatedModelVersions"][0]["evaluations"][0]["predictionExplanations"]
    history = [
        g for g in explanations["aggregatedVariablesImpactExplanations"] if g["eventVariableNames"] == ["ENTITY_ID"]
    ]
    assert history
    assert history[0]["description"] == "new customer (no earlier events)"
    words = [f["description"] for f in explanations["featureImpactExplanations"] if f["featureName"].startswith("h.")]
    assert words
    assert all(w.startswith("new customer (no earlier events): ") for w in words)
