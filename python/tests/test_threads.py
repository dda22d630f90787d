"""The GIL released for the whole call, Ctrl-C honoured when the call returns, thread control
through `rayblas.limit` and threadpoolctl, and nothing leaked over many calls."""

import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import rayblas

CORES = len(os.sched_getaffinity(0))


@pytest.mark.skipif(CORES < 2, reason="needs two cores to overlap")
def test_two_python_threads_overlap():
    # Each call runs on one thread ("serial"); if the GIL were held, the two would take turns
    # and the process's CPU time would about equal the wall time. Released, they overlap:
    # CPU time approaches twice the wall time. Sized to take ~0.3 s per call here.
    x = np.random.default_rng(0).random((1200, 1200))
    rayblas.gram_sum(x, strategy="serial")  # warm up: the library's first-call set-up
    results = []

    def work():
        for _ in range(2):
            results.append(rayblas.gram_sum(x, strategy="serial"))

    threads = [threading.Thread(target=work) for _ in range(2)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert len(results) == 4 and len(set(results)) == 1
    assert cpu / wall > 1.3, f"CPU {cpu:.2f} s over wall {wall:.2f} s: the calls did not overlap"


def test_threads_with_mixed_strategies_get_right_answers():
    rng = np.random.default_rng(1)
    xs = [rng.random((n, 40)) for n in (5, 50, 130, 260)]
    want = [float((x @ x.T).sum()) for x in xs]
    errors = []

    def work(i):
        s = ["blocked", "serial", "native", "blocked:2", None][i % 5]
        for _ in range(20):
            for x, w in zip(xs, want):
                got = rayblas.gram_sum(x, strategy=s, block=32)
                if abs(got - w) > 1e-9 * abs(w):
                    errors.append((s, x.shape, got, w))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_ctrl_c_is_honoured_when_the_call_returns(tmp_path):
    # A child writes a Gram product to a .npy file in a long call; SIGINT arrives mid-call.
    # The call finishes (the file is whole and right), then KeyboardInterrupt is raised.
    out = tmp_path / "g.npy"
    script = textwrap.dedent(f"""
        import sys, time, numpy as np, rayblas
        x = np.random.default_rng(2).random((1500, 1500))
        np.save({str(tmp_path / 'x.npy')!r}, x)
        print("ready", flush=True)
        try:
            for _ in range(100):
                rayblas.gram_npy({str(tmp_path / 'x.npy')!r}, {str(out)!r}, strategy="serial")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        print("not interrupted", flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    rest, _ = p.communicate(timeout=120)
    assert p.returncode == 3, rest
    assert "interrupted" in rest
    x = np.load(tmp_path / "x.npy")
    np.testing.assert_allclose(np.load(out), x @ x.T, rtol=1e-12)
    assert sorted(os.listdir(tmp_path)) == ["g.npy", "x.npy"]  # no temporary file left


def test_limit_sets_and_restores():
    before = rayblas.info()
    assert before["limit"] is None
    with rayblas.limit(1):
        i = rayblas.info()
        assert (i["limit"], i["default_workers"], i["default_native_threads"]) == (1, 1, 1)
        with rayblas.limit(3):
            assert rayblas.info()["default_workers"] == 3
        assert rayblas.info()["default_workers"] == 1
        x = np.random.default_rng(4).random((200, 100))
        assert rayblas.gram_sum(x, strategy="blocked") == rayblas.gram_sum(x, strategy="blocked:2")
    after = rayblas.info()
    assert after["limit"] is None
    assert after["default_workers"] == before["default_workers"]
    with pytest.raises(ValueError):
        with rayblas.limit(0):
            pass
    with pytest.raises(TypeError):
        with rayblas.limit(1.5):
            pass
    with pytest.raises(KeyError):
        with rayblas.limit(1):
            raise KeyError("inside")
    assert rayblas.info()["limit"] is None


def test_threadpoolctl_lists_and_limits_rayblas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    infos = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "rayblas"]
    assert len(infos) == 1, threadpoolctl.threadpool_info()
    i = infos[0]
    assert i["internal_api"] == "rayblas" and i["version"] == rayblas.__version__
    assert i["blas_backend"] == rayblas.BACKEND
    start = i["num_threads"]
    assert start >= 1
    with threadpoolctl.threadpool_limits(1):
        assert rayblas.info()["default_workers"] == 1
        assert rayblas.info()["default_native_threads"] == 1
        got = [j for j in threadpoolctl.threadpool_info() if j["user_api"] == "rayblas"]
        assert got[0]["num_threads"] == 1
    with threadpoolctl.threadpool_limits(limits=1, user_api="rayblas"):
        assert rayblas.info()["limit"] == 1
    assert rayblas.info()["limit"] is None  # no limit left behind
    c = threadpoolctl.ThreadpoolController().select(user_api="rayblas")
    with c.limit(limits=1):
        assert rayblas.info()["default_workers"] == 1
    assert rayblas.info()["limit"] is None


def _rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_reference_counts_and_memory_stay_flat_over_many_calls():
    x = np.random.default_rng(5).random((16, 16))
    y = x[:, ::2]

    def calls(n):
        for _ in range(n):
            rayblas.matmul(x, y)
            rayblas.gram_sum(x)
            rayblas.sum(y, axis=0)
            rayblas.argmax(x)
            try:
                rayblas.matmul(x, x[:3])
            except ValueError:
                pass

    calls(1000)
    gc.collect()
    refs = (sys.getrefcount(x), sys.getrefcount(y))
    rss = _rss_mib()
    calls(10_000)
    gc.collect()
    assert (sys.getrefcount(x), sys.getrefcount(y)) == refs
    grown = _rss_mib() - rss
    assert grown < 8, f"RSS grew {grown:.1f} MiB over 10^4 rounds of calls"
