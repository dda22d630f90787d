"""One case of ``python -m rayblas compare``, run in a fresh process so that its memory and
threads are its own: ``python -m rayblas._case '<json>'`` prints one JSON line.

The input is numpy's ``default_rng(seed).random((n, n))`` in every case, so rayblas, numpy and
dask.array reduce the same matrix. Peak RSS is the process's high-water mark
(``ru_maxrss``); ``base_rss_mib`` is the RSS once the input exists, so ``peak - base`` is what
the computation needed above its input.
"""

import json
import os
import resource
import sys
import time


def _rss_mib():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(case):
    import numpy as np

    n, dtype, seed = case["n"], case["dtype"], case.get("seed", 42)
    x = np.random.default_rng(seed).random((n, n), dtype=np.dtype(dtype))
    base = _rss_mib()
    who, how = case["peer"], case.get("how")
    if who == "rayblas":
        import rayblas

        call = lambda: float(rayblas.gram_sum(x, strategy=how, block=case.get("block")))
    elif who == "numpy":
        call = lambda: float((x @ x.T).sum())
    elif who == "dask":
        import dask
        import dask.array as da
        from threadpoolctl import threadpool_limits

        block = case.get("block") or 1000
        xd = da.from_array(x, chunks=(block, block))

        def call():
            # As in the post that started rayblas: BLAS at one thread, dask's threads over
            # the blocks.
            with threadpool_limits(limits=1, user_api="blas"), dask.config.set(
                scheduler="threads"
            ):
                return float(xd.dot(xd.T).sum().compute())

    else:
        raise SystemExit(f"unknown peer {who!r}")
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = call()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(
        case=case["name"],
        pid=os.getpid(),
        n=n,
        dtype=dtype,
        wall_s=wall,
        cpu_pct=100.0 * cpu / wall if wall > 0 else None,
        peak_rss_mib=peak,
        base_rss_mib=base,
        above_input_mib=peak - base,
        result=result,
    )


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
