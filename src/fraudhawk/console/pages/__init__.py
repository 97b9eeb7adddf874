"""The console's pages, one module per part of the AFD workflow (the navigation's sections)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fraudhawk.console.pages import batch, data, detectors, home, models, pipelines, predictions, schema, signin


def routes() -> list[BaseRoute]:
    return [
        *home.routes,
        *signin.routes,
        *schema.routes,
        *data.routes,
        *models.routes,
        *detectors.routes,
        *predictions.routes,
        *batch.routes,
        *pipelines.routes,
    ]
