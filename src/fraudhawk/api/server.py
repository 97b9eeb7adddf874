"""Running the server: the loopback rule for unauthenticated use, then uvicorn."""

from __future__ import annotations

import logging
import os
from typing import Any

import uvicorn

from fraudhawk.api import connections
from fraudhawk.api.app import create_app
from fraudhawk.errors import ConfigurationError
from fraudhawk.hosts import is_loopback
from fraudhawk.settings import BY_NAME, Settings

log = logging.getLogger("fraudhawk")


def check_listen_address(settings: Settings, host: str) -> str:
    """Refuse to serve beyond loopback without access keys; say how requests will be authenticated."""
    if settings.access_keys:
        return f"SigV4 signatures are verified against {len(settings.access_keys)} configured access key(s)"
    if not is_loopback(host):
        raise ConfigurationError(
            f"refusing to listen on {host} without access keys: set FRAUDHAWK_ACCESS_KEYS=KEYID:secret "
            "(or write them to the data directory's access-keys file), or listen on 127.0.0.1"
        )
    return "no access keys configured: requests are accepted unsigned, on loopback only"


def app_from_environment() -> Any:
    """The app for each worker process of a multi-process server: settings come from the environment
    `serve` prepared, so every worker serves the same data directory and database."""
    settings = Settings.load()
    connections.configure(settings.request_read_timeout_s, settings.max_idle_connections)
    return create_app(settings)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def serve(settings: Settings, host: str, port: int, log_level: str = "info", workers: int = 1) -> None:
    """Serve with `workers` processes: one serves in this process; more are uvicorn's worker processes."""
    auth_note = check_listen_address(settings, host)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info(
        "fraudhawk data directory %s, database %s",
        settings.data_dir,
        BY_NAME["database_url"].shown(settings.database_url),
    )
    log.info("%s", auth_note)
    log.info("listening on http://%s:%d with %d server process%s", host, port, workers, "es" if workers > 1 else "")
    if workers > 1:
        # Each worker is its own process with its own service; they share the database (SQLite in WAL
        # mode allows one writer at a time across processes, PostgreSQL many) and claim background
        # jobs through it, so they never run the same job twice.
        os.environ.update(settings.environment())
        uvicorn.run(
            "fraudhawk.api.server:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            **_connection_bounds(settings),
        )
        return
    connections.configure(settings.request_read_timeout_s, settings.max_idle_connections)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, **_connection_bounds(settings))


def _connection_bounds(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for every server process: slow or idle clients are not held (see connections)."""
    return {
        "http": connections.PROTOCOL,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "access_log": False,
        "server_header": False,
    }
