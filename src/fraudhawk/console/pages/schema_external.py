"""External models (AFD's imported SageMaker endpoints): list, create, associate or dissociate, delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.schema_forms import checked
from fraudhawk.console.web import Form, call, call_all, read_form, redirect, render
from fraudhawk.errors import FraudhawkError

FIELDS = {
    "modelEndpoint": "endpoint",
    "invokeModelEndpointRoleArn": "role_arn",
    "modelEndpointStatus": "status",
    "inputConfiguration.eventTypeName": "event_type",
    "inputConfiguration.format": "input_format",
    "inputConfiguration": "input_template",
    "outputConfiguration": "output_map",
    "external model": "endpoint",
}
INPUT_FORMATS = [("TEXT_CSV", "CSV (text/csv)"), ("APPLICATION_JSON", "JSON (application/json)")]
OUTPUT_FORMATS = [("TEXT_CSV", "CSV (text/csv)"), ("APPLICATION_JSONLINES", "JSON Lines (application/jsonlines)")]
STATUSES = [("ASSOCIATED", "Associated (used by detectors)"), ("DISSOCIATED", "Dissociated")]


async def listing(request: Request, problem: str | None = None) -> Response:
    models = sorted(
        await call_all(request, "GetExternalModels", "externalModels"), key=lambda m: str(m["modelEndpoint"])
    )
    return render(
        request,
        "schema/external_models.html",
        status_code=400 if problem else 200,
        title="External models",
        crumbs=[(None, "External models")],
        models=models,
        problem=problem,
    )


async def _new_page(request: Request, form: Form | None = None) -> Response:
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    return render(
        request,
        "schema/external_model_new.html",
        status_code=400 if form and not form.ok else 200,
        title="Create external model",
        crumbs=[("/external-models", "External models"), (None, "Create")],
        form=form,
        event_types=[("", "— any event variables —"), *((e["name"], e["name"]) for e in event_types)],
        input_formats=INPUT_FORMATS,
        output_formats=OUTPUT_FORMATS,
        statuses=STATUSES,
    )


async def new(request: Request) -> Response:
    return await _new_page(request)


def _mapping(form: Form) -> dict[str, str]:
    """`index = variable` (CSV) or `key = variable` (JSON Lines) lines of the output field."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(form["output_map"].splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, variable = line.partition("=")
        if not equals or not key.strip() or not variable.strip():
            form.fail("output_map", f"Line {number} should read `output = variable`, for example `0 = fraud_score`.")
            return {}
        if key.strip() in mapping:
            form.fail("output_map", f"Line {number} maps {key.strip()} a second time.")
            return {}
        mapping[key.strip()] = variable.strip()
    if not mapping and "output_map" not in form.errors:
        form.fail("output_map", "Map at least one of the endpoint's outputs to a variable.")
    return mapping


def _request(form: Form) -> dict[str, Any]:
    use_variables = form.get("use_event_variables", "yes") == "yes"
    given_input: dict[str, Any] = {"useEventVariables": use_variables}
    if use_variables:
        input_format = form["input_format"]
        given_input["format"] = input_format
        member = "csvInputTemplate" if input_format == "TEXT_CSV" else "jsonInputTemplate"
        template = form["input_template"].strip()
        if not template:
            form.fail(
                "input_template", "Write the template the endpoint's input is built from, e.g. {{amount}},{{ip}}."
            )
        given_input[member] = template
        if form["event_type"]:
            given_input["eventTypeName"] = form["event_type"]
    output_format = form["output_format"]
    member = "csvIndexToVariableMap" if output_format == "TEXT_CSV" else "jsonKeyToVariableMap"
    return {
        "modelEndpoint": form.required("endpoint", "Endpoint name"),
        "modelSource": "SAGEMAKER",
        "invokeModelEndpointRoleArn": form.required("role_arn", "Role ARN"),
        "inputConfiguration": given_input,
        "outputConfiguration": {"format": output_format, member: _mapping(form)},
        "modelEndpointStatus": form.get("status", "ASSOCIATED"),
    }


async def create(request: Request) -> Response:
    form, _ = await read_form(request)
    params = _request(form)
    if form.ok and checked(form, "PutExternalModel", params, FIELDS):
        known = {m["modelEndpoint"] for m in await call_all(request, "GetExternalModels", "externalModels")}
        if params["modelEndpoint"] in known:  # Put replaces: creating must not overwrite
            form.fail("endpoint", f"The external model {params['modelEndpoint']} already exists.")
    if form.ok:
        try:
            await call(request, "PutExternalModel", params)
        except FraudhawkError as error:
            form.refuse(error, FIELDS)
    if not form.ok:
        return await _new_page(request, form)
    return redirect("/external-models", done=f"Created external model {params['modelEndpoint']}.")


async def status(request: Request) -> Response:
    """Associate or dissociate: Put again with the stored configuration and the other status."""
    endpoint = request.path_params["endpoint"]
    found = (await call(request, "GetExternalModels", {"modelEndpoint": endpoint})).get("externalModels", [])
    if not found:
        return await listing(request, f"The external model {endpoint} does not exist.")
    model = found[0]
    wanted = "DISSOCIATED" if model["modelEndpointStatus"] == "ASSOCIATED" else "ASSOCIATED"
    params = {
        key: model[key]
        for key in (
            "modelEndpoint",
            "modelSource",
            "invokeModelEndpointRoleArn",
            "inputConfiguration",
            "outputConfiguration",
        )
    }
    try:
        await call(request, "PutExternalModel", {**params, "modelEndpointStatus": wanted})
    except FraudhawkError as error:
        return await listing(request, error.message)
    return redirect("/external-models", done=f"{endpoint} is {wanted.lower()} now.")


async def remove(request: Request) -> Response:
    endpoint = request.path_params["endpoint"]
    try:
        await call(request, "DeleteExternalModel", {"modelEndpoint": endpoint})
    except FraudhawkError as error:
        return await listing(request, error.message)
    return redirect("/external-models", done=f"Deleted external model {endpoint}.")


async def index(request: Request) -> Response:
    return await listing(request)


routes: list[BaseRoute] = [
    Route("/external-models", index, methods=["GET"]),
    Route("/external-models/new", new, methods=["GET"]),
    Route("/external-models/new", create, methods=["POST"]),
    Route("/external-models/{endpoint}/status", status, methods=["POST"]),
    Route("/external-models/{endpoint}/delete", remove, methods=["POST"]),
]
