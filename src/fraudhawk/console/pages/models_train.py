"""Creating and training a model: the model (id, description, type, event type), then what to train
it on (variables, label mapping, unlabeled events, data window or file) -> CreateModel and
CreateModelVersion. A new version of an existing model uses the second step alone.

Nothing is saved half-way: when CreateModelVersion refuses the training of a model this form just
created, the model is deleted again before the refusal is shown next to its field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.models_common import ATI, MODEL_TYPES, OFI, PURPOSE, model_type_of, model_url
from fraudhawk.console.web import Form, call, call_all, read_form, redirect, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError

#: AFD's parameter names in refusals -> the form's fields (the earliest named in a message wins)
FIELDS = {
    "modelId": "model_id",
    "description": "description",
    "eventTypeName": "event_type",
    "modelVariables": "variables",
    "labelMapper": "labels",
    "unlabeledEventsTreatment": "unlabeled",
    "ingestedEventsTimeWindow": "start",
    "startTime": "start",
    "endTime": "end",
    "dataLocation": "data_location",
    "dataAccessRoleArn": "role_arn",
}
UNLABELED = [
    ("IGNORE", "Ignore them (AFD's default)"),
    ("LEGIT", "Count them as legit"),
    ("FRAUD", "Count them as fraud"),
    ("AUTO", "Let the trainer decide (learns from them as legit, leaves them out of the metrics)"),
]
#: label names that most likely mean fraud (preselected as FRAUD; anything else as LEGIT)
FRAUD_WORDS = ("fraud", "takeover", "ato", "bad", "chargeback", "scam", "compromise")
DEFAULT_ROLE = "arn:aws:iam::123456789012:role/fraudhawk-console"
STORED, FILE = "INGESTED_EVENTS", "EXTERNAL_EVENTS"


# --- step 1: the model --------------------------------------------------------------------------------


async def new_model(request: Request) -> Response:
    """Step 1 (a GET form: nothing is saved yet), and step 2 once its values are given and valid."""
    query = request.query_params
    form = Form(values={name: query.get(name, "") for name in ("model_id", "description", "model_type", "event_type")})
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    if query.get("step") != "train":
        return _step_one(request, form, event_types)
    model_id = form.required("model_id", "Model ID")
    model_type = form.required("model_type", "Model type")
    event_type = form.required("event_type", "Event type")
    if model_type and model_type not in MODEL_TYPES:
        form.fail("model_type", "Choose one of the three model types.")
    spec = next((e for e in event_types if e["name"] == event_type), None)
    if event_type and spec is None:
        form.fail("event_type", f"There is no event type {event_type}.")
    if model_id:
        await _check_new_id(request, form, model_id)
    if not form.ok or spec is None:
        return _step_one(request, form, event_types, status_code=400)
    variables = await _variables(request, spec)
    return _step_two(request, _defaults(form, spec, model_type), spec, model_type, None, variables)


def _step_one(request: Request, form: Form, event_types: list[dict[str, Any]], status_code: int = 200) -> Response:
    return render(
        request,
        "models/new.html",
        status_code=status_code,
        title="New model",
        crumbs=[("/models", "Models"), ("", "New model")],
        form=form,
        model_types=[(key, f"{name} ({key})") for key, name in MODEL_TYPES.items()],
        purpose=PURPOSE,
        event_types=[("", "Choose an event type"), *[(e["name"], e["name"]) for e in event_types]],
    )


async def _check_new_id(request: Request, form: Form, model_id: str) -> None:
    """A model id already taken (by a model of any type) is refused by the form before AFD refuses it."""
    try:
        found = (await call(request, "GetModels", {"modelId": model_id}))["models"]
    except ResourceNotFoundError:
        return
    except FraudhawkError as error:  # an id AFD's pattern refuses: its message names modelId
        form.refuse(error, FIELDS)
        return
    if found:
        form.fail(
            "model_id",
            f"A model with id {model_id} already exists ({found[0]['modelType']}): choose another id, or "
            "train a new version of it from its page.",
        )


# --- step 2: what to train on -------------------------------------------------------------------------


def _stored_range(spec: dict[str, Any]) -> tuple[str, str]:
    """The dates of the event type's oldest and newest stored events (empty when none are stored)."""
    statistics = spec.get("ingestedEventStatistics") or {}
    if not statistics.get("numberOfEvents"):
        return "", ""
    return str(statistics["leastRecentEvent"])[:10], str(statistics["mostRecentEvent"])[:10]


