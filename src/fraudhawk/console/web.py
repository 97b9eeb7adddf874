"""What every page handler uses: the service, templates, forms and their errors.

Handlers are async; `call` runs the operation on a worker thread, as the API does for calls that may
wait, so a slow page never holds up predictions on the event loop.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from fraudhawk.console.session import CSRF_FIELD, Session
from fraudhawk.errors import FraudhawkError
from fraudhawk.service import contract
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"


class Console:
    """The console's share of the server: settings, the running service, the template environment."""

    def __init__(self, settings: Settings, service_of: Callable[[], Service]) -> None:
        self.settings = settings
        self.service_of = service_of
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["url_with"] = url_with
        self.templates.filters.update(FILTERS)

    @property
    def service(self) -> Service:
        return self.service_of()


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


async def call(request: Request, operation: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run one AFD operation, checked against AFD's contract exactly as a boto3 call is."""
    service = console_of(request).service
    return await run_in_threadpool(service.call, operation, dict(params or {}))


@functools.cache
def page_size(operation: str) -> int:
    """The largest page AFD's contract lets the operation answer (its maxResults bound)."""
    shape = contract.operation_model(operation).input_shape.members["maxResults"]
    return int(shape.metadata.get("max", 100))


async def call_all(
    request: Request, operation: str, key: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every item of a paged AFD list operation (`key` names the list in its answer)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        query = {**(params or {}), "maxResults": page_size(operation)}
        if token:
            query["nextToken"] = token
        answer = await call(request, operation, query)
        items += answer.get(key, [])
        token = answer.get("nextToken")
        if not token:
            return items


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    console = console_of(request)
    page = console.templates.get_template(template)
    html = page.render(
        request=request,
        path=request.url.path,
        csrf_token=session_of(request).csrf,
        signed_in=session_of(request).key_id,
        keys_configured=bool(console.settings.access_keys),
        flash=request.query_params.get("done"),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def redirect(url: str, done: str | None = None) -> RedirectResponse:
    """After a successful POST, go elsewhere (303: the browser GETs it), with a one-line notice."""
    if done:
        url += ("&" if "?" in url else "?") + urlencode({"done": done})
    return RedirectResponse(url, status_code=303)


def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    query = dict(request.query_params)
    for name, value in changes.items():
        if value is None or value == "":
            query.pop(name, None)
        else:
            query[name] = str(value)
    query.pop("done", None)
    return request.url.path + ("?" + urlencode(query) if query else "")


# --- forms -----------------------------------------------------------------------------------------------


@dataclass
class Form:
    """A submitted form: its values (to show again), and what is wrong with them, per field."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # what is wrong with the form as a whole

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def all(self, name: str) -> list[str]:
        return self.lists.get(name, [])

    def required(self, name: str, label: str) -> str:
        value = self.values.get(name, "").strip()
        if not value:
            self.errors.setdefault(name, f"{label} is required.")
        return value

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        return not self.errors and self.problem is None

    def refuse(self, error: FraudhawkError, fields: Mapping[str, str]) -> None:
        """Place the service's refusal next to the field it names (AFD's messages name the request's
        parameter; `fields` maps those names to the form's), or over the whole form."""
        placed = field_named(error.message, fields)
        if placed is None:
            self.problem = error.message
        else:
            self.errors[placed] = error.message


def field_named(message: str, fields: Mapping[str, str]) -> str | None:
    """The form field whose parameter name the message mentions first."""
    best: tuple[int, str] | None = None
    for parameter, form_field in fields.items():
        found = re.search(rf"\b{re.escape(parameter)}\b", message)
        if found and (best is None or found.start() < best[0]):
            best = (found.start(), form_field)
    return None if best is None else best[1]


async def read_form(request: Request) -> tuple[Form, FormData]:
    """The submitted form (the CSRF token is already checked by the console's middleware)."""
    data = await request.form()
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for name, value in data.multi_items():
        if name == CSRF_FIELD or not isinstance(value, str):
            continue
        values.setdefault(name, value)
        lists.setdefault(name, []).append(value)
    return Form(values=values, lists=lists), data


# --- filters for templates --------------------------------------------------------------------------------


def _number(value: Any, digits: int = 0) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):,.{digits}f}"


def _megabytes(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value) / 1_000_000:,.2f} MB"


def _when(value: Any) -> str:
    """AFD timestamps (ISO-8601 text) shown to the second, in UTC."""
    if not value:
        return "—"
    text = str(value)
    return text.replace("T", " ")[:19] + " UTC" if "T" in text else text


def _percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def _join(values: Iterable[Any], separator: str = ", ") -> str:
    return separator.join(str(value) for value in values)


FILTERS: dict[str, Callable[..., str]] = {
    "number": _number,
    "megabytes": _megabytes,
    "when": _when,
    "percent": _percent,
    "joined": _join,
}


def not_found(request: Request, what: str) -> Response:
    return render(request, "error.html", status_code=404, title="Not found", message=what)
