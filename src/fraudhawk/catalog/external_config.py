"""An external model's stored configuration as code reads it: the endpoint, how its input is built
(a template over event variables, or the caller's data blob) and which outputs fill which variables.

The catalog checks and stores it (`fraudhawk.catalog.external_models`); prediction calls the endpoint
with it (`fraudhawk.scoring.external`). Only the schema is imported, so both can read it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select

from fraudhawk.storage import schema

#: `{{variable}}` in an input template; what is inside is checked to be a variable name on Put.
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
INPUT_CONTENT_TYPES = {"TEXT_CSV": "text/csv", "APPLICATION_JSON": "application/json"}
_TEMPLATE_MEMBER = {"TEXT_CSV": "csvInputTemplate", "APPLICATION_JSON": "jsonInputTemplate"}
_MAP_MEMBER = {"TEXT_CSV": "csvIndexToVariableMap", "APPLICATION_JSONLINES": "jsonKeyToVariableMap"}


def placeholders(template: str) -> list[str]:
    """The names inside a template's `{{...}}`, stripped, in order, each once."""
    return list(dict.fromkeys(match.strip() for match in PLACEHOLDER.findall(template)))


def template_member(input_format: str) -> str:
    """The inputConfiguration member holding the template for an input format."""
    return _TEMPLATE_MEMBER[input_format]


def map_member(output_format: str) -> str:
    """The outputConfiguration member holding the output mapping for an output format."""
    return _MAP_MEMBER[output_format]


def fill_template(template: str, values: Mapping[str, str], json_escape: bool) -> str:
    """Replace every `{{name}}` with its value in one pass (a value holding `{{x}}` stays as is).

    JSON templates get the value's JSON-escaped string contents, so `"{{name}}"` stays one valid
    JSON string whatever quotes, backslashes or new lines the value holds."""

    def value(match: re.Match[str]) -> str:
        text = values[match.group(1).strip()]
        return json.dumps(text, ensure_ascii=False)[1:-1] if json_escape else text

    return PLACEHOLDER.sub(value, template)


@dataclass(frozen=True)
class ExternalModel:
    """An external model as prediction needs it, read from its stored configuration."""

    endpoint: str
    source: str
    status: str
    input_format: str | None
    use_event_variables: bool
    template: str | None  # the CSV or JSON input template, when event variables are used
    output_format: str
    mapping: dict[str, str]  # CSV index (as text) or JSON key -> variable name
    event_type: str | None = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> ExternalModel:
        """From an `external_models` row (configurations stored as the JSON the caller sent)."""
        given_input: dict[str, Any] = json.loads(row.input_configuration)
        given_output: dict[str, Any] = json.loads(row.output_configuration)
        input_format = given_input.get("format")
        use_event_variables = bool(given_input.get("useEventVariables"))
        template = None
        if use_event_variables and input_format in _TEMPLATE_MEMBER:
            template = given_input.get(_TEMPLATE_MEMBER[input_format])
        output_format = given_output["format"]
        return cls(
            endpoint=row.endpoint,
            source=row.model_source,
            status=row.status,
            input_format=input_format,
            use_event_variables=use_event_variables,
            template=template,
            output_format=output_format,
            mapping=dict(given_output.get(_MAP_MEMBER[output_format]) or {}),
            event_type=given_input.get("eventTypeName"),
        )

    @property
    def output_variables(self) -> list[str]:
        """The variables this model fills, each once (CSV: in index order)."""
        keys = sorted(self.mapping, key=int) if self.output_format == "TEXT_CSV" else list(self.mapping)
        return list(dict.fromkeys(self.mapping[key] for key in keys))

    @property
    def input_variables(self) -> list[str]:
        """The event variables the template reads (none when the caller sends a data blob)."""
        return placeholders(self.template) if self.template else []


def load_external_models(conn: Connection, endpoints: Sequence[str]) -> dict[str, ExternalModel]:
    """The named external models that exist (absent names are left out), keyed by endpoint."""
    table = schema.external_models
    if not endpoints:
        return {}
    rows = conn.execute(select(table).where(table.c.endpoint.in_(list(endpoints))))
    return {row.endpoint: ExternalModel.from_row(row) for row in rows}
