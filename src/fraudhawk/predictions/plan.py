"""A detector version made ready to evaluate: its event type, models, external models, compiled
rules and lists, loaded once and reused while nothing it depends on changes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from fraudhawk.catalog.event_types import EventTypeSpec, load_spec
from fraudhawk.catalog.external_config import ExternalModel, load_external_models
from fraudhawk.catalog.version_numbers import version_arn, version_text
from fraudhawk.context import Context
from fraudhawk.detectors.detectors import load_detector
from fraudhawk.detectors.environment import rule_environment
from fraudhawk.detectors.rule_versions import rule_outcomes
from fraudhawk.detectors.versions import load_parts
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError, ValidationError
from fraudhawk.features.history import HistorySpec
from fraudhawk.rules import CompiledRule, compile_rule
from fraudhawk.scoring import artifacts
from fraudhawk.scoring.model import ScoringModel, load_version_model
from fraudhawk.scoring.states import Tracked
from fraudhawk.storage import raw, schema
from fraudhawk.training.models import score_variable

_dv = schema.detector_versions


@dataclass(frozen=True)
class PlannedRule:
    rule_id: str
    version: int
    expression: str
    compiled: CompiledRule
    outcomes: list[str]


@dataclass(frozen=True)
class PlannedModel:
    model_id: str
    model_type: str
    major: int
    minor: int
    arn: str
    model: ScoringModel
    variables: frozenset[str]  # its modelVariables (an event needs one), even those training left out

    @property
    def version(self) -> str:
        return version_text(self.major, self.minor)

    @property
    def score_variable(self) -> str:
        return score_variable(self.model_id)

    @property
    def history(self) -> HistorySpec | None:
        return self.model.plan.history

    @property
    def tracked(self) -> Tracked:
        return Tracked(self.model_id, self.major, self.minor, self.history or HistorySpec())


@dataclass(frozen=True)
class DetectorPlan:
    detector_id: str
    version: int
    status: str
    updated_ms: int
    spec: EventTypeSpec
    execution_mode: str
    rules: list[PlannedRule]
    models: list[PlannedModel]
    external: list[ExternalModel]
    lists: dict[str, frozenset[str]]
    score_types: dict[str, str]  # model/external output variable -> data type
    rule_inputs: frozenset[str]  # event variables the rules read: only these are typed per event


def resolve_version(conn: Connection, detector_id: str, version_id: str | None) -> Any:
    """The detector version row: the one named, or the detector's ACTIVE one."""
    load_detector(conn, detector_id)
    query = select(_dv).where(_dv.c.detector_id == detector_id)
    if version_id is not None:
        row = conn.execute(query.where(_dv.c.version == int(version_id))).first()
        if row is None:
            raise ResourceNotFoundError(
                f"The detector version {version_id} of detector {detector_id} does not exist", field="detectorVersionId"
            )
        return row
    row = conn.execute(query.where(_dv.c.status == "ACTIVE")).first()
    if row is None:
        raise ResourceNotFoundError(
            f"The detector {detector_id} has no ACTIVE version: activate one, or name a detectorVersionId",
            field="detectorId",
        )
    return row


def _load(ctx: Context, conn: Connection, row: Any) -> DetectorPlan:
    detector = load_detector(conn, row.detector_id)
    spec = load_spec(conn, detector.event_type)
    parts, types = load_parts(conn, row.detector_id, row.version)
    env = rule_environment(conn, detector.event_type)
    rules_table = schema.rules
    expressions = {
        (r.rule_id, r.version): r.expression
        for r in conn.execute(
            select(rules_table.c.rule_id, rules_table.c.version, rules_table.c.expression).where(
                rules_table.c.detector_id == row.detector_id
            )
        )
    }
    outcomes = rule_outcomes(conn, [(row.detector_id, r, v) for r, v in parts.rules])
    rules: list[PlannedRule] = []
    for rule_id, version in parts.rules:
        expression = expressions[(rule_id, version)]
        try:
            compiled = compile_rule(expression, env)
        except ValidationError:
            compiled = None
        if compiled is None:
            continue  # a variable or list it names is gone: it cannot match, and is reported unevaluated
        rules.append(PlannedRule(rule_id, version, expression, compiled, outcomes[(row.detector_id, rule_id, version)]))
    versions = schema.model_versions
    models: list[PlannedModel] = []
    for model_id, major, minor in parts.models:
        version_row = conn.execute(
            select(versions).where(
                versions.c.model_id == model_id, versions.c.major == major, versions.c.minor == minor
            )
        ).one()
        try:
            model = load_version_model(ctx, version_row)
        except artifacts.ArtifactError as error:
            raise ResourceNotFoundError(
                f"Model {model_id} version {version_text(major, minor)} cannot be loaded: {error.message}"
            ) from None
        text = version_text(major, minor)
        models.append(
            PlannedModel(
                model_id=model_id,
                model_type=types[model_id],
                major=major,
                minor=minor,
                arn=version_arn(ctx, types[model_id], model_id, text),
                model=model,
                variables=frozenset(v.name for v in model.plan.variables),
            )
        )
    external_models = load_external_models(conn, parts.external)
    external = [external_models[e] for e in parts.external if e in external_models]
    wanted = set().union(*(r.compiled.lists for r in rules)) if rules else set()
    lists: dict[str, frozenset[str]] = {}
    if wanted:
        elements = schema.list_elements
        found: dict[str, set[str]] = {name: set() for name in wanted}
        for item in conn.execute(
            select(elements.c.list_name, elements.c.element).where(elements.c.list_name.in_(sorted(wanted)))
        ):
            found[item.list_name].add(item.element)
        lists = {name: frozenset(values) for name, values in found.items()}
    score_types = {m.score_variable: env.variables.get(m.score_variable, "FLOAT") for m in models}
    for external_model in external:
        for name in external_model.output_variables:
            score_types[name] = env.variables.get(name, "FLOAT")
    return DetectorPlan(
        detector_id=row.detector_id,
        version=row.version,
        status=row.status,
        updated_ms=row.updated_ms,
        spec=spec,
        execution_mode=row.rule_execution_mode,
        rules=rules,
        models=models,
        external=external,
        lists=lists,
        score_types=score_types,
        rule_inputs=frozenset(name for r in rules for name in r.compiled.variables if name in spec.variables),
    )


