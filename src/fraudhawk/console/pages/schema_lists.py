"""Lists (AFD's allow and deny lists): the lists, and one list's elements, paged, to add to, remove
from or replace from an uploaded file; its variable type and description; delete."""

from __future__ import annotations

import functools
from typing import Any

import regex
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.catalog.variable_types import list_variable_types
from fraudhawk.console.pages.schema_forms import checked, described, lines_in
from fraudhawk.console.web import Form, call, call_all, not_found, read_form, redirect, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError
from fraudhawk.service import contract

PAGE = 500  # elements a page shows (GetListElements' smallest page)
MAX_UPLOAD = 64 << 20  # bytes of a replacement file: 100,000 elements of 320 characters fit
FIELDS = {"name": "name", "description": "description", "variableType": "variable_type", "elements": "elements"}


@functools.cache
def _element_rule() -> tuple[int, regex.Pattern[str]]:
    """AFD's rule for one element (its contract's length and pattern), read once."""
    shape = contract.operation_model("UpdateList").input_shape.members["elements"].member
    return int(shape.metadata["max"]), regex.compile(shape.metadata["pattern"], regex.ASCII)


def element_problem(elements: list[str]) -> str | None:
    """Why the elements cannot be stored, naming the first bad one, or None."""
    longest, pattern = _element_rule()
    for position, element in enumerate(elements, start=1):
        if len(element) > longest:
            return f"Element {position} is {len(element)} characters long; at most {longest} are allowed."
        if not pattern.fullmatch(element):
            return (
                f"Element {position} ({element[:40]!r}) holds a tab or other spacing: only single spaces between words."
            )
    return None


def type_options() -> list[tuple[str, str]]:
    return [("", "(none)"), *((name, name) for name in list_variable_types())]


async def _lists_page(request: Request, form: Form | None = None) -> Response:
    lists = sorted(await call_all(request, "GetListsMetadata", "lists"), key=lambda item: str(item["name"]))
    return render(
        request,
        "schema/lists.html",
        status_code=400 if form and not form.ok else 200,
        title="Lists",
        crumbs=[(None, "Lists")],
        lists=lists,
        form=form,
        variable_types=type_options(),
    )


async def listing(request: Request) -> Response:
    return await _lists_page(request)


async def create(request: Request) -> Response:
    form, _ = await read_form(request)
    name = form.required("name", "Name")
    elements = lines_in(form["elements"])
    params: dict[str, Any] = described({"name": name, "elements": elements}, form["description"])
    if form["variable_type"]:
        params["variableType"] = form["variable_type"]
    problem = element_problem(elements)
    if problem:
        form.fail("elements", problem)
    if form.ok and checked(form, "CreateList", params, FIELDS):
        try:
            await call(request, "CreateList", params)
        except FraudhawkError as error:
            form.refuse(error, {**FIELDS, "List": "name"})
    if not form.ok:
        return await _lists_page(request, form)
    return redirect(f"/lists/{name}", done=f"Created list {name} with {len(elements):,} elements.")


async def _metadata(request: Request, name: str) -> dict[str, Any] | None:
    try:
        found = (await call(request, "GetListsMetadata", {"name": name})).get("lists", [])
    except ResourceNotFoundError:
        return None
    return found[0] if found else None


async def _detail(
    request: Request, name: str, form: Form | None = None, which: str = "", problem: str | None = None
) -> Response:
    metadata = await _metadata(request, name)
    if metadata is None:
        return not_found(request, f"The list {name} does not exist.")
    query: dict[str, Any] = {"name": name, "maxResults": PAGE}
    token = request.query_params.get("page")
    if token:
        query["nextToken"] = token
    answer = await call(request, "GetListElements", query)
    return render(
        request,
        "schema/list.html",
        status_code=400 if (form and not form.ok) or problem else 200,
        title=f"List {name}",
        crumbs=[("/lists", "Lists"), (None, name)],
        item=metadata,
        elements=answer.get("elements", []),
        next_token=answer.get("nextToken"),
        paged=bool(token),
        form=form,
        which=which,
        problem=problem,
        variable_types=type_options(),
    )


async def detail(request: Request) -> Response:
    return await _detail(request, request.path_params["name"])


