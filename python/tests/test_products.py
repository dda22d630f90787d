"""Products against numpy: every dtype, layout, shape (empty, 1×N, N×1, ragged blocks) and
strategy gives numpy's answer to rounding."""

import numpy as np
import pytest

import rayblas
from conftest import layouts, tol

SHAPES = [(23, 17, 9), (1, 40, 1), (40, 1, 40), (5, 0, 6), (0, 7, 3), (64, 64, 64), (3, 5, 0)]
STRATEGIES = [None, "blocked", "blocked:1", "serial", "native", "native:1", "hybrid:1x1"]


def close(got, want, dtype, k):
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=tol(dtype, k) * scale * k)


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_matmul_every_layout(dtype, m, k, n):
    for an, a in layouts(m, k, dtype, 1):
        for bn, b in layouts(k, n, dtype, 2)[:3]:
            close(rayblas.matmul(a, b, block=7), a @ b, dtype, k)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_products_every_strategy(dtype, strategy):
    for name, x in layouts(37, 29, dtype, 3):
        y = layouts(29, 31, dtype, 4)[0][1]
        kw = dict(strategy=strategy, block=(8, 8))
        close(rayblas.matmul(x, y, **kw), x @ y, dtype, 29)
        close(rayblas.gram(x, **kw), x @ x.T, dtype, 29)
        close(rayblas.gram_t(x, **kw), x.T @ x, dtype, 37)
        g = (x.astype(np.float64) @ x.T.astype(np.float64))
        assert rayblas.gram_sum(x, **kw) == pytest.approx(g.sum(), rel=tol(dtype, 37 * 29))
        p = x.astype(np.float64) @ y.astype(np.float64)
        assert rayblas.matmul_sum(x, y, **kw) == pytest.approx(p.sum(), rel=tol(dtype, 37 * 29))


@pytest.mark.parametrize("reduction,numpy_op", [
    ("sum", np.sum), ("sumsq", lambda p: (p * p).sum()), ("max", np.max), ("min", np.min)])
def test_fused_reductions(dtype, reduction, numpy_op):
    for name, x in layouts(45, 12, dtype, 5):
        y = layouts(12, 20, dtype, 6)[1][1]
        g = numpy_op(x.astype(np.float64) @ x.T.astype(np.float64))
        p = numpy_op(x.astype(np.float64) @ y.astype(np.float64))
        got = rayblas.gram_reduce(x, reduction, block=16)
        assert type(got) is np.dtype(dtype).type
        assert got == pytest.approx(g, rel=tol(dtype, 500), abs=tol(dtype))
        got = rayblas.matmul_reduce(x, y, reduction=reduction, block=(10, 7))
        assert got == pytest.approx(p, rel=tol(dtype, 500), abs=tol(dtype))


def test_blocked_results_keep_their_bits_for_any_worker_count(dtype):
    x = layouts(300, 200, dtype, 7)[0][1]
    want = rayblas.gram_sum(x, strategy="blocked:1", block=64)
    for w in (2, 3, 4):
        assert rayblas.gram_sum(x, strategy=f"blocked:{w}", block=64) == want


def test_one_dimensional_and_empty_shapes(dtype):
    x = np.ones((0, 4), dtype=dtype)
    assert rayblas.gram(x).shape == (0, 0)
    assert rayblas.gram_sum(x) == 0
    assert rayblas.matmul(np.ones((3, 0), dtype), np.ones((0, 2), dtype)).tolist() == [[0, 0]] * 3


def test_batch_3d_and_sequences(dtype):
    rng = np.random.default_rng(8)
    a = rng.random((6, 5, 4)).astype(dtype)
    b = rng.random((6, 4, 3)).astype(dtype)
    want = a @ b
    for s in (None, "blocked", "blocked:1", "serial"):
        got = rayblas.matmul_batch(a, b, strategy=s)
        close(got, want, dtype, 4)
    # Transposed items, any strides.
    close(rayblas.matmul_batch(a.transpose(0, 2, 1).copy().transpose(0, 2, 1), b[:, :, :]), want, dtype, 4)
    # Sequences of views with their own shapes.
    xs = [rng.random((i + 1, 3)).astype(dtype) for i in range(5)]
    ys = [rng.random((3, 2 * i + 1)).astype(dtype)[:, ::1] for i in range(5)]
    got = rayblas.matmul_batch(xs, ys)
    assert isinstance(got, list) and len(got) == 5
    for g, x, y in zip(got, xs, ys):
        close(g, x @ y, dtype, 3)
    assert rayblas.matmul_batch([], []) == []
    assert rayblas.matmul_batch(a[:0], b[:0]).shape == (0, 5, 3)


def test_batch_bad_shapes_name_the_item(dtype):
    xs = [np.ones((2, 3), dtype), np.ones((2, 3), dtype)]
    ys = [np.ones((3, 2), dtype), np.ones((4, 2), dtype)]
    with pytest.raises(ValueError, match=r"1"):
        rayblas.matmul_batch(xs, ys)
    with pytest.raises(ValueError):
        rayblas.matmul_batch(xs, ys[:1])
    with pytest.raises(ValueError):
        rayblas.matmul_batch(np.ones((2, 3, 4), dtype), np.ones((3, 4, 2), dtype))
    with pytest.raises(ValueError, match="3-D"):
        rayblas.matmul_batch(np.ones((3, 4), dtype), np.ones((4, 2), dtype))
    with pytest.raises(TypeError):
        rayblas.matmul_batch(xs, np.ones((2, 3, 2), dtype))
    with pytest.raises(TypeError):
        rayblas.matmul_batch([np.ones((2, 2))], [np.ones((2, 2), np.float32)])


def test_gram_batch_is_gram_per_item(dtype):
    rng = np.random.default_rng(9)
    x = rng.random((7, 5, 6)).astype(dtype)
    want = x @ x.transpose(0, 2, 1)
    for s in (None, "blocked", "blocked:1", "serial"):
        got = rayblas.gram_batch(x, strategy=s)
        assert got.dtype == dtype and got.shape == (7, 5, 5)
        close(got, want, dtype, 6)
        # Each item the bits of gram on it, whatever the strategy's workers.
        for g, xi in zip(got, x):
            np.testing.assert_array_equal(g, rayblas.gram(xi, strategy="serial"))
    # Transposed and strided items, reversed order.
    y = rng.random((14, 6, 10)).astype(dtype).transpose(0, 2, 1)[::-2, ::2]
    close(rayblas.gram_batch(y), y @ y.transpose(0, 2, 1), dtype, 6)
    assert rayblas.gram_batch(x[:0]).shape == (0, 5, 5)
    with pytest.raises(ValueError, match="3-D"):
        rayblas.gram_batch(x[0])
    with pytest.raises(TypeError):
        rayblas.gram_batch([x[0], x[1]])


def test_native_batch_where_the_library_has_one():
    a = np.ones((3, 4, 4))
    b = np.ones((3, 4, 4))
    try:
        got = rayblas.matmul_batch(a, b, strategy="native")
    except ValueError as e:  # the linked library has no batch call: the library says so
        assert "native" in str(e)
    else:
        np.testing.assert_array_equal(got, a @ b)
