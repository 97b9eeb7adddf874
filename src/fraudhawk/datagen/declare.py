"""Declaring what a generator's data needs, through any AFD client (boto3's or fraudhawk's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_DEFAULTS = {"FLOAT": "0", "INTEGER": "0", "BOOLEAN": "false"}


def declare(client: Any, variables: Mapping[str, tuple[str, str]], entity_type: str, event_type: str) -> None:
    """The variables (name -> data type, variable type), the fraud and legit labels, the entity type
    and an event type storing events."""
    for name, (data_type, variable_type) in variables.items():
        client.create_variable(
            name=name,
            dataType=data_type,
            dataSource="EVENT",
            defaultValue=_DEFAULTS.get(data_type, "unknown"),
            variableType=variable_type,
        )
    client.put_label(name="fraud")
    client.put_label(name="legit")
    client.put_entity_type(name=entity_type)
    client.put_event_type(
        name=event_type,
        eventVariables=list(variables),
        labels=["fraud", "legit"],
        entityTypes=[entity_type],
        eventIngestion="ENABLED",
    )