def catalog_generation(conn: Connection | raw.Plain) -> int:
    """Raised by database triggers on every change a plan may depend on (see the schema)."""
    return int(raw.one(conn, "SELECT value FROM catalog_generation WHERE id = 1")[0])


class PlanCache:
    """Plans by (detector, version asked for), valid while the catalog generation is unchanged: a hit
    costs one primary-key read. Each service has its own (`Context.plans`)."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, str], tuple[int, DetectorPlan]] = {}
        self._loading: dict[tuple[str, str], threading.Lock] = {}  # one loader per key at a time
        self._lock = threading.Lock()

    def lookup(
        self, ctx: Context, conn: Connection | raw.Plain, detector_id: str, version_id: str | None
    ) -> DetectorPlan:
        """The plan of the named version, or of the detector's ACTIVE one. A plan being loaded (by
        `warm`, or another request) is waited for, not loaded again."""
        key = (detector_id, version_id or "")
        generation = catalog_generation(conn)
        with self._lock:
            cached = self._plans.get(key)
            if cached is not None and cached[0] == generation:
                return cached[1]
            if len(self._loading) > 256:  # keys come from requests: keep the table bounded, as `_plans`
                self._loading.clear()
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                cached = self._plans.get(key)
            if cached is not None and cached[0] == generation:
                return cached[1]
            if isinstance(conn, raw.Plain):
                with ctx.db.read() as full:
                    plan = _load(ctx, full, resolve_version(full, detector_id, version_id))
            else:
                plan = _load(ctx, conn, resolve_version(conn, detector_id, version_id))
            with self._lock:
                if len(self._plans) > 256:
                    self._plans.clear()
                self._plans[key] = (generation, plan)
        return plan

    def get(self, ctx: Context, conn: Connection, row: Any) -> DetectorPlan:
        """The plan of a detector version row (as `resolve_version` returns)."""
        return self.lookup(ctx, conn, row.detector_id, str(row.version))

    def held(self) -> list[tuple[str, str]]:
        """The (detector, version asked for) of every plan held, "" for the ACTIVE version."""
        with self._lock:
            return list(self._plans)


def warm(ctx: Context, budget_s: float = 10.0) -> int:
    """Load the plans of the ACTIVE detector versions, and their models, before a request needs
    them: a 700-tree model takes about a second to load, which the first prediction would otherwise
    wait for (and, on the server, every request behind it). Stops after `budget_s`; a version that
    cannot be used is left for its requests to report. The number of plans loaded.

    The server runs this on a thread once started: a worker process still loading would not accept
    connections, and clients connecting meanwhile would all stay with the other workers."""
    deadline = time.monotonic() + budget_s
    versions = schema.detector_versions
    loaded = 0
    with ctx.db.read() as conn:
        active = conn.execute(
            select(versions.c.detector_id).where(versions.c.status == "ACTIVE").order_by(versions.c.updated_ms.desc())
        ).all()
        for row in active:
            if time.monotonic() > deadline:
                break
            try:
                ctx.plans.lookup(ctx, conn, row.detector_id, None)
            except FraudhawkError:
                continue
            loaded += 1
    return loaded
