"""What a rule of a detector may name: the event type's variables, its models' scores, external
model outputs, and the lists."""

from __future__ import annotations

from sqlalchemy import Connection, select

from fraudhawk.context import Context
from fraudhawk.rules import RuleEnv
from fraudhawk.storage import schema

SCORE_SUFFIX = "_insightscore"


def rule_environment(conn: Connection, event_type: str) -> RuleEnv:
    variables = schema.variables
    links = schema.event_type_variables
    names: dict[str, str] = {}
    for row in conn.execute(
        select(variables.c.name, variables.c.data_type)
        .join(links, links.c.variable == variables.c.name)
        .where(links.c.event_type == event_type)
    ):
        names[row.name] = row.data_type
    models = schema.models
    model_ids = conn.execute(select(models.c.model_id).where(models.c.event_type == event_type)).scalars().all()
    scores = [model_id + SCORE_SUFFIX for model_id in model_ids]
    for row in conn.execute(
        select(variables.c.name, variables.c.data_type).where(
            (variables.c.data_source == "EXTERNAL_MODEL_SCORE")
            | ((variables.c.data_source == "MODEL_SCORE") & variables.c.name.in_(scores))
        )
    ):
        names[row.name] = row.data_type
    lists = {
        row.name: row.variable_type or ""
        for row in conn.execute(select(schema.lists.c.name, schema.lists.c.variable_type))
    }
    return RuleEnv(variables=names, lists=lists)


def environment_of(ctx: Context, event_type: str) -> RuleEnv:
    """What a rule on `event_type` may name, read on its own: for checking an expression while it is
    written (the console's rule editor), with the very environment CreateRule checks it against."""
    with ctx.db.read() as conn:
        return rule_environment(conn, event_type)
