"""External models (AFD's imported SageMaker models): PutExternalModel, GetExternalModels, DeleteExternalModel.

An external model names an endpoint, says how to build its input (a template over the event's
variables, or the caller's own data blob) and which of its outputs fill which variables. Those
output variables (data source EXTERNAL_MODEL_SCORE) are created on Put when missing, so rules can
name them; they are ordinary variables afterwards and outlive the model. The runtime side is
`fraudhawk.scoring.external`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from fraudhawk.catalog.external_config import (
    INPUT_CONTENT_TYPES,
    ExternalModel,
    fill_template,
    map_member,
    placeholders,
    template_member,
)
from fraudhawk.catalog.named import exists
from fraudhawk.catalog.paging import page, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.catalog.usage import external_model_users
from fraudhawk.catalog.variables import NAME_PATTERN
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.storage import schema

ARN_TYPE = "external-model"
SOURCE = "EXTERNAL_MODEL_SCORE"
# invokeModelEndpointRoleArn is a plain string in the model; AFD's own IAM role ARN shape is the rule.
ROLE_ARN = re.compile(r"^arn:aws[a-z-]{0,15}:iam::[0-9]{12}:role/\S{2,64}$")
CSV_INDEX = re.compile(r"^(0|[1-9][0-9]{0,5})$")
_table = schema.external_models
_variables = schema.variables


def _exists(conn: Connection, endpoint: str, *, lock: bool = False) -> bool:
    query = select(_table.c.endpoint).where(_table.c.endpoint == endpoint)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first() is not None


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    return len(path) == 1 and _exists(conn, path[0], lock=True)


def _check_role(role: str) -> None:
    if len(role) > 256 or not ROLE_ARN.fullmatch(role):
        raise ValidationError(
            "invokeModelEndpointRoleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), "
            "at most 256 characters"
        )


def _check_input(conn: Connection, given: dict[str, Any]) -> None:
    """The event type exists, and event-variable input has a template, in its format, over its variables."""
    event_type = given.get("eventTypeName")
    if event_type is not None and not exists(conn, schema.event_types, event_type, lock=True):
        raise ResourceNotFoundError(f"inputConfiguration.eventTypeName: the event type {event_type} does not exist")
    templates = [member for member in ("csvInputTemplate", "jsonInputTemplate") if member in given]
    if not given["useEventVariables"]:
        if templates:
            raise ValidationError(
                f"inputConfiguration.{templates[0]} is only used when useEventVariables is true; without event "
                "variables the endpoint receives the request's externalModelEndpointDataBlobs"
            )
        return
    input_format = given.get("format")
    if input_format not in INPUT_CONTENT_TYPES:
        raise ValidationError(
            "inputConfiguration.format is required when useEventVariables is true: TEXT_CSV or APPLICATION_JSON"
        )
    member = template_member(input_format)
    other = [name for name in templates if name != member]
    if other:
        raise ValidationError(f"inputConfiguration.{other[0]} does not apply to the {input_format} format")
    template = given.get(member)
    if template is None:
        raise ValidationError(f"inputConfiguration.{member} is required when format is {input_format}")
    names = placeholders(template)
    if not names:
        raise ValidationError(f"inputConfiguration.{member} has no {{{{variable}}}} placeholder")
    known = _template_variables(conn, event_type)
    unknown = [name for name in names if name not in known]
    if unknown:
        owner = f"of event type {event_type}" if event_type else "event variables"
        raise ValidationError(f"inputConfiguration.{member} names variables that are not {owner}: {', '.join(unknown)}")
    if input_format == "APPLICATION_JSON":
        _check_json_template(member, template, names)


def _template_variables(conn: Connection, event_type: str | None) -> set[str]:
    """What a template may read: the event type's variables, or without one, any event variable."""
    if event_type is not None:
        link = schema.event_type_variables
        return set(conn.execute(select(link.c.variable).where(link.c.event_type == event_type)).scalars())
    return set(conn.execute(select(_variables.c.name).where(_variables.c.data_source == "EVENT")).scalars())


def _check_json_template(member: str, template: str, names: list[str]) -> None:
    """The template must be JSON once filled; checked with a value that fits quoted or bare placeholders."""
    try:
        json.loads(fill_template(template, dict.fromkeys(names, "0"), json_escape=True))
    except ValueError:
        raise ValidationError(
            f"inputConfiguration.{member} is not a JSON template: with its placeholders filled it must be JSON, "
            'e.g. {"amount": "{{amount}}"}'
        ) from None


def _check_output(given: dict[str, Any]) -> dict[str, str]:
    """The mapping for the output format (and only that one); returns it."""
    output_format = given["format"]
    member = map_member(output_format)
    stray = [name for name in ("csvIndexToVariableMap", "jsonKeyToVariableMap") if name != member and name in given]
    if stray:
        raise ValidationError(f"outputConfiguration.{stray[0]} does not apply to the {output_format} format")
    mapping: dict[str, str] = given.get(member) or {}
    if not mapping:
        raise ValidationError(f"outputConfiguration.{member} is required when format is {output_format}")
    if output_format == "TEXT_CSV":
        bad = [key for key in mapping if not CSV_INDEX.fullmatch(key)]
        if bad:
            raise ValidationError(
                f"outputConfiguration.{member} keys must be field indexes (0, 1, ...): {', '.join(bad)}"
            )
    elif any(not key for key in mapping):
        raise ValidationError(f"outputConfiguration.{member} has an empty key")
    invalid = [name for name in mapping.values() if not NAME_PATTERN.fullmatch(name)]
    if invalid:
        raise ValidationError(
            f"outputConfiguration.{member}: variable names are 1 to 64 lowercase letters, digits and underscores: "
            f"{', '.join(invalid)}"
        )
    values = list(mapping.values())
    twice = sorted({name for name in values if values.count(name) > 1})
    if twice:
        raise ValidationError(f"outputConfiguration.{member} maps more than one output to {', '.join(twice)}")
    return mapping


