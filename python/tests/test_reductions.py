"""Reductions against numpy: every dtype, layout, axis (None, 0, 1, negative), 1-D and 2-D,
empty inputs, NaN; scalars come back as numpy scalars of the input's dtype."""

import numpy as np
import pytest

import rayblas
from conftest import layouts, tol

OPS = {
    "sum": np.sum,
    "sum_of_squares": lambda x, axis=None: (x.astype(np.float64) ** 2).sum(axis=axis),
    "norm": lambda x, axis=None: np.linalg.norm(x.astype(np.float64), axis=axis),
    "max": np.max,
    "min": np.min,
    "mean": np.mean,
    "argmax": np.argmax,
    "argmin": np.argmin,
}


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shape", [(33, 21), (1, 50), (50, 1), (300, 7)])
def test_every_axis_and_layout(dtype, op, shape):
    ours, theirs = getattr(rayblas, op), OPS[op]
    for name, x in layouts(*shape, dtype, 11):
        for axis in (None, 0, 1, -1, -2):
            got = ours(x, axis=axis, block=(8, 5))
            want = theirs(x, axis=axis)
            if op.startswith("arg"):
                np.testing.assert_array_equal(got, want, err_msg=f"{name} axis={axis}")
                continue
            if axis is None:
                assert type(got) is np.dtype(dtype).type, (name, type(got))
            else:
                assert got.dtype == dtype and got.shape == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=tol(dtype, x.size), atol=tol(dtype, x.size),
                                       err_msg=f"{name} axis={axis}")


def test_one_dimensional(dtype):
    v = np.linspace(-3, 5, 101, dtype=dtype)[::2]
    for op in ("sum", "max", "min", "argmax", "argmin", "mean"):
        for axis in (None, 0, -1):
            assert getattr(rayblas, op)(v, axis=axis) == pytest.approx(
                OPS[op](v, axis=axis), rel=tol(dtype, 100))
    assert rayblas.dot(v, v) == pytest.approx(float(np.vdot(v, v)), rel=tol(dtype, 100))
    with pytest.raises(np.exceptions.AxisError):
        rayblas.sum(v, axis=1)
    with pytest.raises(np.exceptions.AxisError):
        rayblas.sum(np.ones((2, 2), dtype), axis=2)


def test_dot_with_and_without_axis(dtype):
    for name, x in layouts(17, 9, dtype, 12):
        y = layouts(17, 9, dtype, 13)[1][1]
        assert rayblas.dot(x, y) == pytest.approx(float(np.vdot(x, y)), rel=tol(dtype, 200))
        for axis in (0, 1):
            np.testing.assert_allclose(rayblas.dot(x, y, axis=axis), (x * y).sum(axis=axis),
                                       rtol=tol(dtype, 20), atol=tol(dtype, 20))
    with pytest.raises(ValueError):
        rayblas.dot(np.ones((2, 3), dtype), np.ones((3, 2), dtype))


def test_empty_inputs(dtype):
    e = np.ones((0, 3), dtype)
    assert rayblas.sum(e) == 0
    assert rayblas.norm(e) == 0
    np.testing.assert_array_equal(rayblas.sum(e, axis=0), np.zeros(3, dtype))
    for op in ("max", "min", "argmax", "argmin"):
        with pytest.raises(ValueError):  # numpy: "zero-size array to reduction operation"
            getattr(rayblas, op)(e)


def test_nan_as_numpy(dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    x[1, 2] = np.nan
    x[2, 0] = np.nan
    assert np.isnan(rayblas.max(x)) and np.isnan(rayblas.min(x))
    assert rayblas.argmax(x) == np.argmax(x) == 6
    assert rayblas.argmin(x) == np.argmin(x) == 6
    np.testing.assert_array_equal(rayblas.argmax(x, axis=0), np.argmax(x, axis=0))
    np.testing.assert_array_equal(rayblas.argmax(x, axis=1), np.argmax(x, axis=1))
