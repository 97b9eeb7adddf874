"""The server's file area: the folder that holds `s3://bucket/key` as `S3_ROOT/bucket/key`.

The console browses it, uploads into it and serves downloads from it; jobs read their inputs and
write their reports there. Every name is checked before it touches the disk: a bucket is a valid S3
bucket name, a key has no `..`, no empty or hidden parts, and the path it makes stays inside the root.
A file is written whole or not at all (a temporary file beside it, renamed when complete).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fraudhawk.errors import ValidationError
from fraudhawk.events import paths

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
CHUNK = 1024 * 1024
LISTING_LIMIT = 1000  # a folder shows at most this many entries (the rest is said to be there)


class BadName(ValidationError):
    """A bucket or key that cannot name a file in the area; `field` says which one."""

    field: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


@dataclass(frozen=True)
class Entry:
    name: str  # the last part of the key (a folder's ends with "/")
    key: str  # the bucket-relative key (a folder's is its prefix, ending with "/")
    uri: str
    folder: bool
    size: int | None
    modified: str | None  # ISO-8601 UTC


@dataclass(frozen=True)
class Listing:
    bucket: str | None
    prefix: str
    entries: list[Entry]
    more: int  # entries beyond LISTING_LIMIT, not shown


def check_bucket(bucket: str) -> str:
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise BadName(
            "bucket",
            f"Bucket {bucket!r} is not a valid bucket name: 3 to 63 lowercase letters, digits, dots or hyphens, "
            "starting and ending with a letter or digit.",
        )
    return bucket


def check_key(key: str, folder: bool = False) -> str:
    """A key (or, with `folder`, a prefix that may be empty or end with "/") that names a file in the area."""
    text = key[:-1] if folder and key.endswith("/") else key
    if folder and not text:
        return ""
    if not text:
        raise BadName("key", "The key (file name) is required.")
    if len(text.encode()) > 1024:
        raise BadName("key", "The key is longer than 1024 bytes.")
    if "\\" in text or "\x00" in text or any(ord(c) < 32 for c in text):
        raise BadName("key", f"Key {key!r} holds a backslash or a control character.")
    parts = text.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise BadName("key", f"Key {key!r} has an empty, '.' or '..' part: a key stays inside its bucket.")
    if any(part.startswith(".") for part in parts):
        raise BadName("key", f"Key {key!r} has a part starting with '.', which the file area keeps for itself.")
    return text + ("/" if folder else "")


def parse_uri(uri: str, field: str = "uri") -> tuple[str, str]:
    """`s3://bucket/key` as (bucket, key), both checked."""
    if not uri.startswith("s3://"):
        raise BadName(field, f"{uri!r} is not an s3:// URI (s3://bucket/key).")
    bucket, _, key = uri[len("s3://") :].partition("/")
    try:
        return check_bucket(bucket), check_key(key)
    except BadName as error:
        raise BadName(field, error.message) from None


def uri_of(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"


def path_of(root: Path, bucket: str, key: str = "") -> Path:
    """The file (or folder) a checked bucket and key name; refuses anything that would leave the root
    (a symbolic link pointing out, say)."""
    check_bucket(bucket)
    check_key(key, folder=True)
    resolved_root = root.resolve()
    path = (resolved_root / bucket / key).resolve()
    if not path.is_relative_to(resolved_root):
        raise BadName("key", f"s3://{bucket}/{key} points outside the file area.")
    return path


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _visible(name: str) -> bool:
    return not name.startswith(".")


def list_folder(root: Path, bucket: str | None, prefix: str = "") -> Listing:
    """The buckets (no bucket given), or a bucket's folder at `prefix`: folders first, then files, by name."""
    if bucket is None:
        folder = root
    else:
        prefix = check_key(prefix, folder=True)
        folder = path_of(root, bucket, prefix)
    entries: list[Entry] = []
    more = 0
    if folder.is_dir():
        with os.scandir(folder) as scan:
            found = sorted((item for item in scan if _visible(item.name)), key=lambda i: (not i.is_dir(), i.name))
        for item in found:
            if len(entries) >= LISTING_LIMIT:
                more += 1
                continue
            entries.append(_entry(bucket, prefix, item))
    return Listing(bucket, prefix, entries, more)


def _entry(bucket: str | None, prefix: str, item: os.DirEntry[str]) -> Entry:
    stat = item.stat()
    if bucket is None:
        return Entry(item.name + "/", "", uri_of(item.name), True, None, _when(stat.st_mtime))
    if item.is_dir():
        key = prefix + item.name + "/"
        return Entry(item.name + "/", key, uri_of(bucket, key), True, None, _when(stat.st_mtime))
    key = prefix + item.name
    return Entry(item.name, key, uri_of(bucket, key), False, stat.st_size, _when(stat.st_mtime))


def files_under(root: Path, limit: int = 500) -> list[Entry]:
    """Files of the whole area, newest first (at most `limit`): the choices of a "pick a file" list."""
    found: list[tuple[float, Entry]] = []
    if not root.is_dir():
        return []
    for directory, folders, names in os.walk(root):
        folders[:] = [f for f in folders if _visible(f)]
        relative = Path(directory).relative_to(root)
        if not relative.parts:
            continue  # files directly in the root are in no bucket
        bucket, *rest = relative.parts
        for name in names:
            if not _visible(name):
                continue
            stat = (Path(directory) / name).stat()
            key = "/".join([*rest, name])
            found.append(
                (stat.st_mtime, Entry(name, key, uri_of(bucket, key), False, stat.st_size, _when(stat.st_mtime)))
            )
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [entry for _, entry in found[:limit]]


def save(root: Path, bucket: str, key: str, source: IO[bytes], overwrite: bool) -> int:
    """Copy `source` to s3://bucket/key a chunk at a time; returns its size. The file appears whole
    or not at all: a copy cut short leaves only a hidden temporary file, removed here on failure."""
    target = path_of(root, bucket, check_key(key))
    if target.is_dir():
        raise BadName("key", f"s3://{bucket}/{key} is a folder.")
    if target.exists() and not overwrite:
        raise BadName("key", f"s3://{bucket}/{key} already exists: tick \u201creplace\u201d to overwrite it.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BadName("key", f"A part of {key!r} is a file, not a folder.") from None
    copied = 0

    def copy(out: IO[bytes]) -> None:
        nonlocal copied
        shutil.copyfileobj(source, out, CHUNK)
        copied = out.tell()

    # whole or not at all, as every file the server writes (a report, a batch output)
    paths.write_atomically(paths.Location(uri_of(bucket, key), target), copy)
    return copied


def remove(root: Path, bucket: str, key: str) -> None:
    target = path_of(root, bucket, check_key(key))
    if not target.is_file():
        raise BadName("key", f"s3://{bucket}/{key} does not exist.")
    target.unlink()
    # empty folders vanish, as S3 "folders" do when their last object goes
    parent = target.parent
    bucket_dir = path_of(root, bucket)
    while parent != bucket_dir and parent.is_relative_to(bucket_dir):
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def existing_file(root: Path, uri: str, field: str = "uri") -> Path:
    """The file an s3:// URI names, which must exist."""
    bucket, key = parse_uri(uri, field)
    path = path_of(root, bucket, key)
    if not path.is_file():
        raise BadName(field, f"{uri} does not exist in the file area.")
    return path
