"""Account Takeover Insights: AFD's data requirements and the login-variable roles, on small frames."""

from __future__ import annotations

import polars as pl
import pytest

from fraudhawk.errors import ValidationError
from fraudhawk.eventdata import layout
from fraudhawk.features.history.units import DAY_MS
from fraudhawk.training.ati_checks import MIN_DAYS, MIN_ENTITIES, check_login_data, login_variables
from fraudhawk.training.messages import Messages

START_MS = 1_700_000_000_000


def logins(entities: int, per_entity: int, days: float, singles: int = 0) -> pl.DataFrame:
    """`entities` entities with `per_entity` logins each spread evenly over `days`, plus `singles`
    entities with one login each."""
    ids: list[str | None] = []
    times: list[int] = []
    span = int(days * DAY_MS)
    for entity in range(entities):
        for k in range(per_entity):
            ids.append(f"user{entity}")
            times.append(START_MS + (span * k) // max(per_entity - 1, 1))
    for single in range(singles):
        ids.append(f"once{single}")
        times.append(START_MS + span // 2)
    return pl.DataFrame({layout.ENTITY_ID: ids, layout.EVENT_MS: times}, schema_overrides={layout.EVENT_MS: pl.Int64})


def errors(frame: pl.DataFrame) -> list[dict[str, str]]:
    messages = Messages()
    check_login_data(frame, messages)
    assert not messages.field_level
    return messages.file_level


def test_enough_entities_over_enough_days_pass() -> None:
    assert errors(logins(MIN_ENTITIES, 2, MIN_DAYS)) == []


def test_too_few_entities_with_two_logins_is_an_error_with_the_counts() -> None:
    # 1,499 entities with two logins, and many with a single one, which do not count
    found = errors(logins(MIN_ENTITIES - 1, 2, 40, singles=600))
    assert [m["type"] for m in found] == ["ERROR"]
    assert found[0]["title"] == "Insufficient entities"
    content = found[0]["content"]
    assert "at least 1,500 entities with at least 2 login events" in content
    assert "1,499 such entities" in content
    assert "2,099 entities in all" in content


def test_entities_without_an_id_do_not_count() -> None:
    frame = logins(MIN_ENTITIES, 2, 40).with_columns(
        pl.when(pl.col(layout.ENTITY_ID) == "user0")
        .then(None)
        .otherwise(pl.col(layout.ENTITY_ID))
        .alias(layout.ENTITY_ID)
    )
    found = errors(frame)
    assert [m["title"] for m in found] == ["Insufficient entities"]
    assert "1,499 such entities" in found[0]["content"]


def test_less_than_thirty_days_is_an_error_with_the_span() -> None:
    found = errors(logins(MIN_ENTITIES, 3, 29.5))
    assert [m["title"] for m in found] == ["Insufficient time range"]
    assert "at least 30 days" in found[0]["content"]
    assert "29.5 days" in found[0]["content"]
    assert "2023-11-14 to 2023-12-14" in found[0]["content"]


def test_both_requirements_are_reported_together() -> None:
    found = errors(logins(10, 2, 3))
    assert [m["title"] for m in found] == ["Insufficient entities", "Insufficient time range"]


def test_no_events_fail_both() -> None:
    found = errors(logins(0, 0, 0))
    assert [m["title"] for m in found] == ["Insufficient entities", "Insufficient time range"]
    assert "the data has none" in found[1]["content"]


# --- the variables each login role comes from --------------------------------------------------------

TYPES: dict[str, str | None] = {
    "ip": "IP_ADDRESS",
    "agent": "USERAGENT",
    "valid": "ARE_CREDENTIALS_VALID",
    "fp": "FINGERPRINT",
    "sid": "SESSION_ID",
    "note": "CATEGORICAL",
    "ip2": "IP_ADDRESS",
    "plain": None,
}
EVENT = ["ip", "agent", "valid", "fp", "sid", "note", "plain"]


def test_roles_are_found_by_variable_type_and_others_are_ignored() -> None:
    chosen = login_variables("login", ["note", "valid", "ip", "plain", "agent", "sid"], TYPES, EVENT)
    assert chosen == {"IP_ADDRESS": "ip", "USERAGENT": "agent", "ARE_CREDENTIALS_VALID": "valid", "SESSION_ID": "sid"}


@pytest.mark.parametrize(("missing", "variable_type"), [("ip", "IP_ADDRESS"), ("agent", "USERAGENT")])
def test_a_mandatory_variable_of_the_event_type_left_out_is_named(missing: str, variable_type: str) -> None:
    names = [n for n in ["ip", "agent", "valid"] if n != missing]
    with pytest.raises(ValidationError) as caught:
        login_variables("login", names, TYPES, EVENT)
    text = caught.value.message
    assert variable_type in text
    assert f"event type login has {missing}" in text
    assert "modelVariables" in text


def test_a_mandatory_type_the_event_type_lacks_says_how_to_add_it() -> None:
    with pytest.raises(ValidationError) as caught:
        login_variables("login", ["ip", "agent"], TYPES, ["ip", "agent", "note"])
    text = caught.value.message
    for words in ("ARE_CREDENTIALS_VALID", "event type login has none", "CreateVariable", "PutEventType"):
        assert words in text


def test_two_variables_of_one_login_type_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        login_variables("login", ["ip", "ip2", "agent", "valid"], TYPES, [*EVENT, "ip2"])
    assert "IP_ADDRESS" in caught.value.message
    assert "ip, ip2" in caught.value.message