def _defaults(form: Form, spec: dict[str, Any], model_type: str) -> Form:
    """Step 2's first showing: every variable chosen, labels mapped by their names, the stored range."""
    start, end = _stored_range(spec)
    values = {**form.values, "unlabeled": "IGNORE", "start": start, "end": end, "role_arn": DEFAULT_ROLE}
    values["source"] = STORED if start or model_type != OFI else FILE
    lists = {"variables": list(spec.get("eventVariables") or [])}
    for label in spec.get("labels") or []:
        values[f"label_{label}"] = "FRAUD" if any(word in label.lower() for word in FRAUD_WORDS) else "LEGIT"
    return Form(values=values, lists=lists)


def _step_two(
    request: Request,
    form: Form,
    spec: dict[str, Any],
    model_type: str,
    model: dict[str, Any] | None,
    variables: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    start, end = _stored_range(spec)
    statistics = spec.get("ingestedEventStatistics") or {}
    if model is None:
        crumbs = [("/models", "Models"), ("", "New model")]
        action = "/models/new"
    else:
        url = model_url(model_type, model["modelId"])
        crumbs = [("/models", "Models"), (url, model["modelId"]), ("", "Train a new version")]
        action = url + "/train"
    return render(
        request,
        "models/train.html",
        status_code=status_code,
        title="Train a new version" if model else "New model: training data",
        crumbs=crumbs,
        form=form,
        model=model,
        model_type=model_type,
        type_name=MODEL_TYPES[model_type],
        spec=spec,
        variables=variables if variables is not None else [],
        labels=list(spec.get("labels") or []),
        unlabeled=UNLABELED,
        stored={"count": statistics.get("numberOfEvents") or 0, "start": start, "end": end},
        ati=model_type == ATI,
        ofi=model_type == OFI,
        action=action,
    )


async def _variables(request: Request, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The event type's variables with their data and variable types (shown beside each checkbox)."""
    known = {v["name"]: v for v in await call_all(request, "GetVariables", "variables")}
    return [known.get(name, {"name": name}) for name in spec.get("eventVariables") or []]


async def _event_type(request: Request, name: str) -> dict[str, Any]:
    answer = await call(request, "GetEventTypes", {"name": name})
    spec: dict[str, Any] = answer["eventTypes"][0]
    return spec


def _day(text: str, form: Form, name: str, label: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        form.fail(name, f"{label} must be a date (YYYY-MM-DD).")
        return None


def _instant(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def version_request(form: Form, spec: dict[str, Any], model_type: str, model_id: str) -> dict[str, Any] | None:
    """CreateModelVersion's request from the form, or None with the form's errors set."""
    variables = [name for name in form.all("variables") if name in (spec.get("eventVariables") or [])]
    if not variables:
        form.fail("variables", "Choose at least one variable to train on.")
    mapper: dict[str, list[str]] = {"FRAUD": [], "LEGIT": []}
    for label in spec.get("labels") or []:
        role = form.get(f"label_{label}")
        if role in mapper:
            mapper[role].append(label)
    label_schema: dict[str, Any] | None = {"labelMapper": mapper}
    if model_type == ATI and not mapper["FRAUD"] and not mapper["LEGIT"]:
        label_schema = None  # labels are optional for ATI: they only mark known takeovers
    elif not mapper["FRAUD"] or not mapper["LEGIT"]:
        form.fail("labels", "Map at least one label to fraud and at least one to legit.")
    if label_schema is not None and model_type != ATI:
        treatment = form.get("unlabeled", "IGNORE")
        if treatment not in dict(UNLABELED):
            form.fail("unlabeled", "Choose how to treat unlabeled events.")
        label_schema["unlabeledEventsTreatment"] = treatment
    schema: dict[str, Any] = {"modelVariables": variables}
    if label_schema is not None:
        schema["labelSchema"] = label_schema
    request: dict[str, Any] = {"modelId": model_id, "modelType": model_type, "trainingDataSchema": schema}
    source = form.get("source", STORED)
    if source == FILE and model_type == OFI:
        location = form.required("data_location", "Data file")
        role = form.required("role_arn", "IAM role ARN")
        request["trainingDataSource"] = FILE
        request["externalEventsDetail"] = {"dataLocation": location, "dataAccessRoleArn": role}
    else:
        start_text, end_text = form.required("start", "Start date"), form.required("end", "End date")
        start = _day(start_text, form, "start", "Start date") if start_text else None
        end = _day(end_text, form, "end", "End date") if end_text else None
        if start and end and end < start:
            form.fail("end", "The end date must not be before the start date.")
        if start and end:
            # the end date is included: the window closes at the start of the next day
            window = {"startTime": _instant(start), "endTime": _instant(end + timedelta(days=1))}
            request["trainingDataSource"] = STORED
            request["ingestedEventsDetail"] = {"ingestedEventsTimeWindow": window}
    description = form.get("description").strip()
    if len(description) > 128:
        form.fail("description", "The description may be at most 128 characters.")
    return request if form.ok else None


async def create_and_train(request: Request) -> Response:
    form, _ = await read_form(request)
    model_type = form.get("model_type")
    if model_type not in MODEL_TYPES:
        return redirect("/models/new", done="Choose the model type first.")
    try:
        spec = await _event_type(request, form.get("event_type"))
    except ResourceNotFoundError:
        return redirect("/models/new", done=f"There is no event type {form.get('event_type')}: choose one.")
    model_id = form.required("model_id", "Model ID")
    if model_id:
        await _check_new_id(request, form, model_id)
    body = version_request(form, spec, model_type, model_id)
    if body is None:
        return _step_two(request, form, spec, model_type, None, await _variables(request, spec), status_code=400)
    create: dict[str, Any] = {"modelId": model_id, "modelType": model_type, "eventTypeName": spec["name"]}
    if form.get("description").strip():
        create["description"] = form.get("description").strip()
    try:
        await call(request, "CreateModel", create)
    except FraudhawkError as error:
        form.refuse(error, FIELDS)
        return _step_two(request, form, spec, model_type, None, await _variables(request, spec), status_code=400)
    try:
        answer = await call(request, "CreateModelVersion", body)
    except FraudhawkError as error:
        await call(request, "DeleteModel", {"modelId": model_id, "modelType": model_type})  # nothing half-way
        form.refuse(error, FIELDS)
        return _step_two(request, form, spec, model_type, None, await _variables(request, spec), status_code=400)
    version = answer["modelVersionNumber"]
    return redirect(model_url(model_type, model_id), done=f"Created model {model_id}; training version {version}.")


async def train_form(request: Request) -> Response:
    model_type = model_type_of(request)
    model = await _model(request, model_type)
    spec = await _event_type(request, model["eventTypeName"])
    form = _defaults(Form(values={"model_id": model["modelId"]}), spec, model_type)
    latest = await _latest_schema(request, model_type, model["modelId"])
    if latest is not None:  # a new version starts from what the last one was trained on
        _reuse(form, latest, spec)
    return _step_two(request, form, spec, model_type, model, await _variables(request, spec))


async def train_version(request: Request) -> Response:
    model_type = model_type_of(request)
    model = await _model(request, model_type)
    spec = await _event_type(request, model["eventTypeName"])
    form, _ = await read_form(request)
    form.values["model_id"] = model["modelId"]
    body = version_request(form, spec, model_type, model["modelId"])
    if body is not None:
        try:
            answer = await call(request, "CreateModelVersion", body)
        except FraudhawkError as error:
            form.refuse(error, FIELDS)
        else:
            version = answer["modelVersionNumber"]
            return redirect(model_url(model_type, model["modelId"]), done=f"Training version {version}.")
    variables = await _variables(request, spec)
    return _step_two(request, form, spec, model_type, model, variables, status_code=400)


async def _model(request: Request, model_type: str) -> dict[str, Any]:
    answer = await call(request, "GetModels", {"modelId": request.path_params["model_id"], "modelType": model_type})
    model: dict[str, Any] = answer["models"][0]
    return model


async def _latest_schema(request: Request, model_type: str, model_id: str) -> dict[str, Any] | None:
    details = await call_all(
        request, "DescribeModelVersions", "modelVersionDetails", {"modelId": model_id, "modelType": model_type}
    )
    if not details:
        return None
    newest = max(details, key=lambda d: tuple(int(p) for p in d["modelVersionNumber"].split(".")))
    schema: dict[str, Any] = newest["trainingDataSchema"]
    return schema


def _reuse(form: Form, schema: dict[str, Any], spec: dict[str, Any]) -> None:
    events = set(spec.get("eventVariables") or [])
    form.lists["variables"] = [name for name in schema.get("modelVariables", []) if name in events]
    label_schema = schema.get("labelSchema") or {}
    mapper = label_schema.get("labelMapper") or {}
    for label in spec.get("labels") or []:
        role = next((key for key in ("FRAUD", "LEGIT") if label in mapper.get(key, [])), "")
        form.values[f"label_{label}"] = role
    form.values["unlabeled"] = label_schema.get("unlabeledEventsTreatment", "IGNORE")


routes: list[BaseRoute] = [
    Route("/models/new", new_model, methods=["GET"]),
    Route("/models/new", create_and_train, methods=["POST"]),
    Route("/models/{type}/{model_id}/train", train_form, methods=["GET"]),
    Route("/models/{type}/{model_id}/train", train_version, methods=["POST"]),
]
