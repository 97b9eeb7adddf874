"""Settings, read from arguments, then environment variables, then defaults.

`TABLE` is the one description of every setting: `Settings.load` parses the environment by it, the
server hands it to its worker processes by it (`Settings.environment`), the command line builds its
options from it and the README's configuration table is generated from it (`fraudhawk settings
--markdown`; a test keeps the README current).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fraudhawk.errors import ConfigurationError

ACCESS_KEYS_FILE = "access-keys"


# --- the kinds of value a setting holds: each parses the text of a variable and writes it back ------


@dataclass(frozen=True)
class Kind:
    """How a setting's text becomes its value and back; `parse` names the variable when it refuses."""

    description: str  # the kind as the README's table shows it
    parse: Callable[[str, str], Any]  # (text, variable name) -> value
    render: Callable[[Any], str] = str
    show: Callable[[Any], str] | None = None  # the value for people to read, secrets hidden (default: render)


def _matching(pattern: str, rule: str) -> Callable[[str, str], str]:
    compiled = re.compile(pattern)

    def parse(text: str, variable: str) -> str:
        if not compiled.fullmatch(text):
            raise ConfigurationError(f"{variable} must {rule}")
        return text

    return parse


def _number(low: float, high: float, whole: bool = False) -> Callable[[str, str], float]:
    def parse(text: str, variable: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high or (whole and not value.is_integer()):
            what = "a whole number" if whole else "a number"
            raise ConfigurationError(f"{variable} must be {what} from {low:g} to {high:g}, got {text!r}")
        return int(value) if whole else value

    return parse


def _database_url(text: str, variable: str) -> str:
    if not text.startswith(("sqlite", "postgresql+psycopg://")):
        raise ConfigurationError(f"{variable} must be a sqlite:/// or postgresql+psycopg:// URL")
    return text


def _endpoint_url(text: str, variable: str) -> str:
    if not text.startswith(("http://", "https://")) or "{endpoint}" not in text:
        raise ConfigurationError(
            f"{variable} must be an http(s) URL holding {{endpoint}}, "
            "e.g. http://127.0.0.1:8080/endpoints/{endpoint}/invocations"
        )
    return text


def _hide_password(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _paths(text: str, _: str) -> tuple[Path, ...]:
    return tuple(Path(part) for part in text.split(os.pathsep) if part)


def parse_access_keys(text: str, source: str) -> dict[str, str]:
    """Parse `KEYID:secret` pairs separated by commas or new lines; `#` starts a comment line."""
    keys: dict[str, str] = {}
    for raw in re.split(r"[,\n]", text):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id.strip() or not secret.strip():
            raise ConfigurationError(f"{source}: expected KEYID:secret, got an entry without both parts")
        keys[key_id.strip()] = secret.strip()
    return keys


PATH = Kind("directory", lambda text, _: Path(text))
PATHS = Kind(
    f"directories, `{os.pathsep}`-separated",
    _paths,
    lambda roots: os.pathsep.join(str(root) for root in roots),
)
REMOTE_S3 = "remote"  # the S3 root's value that sends s3:// URLs to a real S3-compatible store
S3_ROOT = Kind(
    f"directory, or `{REMOTE_S3}`",
    lambda text, _: REMOTE_S3 if text == REMOTE_S3 else Path(text),
    lambda value: REMOTE_S3 if value is None else str(value),
)
ACCESS_KEYS = Kind(
    "`KEYID:secret` pairs, `,`-separated",
    parse_access_keys,
    lambda keys: ",".join(f"{key}:{secret}" for key, secret in keys.items()),
    lambda keys: ",".join(f"{key}:***" for key in keys),
)


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    name: str  # the field of `Settings`, and the keyword of `Settings.load` when it has an option
    variable: str  # the environment variable
    kind: Kind
    default: Any  # the value when neither an argument nor the variable gives one (None: derived)
    help: str
    shown_default: str = ""  # the default as the README says it, when the value alone does not
    option: str | None = None  # the command-line option that overrides the variable

    @property
    def default_text(self) -> str:
        return self.shown_default or f"`{self.kind.render(self.default)}`"

    def shown(self, value: Any) -> str:
        if value is None:
            return ""
        return (self.kind.show or self.kind.render)(value)


TABLE: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "FRAUDHAWK_DATA_DIR",
        PATH,
        Path("./fraudhawk-data"),
        "where the SQLite database, models and files live",
        shown_default="`./fraudhawk-data`",
        option="--data-dir",
    ),
    Setting(
        "database_url",
        "FRAUDHAWK_DATABASE_URL",
        Kind("URL", _database_url, show=_hide_password),
        None,
        "`postgresql+psycopg://user:pass@host/db` to use PostgreSQL (several server replicas may share it)",
        shown_default="SQLite file in the data directory",
    ),
    Setting(
        "access_keys",
        "FRAUDHAWK_ACCESS_KEYS",
        ACCESS_KEYS,
        MappingProxyType({}),  # read-only: a default is shared by every Settings that takes it
        "requests must carry a valid SigV4 signature from one of these keys (the REST API also takes one "
        "as `X-Api-Key: KEYID:secret`). Keys may also be written one "
        f"per line to `DATA_DIR/{ACCESS_KEYS_FILE}`",
        shown_default="none",
    ),
    Setting(
        "account_id",
        "FRAUDHAWK_ACCOUNT_ID",
        Kind("12 digits", _matching(r"[0-9]{12}", "be 12 digits")),
        "123456789012",
        "the account id in ARNs",
    ),
    Setting(
        "region",
        "FRAUDHAWK_REGION",
        Kind("`[a-z0-9-]{3,20}`", _matching(r"[a-z0-9-]{3,20}", "match [a-z0-9-]{3,20}")),
        "us-east-1",
        "the region in ARNs",
    ),
    Setting(
        "max_body_bytes",
        "FRAUDHAWK_MAX_BODY_BYTES",
        Kind("bytes", _number(1, 2**40, whole=True)),
        64 * 1024 * 1024,
        "larger requests are refused with `ValidationException`",
        shown_default="64 MiB",
    ),
    Setting(
        "s3_root",
        "FRAUDHAWK_S3_ROOT",
        S3_ROOT,
        None,
        "`s3://bucket/key` is the file `DIR/bucket/key` (the console's Files page uploads there); "
        f"`{REMOTE_S3}` reads and writes a real S3-compatible store with boto3 (AWS_ENDPOINT_URL, the usual "
        "credentials)",
        shown_default="`DATA_DIR/s3`",
        option="--s3-root",
    ),
    Setting(
        "allowed_roots",
        "FRAUDHAWK_ALLOWED_ROOTS",
        PATHS,
        (),
        "directories jobs may read and write by plain path or `file://` URL (the option is repeatable)",
        shown_default="`DATA_DIR/files`",
        option="--allow-root",
    ),
    Setting(
        "external_model_url",
        "FRAUDHAWK_EXTERNAL_MODEL_URL",
        Kind("URL", _endpoint_url),
        "http://127.0.0.1:8080/endpoints/{endpoint}/invocations",
        "where external models are called (`{endpoint}` is the model's name)",
    ),
    Setting(
        "external_model_timeout_s",
        "FRAUDHAWK_EXTERNAL_MODEL_TIMEOUT",
        Kind("seconds, 0.01 to 60", _number(0.01, 60.0), lambda seconds: f"{seconds:g}"),
        2.0,
        "seconds an external model may take; past it the prediction goes on without its output",
    ),
    Setting(
        "prediction_retention_days",
        "FRAUDHAWK_PREDICTION_RETENTION_DAYS",
        Kind("days, 1 to 36500", _number(1, 36500, whole=True)),
        90,
        "how long prediction records are kept for search",
    ),
    Setting(
        "csv_max_record_bytes",
        "FRAUDHAWK_CSV_MAX_RECORD_BYTES",
        Kind("bytes, 1 KiB to 8 MiB", _number(1024, 8 * 1024 * 1024, whole=True)),
        1024 * 1024,
        "the longest CSV record read (imports, training files, batch predictions): a longer one, or a quoted "
        "value still open past it, is rejected as one reported line and reading goes on",
        shown_default="1 MiB",
    ),
    Setting(
        "request_read_timeout_s",
        "FRAUDHAWK_REQUEST_READ_TIMEOUT",
        Kind("seconds, 0.1 to 3600", _number(0.1, 3600.0), lambda seconds: f"{seconds:g}"),
        30.0,
        "seconds a client may take to send a request's headers and body (from its first byte, or from "
        "opening the connection); a slower connection is closed",
    ),
    Setting(
        "keep_alive_timeout_s",
        "FRAUDHAWK_KEEP_ALIVE_TIMEOUT",
        Kind("seconds, 0.1 to 3600", _number(0.1, 3600.0), lambda seconds: f"{seconds:g}"),
        5.0,
        "seconds a connection may stay open, idle, between two requests",
    ),
    Setting(
        "pipeline_scan_s",
        "FRAUDHAWK_PIPELINE_SCAN_INTERVAL",
        Kind("seconds, 0.1 to 3600", _number(0.1, 3600.0), lambda seconds: f"{seconds:g}"),
        5.0,
        "seconds between two scans of each pipeline's source; a file is taken once two scans saw the same "
        "size and modification time",
    ),
    Setting(
        "max_idle_connections",
        "FRAUDHAWK_MAX_IDLE_CONNECTIONS",
        Kind("connections, 1 to 100000", _number(1, 100_000, whole=True)),
        1000,
        "idle keep-alive connections kept open per server process; past it the longest idle are closed",
    ),
)
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in TABLE}


