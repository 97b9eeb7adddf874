"""The console as an ASGI app: its pages, static assets, the guard, and error pages without traces."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fraudhawk.console import pages
from fraudhawk.console.guard import Guard, Scope
from fraudhawk.console.session import Session, Sessions, secret_of
from fraudhawk.console.web import Console, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings

log = logging.getLogger("fraudhawk.console")
STATIC = Path(__file__).parent / "static"
ASSET_CACHE = "public, max-age=86400"


def _plotly() -> Path:
    """Plotly's browser bundle, shipped inside the plotly package: charts work with no network."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


async def plotly_js(_request: Request) -> Response:
    return FileResponse(_plotly(), media_type="text/javascript", headers={"cache-control": ASSET_CACHE})


async def _failed(request: Request, error: Exception) -> Response:
    """Any failure a page did not handle: a page saying what went wrong, never a stack trace."""
    if isinstance(error, ResourceNotFoundError):
        return render(request, "error.html", status_code=404, title="Not found", message=error.message)
    if isinstance(error, FraudhawkError) and error.http_status < 500:
        return render(request, "error.html", status_code=400, title="Not possible", message=error.message)
    if isinstance(error, HTTPException):
        title = "Not found" if error.status_code == 404 else "Not possible"
        message = "There is no such page." if error.status_code == 404 else str(error.detail)
        return render(request, "error.html", status_code=error.status_code, title=title, message=message)
    reference = uuid.uuid4().hex[:12]
    log.error("console page %s failed (reference %s)", request.url.path, reference, exc_info=error)
    message = f"Something went wrong on the server. The server's log has the details under reference {reference}."
    return render(request, "error.html", status_code=500, title="Server error", message=message)


def create_console(settings: Settings, service_of: Callable[[], Service]) -> Starlette:
    console = Console(settings, service_of)
    app = Starlette(
        routes=[
            Route("/static/plotly.min.js", plotly_js, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
            *pages.routes(),
        ],
        # FraudhawkError and HTTPException are handled inside the guard (the page keeps its session);
        # any other exception by Starlette's outermost layer, which still renders our page
        exception_handlers={Exception: _failed, FraudhawkError: _failed, HTTPException: _failed},
    )
    app.state.console = console
    sessions = Sessions(secret_of(settings.data_dir))
    app.state.sessions = sessions

    def refusal(scope: Scope, session: Session, status: int, title: str, message: str) -> bytes:
        scope.setdefault("state", {})["session"] = session
        scope["app"] = app
        request = Request(scope)
        return bytes(render(request, "error.html", status_code=status, title=title, message=message).body)

    app.add_middleware(Guard, settings=settings, sessions=sessions, refusal=refusal)
    return app
