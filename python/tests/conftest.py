"""Shared inputs for the Python package's tests: every layout a numpy user hands over."""

import numpy as np
import pytest

DTYPES = [np.float64, np.float32]


def tol(dtype, k=1):
    """Relative tolerance of a result summed over about k products."""
    eps = np.finfo(dtype).eps
    return float(50 * eps * max(1.0, np.sqrt(k)))


def layouts(rows, cols, dtype, seed=0):
    """(name, array) of one logical matrix in many memory layouts: C, Fortran, a transposed
    view, a strided view, reversed strides, read-only."""
    rng = np.random.default_rng(seed)
    base = (rng.random((rows, cols)) - 0.3).astype(dtype)
    out = [("C", np.ascontiguousarray(base)), ("F", np.asfortranarray(base))]
    out.append(("transposed", np.ascontiguousarray(base.T).T))
    big = np.zeros((2 * rows + 1, 3 * cols + 2), dtype=dtype)
    big[1::2, 2::3][:rows, :cols] = base
    out.append(("strided", big[1::2, 2::3][:rows, :cols]))
    rev = np.ascontiguousarray(base[::-1, ::-1])
    out.append(("reversed", rev[::-1, ::-1]))
    ro = base.copy()
    ro.flags.writeable = False
    out.append(("read-only", ro))
    for name, a in out:
        assert np.array_equal(a, base), name
    return out


@pytest.fixture(params=DTYPES, ids=["f64", "f32"])
def dtype(request):
    return request.param
