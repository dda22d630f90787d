"""numpy and dask.array timed as rayblas-peers times its peers, for `cargo xtask bench-report`.

usage: python peers.py <numpy|dask> <op> <f64|f32> <n> [--warmup 0|1] [--chunk C]

Prints one JSON line with the same fields as rayblas-peers. numpy runs with its own BLAS
threading (all cores); dask.array runs `x.dot(x.T).sum()` on its threaded scheduler with BLAS at
one thread through threadpoolctl, as in the post that started rayblas. Inputs come from numpy's
generator (seed 42), not rayblas's, so results are not compared with rayblas's.
"""

import json
import resource
import sys
import time

import numpy as np

MIN_SAMPLE = 0.020
BUDGET = 0.300
MAX_SAMPLES = 10


def measure(call, warmup):
    t = time.perf_counter()
    result = call()
    one = time.perf_counter() - t
    if not warmup:
        return dict(wall_s=one, wall_min_s=one, wall_max_s=one, samples=1,
                    cpu_pct=None, result=result)
    if one < MIN_SAMPLE:
        t = time.perf_counter()
        calls = 0
        while time.perf_counter() - t < MIN_SAMPLE:
            result = call()
            calls += 1
        one = (time.perf_counter() - t) / calls
    iters = max(1, int(-(-MIN_SAMPLE // max(one, 1e-9))))
    walls = []
    cpu0 = time.process_time()
    started = time.perf_counter()
    while not walls or (len(walls) < MAX_SAMPLES and time.perf_counter() - started < BUDGET):
        t = time.perf_counter()
        for _ in range(iters):
            result = call()
        walls.append((time.perf_counter() - t) / iters)
    timed = time.perf_counter() - started
    cpu_pct = 100.0 * (time.process_time() - cpu0) / timed
    return dict(wall_s=float(np.median(walls)), wall_min_s=min(walls), wall_max_s=max(walls),
                samples=len(walls), cpu_pct=cpu_pct, result=result)


def main(argv):
    peer, op, dtype, n = argv[0], argv[1], argv[2], int(argv[3])
    opts = dict(zip(argv[4::2], argv[5::2]))
    warmup = opts.get("--warmup", "1") != "0"
    chunk = int(opts.get("--chunk", "1000"))
    dt = {"f64": np.float64, "f32": np.float32}[dtype]
    rng = np.random.default_rng(42)
    x = rng.random((n, n), dtype=dt)
    if peer == "numpy":
        if op == "matmul":
            b = rng.random((n, n), dtype=dt)
            call = lambda: float((x @ b)[0, 0])
        elif op == "gram":
            call = lambda: float((x @ x.T)[0, 0])
        elif op == "gram-sum":
            call = lambda: float((x @ x.T).sum())
        elif op == "sum":
            call = lambda: float(x.sum())
        else:
            raise SystemExit(f"numpy has no op {op}")
        m = measure(call, warmup)
    elif peer == "dask" and op == "gram-sum":
        import dask
        import dask.array as da
        from threadpoolctl import threadpool_limits

        xd = da.from_array(x, chunks=(chunk, chunk))
        with threadpool_limits(limits=1, user_api="blas"), dask.config.set(scheduler="threads"):
            m = measure(lambda: float(xd.dot(xd.T).sum().compute()), warmup)
    else:
        raise SystemExit(f"unknown peer/op {peer} {op}")
    m.update(contestant=peer, op=op, dtype=dtype, n=n,
             peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(m))


if __name__ == "__main__":
    main(sys.argv[1:])
