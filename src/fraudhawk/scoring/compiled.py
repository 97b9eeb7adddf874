"""A LightGBM model compiled to native code: the same raw scores, several times faster.

`CompiledModel.build` turns a text model into C (`fraudhawk.scoring.treecode`: one function of
nested comparisons per tree, the missing-value rules resolved per node), compiles it with the
machine's C compiler into a shared library in the given folder, and loads it with ctypes. The scores
are LightGBM's own to the last bit (same normalisation of the row, same decisions, same additions in
the same order; no -ffast-math), which tests/test_compiled_model.py checks against
`Booster.predict(raw_score=True)` on NaN, +-inf, -0.0, tiny, negative and unseen categories.

Building. The trees are split into several C files (about `_NODES_PER_FILE` split nodes each),
compiled in parallel (one compiler per core) at -O2, then linked: a 740-tree, 63-leaf model takes
about 15 s on 2 cores, each compiler under ~200 MB. Every compiler runs in its own session under a
memory limit (`ulimit -v`) and the whole build under a deadline: on expiry the compilers are killed
and `CompileError` raised, as for a missing compiler or a failed compilation, so callers can go on
with LightGBM. The library is built in a temporary folder and renamed into place, named after the
SHA-256 of the model text, the generator's version and the machine architecture, so a stale or
foreign library is never picked up; a lock file keeps two processes from compiling the same model at
once (the second waits, then loads the first's library).

Scoring. The library's functions read their input and constant tables only, so any number of threads
may score at once; ctypes releases the GIL during the call (a row takes tens of µs: long enough for
another thread to use the GIL meanwhile). `raw_batch` splits the rows among threads; the library
walks blocks of rows tree by tree, so a tree's code stays in the caches across the block. On the
bench's 740-tree model (bench/compiled_model.py, 2 cores): ~140k rows/s on 2 threads against ~20k
for `Booster.predict`, and ~50 µs a row against ~100 µs for `FastBooster.raw_one`. A row's cost is
mostly mispredicted branches (the same row again takes ~10 µs); branch-free variants (a node table
walked with conditional moves, QuickScorer-style leaf bitmasks) measured slower.

Nothing from the model text but numbers reaches the C source (parsed with int()/float() and written
back as C99 hexadecimal literals): the trees come from our own training, yet even an altered model
file cannot inject code. The library itself is trusted as the artifact folder is; `load` can verify
its SHA-256 (`sha256`) against one recorded elsewhere.
"""

from __future__ import annotations

import _ctypes
import contextlib
import ctypes
import fcntl
import hashlib
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from fraudhawk.errors import InternalError
from fraudhawk.scoring import treecode

_NODES_PER_FILE = 6000  # split nodes per C file: ~3.5 s and < 200 MB for gcc -O2
# Rows normalised into a buffer and walked tree by tree: a tree's code and branch history stay warm
# across the block. Measured on a 740-tree model with 100 features (rows/s on one thread): 32 rows
# 56k, 64 rows 65k, 128 rows 67k, 256 rows 75k, 512 rows 79k, 1024 rows 79k.
_BLOCK_BYTES = 512 * 1024
_MAX_BLOCK = 512
_COMPILER_MEMORY_KB = 2 * 1024 * 1024  # per compiler process (ulimit -v)
_FLAGS = [
    "-std=gnu11",
    "-O2",
    "-fPIC",
    "-fvisibility=hidden",
    "-fno-fast-math",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-align-jumps",  # smaller code: the walk is bound by branches and caches, not alignment
    "-fno-align-labels",
    "-fno-align-loops",
    "-fno-align-functions",
    "-w",
]
_MIN_ROWS_PER_THREAD = 2048
_FLOAT64 = np.dtype(np.float64)
_STALE_TEMP_S = 3600.0