async def elements(request: Request) -> Response:
    """Add the typed elements, or remove the ticked ones (or typed ones)."""
    name = request.path_params["name"]
    form, _ = await read_form(request)
    action = form["action"]
    if action == "remove":
        chosen = [*form.all("element"), *lines_in(form["remove_elements"])]
        if not chosen:
            form.fail("remove_elements", "Tick the elements to remove, or type them one per line.")
        mode, which, field, done = "REMOVE", "remove", "remove_elements", f"Removed {len(chosen):,} element(s)."
    else:
        chosen = lines_in(form["add_elements"])
        if not chosen:
            form.fail("add_elements", "Type the elements to add, one per line.")
        mode, which, field, done = "APPEND", "add", "add_elements", f"Added {len(chosen):,} element(s)."
    problem = element_problem(chosen) if action != "remove" else None
    if problem:
        form.fail(field, problem)
    if form.ok:
        try:
            await call(request, "UpdateList", {"name": name, "elements": chosen, "updateMode": mode})
        except ResourceNotFoundError:
            return not_found(request, f"The list {name} does not exist.")
        except FraudhawkError as error:
            form.refuse(error, {"elements": field, "List": field})
    if not form.ok:
        return await _detail(request, name, form, which)
    return redirect(f"/lists/{name}", done=done)


def _lines(upload: UploadFile) -> list[str] | str:
    """The file's elements (one per line), or why it cannot be read."""
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return f"The file is larger than {MAX_UPLOAD >> 20} MB."
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "The file is not UTF-8 text: save it as plain text with one element per line."
    return lines_in(text)


async def replace(request: Request) -> Response:
    name = request.path_params["name"]
    form, data = await read_form(request)
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        form.fail("file", "Choose a text file with one element per line.")
        return await _detail(request, name, form, "replace")
    lines = await run_in_threadpool(_lines, upload)
    if isinstance(lines, str):
        form.fail("file", lines)
    else:
        problem = element_problem(lines)
        if problem:
            form.fail("file", problem.replace("Element", "Line", 1))
    if form.ok and isinstance(lines, list):
        try:
            await call(request, "UpdateList", {"name": name, "elements": lines, "updateMode": "REPLACE"})
        except ResourceNotFoundError:
            return not_found(request, f"The list {name} does not exist.")
        except FraudhawkError as error:
            form.refuse(error, {"elements": "file", "List": "file"})
    if not form.ok or not isinstance(lines, list):
        return await _detail(request, name, form, "replace")
    return redirect(f"/lists/{name}", done=f"Replaced the elements: the list holds {len(lines):,} now.")


async def settings(request: Request) -> Response:
    """The description, and the variable type (which AFD lets a list get once)."""
    name = request.path_params["name"]
    form, _ = await read_form(request)
    params: dict[str, Any] = described({"name": name}, form["description"])
    if form["variable_type"]:
        params["variableType"] = form["variable_type"]
    if len(params) == 1:
        form.fail("description", "Give a description or a variable type to save.")
    if form.ok and checked(form, "UpdateList", params, FIELDS):
        try:
            await call(request, "UpdateList", params)
        except ResourceNotFoundError:
            return not_found(request, f"The list {name} does not exist.")
        except FraudhawkError as error:
            form.refuse(error, {**FIELDS, "List": "variable_type"})
    if not form.ok:
        return await _detail(request, name, form, "settings")
    return redirect(f"/lists/{name}", done=f"Saved list {name}.")


async def remove(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        await call(request, "DeleteList", {"name": name})
    except FraudhawkError as error:
        return await _detail(request, name, problem=error.message)
    return redirect("/lists", done=f"Deleted list {name}.")


routes: list[BaseRoute] = [
    Route("/lists", listing, methods=["GET"]),
    Route("/lists", create, methods=["POST"]),
    Route("/lists/{name}", detail, methods=["GET"]),
    Route("/lists/{name}/elements", elements, methods=["POST"]),
    Route("/lists/{name}/replace", replace, methods=["POST"]),
    Route("/lists/{name}/settings", settings, methods=["POST"]),
    Route("/lists/{name}/delete", remove, methods=["POST"]),
]
