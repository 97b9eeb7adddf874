"""The sections of a workspace file, in dependency order: what a section's resources name comes
before it, so applying runs top to bottom and deleting bottom to top. A new section is a module with
a `Section` (see `fraudhawk.workspace.model.Section`) added here at its place."""

from __future__ import annotations

from fraudhawk.workspace.model import Section
from fraudhawk.workspace.sections import (
    detectors,
    event_types,
    external_models,
    lists,
    models,
    named,
    pipelines,
    variables,
)

SECTIONS: tuple[Section, ...] = (
    named.ENTITY_TYPES,
    named.LABELS,
    named.OUTCOMES,
    variables.SECTION,
    lists.SECTION,
    event_types.SECTION,
    external_models.SECTION,
    models.SECTION,
    detectors.SECTION,
    pipelines.SECTION,  # names event types, models and detectors
)
