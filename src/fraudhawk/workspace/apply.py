"""Carrying out a plan through AFD's operations. Nothing runs when a change is refused. Changes run
one at a time in the plan's order; the first that fails stops the run: its finished steps are
undone when it was a creation (so each resource is either as it was or as declared), and the
report says what was applied, what failed and why, and what was not attempted."""

from __future__ import annotations

from dataclasses import dataclass, field

from fraudhawk.errors import FraudhawkError
from fraudhawk.workspace.model import Change
from fraudhawk.workspace.plan import Plan
from fraudhawk.workspace.reader import Call


@dataclass
class Report:
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    not_attempted: list[Change] = field(default_factory=list)


def _error_text(error: Exception) -> str:
    if isinstance(error, FraudhawkError):
        return f"{error.code}: {error.message}"
    return f"{type(error).__name__}: {error}"


def apply_plan(plan: Plan, call: Call) -> Report:
    report = Report()
    if plan.refused:
        report.not_attempted = plan.writes
        return report
    pending = plan.writes
    for i, change in enumerate(pending):
        done = 0
        try:
            for operation, params in change.steps:
                call(operation, params)
                done += 1
        except FraudhawkError as error:
            operation = change.steps[done][0]
            reason = f"{operation} failed: {_error_text(error)}"
            if done and change.undo:
                try:
                    for undo_operation, undo_params in change.undo:
                        call(undo_operation, undo_params)
                    reason += " (what it had made was removed again)"
                except FraudhawkError as undo_error:
                    reason += f"; removing what it had made failed too: {_error_text(undo_error)}"
            elif done:
                reason += f" after {done} of {len(change.steps)} steps succeeded"
            report.failed.append((change, reason))
            report.not_attempted = pending[i + 1 :]
            return report
        report.applied.append(change)
    return report
