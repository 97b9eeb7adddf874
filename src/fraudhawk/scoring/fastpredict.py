"""One event's raw LightGBM score through the C API's single-row fast path.

`Booster.predict` on a 1-row matrix spends tens to hundreds of µs in Python (a predictor object,
parameter strings, shape checks) around a few µs of tree walking. LightGBM's
`LGBM_BoosterPredictForMatSingleRowFast` takes a configuration prepared once (`...FastInit`) and only
walks the trees. It reads the row with the same function as `LGBM_BoosterPredictForMat` and predicts
with the same `Predictor`, so the score is the double `booster.predict(row, raw_score=True,
num_threads=1)` returns (tests/test_single_row.py checks it bit for bit).

Threads. LightGBM keeps one single-row predictor (with one scratch buffer) per booster, shared by
all of that booster's fast configurations, and serialises `PredictSingleRow` on the booster's mutex,
so calls on one booster never overlap whatever Python does. The call is therefore made *holding the
GIL* (through a `ctypes.PyDLL` view of LightGBM's library): it lasts a few µs, and handing the GIL
over and back around it costs more than it frees. Measured on 2 cores with 4 threads each building
vectors and scoring them, GIL-releasing calls reached about a third of the throughput of GIL-holding
ones, under one lock and over a pool of 4 boosters alike (~31k vs ~93k events/s); holding the GIL,
4 threads score as fast as one. Waiting on a booster's mutex while holding the GIL could deadlock
with a thread holding that mutex and logging (LightGBM's log callback needs the GIL), so
`FastBooster` scores with a private copy of the booster that nothing else uses, parsed from the
model text (written with every digit: same trees, same scores), at the cost of one more model in
memory. Results go to per-thread buffers.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Any, cast

import lightgbm as lgb
import numpy as np
from lightgbm.basic import LightGBMError
from lightgbm.libpath import _LIB

_C_API_DTYPE_FLOAT64 = 1
_C_API_PREDICT_RAW_SCORE = 1
_PARAMETERS = b"num_threads=1"  # what predict(..., num_threads=1) passes
_FLOAT64 = np.dtype(np.float64)
# The same loaded library, seen as a PyDLL: its functions run without releasing the GIL.
_LIB_KEEPING_GIL = ctypes.PyDLL(_LIB._name, handle=_LIB._handle)


def _function(library: ctypes.CDLL, name: str, argtypes: list[Any]) -> Any:
    # library[name] is a fresh function object (getattr returns a cached, shared one), so setting its
    # argtypes cannot change how lightgbm itself calls the library.
    function = library[name]
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


_FAST_INIT = _function(
    _LIB,
    "LGBM_BoosterPredictForMatSingleRowFastInit",
    [
        ctypes.c_void_p,  # booster
        ctypes.c_int,  # predict type
        ctypes.c_int,  # start iteration
        ctypes.c_int,  # number of iterations (<= 0: all)
        ctypes.c_int,  # data type
        ctypes.c_int32,  # number of columns
        ctypes.c_char_p,  # parameters
        ctypes.POINTER(ctypes.c_void_p),  # out: the fast configuration
    ],
)
_FAST_PREDICT = _function(
    _LIB_KEEPING_GIL,
    "LGBM_BoosterPredictForMatSingleRowFast",
    [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_double)],
)
_FAST_FREE = _function(_LIB, "LGBM_FastConfigFree", [ctypes.c_void_p])


def _check(code: int) -> None:
    if code != 0:
        raise LightGBMError(_LIB.LGBM_GetLastError().decode("utf-8"))


class _Output(threading.local):
    """One thread's output buffers: the call writes them, and another thread could run in between
    the call's return and the read of its result."""

    def __init__(self) -> None:
        self.result = ctypes.c_double(0.0)
        self.result_ref = ctypes.pointer(self.result)
        self.length_ref = ctypes.pointer(ctypes.c_int64(0))


class FastBooster:
    """Raw scores of single rows for a single-output booster (binary, regression), equal to
    `booster.predict(row.reshape(1, -1), raw_score=True, num_threads=1)[0]`; thread-safe."""

    def __init__(self, booster: lgb.Booster) -> None:
        if booster.num_model_per_iteration() != 1:
            raise ValueError("FastBooster scores single-output models only")
        self.num_feature = int(booster.num_feature())
        # what predict() uses when num_iteration is not given: the best iteration, if any
        self.num_iteration = int(booster.best_iteration)
        self._shape = (self.num_feature,)
        self._row = ctypes.c_double * self.num_feature
        self._booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=-1))
        self._output = _Output()
        handle = ctypes.c_void_p()
        _check(
            _FAST_INIT(
                self._booster._handle,
                _C_API_PREDICT_RAW_SCORE,
                0,
                self.num_iteration,
                _C_API_DTYPE_FLOAT64,
                self.num_feature,
                _PARAMETERS,
                ctypes.byref(handle),
            )
        )
        self._config: int | None = handle.value

    def raw_one(self, vector: np.ndarray) -> float:
        """The raw score (log-odds) of one row of `num_feature` values (float64 saves a copy)."""
        if vector.dtype is not _FLOAT64 or vector.shape != self._shape:
            vector = self._coerce(vector)
        try:
            row = self._row.from_buffer(cast(Any, vector))  # the array's memory; numpy's .ctypes is slower
        except (TypeError, ValueError):  # read-only or not contiguous
            row = self._row.from_buffer(cast(Any, np.array(vector, dtype=np.float64)))
        config = self._config
        if config is None:
            raise ValueError("FastBooster is closed")
        output = self._output
        _check(_FAST_PREDICT(config, row, output.length_ref, output.result_ref))
        return output.result.value

    def _coerce(self, vector: np.ndarray) -> np.ndarray:
        row = np.array(vector, dtype=np.float64).reshape(-1)
        if row.shape != self._shape:
            raise ValueError(f"expected {self.num_feature} features, got {row.shape[0]}")
        return row

    def close(self) -> None:
        """Free the fast configuration now rather than when collected; only once no thread scores."""
        config, self._config = getattr(self, "_config", None), None
        if config is not None:
            _FAST_FREE(config)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the library may be gone already
            self.close()
