"""Reading a workspace through AFD's operations. One reader serves both exports: it takes a `Call`
(operation name and parameters to response), which is the in-process service for a data directory
and a boto3 client's method for an AFD account, and follows `nextToken` once, here, for every list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Call = Callable[[str, dict[str, Any]], dict[str, Any]]


class Reader:
    def __init__(self, call: Call) -> None:
        self.call = call

    def one(self, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call(operation, dict(params or {}))

    def all(self, operation: str, key: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paged list, following `nextToken` until the last page."""
        items: list[Any] = []
        request = dict(params or {})
        while True:
            response = self.call(operation, request)
            items.extend(response.get(key) or [])
            token = response.get("nextToken")
            if not token:
                return items
            request = {**request, "nextToken": token}

    def tags(self, arn: str | None) -> dict[str, str]:
        if not arn:
            return {}
        found = self.all("ListTagsForResource", "tags", {"resourceARN": arn})
        return {tag["key"]: tag["value"] for tag in sorted(found, key=lambda tag: tag["key"])}


def with_operations(call: Call, operations: Mapping[str, Call]) -> Call:
    """`call`, with operations that are not AFD's (fraudhawk's own resources, such as a section's
    that has no AFD counterpart) answered by `operations`, so that every section reads and applies
    through one `Call` and the planner and applier need not know the difference."""

    def extended(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        own = operations.get(operation)
        return own(operation, params) if own is not None else call(operation, params)

    return extended


def boto3_call(client: Any) -> Call:
    """A boto3 frauddetector client as a `Call`: its method for each operation name."""
    from botocore import xform_name

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        response = dict(getattr(client, xform_name(operation))(**params))
        response.pop("ResponseMetadata", None)
        return response

    return call
