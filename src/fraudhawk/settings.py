"""Settings, read from arguments, then environment variables, then defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fraudhawk.errors import ConfigurationError

DEFAULT_DATA_DIR = "./fraudhawk-data"
ACCESS_KEYS_FILE = "access-keys"
DEFAULT_EXTERNAL_MODEL_URL = "http://127.0.0.1:8080/endpoints/{endpoint}/invocations"
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
_REGION_RE = re.compile(r"^[a-z0-9-]{3,20}$")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    account_id: str = "123456789012"
    region: str = "us-east-1"
    access_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    max_body_bytes: int = 64 * 1024 * 1024
    s3_root: Path | None = None  # s3://bucket/key is read from s3_root/bucket/key
    allowed_roots: tuple[Path, ...] = ()  # where plain and file:// paths may point
    # Where external models are invoked: SageMaker runtime's path shape under a base the operator
    # configures, so requests name an endpoint but can never choose the host they reach.
    external_model_url: str = DEFAULT_EXTERNAL_MODEL_URL
    external_model_timeout_s: float = 2.0
    prediction_retention_days: int = 90  # recorded predictions older than this are removed

    def environment(self) -> dict[str, str]:
        """Environment variables from which `load()` rebuilds these settings (for worker processes)."""
        env = {
            "FRAUDHAWK_DATA_DIR": str(self.data_dir),
            "FRAUDHAWK_DATABASE_URL": self.database_url,
            "FRAUDHAWK_ACCOUNT_ID": self.account_id,
            "FRAUDHAWK_REGION": self.region,
            "FRAUDHAWK_MAX_BODY_BYTES": str(self.max_body_bytes),
            "FRAUDHAWK_ALLOWED_ROOTS": os.pathsep.join(str(root) for root in self.allowed_roots),
            "FRAUDHAWK_EXTERNAL_MODEL_URL": self.external_model_url,
            "FRAUDHAWK_EXTERNAL_MODEL_TIMEOUT": str(self.external_model_timeout_s),
            "FRAUDHAWK_PREDICTION_RETENTION_DAYS": str(self.prediction_retention_days),
        }
        if self.s3_root is not None:
            env["FRAUDHAWK_S3_ROOT"] = str(self.s3_root)
        if self.access_keys:
            env["FRAUDHAWK_ACCESS_KEYS"] = ",".join(f"{k}:{v}" for k, v in self.access_keys.items())
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
        directory = Path(data_dir or env.get("FRAUDHAWK_DATA_DIR") or DEFAULT_DATA_DIR).resolve()
        url = database_url or env.get("FRAUDHAWK_DATABASE_URL") or f"sqlite:///{directory / 'fraudhawk.db'}"
        if not url.startswith(("sqlite", "postgresql+psycopg://")):
            raise ConfigurationError("FRAUDHAWK_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        account = env.get("FRAUDHAWK_ACCOUNT_ID", "123456789012")
        if not _ACCOUNT_RE.match(account):
            raise ConfigurationError("FRAUDHAWK_ACCOUNT_ID must be 12 digits")
        region = env.get("FRAUDHAWK_REGION", "us-east-1")
        if not _REGION_RE.match(region):
            raise ConfigurationError("FRAUDHAWK_REGION must match [a-z0-9-]{3,20}")
        keys = parse_access_keys(env.get("FRAUDHAWK_ACCESS_KEYS", ""), "FRAUDHAWK_ACCESS_KEYS")
        key_file = directory / ACCESS_KEYS_FILE
        if key_file.is_file():
            keys = {**parse_access_keys(key_file.read_text(encoding="utf-8"), str(key_file)), **keys}
        max_body = int(env.get("FRAUDHAWK_MAX_BODY_BYTES", str(64 * 1024 * 1024)))
        bucket_root = s3_root or env.get("FRAUDHAWK_S3_ROOT") or None
        roots = [Path(root) for root in allowed_roots]
        roots += [Path(root) for root in env.get("FRAUDHAWK_ALLOWED_ROOTS", "").split(os.pathsep) if root]
        if bucket_root:
            roots.append(Path(bucket_root))
        roots.append(directory / "files")
        external_url = env.get("FRAUDHAWK_EXTERNAL_MODEL_URL", DEFAULT_EXTERNAL_MODEL_URL)
        if not external_url.startswith(("http://", "https://")) or "{endpoint}" not in external_url:
            raise ConfigurationError(
                "FRAUDHAWK_EXTERNAL_MODEL_URL must be an http(s) URL holding {endpoint}, "
                "e.g. http://127.0.0.1:8080/endpoints/{endpoint}/invocations"
            )
        timeout = _number(env, "FRAUDHAWK_EXTERNAL_MODEL_TIMEOUT", 2.0, 0.01, 60.0)
        retention = int(_number(env, "FRAUDHAWK_PREDICTION_RETENTION_DAYS", 90, 1, 36500))
        return cls(
            data_dir=directory,
            database_url=url,
            account_id=account,
            region=region,
            access_keys=keys,
            max_body_bytes=max_body,
            s3_root=Path(bucket_root).resolve() if bucket_root else None,
            allowed_roots=tuple(dict.fromkeys(root.resolve() for root in roots)),
            external_model_url=external_url,
            external_model_timeout_s=timeout,
            prediction_retention_days=retention,
        )


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be a number from {low:g} to {high:g}, got {text!r}")
    return value


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
