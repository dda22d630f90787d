"""rayblas for numpy: blocked dense linear algebra on CPUs.

Products (``matmul``, ``gram``, ``gram_t``, the fused ``gram_sum``/``matmul_sum``/
``gram_reduce``/``matmul_reduce``, ``matmul_batch``, ``gram_batch``) and SIMD reductions (``sum``,
``sum_of_squares``, ``norm``, ``max``, ``min``, ``mean``, ``argmax``, ``argmin``, ``dot``) on
float32 and float64 arrays of any layout, without copying them; ``*_npy`` functions for files
larger than memory. The GIL is released for the whole computation, so Python threads calling
rayblas run at once.

Every function takes the keyword arguments ``strategy=`` (``"blocked"``, ``"blocked:2"``,
``"native"``, ``"native:4"``, ``"hybrid:2x2"``, ``"serial"``, ``"native+rayon"``), ``block=``
(an int, a ``(rows, cols)`` pair or ``"RxC"``) and ``calls=`` (``"tiles"`` or ``"strips"``).

>>> import numpy as np, rayblas
>>> x = np.arange(6.0).reshape(2, 3)
>>> rayblas.gram_sum(x) == (x @ x.T).sum()
True

Errors: a bad shape or argument is a ``ValueError``, a wrong dtype or a non-array a
``TypeError`` (nothing is cast), a result too large for memory a ``MemoryError``, a file
problem an ``OSError``; each carries the library's message.

Threads: ``rayblas.limit(n)`` (a context manager) and threadpoolctl's ``threadpool_limits``
cap the threads rayblas's default strategy uses; ``rayblas.info()`` says what is linked and
what the defaults are.
"""

import contextlib as _contextlib
import platform as _platform

from . import _rayblas
from ._rayblas import (
    BACKEND,
    __version__,
    argmax,
    argmin,
    dot,
    gram,
    gram_npy,
    gram_reduce,
    gram_reduce_npy,
    gram_batch,
    gram_sum,
    gram_t,
    matmul,
    matmul_batch,
    matmul_npy,
    matmul_reduce,
    matmul_reduce_npy,
    matmul_sum,
    max,
    mean,
    min,
    norm,
    reduce_npy,
    sum,
    sum_of_squares,
)

__all__ = [
    "BACKEND",
    "argmax",
    "argmin",
    "compare",
    "dot",
    "gram",
    "gram_batch",
    "gram_npy",
    "gram_reduce",
    "gram_reduce_npy",
    "gram_sum",
    "gram_t",
    "info",
    "limit",
    "matmul",
    "matmul_batch",
    "matmul_npy",
    "matmul_reduce",
    "matmul_reduce_npy",
    "matmul_sum",
    "max",
    "mean",
    "min",
    "norm",
    "reduce_npy",
    "sum",
    "sum_of_squares",
]


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _platform.processor() or "unknown"


def info(measure=False):
    """What rayblas runs on, as a dict with the fields of ``rayblas info``.

    The linked BLAS (backend, version, kernel, threading layer and thread counts, warnings such
    as a mis-detected kernel), the CPU and its cores, the SIMD level of the reductions, the
    default strategy and the default worker and thread counts with where each came from, and
    ``limit`` (the cap set by ``rayblas.limit`` or threadpoolctl, or None). With
    ``measure=True`` also the FMA-loop peak (GFLOP/s, one thread and all physical cores) and the
    streaming read rate (GB/s): the limits to judge a run against, measured in about 5 s.
    """
    d = _rayblas._info(measure)
    d["cpu"] = _cpu_model()
    d["os"] = f"{_platform.system()} {_platform.release()}"
    return d


@_contextlib.contextmanager
def limit(n):
    """Caps the threads rayblas's default strategy uses at ``n`` inside a ``with`` block.

    Sets the worker count of ``blocked`` and the thread count of ``native`` when the strategy
    names none (``"blocked:4"`` keeps its 4); restores the previous cap on exit, even on an
    error. Process-wide, as threadpoolctl's limits are: every thread's calls see it. Results
    under ``blocked`` keep their bits whatever the cap.

    >>> import numpy as np, rayblas
    >>> with rayblas.limit(1):
    ...     rayblas.info()["default_workers"]
    1
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"limit takes an int thread count, not {type(n).__name__}")
    if n < 1:
        raise ValueError(f"a thread limit must be at least 1, got {n}")
    previous = _rayblas._get_limit()
    _rayblas._set_limit(n)
    try:
        yield
    finally:
        _rayblas._set_limit(previous)


def compare(*args, **kwargs):
    """The seed case through rayblas's strategies, numpy and dask.array, each run in a fresh
    process: a list of dicts, one per run (see ``rayblas._compare.compare``)."""
    from . import _compare

    return _compare.compare(*args, **kwargs)


def _register_with_threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return
    if not hasattr(threadpoolctl, "register"):  # before 3.2
        return
    from ._threadpoolctl import RayblasController

    threadpoolctl.register(RayblasController)


_register_with_threadpoolctl()
