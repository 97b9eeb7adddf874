"""Shared fixtures: a real server on a loopback port driven by boto3, real SQLite files, and the
machine's PostgreSQL when FRAUDHAWK_TEST_POSTGRES_URL names it. Helpers to import are in helpers.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from fraudhawk.client import Client
from fraudhawk.settings import Settings
from fraudhawk.storage.database import Database
from tests.helpers import FakeSageMaker, Lab, RunningServer, boto_client, fake_sagemaker, trained_lab

POSTGRES_URL = os.environ.get("FRAUDHAWK_TEST_POSTGRES_URL")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(data_dir=tmp_path / "data", environ={})


@pytest.fixture
def server(settings: Settings) -> Iterator[RunningServer]:
    with RunningServer(settings) as running:
        yield running


@pytest.fixture
def afd(server: RunningServer) -> Any:
    """A boto3 frauddetector client talking to a fresh server."""
    return boto_client(server.url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need FRAUDHAWK_TEST_POSTGRES_URL (CI sets it; .ci/run shows how)")
    schema = f"fh_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract' / 'fraudhawk.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store_database(backend_url: str) -> Iterator[Database]:
    """The database of `store_client`, for a test to read what the client stored."""
    database = Database(backend_url)
    yield database
    database.dispose()


@pytest.fixture
def store_client(backend_url: str, tmp_path: Path) -> Iterator[Client]:
    """The library client on each storage backend (the storage contract suite uses this)."""
    settings = Settings.load(data_dir=tmp_path / "data", database_url=backend_url, environ={})
    with Client(settings=settings) as client:
        yield client


@pytest.fixture
def sagemaker() -> Iterator[FakeSageMaker]:
    """A local endpoint speaking SageMaker runtime's invocations."""
    with fake_sagemaker() as fake:
        yield fake


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A server with an ACTIVE OFI model on sign-ups and an ACTIVE TFI model on card payments, one per
    module that uses it."""
    with trained_lab(tmp_path_factory.mktemp("predictions")) as trained:
        yield trained


from tests.browser import browser, console, console_settings, playwright  # noqa: E402  (fixtures)

__all__ = ["browser", "console", "console_settings", "playwright"]
