"""``python -m rayblas compare``: the seed case, ``(x @ x.T).sum()`` of a random n × n matrix,
through rayblas's strategies, numpy and dask.array (when installed), side by side.

Each run is a fresh process (its peak RSS and threads are its own), the cases interleaved
round by round so that a noisy neighbour hits them all alike; the table gives each case's
median wall time, CPU % (CPU time ÷ wall time: 200 % is two cores busy), peak RSS, memory
above the input, and the result with its relative distance from the median of all cases
(they must agree to rounding: a summation order differs between them).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

DEFAULT_STRATEGIES = ("blocked", "native")


def _have(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def cases(n=10000, block=1000, dtype="float64", strategies=DEFAULT_STRATEGIES, peers=None):
    """The cases of one comparison, in the order they run each round."""
    if peers is None:
        peers = [p for p in ("numpy", "dask") if p == "numpy" or (_have("dask") and _have("threadpoolctl"))]
    out = []
    for s in strategies:
        out.append(dict(name=f"rayblas {s}", peer="rayblas", how=s, n=n, dtype=dtype,
                        block=block if s != "native" else None))
    for p in peers:
        out.append(dict(name=p if p != "dask" else f"dask.array (block {block})", peer=p, n=n,
                        dtype=dtype, block=block))
    return out


def run_case(case, timeout=None):
    """One case in a fresh ``python -m rayblas._case`` process: its JSON row."""
    env = dict(os.environ)
    p = subprocess.run(
        [sys.executable, "-m", "rayblas._case", json.dumps(case)],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    if p.returncode != 0:
        raise RuntimeError(f"{case['name']} failed (exit {p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(n=10000, block=1000, dtype="float64", strategies=DEFAULT_STRATEGIES, peers=None,
            reps=1, progress=None):
    """Runs every case ``reps`` times, interleaved, each in a fresh process, and returns one
    dict per run: ``case, n, dtype, rep, wall_s, cpu_pct, peak_rss_mib, base_rss_mib,
    above_input_mib, result``. ``peers`` defaults to numpy, and dask.array when dask and
    threadpoolctl are installed. Jupyter: ``pandas.DataFrame(rayblas.compare(n=4000))``."""
    if reps < 1:
        raise ValueError(f"reps must be at least 1, got {reps}")
    plan = cases(n, block, dtype, strategies, peers)
    rows = []
    for rep in range(reps):
        for case in plan:
            if progress:
                progress(f"rep {rep + 1}/{reps}: {case['name']}")
            row = run_case(case)
            row["rep"] = rep + 1
            rows.append(row)
    return rows


def summary(rows):
    """Median per case: the table's rows, fastest first."""
    by = {}
    for r in rows:
        by.setdefault(r["case"], []).append(r)
    reference = statistics.median(r["result"] for r in rows)
    out = []
    for name, rs in by.items():
        med = lambda k: statistics.median(r[k] for r in rs if r[k] is not None)
        result = statistics.median(r["result"] for r in rs)
        out.append(dict(
            case=name, runs=len(rs), wall_s=med("wall_s"),
            wall_min_s=min(r["wall_s"] for r in rs), wall_max_s=max(r["wall_s"] for r in rs),
            cpu_pct=med("cpu_pct"), peak_rss_mib=med("peak_rss_mib"),
            above_input_mib=med("above_input_mib"), result=result,
            rel_diff=abs(result - reference) / abs(reference) if reference else 0.0,
        ))
    out.sort(key=lambda r: r["wall_s"])
    return out


def table(summary_rows):
    fastest = summary_rows[0]["wall_s"] if summary_rows else 1.0
    lines = [f"{'case':<26} {'wall s':>8} {'range s':>15} {'vs best':>7} {'CPU %':>6} "
             f"{'peak MiB':>9} {'above input':>11}  result (rel. diff)"]
    for r in summary_rows:
        lines.append(
            f"{r['case']:<26} {r['wall_s']:>8.3f} {r['wall_min_s']:>7.3f}–{r['wall_max_s']:<7.3f} "
            f"{r['wall_s'] / fastest:>6.2f}× {r['cpu_pct']:>6.0f} {r['peak_rss_mib']:>9.0f} "
            f"{r['above_input_mib']:>11.0f}  {r['result']:.10g} ({r['rel_diff']:.1e})"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m rayblas compare",
        description="(x @ x.T).sum() through rayblas's strategies, numpy and dask.array, each "
                    "run in a fresh process, interleaved; prints medians.")
    ap.add_argument("--n", type=int, default=10000, help="matrix side (default 10000: the seed)")
    ap.add_argument("--block", type=int, default=1000, help="block side for rayblas blocked and dask (default 1000)")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                    help="rayblas strategies, comma-separated (default blocked,native)")
    ap.add_argument("--peers", default=None,
                    help="numpy,dask or a subset, or 'none' (default: numpy, and dask if installed)")
    ap.add_argument("--reps", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--json", action="store_true", help="print every run as one JSON line instead")
    a = ap.parse_args(argv)
    if a.n < 1:
        ap.error(f"--n must be positive, got {a.n}")
    if a.block < 1:
        ap.error(f"--block must be positive, got {a.block}")
    if a.reps < 1:
        ap.error(f"--reps must be positive, got {a.reps}")
    peers = None if a.peers is None else [p for p in a.peers.split(",") if p and p != "none"]
    for p in peers or []:
        if p not in ("numpy", "dask"):
            ap.error(f"unknown peer {p!r} (numpy, dask)")
    if peers and "dask" in peers and not (_have("dask") and _have("threadpoolctl")):
        ap.error("dask needs `pip install 'dask[array]' threadpoolctl`")
    strategies = [s for s in a.strategies.split(",") if s]
    import rayblas

    i = rayblas.info()
    print(f"# {i['cpu']}, {i['physical_cores']} cores; {i['backend']} {i['version']} "
          f"({i['corename'] or '-'} kernels); n={a.n} {a.dtype}, block {a.block}, {a.reps} rounds",
          file=sys.stderr)
    for w in i["warnings"]:
        print(f"# warning: {w}", file=sys.stderr)
    try:
        rows = compare(a.n, a.block, a.dtype, strategies, peers, a.reps,
                       progress=lambda m: print(f"# {m}", file=sys.stderr, flush=True))
    except (RuntimeError, ValueError) as e:
        print(f"python -m rayblas compare: {e}", file=sys.stderr)
        return 1
    if a.json:
        for r in rows:
            print(json.dumps(r))
    else:
        print(table(summary(rows)))
    return 0
