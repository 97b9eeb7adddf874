"""The console's home: where the workspace stands, and the next step of the AFD workflow."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk import __version__
from fraudhawk.console.web import call_all, render


async def home(request: Request) -> Response:
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    models = await call_all(request, "GetModels", "models")
    detectors = await call_all(request, "GetDetectors", "detectors")
    steps = [
        (
            "Describe your events",
            "/event-types",
            bool(event_types),
            "Create an event type, with its entity, variables and labels.",
        ),
        (
            "Bring data",
            "/data",
            any(_stored(event_type) for event_type in event_types),
            "Upload a CSV of past events and import it.",
        ),
        ("Train a model", "/models", bool(models), "Train a model on the stored events and read its performance."),
        ("Decide", "/detectors", bool(detectors), "Build a detector: a model version, rules and outcomes."),
        ("Predict", "/predictions", False, "Run a test, search past predictions, or predict a whole file."),
    ]
    return render(
        request,
        "home.html",
        title="Home",
        version=__version__,
        event_types=event_types,
        models=models,
        detectors=detectors,
        steps=steps,
    )


def _stored(event_type: dict[str, object]) -> bool:
    statistics = event_type.get("ingestedEventStatistics")
    return isinstance(statistics, dict) and bool(statistics.get("numberOfEvents"))


routes: list[BaseRoute] = [Route("/", home, methods=["GET"])]
