"""The `.npy` entry points against numpy on the same files: dtype from the header, results
returned or written atomically, file errors as OSError / TypeError."""

import os

import numpy as np
import pytest

import rayblas


@pytest.fixture
def files(tmp_path, dtype):
    rng = np.random.default_rng(3)
    a = (rng.random((57, 31)) - 0.5).astype(dtype)
    b = (rng.random((31, 44)) - 0.5).astype(dtype)
    pa, pb = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(pa, a)
    np.save(pb, np.asfortranarray(b))
    return a, b, pa, pb


def test_products_from_files(files, tmp_path, dtype):
    a, b, pa, pb = files
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    g = rayblas.gram_npy(pa, chunk_bytes=4096)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, a @ a.T, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(rayblas.matmul_npy(str(pa), str(pb)), a @ b, rtol=rtol, atol=rtol)
    out = tmp_path / "g.npy"
    assert rayblas.gram_npy(pa, out, block=16) is None
    np.testing.assert_allclose(np.load(out), a @ a.T, rtol=rtol, atol=rtol)
    out = tmp_path / "p.npy"
    assert rayblas.matmul_npy(pa, pb, out) is None
    np.testing.assert_allclose(np.load(out), a @ b, rtol=rtol, atol=rtol)
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "b.npy", "g.npy", "p.npy"]


def test_reductions_from_files(files, dtype):
    a, b, pa, pb = files
    rtol = 1e-4 if dtype == np.float32 else 1e-11
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert rayblas.gram_reduce_npy(pa, chunk_bytes=1024) == pytest.approx((a64 @ a64.T).sum(), rel=rtol)
    assert rayblas.gram_reduce_npy(pa, "max") == pytest.approx((a64 @ a64.T).max(), rel=rtol)
    assert rayblas.matmul_reduce_npy(pa, pb, "sumsq") == pytest.approx(((a64 @ b64) ** 2).sum(), rel=rtol)
    assert rayblas.reduce_npy(pa) == pytest.approx(a64.sum(), rel=rtol, abs=rtol)
    assert rayblas.reduce_npy(pa, "min") == a.min()
    assert rayblas.reduce_npy(pa, "norm") == pytest.approx(np.linalg.norm(a64), rel=rtol)
    assert type(rayblas.reduce_npy(pa)) is np.dtype(dtype).type


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        rayblas.gram_npy(tmp_path / "missing.npy")
    ints = tmp_path / "ints.npy"
    np.save(ints, np.arange(6).reshape(2, 3))
    with pytest.raises(TypeError, match="<i8"):
        rayblas.gram_reduce_npy(ints)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not a npy file at all")
    with pytest.raises(OSError):
        rayblas.reduce_npy(junk)
    a = tmp_path / "a.npy"
    np.save(a, np.ones((3, 4)))
    with pytest.raises(ValueError):
        rayblas.matmul_npy(a, a)
    with pytest.raises(ValueError):
        rayblas.reduce_npy(a, "median")
    # A failed write leaves nothing behind.
    out = tmp_path / "no" / "such" / "dir" / "g.npy"
    with pytest.raises(OSError):
        rayblas.gram_npy(a, out)
    assert not out.exists()