class CompileError(InternalError):
    """The model could not be compiled (no compiler, a compiler failure, the deadline); score with
    LightGBM instead. `detail` has the compiler's last words, which may name server paths."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def library_name(model_text: str) -> str:
    """The library's file name: the model text's hash, the generator version, the architecture."""
    digest = hashlib.sha256(model_text.encode()).hexdigest()[:24]
    return f"compiled-{digest}-g{treecode.GENERATOR_VERSION}-{platform.machine() or 'unknown'}.so"


def _key(model_text: str) -> str:
    return f"{hashlib.sha256(model_text.encode()).hexdigest()}-g{treecode.GENERATOR_VERSION}"


class CompiledModel:
    """Raw scores (log-odds) of a single-output LightGBM model, bit for bit LightGBM's
    `booster.predict(rows, raw_score=True)`; thread-safe."""

    def __init__(self, path: Path, library: ctypes.CDLL, num_features: int, num_trees: int, sha256: str) -> None:
        self.path = path
        self.num_features = num_features
        self.num_trees = num_trees
        self.sha256 = sha256  # of the library file, for callers that record it
        self._library = library  # keeps the library loaded while the functions are in use
        predict = library["fh_predict"]
        predict.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
        predict.restype = ctypes.c_int
        self._predict = predict
        self._shape = (num_features,)

    @classmethod
    def build(cls, model_text: str, folder: Path, timeout_s: float = 600) -> CompiledModel:
        """Compile `model_text` into `folder` (or reuse the library already there) and load it; raises
        CompileError (never hangs past `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        existing = cls.load(folder, model_text)
        if existing is not None:
            return existing
        try:
            model = treecode.parse(model_text)
        except treecode.ModelTextError as error:
            raise CompileError(f"the model cannot be compiled: {error}") from None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CompileError(f"no folder for the compiled model ({error.strerror})") from None
        with _lock(folder / ".compile.lock", deadline):
            existing = cls.load(folder, model_text)  # compiled by another process while we waited
            if existing is not None:
                return existing
            _remove_stale(folder)
            target = folder / library_name(model_text)
            with tempfile.TemporaryDirectory(dir=folder, prefix=".compiling-") as temp:
                library = _compile(model, _key(model_text), Path(temp), deadline)
                os.replace(library, target)
        loaded = cls.load(folder, model_text)
        if loaded is None:
            raise CompileError("the compiled model does not load")
        return loaded

    @classmethod
    def load(cls, folder: Path, model_text: str, library_sha256: str | None = None) -> CompiledModel | None:
        """The library compiled from `model_text` in `folder`, or None if there is none (or it does
        not match: another model, generator or architecture, or not the expected file hash)."""
        path = folder / library_name(model_text)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        sha256 = hashlib.sha256(data).hexdigest()
        if library_sha256 is not None and sha256 != library_sha256:
            return None
        try:
            library = ctypes.CDLL(str(path))
            key = (ctypes.c_char * 200).in_dll(library, "fh_key").value.decode("ascii")
            num_features = ctypes.c_int32.in_dll(library, "fh_num_features").value
            num_trees = ctypes.c_int32.in_dll(library, "fh_num_trees").value
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if key != _key(model_text):
            # unloaded, or a library compiled into its place later would be found already loaded
            _ctypes.dlclose(library._handle)
            return None
        return cls(path, library, num_features, num_trees, sha256)

    def raw_one(self, vector: np.ndarray) -> float:
        """The raw score of one row of `num_features` values (float64 and contiguous saves a copy)."""
        if vector.dtype is not _FLOAT64 or vector.shape != self._shape or not vector.flags.c_contiguous:
            vector = self._coerce(vector)
        out = ctypes.c_double()
        if self._predict(vector.ctypes.data, 1, ctypes.byref(out)) != 0:
            raise MemoryError("no memory to score a row")
        return out.value

    def _coerce(self, vector: np.ndarray) -> np.ndarray:
        row = np.ascontiguousarray(vector, dtype=np.float64).reshape(-1)
        if row.shape != self._shape:
            raise ValueError(f"expected {self.num_features} features, got {row.shape[0]}")
        return row

    def raw_batch(self, matrix: np.ndarray, threads: int = 2) -> np.ndarray:
        """The raw scores of rows of `num_features` values (C-contiguous float64 saves a copy), on up
        to `threads` threads (each row is scored by one thread: the result does not depend on it)."""
        rows = np.ascontiguousarray(matrix, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.num_features:
            raise ValueError(f"expected rows of {self.num_features} features, got shape {matrix.shape}")
        count = rows.shape[0]
        out = np.empty(count, dtype=np.float64)
        workers = max(1, min(threads, count // _MIN_ROWS_PER_THREAD))
        bounds = [count * k // workers for k in range(workers + 1)]
        failed: list[int] = []

        def run(part: int) -> None:
            start, stop = bounds[part], bounds[part + 1]
            if stop > start and self._predict(rows[start:].ctypes.data, stop - start, out[start:].ctypes.data) != 0:
                failed.append(part)

        helpers = [threading.Thread(target=run, args=(part,), daemon=True) for part in range(1, workers)]
        for helper in helpers:
            helper.start()
        try:
            run(0)
        finally:
            for helper in helpers:
                helper.join()
        if failed:
            raise MemoryError("no memory to score the rows")
        return out


def _compile(model: treecode.Model, key: str, temp: Path, deadline: float) -> Path:
    """Write the C files into `temp`, compile them in parallel and link them; the library's path."""
    compiler = shutil.which(os.environ.get("CC", "")) or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise CompileError("no C compiler (gcc or cc) on this machine")
    sources: list[Path] = []
    for part, (first, stop) in enumerate(_parts(model)):
        sources.append(temp / f"part{part}.c")
        sources[-1].write_text(treecode.part_source(model, first, stop, part))
    block = max(1, min(_MAX_BLOCK, _BLOCK_BYTES // (8 * model.num_features)))
    sources.append(temp / "main.c")
    sources[-1].write_text(treecode.main_source(model, len(sources) - 1, key, block))
    objects = [source.with_suffix(".o") for source in sources]
    # relative names, run in `temp`: no temporary path ends up in the library, so it is reproducible
    compile_commands = [[compiler, *_FLAGS, "-c", s.name, "-o", o.name] for s, o in zip(sources, objects, strict=True)]
    _run_all(compile_commands, temp, deadline)
    library = temp / "model.so"
    _run_all([[compiler, "-shared", "-Wl,-Bsymbolic", "-o", library.name, *(o.name for o in objects)]], temp, deadline)
    return library


def _parts(model: treecode.Model) -> list[tuple[int, int]]:
    """Consecutive ranges of trees of about `_NODES_PER_FILE` split nodes each."""
    parts: list[tuple[int, int]] = []
    first, nodes = 0, 0
    for index, tree in enumerate(model.trees):
        nodes += tree.num_leaves - 1
        if nodes >= _NODES_PER_FILE:
            parts.append((first, index + 1))
            first, nodes = index + 1, 0
    if first < len(model.trees):
        parts.append((first, len(model.trees)))
    return parts


def _run_all(commands: list[list[str]], cwd: Path, deadline: float) -> None:
    """Run the commands, one per core at a time, each in its own session under a memory limit; kill
    them all and raise CompileError on a failure or at the deadline."""
    jobs = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    pending = list(commands)
    running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                running.append(_start(pending.pop(0), cwd))
            for process, errors in list(running):
                code = process.poll()
                if code is None:
                    continue
                running.remove((process, errors))
                errors.seek(0)
                detail = errors.read()[-4000:].decode(errors="replace")
                errors.close()
                if code != 0:
                    raise CompileError(f"the C compiler failed (exit status {code})", detail)
            if time.monotonic() > deadline:
                raise CompileError("compiling the model took too long")
            if running:
                time.sleep(0.02)
    finally:
        for process, _ in running:
            _kill(process)
        for process, errors in running:
            process.wait()
            errors.close()


def _start(command: list[str], cwd: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    # /bin/sh sets the memory limit, then becomes the compiler (exec): nothing runs in between.
    limited = ["/bin/sh", "-c", 'ulimit -v "$0" && exec "$@"', str(_COMPILER_MEMORY_KB), *command]
    # the compiler's messages go to a temporary file, not a pipe that a chatty compiler could fill
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
    try:
        process = subprocess.Popen(
            limited,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
    except OSError as error:
        errors.close()
        raise CompileError(f"the C compiler cannot be started ({error.strerror})") from None
    return process, errors


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the compiler's session: the driver and its cc1/as/ld


@contextlib.contextmanager
def _lock(path: Path, deadline: float) -> Iterator[None]:
    """An exclusive lock file, waited for until the deadline."""
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - closed below
    except OSError as error:
        raise CompileError(f"cannot lock the compiled model's folder ({error.strerror})") from None
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CompileError("another process has been compiling this model for too long") from None
                time.sleep(0.05)
        yield
    finally:
        handle.close()


def _remove_stale(folder: Path) -> None:
    """Temporary folders left by a compilation that was killed (called under the lock)."""
    now = time.time()
    for entry in folder.glob(".compiling-*"):
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > _STALE_TEMP_S:
                shutil.rmtree(entry, ignore_errors=True)
