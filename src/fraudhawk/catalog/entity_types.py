"""Entity types: who performs an event (customer, merchant, account)."""

from __future__ import annotations

from fraudhawk.catalog.named import NamedResource, used_by_event_types
from fraudhawk.storage import schema

ENTITY_TYPES = NamedResource(
    table=schema.entity_types,
    arn_type="entity-type",
    noun="entity type",
    list_key="entityTypes",
    page_size=10,
    in_use=(used_by_event_types(schema.event_type_entity_types, "entity_type"),),
)

put_entity_type = ENTITY_TYPES.put
get_entity_types = ENTITY_TYPES.get
delete_entity_type = ENTITY_TYPES.delete
