"""Where job inputs are read from and reports written to.

`s3://bucket/key` is a file under the server's S3 root (`DATA_DIR/s3` unless `--s3-root` says
otherwise), or, with `--s3-root remote`, an object in a real S3-compatible store (boto3, honouring
AWS_ENDPOINT_URL and the usual credentials). Plain paths and file:// URLs must resolve inside an
allowed root: a request never names an arbitrary file on the server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fraudhawk.errors import ValidationError
from fraudhawk.settings import Settings


@dataclass(frozen=True)
class Location:
    text: str
    local: Path | None  # a file on this machine
    bucket: str | None = None
    key: str | None = None


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def resolve(settings: Settings, text: str, field: str) -> Location:
    if text.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket:
            raise ValidationError(f"{field} {text!r} names no bucket")
        if settings.s3_root is None:
            return Location(text, None, bucket, key)
        local = (settings.s3_root / bucket / key).resolve()
        if not _inside(local, (settings.s3_root,)):
            raise ValidationError(f"{field} {text!r} points outside the S3 root")
        return Location(text, local)
    raw = text[len("file://") :] if text.startswith("file://") else text
    if not raw.startswith("/"):
        raise ValidationError(f"{field} {text!r} must be an s3:// URL, a file:// URL or an absolute path")
    local = Path(raw).resolve()
    if not _inside(local, settings.allowed_roots):
        roots = ", ".join(str(root) for root in settings.allowed_roots)
        raise ValidationError(f"{field} {text!r} is outside the directories this server may read ({roots})")
    return Location(text, local)


def s3_client() -> Any:
    """A client of the real S3-compatible store (`--s3-root remote`), configured as boto3 is."""
    import boto3

    return boto3.client("s3")


def check_readable(location: Location, field: str) -> None:
    if location.local is not None:
        try:
            readable = location.local.is_file() and os.access(location.local, os.R_OK)
        except OSError as error:
            raise ValidationError(f"{field} {location.text!r} cannot be read: {error.strerror}") from None
        if not readable:
            raise ValidationError(
                f"{field} {location.text!r} does not exist or cannot be read: it was looked for at {location.local}"
                + (" (upload it there, or on the console's Files page)" if location.text.startswith("s3://") else "")
            )
        return
    try:
        s3_client().head_object(Bucket=location.bucket, Key=location.key)
    except Exception as error:  # botocore raises many kinds; all mean "cannot read it"
        raise ValidationError(f"{field} {location.text!r} cannot be read: {error}") from None


def open_input(location: Location) -> IO[bytes]:
    if location.local is not None:
        return location.local.open("rb")
    body: IO[bytes] = s3_client().get_object(Bucket=location.bucket, Key=location.key)["Body"]
    return body


def report_location(location: Location, name: str) -> Location:
    """Where a job's report goes: the path itself if it names a .csv file, else `name` inside it."""
    if location.text.endswith(".csv"):
        return location
    text = location.text.rstrip("/") + "/" + name
    if location.local is not None:
        return Location(text, location.local / name)
    key = (location.key or "").rstrip("/")
    return Location(text, None, location.bucket, f"{key}/{name}" if key else name)


def _read_umask() -> int:
    """The process's umask, read once at import, before any thread could create a file: reading it
    means setting it and setting it straight back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_atomically(location: Location, write: Callable[[IO[bytes]], object]) -> None:
    """Write the whole file or nothing: a reader never sees half a report. `write` writes the
    report into the file it is given, so a large one never sits whole in memory."""
    if location.local is None:
        with tempfile.TemporaryFile() as spool:
            write(spool)
            spool.seek(0)
            s3_client().upload_fileobj(spool, location.bucket, location.key)  # one object, whole or not at all
        return
    location.local.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=location.local.parent, prefix=".report-")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            os.fchmod(out.fileno(), 0o666 & ~_UMASK)  # mkstemp's 0600 would hide the report from its readers
        os.replace(temporary, location.local)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