def _default(name: str) -> Any:
    return BY_NAME[name].default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    account_id: str = _default("account_id")
    region: str = _default("region")
    access_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    max_body_bytes: int = _default("max_body_bytes")
    s3_root: Path | None = None  # s3://bucket/key is read from s3_root/bucket/key; None: a real S3 store
    allowed_roots: tuple[Path, ...] = ()  # where plain and file:// paths may point
    # Where external models are invoked: SageMaker runtime's path shape under a base the operator
    # configures, so requests name an endpoint but can never choose the host they reach.
    external_model_url: str = _default("external_model_url")
    external_model_timeout_s: float = _default("external_model_timeout_s")
    prediction_retention_days: int = _default("prediction_retention_days")  # older predictions are removed
    csv_max_record_bytes: int = _default("csv_max_record_bytes")
    request_read_timeout_s: float = _default("request_read_timeout_s")
    keep_alive_timeout_s: float = _default("keep_alive_timeout_s")
    max_idle_connections: int = _default("max_idle_connections")
    pipeline_scan_s: float = _default("pipeline_scan_s")  # how often pipelines' sources are listed

    def environment(self) -> dict[str, str]:
        """Environment variables from which `load()` rebuilds these settings (for worker processes).
        Every variable is given, empty when unset, so nothing of the parent's environment leaks past."""
        env: dict[str, str] = {}
        for setting in TABLE:
            value = getattr(self, setting.name)
            env[setting.variable] = setting.kind.render(value) if value is not None or setting.name == "s3_root" else ""
        return env

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        database_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        s3_root: str | os.PathLike[str] | None = None,
        allowed_roots: tuple[str | os.PathLike[str], ...] = (),
    ) -> Settings:
        env = os.environ if environ is None else environ
        given = {"data_dir": data_dir, "database_url": database_url, "s3_root": s3_root}
        values: dict[str, Any] = {}
        for setting in TABLE:
            argument = given.get(setting.name)
            # an empty variable counts as unset, as an empty argument does
            text = os.fspath(argument) if argument else env.get(setting.variable) or None
            values[setting.name] = setting.default if text is None else setting.kind.parse(text, setting.variable)
        directory = values["data_dir"].resolve()
        values["data_dir"] = directory
        values["database_url"] = values["database_url"] or f"sqlite:///{directory / 'fraudhawk.db'}"
        key_file = directory / ACCESS_KEYS_FILE
        if key_file.is_file():
            from_file = parse_access_keys(key_file.read_text(encoding="utf-8"), str(key_file))
            values["access_keys"] = {**from_file, **values["access_keys"]}
        # without a setting, s3:// URLs are files in the data directory: a first run needs no S3 store
        bucket_root = directory / "s3" if values["s3_root"] is None else values["s3_root"]
        if bucket_root == REMOTE_S3:
            bucket_root = None
        values["s3_root"] = bucket_root
        roots = [Path(root) for root in allowed_roots] + list(values["allowed_roots"])
        if bucket_root is not None:
            roots.append(bucket_root)
            values["s3_root"] = bucket_root.resolve()
        roots.append(directory / "files")
        values["allowed_roots"] = tuple(dict.fromkeys(root.resolve() for root in roots))
        return cls(**values)


def markdown_table() -> str:
    """The README's configuration table, written from `TABLE`."""
    lines = ["| setting | kind | default | meaning |", "| --- | --- | --- | --- |"]
    for setting in TABLE:
        name = f"`{setting.option}` / `{setting.variable}`" if setting.option else f"`{setting.variable}`"
        lines.append(f"| {name} | {setting.kind.description} | {setting.default_text} | {setting.help} |")
    return "\n".join(lines) + "\n"
