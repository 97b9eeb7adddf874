"""Stored events over the wire: SendEvent, GetEvent, UpdateEventLabel, DeleteEvent, the event type's
ingestedEventStatistics and DeleteEventsByEventType, driven by boto3 against a real server."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers import (
    ENTITY_TYPE,
    EVENT_TYPE,
    OTHER_ENTITY_TYPE,
    OTHER_LABEL,
    OTHER_VARIABLE,
    T1,
    event_variables,
    get_event,
    instant,
    send,
    setup_event_type,
    statistics,
    unchecked_client,
)

T2 = "2024-02-01T12:30:00Z"
T3 = "2024-03-05T08:15:30Z"
DELETION_TIMEOUT = 60.0


def wait_deleted(afd: Any, name: str = EVENT_TYPE) -> str:
    """Poll GetDeleteEventsByEventTypeStatus until the deletion leaves IN_PROGRESS."""
    deadline = time.monotonic() + DELETION_TIMEOUT
    while True:
        status: str = afd.get_delete_events_by_event_type_status(eventTypeName=name)["eventsDeletionStatus"]
        if status not in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING"):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"deletion of the events of {name} still {status} after {DELETION_TIMEOUT} s")
        time.sleep(0.05)


# --- SendEvent and GetEvent ------------------------------------------------------------------------


def test_send_then_get_round_trips_everything(afd: Any) -> None:
    setup_event_type(afd)
    variables = event_variables(7)
    send(
        afd,
        "e1",
        "2024-01-01T10:00:00Z",
        variables,
        entity_id="cust.7@shop+x",
        assignedLabel="fraud",
        labelTimestamp="2024-01-02T11:30:15Z",
    )
    event = get_event(afd, "e1")
    assert event["eventId"] == "e1"
    assert event["eventTypeName"] == EVENT_TYPE
    assert event["eventVariables"] == variables
    assert event["entities"] == [{"entityType": ENTITY_TYPE, "entityId": "cust.7@shop+x"}]
    assert event["currentLabel"] == "fraud"
    assert instant(event["eventTimestamp"]) == datetime(2024, 1, 1, 10, 0, 0, tzinfo=UTC)
    assert instant(event["labelTimestamp"]) == datetime(2024, 1, 2, 11, 30, 15, tzinfo=UTC)


def test_send_without_label_has_no_current_label(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1", "2024-01-01T10:00:00.123Z")
    event = get_event(afd, "e1")
    assert "currentLabel" not in event
    assert "labelTimestamp" not in event
    assert instant(event["eventTimestamp"]) == datetime(2024, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)


def test_send_with_a_subset_of_variables(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1", variables={"email": "a@example.com"})
    assert get_event(afd, "e1")["eventVariables"] == {"email": "a@example.com"}


def test_statistics_count_size_and_bounds(afd: Any) -> None:
    setup_event_type(afd)
    before = statistics(afd)
    assert before["numberOfEvents"] == 0
    assert before["eventDataSizeInBytes"] == 0
    send(afd, "e1", T2)
    send(afd, "e2", T1)
    send(afd, "e3", T3)
    stats = statistics(afd)
    assert stats["numberOfEvents"] == 3
    assert stats["eventDataSizeInBytes"] > 0
    assert instant(stats["leastRecentEvent"]) == instant(T1)
    assert instant(stats["mostRecentEvent"]) == instant(T3)
    assert instant(stats["lastUpdatedTime"]) <= datetime.now(UTC)


def test_send_to_unknown_event_type_is_not_found(afd: Any) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="no_such_type"):
        send(afd, event_type="no_such_type")


def test_send_with_ingestion_disabled_is_refused(afd: Any) -> None:
    setup_event_type(afd, ingestion="DISABLED")
    with pytest.raises(afd.exceptions.ValidationException, match="DISABLED"):
        send(afd)
    setup_event_type(afd, ingestion="ENABLED")
    send(afd)
    assert get_event(afd)["eventId"] == "e1"


@pytest.mark.parametrize("variable", [OTHER_VARIABLE, "not_a_variable"])
def test_send_with_a_variable_not_of_the_event_type_names_it(afd: Any, variable: str) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ValidationException, match=variable):
        send(afd, variables={**event_variables(), variable: "x"})
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("amount", "abc"),
        ("amount", "1.2.3"),
        ("count", "1.5"),
        ("count", "ten"),
        ("is_member", "maybe"),
        ("is_member", "1"),
    ],
)
def test_send_with_a_value_not_fitting_its_data_type_is_refused(afd: Any, variable: str, value: str) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ValidationException, match=variable):
        send(afd, variables={**event_variables(), variable: value})
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd)


def test_send_values_fitting_their_data_types_are_accepted(afd: Any) -> None:
    setup_event_type(afd)
    variables = {"email": "x", "amount": "-3", "count": "-12", "is_member": "FALSE"}
    send(afd, variables=variables)
    assert get_event(afd)["eventVariables"] == variables


@pytest.mark.parametrize("entity_type", [OTHER_ENTITY_TYPE, "no_such_entity_type"])
def test_send_with_an_entity_type_not_of_the_event_type_is_refused(afd: Any, entity_type: str) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ValidationException, match=entity_type):
        send(afd, entity_type=entity_type)


def test_send_label_without_timestamp_and_timestamp_without_label_are_refused(afd: Any) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ValidationException, match="labelTimestamp"):
        send(afd, "e1", assignedLabel="fraud")
    with pytest.raises(afd.exceptions.ValidationException, match="assignedLabel"):
        send(afd, "e2", labelTimestamp=T2)
    for event_id in ("e1", "e2"):
        with pytest.raises(afd.exceptions.ResourceNotFoundException):
            get_event(afd, event_id)


@pytest.mark.parametrize("label", ["nonexistent", OTHER_LABEL])
def test_send_with_a_label_not_of_the_event_type_is_refused(afd: Any, label: str) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ValidationException, match=label):
        send(afd, assignedLabel=label, labelTimestamp=T2)


@pytest.mark.parametrize(
    "timestamp", ["yesterday", "2024-01-01 10:00:00", "2024-01-01T10:00:00+02:00", "2024-13-01T10:00:00Z"]
)
def test_send_with_a_bad_event_timestamp_is_refused(afd: Any, timestamp: str) -> None:
    setup_event_type(afd)
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="eventTimestamp"):
        send(raw, timestamp=timestamp)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd)


@pytest.mark.parametrize("timestamp", ["yesterday", "2024-01-01 10:00:00", "2024-01-01T10:00:00+02:00"])
def test_send_with_a_bad_label_timestamp_is_refused(afd: Any, timestamp: str) -> None:
    setup_event_type(afd)
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="labelTimestamp"):
        send(raw, assignedLabel="fraud", labelTimestamp=timestamp)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd)


def test_send_same_event_id_twice_conflicts_and_keeps_the_first(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1", T1, event_variables(1), entity_id="first")
    size = statistics(afd)["eventDataSizeInBytes"]
    with pytest.raises(afd.exceptions.ConflictException, match="e1"):
        send(afd, "e1", T2, event_variables(2), entity_id="second", assignedLabel="fraud", labelTimestamp=T2)
    event = get_event(afd, "e1")
    assert event["eventVariables"] == event_variables(1)
    assert event["entities"] == [{"entityType": ENTITY_TYPE, "entityId": "first"}]
    assert instant(event["eventTimestamp"]) == instant(T1)
    assert "currentLabel" not in event
    stats = statistics(afd)
    assert stats["numberOfEvents"] == 1
    assert stats["eventDataSizeInBytes"] == size


def test_same_event_id_in_another_event_type_is_a_different_event(afd: Any) -> None:
    setup_event_type(afd)
    setup_event_type(afd, name="other_type")
    send(afd, "e1", T1, event_variables(1))
    send(afd, "e1", T2, event_variables(2), event_type="other_type")
    assert get_event(afd, "e1")["eventVariables"] == event_variables(1)
    assert get_event(afd, "e1", "other_type")["eventVariables"] == event_variables(2)


def test_get_unknown_event_is_not_found(afd: Any) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="nope"):
        get_event(afd, "nope")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd, "e1", "no_such_type")


# --- UpdateEventLabel ------------------------------------------------------------------------------


def test_update_event_label_sets_and_changes_the_label(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1")
    afd.update_event_label(eventId="e1", eventTypeName=EVENT_TYPE, assignedLabel="legit", labelTimestamp=T2)
    event = get_event(afd, "e1")
    assert event["currentLabel"] == "legit"
    assert instant(event["labelTimestamp"]) == instant(T2)
    afd.update_event_label(eventId="e1", eventTypeName=EVENT_TYPE, assignedLabel="fraud", labelTimestamp=T3)
    event = get_event(afd, "e1")
    assert event["currentLabel"] == "fraud"
    assert instant(event["labelTimestamp"]) == instant(T3)
    assert event["eventVariables"] == event_variables()
    assert instant(event["eventTimestamp"]) == instant(T1)


def test_update_event_label_of_unknown_event_is_not_found(afd: Any) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost"):
        afd.update_event_label(eventId="ghost", eventTypeName=EVENT_TYPE, assignedLabel="fraud", labelTimestamp=T2)


@pytest.mark.parametrize("label", ["nonexistent", OTHER_LABEL])
def test_update_event_label_with_a_label_not_of_the_event_type_is_refused(afd: Any, label: str) -> None:
    setup_event_type(afd)
    send(afd, "e1", assignedLabel="legit", labelTimestamp=T1)
    with pytest.raises(afd.exceptions.ValidationException, match=label):
        afd.update_event_label(eventId="e1", eventTypeName=EVENT_TYPE, assignedLabel=label, labelTimestamp=T2)
    event = get_event(afd, "e1")
    assert event["currentLabel"] == "legit"
    assert instant(event["labelTimestamp"]) == instant(T1)


def test_update_event_label_with_a_bad_timestamp_is_refused(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1")
    with pytest.raises(afd.exceptions.ValidationException, match="labelTimestamp"):
        afd.update_event_label(
            eventId="e1", eventTypeName=EVENT_TYPE, assignedLabel="fraud", labelTimestamp="2024-01-01 10:00:00"
        )
    assert "currentLabel" not in get_event(afd, "e1")


# --- DeleteEvent -----------------------------------------------------------------------------------


def test_delete_event_removes_it_and_updates_statistics(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1", T1, event_variables(1))
    send(afd, "e2", T3, event_variables(2))
    full = statistics(afd)
    assert full["numberOfEvents"] == 2
    afd.delete_event(eventId="e2", eventTypeName=EVENT_TYPE)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd, "e2")
    assert get_event(afd, "e1")["eventId"] == "e1"
    stats = statistics(afd)
    assert stats["numberOfEvents"] == 1
    assert 0 < stats["eventDataSizeInBytes"] < full["eventDataSizeInBytes"]
    # The newest event went: the bounds are those of the one left.
    assert instant(stats["leastRecentEvent"]) == instant(T1)
    assert instant(stats["mostRecentEvent"]) == instant(T1)
    afd.delete_event(eventId="e1", eventTypeName=EVENT_TYPE)
    empty = statistics(afd)
    assert empty["numberOfEvents"] == 0
    assert empty["eventDataSizeInBytes"] == 0
    assert "leastRecentEvent" not in empty
    assert "mostRecentEvent" not in empty


def test_delete_event_is_idempotent(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1")
    afd.delete_event(eventId="e1", eventTypeName=EVENT_TYPE)
    afd.delete_event(eventId="e1", eventTypeName=EVENT_TYPE)
    afd.delete_event(eventId="never_sent", eventTypeName=EVENT_TYPE, deleteAuditHistory=True)
    assert statistics(afd)["numberOfEvents"] == 0


def test_event_id_can_be_sent_again_after_delete(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1", T1, event_variables(1))
    afd.delete_event(eventId="e1", eventTypeName=EVENT_TYPE)
    send(afd, "e1", T2, event_variables(2))
    event = get_event(afd, "e1")
    assert event["eventVariables"] == event_variables(2)
    assert instant(event["eventTimestamp"]) == instant(T2)
    assert statistics(afd)["numberOfEvents"] == 1


# --- DeleteEventType and DeleteEventsByEventType ---------------------------------------------------


def test_delete_event_type_is_refused_while_events_are_stored(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1")
    with pytest.raises(afd.exceptions.ConflictException):
        afd.delete_event_type(name=EVENT_TYPE)
    assert get_event(afd, "e1")["eventId"] == "e1"
    afd.delete_event(eventId="e1", eventTypeName=EVENT_TYPE)
    afd.delete_event_type(name=EVENT_TYPE)
    assert afd.get_event_types()["eventTypes"] == []


def test_delete_events_by_event_type_removes_them_all(afd: Any) -> None:
    setup_event_type(afd)
    setup_event_type(afd, name="other_type")
    for index in range(25):
        send(afd, f"e{index}", T1, event_variables(index), assignedLabel="fraud", labelTimestamp=T2)
    send(afd, "kept", T1, event_variables(1), event_type="other_type")
    assert statistics(afd)["numberOfEvents"] == 25
    answer = afd.delete_events_by_event_type(eventTypeName=EVENT_TYPE)
    assert answer["eventTypeName"] == EVENT_TYPE
    assert answer["eventsDeletionStatus"] in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING")
    assert wait_deleted(afd) == "COMPLETE"
    stats = statistics(afd)
    assert stats["numberOfEvents"] == 0
    assert stats["eventDataSizeInBytes"] == 0
    for index in range(25):
        with pytest.raises(afd.exceptions.ResourceNotFoundException):
            get_event(afd, f"e{index}")
    # Another event type's events stay.
    assert get_event(afd, "kept", "other_type")["eventId"] == "kept"
    assert statistics(afd, "other_type")["numberOfEvents"] == 1
    # The status stays readable, and the ids can be used again.
    assert afd.get_delete_events_by_event_type_status(eventTypeName=EVENT_TYPE)["eventsDeletionStatus"] == "COMPLETE"
    send(afd, "e0", T3)
    assert statistics(afd)["numberOfEvents"] == 1
    afd.delete_event(eventId="e0", eventTypeName=EVENT_TYPE)
    afd.delete_event_type(name=EVENT_TYPE)
    assert [t["name"] for t in afd.get_event_types()["eventTypes"]] == ["other_type"]


def test_delete_events_by_event_type_then_delete_event_type(afd: Any) -> None:
    setup_event_type(afd)
    send(afd, "e1")
    send(afd, "e2", T2)
    afd.delete_events_by_event_type(eventTypeName=EVENT_TYPE)
    assert wait_deleted(afd) == "COMPLETE"
    afd.delete_event_type(name=EVENT_TYPE)
    assert afd.get_event_types()["eventTypes"] == []


def test_delete_events_by_event_type_with_no_events_completes(afd: Any) -> None:
    setup_event_type(afd)
    afd.delete_events_by_event_type(eventTypeName=EVENT_TYPE)
    assert wait_deleted(afd) == "COMPLETE"
    assert statistics(afd)["numberOfEvents"] == 0


def test_deletion_status_before_any_deletion_is_not_found(afd: Any) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_delete_events_by_event_type_status(eventTypeName=EVENT_TYPE)


def test_delete_events_of_unknown_event_type_is_not_found(afd: Any) -> None:
    setup_event_type(afd)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="no_such_type"):
        afd.delete_events_by_event_type(eventTypeName="no_such_type")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_delete_events_by_event_type_status(eventTypeName="no_such_type")
