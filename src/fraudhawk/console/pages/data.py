"""The console's data pages: the file area, stored events, import jobs and the raw-file mapping."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fraudhawk.console.pages import data_events, data_files, data_imports, data_map

# the mapping form's routes come before /imports/{job_id}, which would otherwise take "map" for a job
routes: list[BaseRoute] = [*data_files.routes, *data_events.routes, *data_map.routes, *data_imports.routes]
