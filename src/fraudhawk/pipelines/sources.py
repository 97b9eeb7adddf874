"""What a pipeline watches: the files under its source (a folder on this machine, the embedded S3 root,
or a prefix of a real S3-compatible store), which of them are complete, and their content.

A file is taken once it is *settled*: seen by two scans with the same size and modification time
(a file still being uploaded or copied grows between them). Hidden and temporary files (a part of the
key starting with `.` or `_`, or ending `~`, `.tmp`, `.part`, `.partial`, `.crdownload`) are never
taken: uploaders write those first and rename them when complete.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fraudhawk.events import paths
from fraudhawk.settings import Settings

CHUNK = 1024 * 1024
_TEMPORARY = ("~", ".tmp", ".part", ".partial", ".crdownload", ".swp")
_COMPRESSED = (".gz", ".xz")
#: the most files one scan of one pipeline looks at (a huge prefix is scanned a page at a time)
MAX_FILES = 10_000


@dataclass(frozen=True)
class Seen:
    """One file as listed: its key below the source, where it is, its size and modification time."""

    key: str
    uri: str  # s3://bucket/key, or the absolute path
    size: int
    mtime_ms: int


def matches(key: str, pattern: str) -> bool:
    """Whether a file's key (below the source) is one the pipeline takes: not hidden or temporary, and
    matching the glob, a .gz or .xz ending set aside (`*.csv` takes `a.csv.gz` too)."""
    parts = key.split("/")
    if any(not part or part[0] in "._" for part in parts) or key.endswith(_TEMPORARY):
        return False
    name = key
    for ending in _COMPRESSED:
        if name.endswith(ending):
            name = name[: -len(ending)]
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(key, pattern)


def listing(settings: Settings, source: str) -> Iterator[Seen]:
    """The files under `source` (recursively), hidden and temporary ones included (see `matches`)."""
    location = paths.resolve(settings, source, "source")
    if location.local is None:
        yield from _remote(location.bucket or "", location.key or "")
        return
    root = location.local
    if not root.is_dir():
        return
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith((".", "_")))
        for name in sorted(files):
            path = Path(folder) / name
            try:
                stat = path.stat()
            except OSError:  # removed since listed
                continue
            key = path.relative_to(root).as_posix()
            yield Seen(key, source + key, stat.st_size, stat.st_mtime_ns // 1_000_000)


def _remote(bucket: str, prefix: str) -> Iterator[Seen]:
    """A real S3-compatible store's listing (boto3's list_objects_v2, a page at a time); the ETag
    changes with the content, so the modification time stands for both."""
    pages = paths.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"][len(prefix) :]
            if key and not key.endswith("/"):
                modified = int(item["LastModified"].timestamp() * 1000)
                yield Seen(key, f"s3://{bucket}/{item['Key']}", int(item["Size"]), modified)


class Sightings:
    """What this process saw of each file at its last scan: a file is settled when a scan finds it as
    the previous one did. Kept in memory: each process (replica) settles files for itself, and the
    database decides which one runs each file."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}
        self._lock = threading.Lock()

    def settled(self, pipeline: str, files: list[Seen]) -> list[Seen]:
        with self._lock:
            now = {(pipeline, f.key): (f.size, f.mtime_ms) for f in files}
            ready = [f for f in files if self._seen.get((pipeline, f.key)) == (f.size, f.mtime_ms)]
            for key in [k for k in self._seen if k[0] == pipeline and k not in now]:
                del self._seen[key]
            self._seen.update(now)
            return ready


def open_file(settings: Settings, uri: str) -> IO[bytes]:
    return paths.open_input(paths.resolve(settings, uri, "source"))


def checksum(settings: Settings, uri: str) -> str:
    """The SHA-256 of the file's content, read a chunk at a time."""
    digest = hashlib.sha256()
    with open_file(settings, uri) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Changed(Exception):
    """The file's content no longer has the checksum it was seen with."""


def copy_checked(settings: Settings, uri: str, target: Path, expected: str) -> bool:
    """Copy the file to `target` (written whole or not at all) if its content still has the checksum
    `expected`; False (and nothing written) when it changed since it was seen."""

    def copy(out: IO[bytes]) -> None:
        digest = hashlib.sha256()
        with open_file(settings, uri) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected:
            raise _Changed

    try:
        paths.write_atomically(paths.Location(str(target), target), copy)
    except _Changed:
        return False
    return True


def remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
