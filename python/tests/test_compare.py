"""`python -m rayblas compare` and `rayblas.compare()`: every case in its own process, the
results agreeing, the table printed; bad arguments refused with a message."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

import rayblas

HAVE_DASK = importlib.util.find_spec("dask") is not None


def test_compare_rows_agree():
    rows = rayblas.compare(n=300, block=64, strategies=["blocked", "native", "serial"],
                           peers=["numpy"] + (["dask"] if HAVE_DASK else []), reps=2)
    names = {r["case"] for r in rows}
    assert {"rayblas blocked", "rayblas native", "rayblas serial", "numpy"} <= names
    assert len(rows) == 2 * len(names)
    assert {r["rep"] for r in rows} == {1, 2}
    want = rows[0]["result"]
    for r in rows:
        assert r["result"] == pytest.approx(want, rel=1e-12), r
        assert r["wall_s"] > 0 and r["peak_rss_mib"] > 0 and r["n"] == 300
    # Each run was a fresh process of its own.
    pids = {r["pid"] for r in rows}
    assert len(pids) == len(rows) and os.getpid() not in pids


def test_compare_command_prints_a_table():
    p = subprocess.run([sys.executable, "-m", "rayblas", "compare", "--n", "200", "--block",
                        "50", "--reps", "1", "--peers", "numpy"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["case", "wall", "s"]
    assert any(line.startswith("rayblas blocked") for line in lines)
    assert any(line.startswith("numpy") for line in lines)
    assert "cores" in p.stderr and rayblas.BACKEND in p.stderr
    p = subprocess.run([sys.executable, "-m", "rayblas", "compare", "--n", "100", "--reps", "1",
                        "--peers", "none", "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["case"] for r in rows] == ["rayblas blocked", "rayblas native"]


@pytest.mark.parametrize("args,message", [
    (["--n", "0"], "--n"), (["--reps", "0"], "--reps"), (["--peers", "matlab"], "matlab"),
    (["--strategies", "fastest", "--n", "10", "--reps", "1", "--peers", "none"], "fastest"),
])
def test_compare_refuses_bad_arguments(args, message):
    p = subprocess.run([sys.executable, "-m", "rayblas", "compare", *args],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert message in p.stderr


def test_module_help_and_info():
    p = subprocess.run([sys.executable, "-m", "rayblas"], capture_output=True, text=True)
    assert p.returncode == 2 and "compare" in p.stdout
    p = subprocess.run([sys.executable, "-m", "rayblas", "info"], capture_output=True, text=True)
    assert p.returncode == 0
    i = json.loads(p.stdout)
    assert i["backend"] == rayblas.BACKEND and i["physical_cores"] >= 1
    assert "fma_f64_all" not in i
