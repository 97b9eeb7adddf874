"""Variables: the list (with a filter), create, edit (UpdateVariable) and delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.catalog.values import value_problem
from fraudhawk.catalog.variable_types import VARIABLE_TYPES, variable_type_problem
from fraudhawk.catalog.variables import DATA_TYPES, NAME_PATTERN
from fraudhawk.console.pages.schema_forms import described
from fraudhawk.console.web import Form, call, call_all, not_found, read_form, redirect, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError

FIELDS = {
    "variableType": "variable_type",
    "dataType": "data_type",
    "defaultValue": "default_value",
    "description": "description",
    "Variable": "name",
}
SOURCES = (("EVENT", "Event"), ("MODEL_SCORE", "Model score"), ("EXTERNAL_MODEL_SCORE", "External model score"))
# A sensible default per data type, so a new variable's form starts valid
DEFAULTS = {"STRING": "", "INTEGER": "0", "FLOAT": "0.0", "BOOLEAN": "false", "DATETIME": "1970-01-01T00:00:00Z"}


def variable_type_options(blank: str = "(none)") -> list[tuple[str, str]]:
    return [("", blank), *((name, name) for name in sorted(VARIABLE_TYPES))]


def data_type_options() -> list[tuple[str, str]]:
    return [(name, name) for name in DATA_TYPES]


def problems(form: Form, name: str | None, data_type: str, variable_type: str, default: str, prefix: str = "") -> None:
    """The catalog's own rules for a variable, each next to its field (prefix: the row's fields)."""
    if name is not None and not NAME_PATTERN.fullmatch(name):
        form.fail(prefix + "name", "Use 1 to 64 lowercase letters, digits and underscores.")
    if data_type not in DATA_TYPES:
        form.fail(prefix + "data_type", f"Choose one of {', '.join(DATA_TYPES)}.")
        return
    if variable_type and variable_type_problem(variable_type, data_type):
        allowed = " or ".join(sorted(VARIABLE_TYPES.get(variable_type, ())))
        form.fail(prefix + "variable_type", f"A {variable_type} variable holds {allowed} values, not {data_type}.")
    problem = value_problem(data_type, default)
    if problem:
        form.fail(prefix + "default_value", f"The default value is not a {data_type}: {problem}")


async def listing(request: Request) -> Response:
    query = request.query_params
    variables = await call_all(request, "GetVariables", "variables")
    text = query.get("q", "").strip().lower()
    shown = [
        v
        for v in variables
        if (not text or text in v["name"] or text in v.get("description", "").lower())
        and (not query.get("source") or v.get("dataSource") == query.get("source"))
        and (not query.get("data_type") or v.get("dataType") == query.get("data_type"))
        and (not query.get("variable_type") or v.get("variableType") == query.get("variable_type"))
    ]
    shown.sort(key=lambda v: str(v["name"]))
    return render(
        request,
        "schema/variables.html",
        title="Variables",
        crumbs=[(None, "Variables")],
        variables=shown,
        total=len(variables),
        query=query,
        sources=[("", "Any source"), *SOURCES],
        data_types=[("", "Any data type"), *data_type_options()],
        variable_types=variable_type_options("Any variable type"),
    )


async def _new_page(request: Request, form: Form | None = None) -> Response:
    return render(
        request,
        "schema/variable_new.html",
        status_code=400 if form and not form.ok else 200,
        title="Create variable",
        crumbs=[("/variables", "Variables"), (None, "Create")],
        form=form,
        data_types=data_type_options(),
        variable_types=variable_type_options(),
        defaults=DEFAULTS,
    )


async def new(request: Request) -> Response:
    return await _new_page(request)


async def create(request: Request) -> Response:
    form, _ = await read_form(request)
    name = form.required("name", "Name")
    data_type = form.required("data_type", "Data type")
    variable_type = form["variable_type"]
    default = form["default_value"]
    if form.ok:
        problems(form, name, data_type, variable_type, default)
    params: dict[str, Any] = {"name": name, "dataType": data_type, "dataSource": "EVENT", "defaultValue": default}
    if variable_type:
        params["variableType"] = variable_type
    described(params, form["description"])
    if form.ok:
        try:
            await call(request, "CreateVariable", params)
        except FraudhawkError as error:
            form.refuse(error, FIELDS)
    if not form.ok:
        return await _new_page(request, form)
    return redirect(f"/variables/{name}", done=f"Created variable {name}.")


async def _variable(request: Request, name: str) -> dict[str, Any] | None:
    try:
        answer = await call(request, "GetVariables", {"name": name})
    except ResourceNotFoundError:
        return None
    found = answer.get("variables", [])
    return found[0] if found else None


async def _detail(request: Request, name: str, form: Form | None = None, problem: str | None = None) -> Response:
    variable = await _variable(request, name)
    if variable is None:
        return not_found(request, f"The variable {name} does not exist.")
    event_types = [
        et["name"]
        for et in await call_all(request, "GetEventTypes", "eventTypes")
        if name in et.get("eventVariables", [])
    ]
    return render(
        request,
        "schema/variable.html",
        status_code=400 if (form and not form.ok) or problem else 200,
        title=f"Variable {name}",
        crumbs=[("/variables", "Variables"), (None, name)],
        variable=variable,
        event_types=event_types,
        form=form,
        problem=problem,
        variable_types=variable_type_options(),
    )


async def detail(request: Request) -> Response:
    return await _detail(request, request.path_params["name"])


async def update(request: Request) -> Response:
    name = request.path_params["name"]
    variable = await _variable(request, name)
    if variable is None:
        return not_found(request, f"The variable {name} does not exist.")
    form, _ = await read_form(request)
    default, variable_type = form["default_value"], form["variable_type"]
    params: dict[str, Any] = {"name": name, "defaultValue": default}
    if variable.get("dataSource") != "EVENT":
        params = {"name": name}  # a score's default and type are its model's
    else:
        problems(form, None, variable["dataType"], variable_type, default)
        if variable_type:
            params["variableType"] = variable_type
        elif variable.get("variableType"):
            form.fail("variable_type", "A variable type cannot be removed once set; choose one.")
    description = form["description"].strip()
    if description:
        params["description"] = description
    elif variable.get("description"):
        form.fail("description", "AFD keeps a description once set: give one of 1 to 128 characters.")
    if form.ok:
        try:
            await call(request, "UpdateVariable", params)
        except FraudhawkError as error:
            form.refuse(error, FIELDS)
    if not form.ok:
        return await _detail(request, name, form)
    return redirect(f"/variables/{name}", done=f"Saved variable {name}.")


async def remove(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        await call(request, "DeleteVariable", {"name": name})
    except ResourceNotFoundError:
        return not_found(request, f"The variable {name} does not exist.")
    except FraudhawkError as error:
        return await _detail(request, name, problem=error.message)
    return redirect("/variables", done=f"Deleted variable {name}.")


routes: list[BaseRoute] = [
    Route("/variables", listing, methods=["GET"]),
    Route("/variables/new", new, methods=["GET"]),
    Route("/variables/new", create, methods=["POST"]),
    Route("/variables/{name}", detail, methods=["GET"]),
    Route("/variables/{name}", update, methods=["POST"]),
    Route("/variables/{name}/delete", remove, methods=["POST"]),
]
