"""What Account Takeover Insights asks of its data and its variables, as AFD states it.

The model learns each entity's normal logins, so it needs many entities with some history each and
enough time for habits to show: AFD asks for at least 1,500 entities with at least two login events
each, and at least 30 days of events. Its variables are chosen by variable type: an IP address, a user
agent and whether the credentials were valid are required, a fingerprint and a session id are used
when present, and any other variable is ignored by the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import polars as pl

from fraudhawk.errors import ValidationError
from fraudhawk.eventdata import layout
from fraudhawk.features.history.units import DAY_MS
from fraudhawk.training.messages import Messages

MIN_ENTITIES = 1_500
MIN_EVENTS_PER_ENTITY = 2
MIN_DAYS = 30
MANDATORY_TYPES = ("IP_ADDRESS", "USERAGENT", "ARE_CREDENTIALS_VALID")
OPTIONAL_TYPES = ("FINGERPRINT", "SESSION_ID")
#: what each variable type holds, for messages
MEANING = {
    "IP_ADDRESS": "the IP address of the login",
    "USERAGENT": "the browser's user agent",
    "ARE_CREDENTIALS_VALID": "whether the credentials presented were valid (BOOLEAN)",
    "FINGERPRINT": "a browser or device fingerprint",
    "SESSION_ID": "the authentication session's id",
}


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def check_login_data(frame: pl.DataFrame, messages: Messages) -> None:
    """File-level errors for login data that is too small for the model to learn habits from."""
    entities = frame.get_column(layout.ENTITY_ID).drop_nulls()
    counts = entities.value_counts(name="events")
    with_history = int((counts["events"] >= MIN_EVENTS_PER_ENTITY).sum()) if counts.height else 0
    if with_history < MIN_ENTITIES:
        messages.file_error(
            "Insufficient entities",
            f"Account Takeover Insights needs at least {MIN_ENTITIES:,} entities with at least "
            f"{MIN_EVENTS_PER_ENTITY} login events each; the data has {with_history:,} such entities "
            f"({counts.height:,} entities in all, {frame.height:,} events)",
        )
    times = frame.get_column(layout.EVENT_MS).drop_nulls()
    if times.len() == 0:
        messages.file_error(
            "Insufficient time range",
            f"Account Takeover Insights needs at least {MIN_DAYS} days of login events; the data has none",
        )
        return
    first, last = int(times.min()), int(times.max())  # type: ignore[arg-type]
    days = (last - first) / DAY_MS
    if days < MIN_DAYS:
        messages.file_error(
            "Insufficient time range",
            f"Account Takeover Insights needs at least {MIN_DAYS} days of login events; the data covers "
            f"{days:.1f} days ({_day(first)} to {_day(last)})",
        )


def login_variables(
    event_type: str, model_variables: list[str], types: Mapping[str, str | None], event_variables: list[str]
) -> dict[str, str]:
    """The model variables that play each login role (variable type -> variable name), or a
    ValidationError naming what is missing and how to add it. `types` gives the variable type of
    every variable named in `model_variables` and `event_variables`."""
    chosen: dict[str, str] = {}
    for variable_type in (*MANDATORY_TYPES, *OPTIONAL_TYPES):
        names = [name for name in model_variables if types.get(name) == variable_type]
        if len(names) > 1:
            raise ValidationError(
                f"trainingDataSchema.modelVariables lists {len(names)} variables of variable type {variable_type} "
                f"({', '.join(names)}): an Account Takeover Insights model reads one; list only one of them"
            )
        if names:
            chosen[variable_type] = names[0]
            continue
        if variable_type not in MANDATORY_TYPES:
            continue
        spare = [name for name in event_variables if types.get(name) == variable_type]
        if spare:
            raise ValidationError(
                f"An Account Takeover Insights model needs a variable of variable type {variable_type} "
                f"({MEANING[variable_type]}): event type {event_type} has {', '.join(spare)}; list it in "
                "trainingDataSchema.modelVariables"
            )
        raise ValidationError(
            f"An Account Takeover Insights model needs a variable of variable type {variable_type} "
            f"({MEANING[variable_type]}), and event type {event_type} has none: create a variable with "
            f"variableType {variable_type} (CreateVariable), add it to the event type's eventVariables "
            "(PutEventType), and list it in trainingDataSchema.modelVariables"
        )
    return chosen