def _check_output_variables(conn: Connection, endpoint: str, names: list[str]) -> list[str]:
    """The mapped variables that must be created; refuses ones that hold something else."""
    sources = {
        row.name: row.data_source
        for row in conn.execute(select(_variables.c.name, _variables.c.data_source).where(_variables.c.name.in_(names)))
    }
    taken = [f"{name} ({sources[name]})" for name in names if name in sources and sources[name] != SOURCE]
    if taken:
        raise ValidationError(
            f"outputConfiguration: these variables exist with another data source than {SOURCE}, so a model "
            f"output cannot fill them: {', '.join(taken)}"
        )
    wanted = set(names)
    for row in conn.execute(select(_table).where(_table.c.endpoint != endpoint).order_by(_table.c.endpoint)):
        shared = [name for name in ExternalModel.from_row(row).output_variables if name in wanted]
        if shared:
            raise ValidationError(
                f"outputConfiguration: the external model {row.endpoint} already fills {', '.join(shared)}; "
                "a variable takes the output of one external model"
            )
    return [name for name in names if name not in sources]


def put_external_model(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    endpoint, status = req["modelEndpoint"], req["modelEndpointStatus"]
    _check_role(req["invokeModelEndpointRoleArn"])
    mapping = _check_output(req["outputConfiguration"])
    stamp = now_ms()
    values = {
        "model_source": req["modelSource"],
        "role_arn": req["invokeModelEndpointRoleArn"],
        "input_configuration": json.dumps(req["inputConfiguration"]),
        "output_configuration": json.dumps(req["outputConfiguration"]),
        "status": status,
        "updated_ms": stamp,
    }
    with ctx.db.write() as conn:
        _check_input(conn, req["inputConfiguration"])
        new_variables = _check_output_variables(conn, endpoint, list(mapping.values()))
        if _exists(conn, endpoint, lock=True):
            if status == "DISSOCIATED":
                users = external_model_users(conn, endpoint, ("ACTIVE",))
                if users:
                    raise ConflictError(
                        f"The external model {endpoint} cannot be DISSOCIATED while ACTIVE detector versions use it: "
                        f"{users}"
                    )
            conn.execute(update(_table).where(_table.c.endpoint == endpoint).values(**values))
        else:
            conn.execute(insert(_table).values(endpoint=endpoint, created_ms=stamp, **values))
        if new_variables:
            conn.execute(
                insert(_variables),
                [
                    {
                        "name": name,
                        "description": f"Output of external model {endpoint}",
                        "data_type": "FLOAT",
                        "data_source": SOURCE,
                        "default_value": "0.0",
                        "variable_type": None,
                        "created_ms": stamp,
                        "updated_ms": stamp,
                    }
                    for name in new_variables
                ],
            )
        apply_tags(conn, ctx.arns.build(ARN_TYPE, endpoint), req.get("tags"))
    return {}


def _to_wire(ctx: Context, row: Row[Any]) -> dict[str, Any]:
    return {
        "modelEndpoint": row.endpoint,
        "modelSource": row.model_source,
        "invokeModelEndpointRoleArn": row.role_arn,
        "inputConfiguration": json.loads(row.input_configuration),
        "outputConfiguration": json.loads(row.output_configuration),
        "modelEndpointStatus": row.status,
        "lastUpdatedTime": iso_time(row.updated_ms),
        "createdTime": iso_time(row.created_ms),
        "arn": ctx.arns.build(ARN_TYPE, row.endpoint),
    }


def get_external_models(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        if "modelEndpoint" in req:
            endpoint = req["modelEndpoint"]
            rows = conn.execute(select(_table).where(_table.c.endpoint == endpoint)).all()
            if not rows:
                raise ResourceNotFoundError(f"The external model {endpoint} does not exist")
            token = None
        else:
            rows, token = page(conn, select(_table), _table.c.endpoint, req.get("nextToken"), req.get("maxResults"), 10)
    return with_token({"externalModels": [_to_wire(ctx, row) for row in rows]}, token)


def delete_external_model(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    endpoint = req["modelEndpoint"]
    with ctx.db.write() as conn:
        if not _exists(conn, endpoint, lock=True):
            return {}
        users = external_model_users(conn, endpoint)
        if users:
            raise ConflictError(f"The external model {endpoint} cannot be deleted: detector versions use it: {users}")
        conn.execute(delete(_table).where(_table.c.endpoint == endpoint))
        drop_tags(conn, ctx.arns.build(ARN_TYPE, endpoint))
    return {}
