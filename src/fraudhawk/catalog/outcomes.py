"""Outcomes: what a detector answers when a rule matches (approve, review, block, ...)."""

from __future__ import annotations

from fraudhawk.catalog.named import NamedResource
from fraudhawk.catalog.usage import outcome_users
from fraudhawk.storage import schema

OUTCOMES = NamedResource(
    table=schema.outcomes,
    arn_type="outcome",
    noun="outcome",
    list_key="outcomes",
    page_size=100,
    in_use=(outcome_users,),
)

put_outcome = OUTCOMES.put
get_outcomes = OUTCOMES.get
delete_outcome = OUTCOMES.delete
