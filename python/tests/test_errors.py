"""Errors as a numpy user expects them, each with the library's message; nothing is cast."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import rayblas


def test_shape_mismatch_is_value_error():
    with pytest.raises(ValueError, match="matmul"):
        rayblas.matmul(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        rayblas.matmul(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        rayblas.sum(np.ones((2, 2, 2)))


@pytest.mark.parametrize("bad", [
    np.arange(6).reshape(2, 3),  # int64
    np.ones((2, 3), dtype=np.complex128),
    np.ones((2, 3), dtype=np.float16),
    np.array([[1, 2], [3, None]], dtype=object),
    np.ones((2, 3), dtype=">f8"),  # not the machine's byte order
    [[1.0, 2.0], [3.0, 4.0]],  # a list, not an array
    "x",
])
def test_wrong_type_is_type_error_and_never_cast(bad):
    with pytest.raises(TypeError, match="float32 or float64"):
        rayblas.gram(bad)
    with pytest.raises(TypeError):
        rayblas.sum(bad)


def test_mixed_dtypes_are_refused():
    with pytest.raises(TypeError, match="float64 and float32"):
        rayblas.matmul(np.ones((2, 2)), np.ones((2, 2), np.float32))
    with pytest.raises(TypeError):
        rayblas.dot(np.ones((2, 2), np.float32), np.ones((2, 2)))


def test_bad_options_are_value_errors():
    x = np.ones((4, 4))
    with pytest.raises(ValueError, match="strategy"):
        rayblas.gram_sum(x, strategy="fastest")
    with pytest.raises(ValueError):
        rayblas.gram_sum(x, block=0)
    with pytest.raises(ValueError):
        rayblas.gram_sum(x, block=(0, 4))
    with pytest.raises(TypeError, match="block"):
        rayblas.gram_sum(x, block=2.5)
    with pytest.raises(ValueError):
        rayblas.gram_sum(x, calls="some")
    with pytest.raises(ValueError):
        rayblas.gram_reduce(x, "median")
    with pytest.raises(ValueError):
        rayblas.gram_sum(x, strategy="blocked:0")


def test_unsupported_strategy_is_value_error_with_the_reason():
    max_threads = rayblas.info()["max_threads"]
    with pytest.raises(ValueError, match=str(max_threads)):
        rayblas.gram_sum(np.ones((4, 4)), strategy=f"native:{max_threads + 1}")


def test_too_large_for_memory_is_memory_error():
    # A 2**21 x 1 view of one element: its Gram matrix would take 32 TiB.
    x = as_strided(np.ones(1), shape=(2**21, 1), strides=(0, 0))
    with pytest.raises(MemoryError, match="TiB|GiB"):
        rayblas.gram(x)
    # The fused reduction needs no output, so the same input works (2**42 products of 1).
    assert rayblas.gram_sum(x[: 2**10]) == 2.0**20


def test_read_only_and_non_contiguous_inputs_work():
    x = np.arange(40.0).reshape(5, 8)[:, ::2]
    x.flags.writeable = False
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(rayblas.gram(x), x @ x.T)
    assert rayblas.sum(x) == x.sum()


def test_inputs_are_not_modified_and_outputs_own_their_memory():
    x = np.random.default_rng(1).random((30, 20))
    before = x.copy()
    g = rayblas.gram(x)
    assert np.array_equal(x, before)
    assert g.flags.owndata or g.base is not None and g.flags.writeable
    assert g.flags.writeable
    g[0, 0] = -1.0  # ours to change
    assert rayblas.gram(x)[0, 0] != -1.0
