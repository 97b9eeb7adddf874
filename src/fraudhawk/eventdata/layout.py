"""The columns of a stored event, as segments and scans hold them."""

from __future__ import annotations

# Columns of the CSV layout AFD defines for event data (upper case; variables are lower case).
EVENT_ID = "EVENT_ID"
EVENT_TIMESTAMP = "EVENT_TIMESTAMP"
ENTITY_ID = "ENTITY_ID"
ENTITY_TYPE = "ENTITY_TYPE"
EVENT_LABEL = "EVENT_LABEL"
LABEL_TIMESTAMP = "LABEL_TIMESTAMP"
REQUIRED = (EVENT_ID, EVENT_TIMESTAMP, ENTITY_ID, ENTITY_TYPE)
METADATA = (*REQUIRED, EVENT_LABEL, LABEL_TIMESTAMP)

# Columns of a segment: times as epoch milliseconds, then one text column per variable.
EVENT_MS = "EVENT_MS"
LABEL_MS = "LABEL_MS"
SEGMENT_METADATA = (EVENT_ID, EVENT_MS, ENTITY_TYPE, ENTITY_ID, EVENT_LABEL, LABEL_MS)
