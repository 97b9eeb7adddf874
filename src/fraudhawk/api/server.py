"""Running the server: the loopback rule for unauthenticated use, then uvicorn."""

from __future__ import annotations

import ipaddress
import logging

import uvicorn

from fraudhawk.api.app import create_app
from fraudhawk.errors import ConfigurationError
from fraudhawk.settings import Settings

log = logging.getLogger("fraudhawk")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


def serve(settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    auth_note = check_listen_address(settings, host)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("fraudhawk data directory %s, database %s", settings.data_dir, _safe_url(settings.database_url))
    log.info("%s", auth_note)
    log.info("listening on http://%s:%d", host, port)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        server_header=False,
    )


def _safe_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)
