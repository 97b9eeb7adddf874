"""Labels: the classes an event can be given (fraud, legit, ...), mapped to FRAUD/LEGIT at training."""

from __future__ import annotations

from fraudhawk.catalog.named import NamedResource, used_by_event_types
from fraudhawk.storage import schema

LABELS = NamedResource(
    table=schema.labels,
    arn_type="label",
    noun="label",
    list_key="labels",
    page_size=50,
    in_use=(used_by_event_types(schema.event_type_labels, "label"),),
)

put_label = LABELS.put
get_labels = LABELS.get
delete_label = LABELS.delete
