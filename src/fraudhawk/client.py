"""`fraudhawk.Client`: AFD's API in-process, with boto3's method names, arguments and return values.

    client = fraudhawk.Client(data_dir="./fraudhawk-data")
    client.put_entity_type(name="customer")
    try:
        client.get_entity_types(name="merchant")
    except client.exceptions.ResourceNotFoundException:
        ...

Code written against `boto3.client("frauddetector")` runs against either unchanged.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from botocore import xform_name

from fraudhawk.errors import MODELED_ERRORS
from fraudhawk.service import contract
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings


def _method_names() -> dict[str, str]:
    return {xform_name(name): name for name in contract.operation_names()}


class Client:
    """In-process client. Every AFD operation is a snake_case method taking keyword arguments."""

    exceptions = SimpleNamespace(**MODELED_ERRORS)

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self._service = Service(settings or Settings.load(data_dir=data_dir, database_url=database_url))
        self._methods = _method_names()

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Run an operation by its wire name, e.g. `call("GetVariables", name="amt")`."""
        response = self._service.call(operation, params)
        response = dict(response)
        response["ResponseMetadata"] = {
            "RequestId": str(uuid.uuid4()),
            "HTTPStatusCode": 200,
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        }
        return response

    def can_paginate(self, operation_name: str) -> bool:
        return False  # AFD ships no paginators; callers follow nextToken themselves

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = self.__dict__.get("_methods", {}).get(name)
        if operation is None:
            raise AttributeError(f"'Client' object has no attribute '{name}'")

        def method(**params: Any) -> dict[str, Any]:
            return self.call(operation, **params)

        method.__name__ = name
        method.__doc__ = f"AFD's {operation} operation."
        return method

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._methods]

    def training_progress(self, modelId: str, modelVersionNumber: str) -> str | None:
        """What the training of a model version is doing now, or None once it has ended."""
        from fraudhawk.training.versions import training_progress

        with self._service.db.read() as conn:
            return training_progress(conn, modelId, modelVersionNumber)

    def training_details(self, modelId: str, modelVersionNumber: str) -> dict[str, Any] | None:
        """Validation figures beyond AFD's: average precision, recall at 0.1% and 1% FPR, score
        distributions of fraud and legit events, and a summary of the data."""
        from fraudhawk.training.versions import training_details

        with self._service.db.read() as conn:
            return training_details(conn, modelId, modelVersionNumber)

    def close(self) -> None:
        self._service.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
