"""clipsgd.sweep: grid order, resumable store (each point exactly once), executors agree.

The expected numbers here are counts (grid size = product of the list lengths times the
seeds) and equalities between runs that must be bit-identical (same seed -> same
result; the engine does not depend on threads or executors).
"""

import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from clipsgd import ClippedSGD, DPSGD, problems
from clipsgd.sweep import grid_points, load_store, sweep

GRID = {"c": [0.5, 1.0, 2.0], "k": [0.0, 1.0]}
SEEDS = [0, 1]
N_POINTS = 3 * 2 * 2
KW = dict(steps=200, runs=20, record_loss=False, progress=False)


class CountingMetrics:
    """Metrics that log every completed evaluation to a file and can fail after N of them."""

    def __init__(self, log, fail_after=None):
        self.log, self.fail_after = log, fail_after

    def __call__(self, res):
        done = len(self._lines())
        if self.fail_after is not None and done >= self.fail_after:
            raise RuntimeError("simulated crash")
        alg = res.algorithm
        with open(self.log, "a") as fh:
            fh.write(f"{alg.c} {alg.k} {res.seed}\n")
        return {"x_mean": float(res.x.mean()), "x_last": res.x[:, 0]}

    def _lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as fh:
            return fh.read().split("\n")[:-1]


def _results(store):
    return sorted(f for f in os.listdir(store) if f.endswith(".json") and not f.startswith(".")
                  and f != "sweep.json")


def _metrics_rows(table):
    return [{k: v for k, v in row.items()} for row in table]


def test_grid_points_is_the_cartesian_product_with_seeds_innermost():
    pts = grid_points({"c": [1.0, 2.0], "k": [0.0, 0.5, 1.0]}, seeds=[3, 4])
    assert len(pts) == 2 * 3 * 2
    assert pts[0] == {"c": 1.0, "k": 0.0, "seed": 3}
    assert pts[1] == {"c": 1.0, "k": 0.0, "seed": 4}
    assert pts[-1] == {"c": 2.0, "k": 1.0, "seed": 4}
    assert len({tuple(p.items()) for p in pts}) == len(pts)


def test_interrupted_sweep_resumes_with_every_point_exactly_once(tmp_path):
    store, log = tmp_path / "store", tmp_path / "calls.log"
    base = ClippedSGD(lr=0.01, c=1.0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        sweep(problems.example1(), base, GRID, seeds=SEEDS, store=store,
              metrics=CountingMetrics(log, fail_after=5), **KW)
    first = _results(store)
    assert len(first) == 5  # every finished point is on disk, nothing else
    mtimes = {f: os.stat(store / f).st_mtime_ns for f in first}

    table = sweep(problems.example1(), base, GRID, seeds=SEEDS, store=store,
                  metrics=CountingMetrics(log), **KW)
    assert (table.loaded, table.computed) == (5, N_POINTS - 5)
    assert len(table) == N_POINTS and len(_results(store)) == N_POINTS
    calls = open(log).read().split("\n")[:-1]
    assert len(calls) == N_POINTS and len(set(calls)) == N_POINTS  # no point computed twice
    assert {f: os.stat(store / f).st_mtime_ns for f in first} == mtimes  # finished points untouched
    assert len({row["key"] for row in table}) == N_POINTS

    # the same grid without interruption gives the same numbers
    fresh = sweep(problems.example1(), base, GRID, seeds=SEEDS, metrics=CountingMetrics(tmp_path / "b.log"), **KW)
    assert _metrics_rows(fresh) == _metrics_rows(table)

    # a third call computes nothing; load_store sees the same points
    again = sweep(problems.example1(), base, GRID, seeds=SEEDS, store=store, metrics=CountingMetrics(log), **KW)
    assert (again.loaded, again.computed) == (N_POINTS, 0)
    assert len(load_store(store)) == N_POINTS


def test_sweep_killed_by_sigkill_resumes(tmp_path):
    """A real crash: a child process is killed mid-sweep, then the sweep is restarted."""
    store = tmp_path / "store"
    script = textwrap.dedent(f"""
        import time
        from clipsgd import ClippedSGD, problems
        from clipsgd.sweep import sweep, default_metrics

        def slow_metrics(res):
            time.sleep(0.15)
            return default_metrics(res)
        slow_metrics.__module__, slow_metrics.__qualname__ = "tests", "slow_metrics"

        sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), {GRID!r}, seeds={SEEDS!r},
              store={str(store)!r}, metrics=slow_metrics, steps=200, runs=20, record_loss=False,
              progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 300  # generous: a loaded CI machine starts slowly
        while time.time() < deadline and proc.poll() is None:
            if store.exists() and len(_results(store)) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the child finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = len(_results(store))
    assert 3 <= killed_at < N_POINTS
    for f in _results(store):  # every file present is complete JSON
        json.loads((store / f).read_text())

    from clipsgd.sweep import default_metrics

    def slow_metrics(res):
        return default_metrics(res)
    slow_metrics.__module__, slow_metrics.__qualname__ = "tests", "slow_metrics"
    table = sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), GRID, seeds=SEEDS, store=store,
                  metrics=slow_metrics, **KW)
    assert table.loaded == killed_at and table.loaded + table.computed == N_POINTS
    assert len(_results(store)) == N_POINTS


def test_same_seed_same_result_other_seed_differs():
    kw = dict(KW)
    a = sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), {"c": [1.0]}, seeds=[0, 1], **kw)
    b = sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), {"c": [1.0]}, seeds=[0, 1], **kw)
    assert _metrics_rows(a) == _metrics_rows(b)
    assert a[0]["x_mean"] != a[1]["x_mean"]


def test_factory_and_thread_executor_match_local_run():
    def make(c, z):
        return DPSGD(lr=0.05, c=c, noise_multiplier=z, sample_rate=1 / 3)

    grid = {"c": [1.0, 2.0], "z": [0.5, 1.0]}
    local = sweep(problems.example1(), make, grid, seeds=[0, 1], **KW)
    with cf.ThreadPoolExecutor(2) as ex:
        threaded = sweep(problems.example1(), make, grid, seeds=[0, 1], executor=ex, **KW)
    assert _metrics_rows(threaded) == _metrics_rows(local)
    assert len(local) == 8 and all(row["epsilon"] > 0 for row in local)


def test_resume_false_recomputes(tmp_path):
    base = ClippedSGD(lr=0.01, c=1.0)
    sweep(problems.example1(), base, {"c": [1.0, 2.0]}, seeds=[0], store=tmp_path, **KW)
    t = sweep(problems.example1(), base, {"c": [1.0, 2.0]}, seeds=[0], store=tmp_path, resume=False, **KW)
    assert (t.loaded, t.computed) == (0, 2)


def test_duplicate_algorithms_share_one_point(tmp_path):
    # lr given twice with the same value: one point computed, two rows
    t = sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), {"lr": [0.01, 0.01]}, seeds=[0],
              store=tmp_path, **KW)
    assert len(t) == 2 and t.computed == 1 and t[0]["key"] == t[1]["key"]


def test_progress_bar_reaches_the_end(capsys):
    sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), {"c": [1.0, 2.0]}, seeds=[0],
          steps=50, runs=2, record_loss=False)
    err = capsys.readouterr().err
    assert "2/2 points" in err


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(grid={"cc": [1.0]}), ValueError, "cc"),
    (dict(grid={"seed": [1]}), ValueError, "seed"),
    (dict(grid={"c": []}), ValueError, "c"),
    (dict(grid={"c": 1.0}), TypeError, "c"),
    (dict(grid={"c": [-1.0]}), ValueError, "c"),
    (dict(steps=0), ValueError, "steps"),
    (dict(seeds=[]), ValueError, "seeds"),
    (dict(metrics=lambda res: 3.0), TypeError, "metrics"),
    (dict(metrics=3.0), TypeError, "metrics"),
    (dict(metrics={}), ValueError, "metrics"),
    (dict(metrics={"seed": len}), ValueError, "metrics name 'seed'"),  # a column of every row
    (dict(metrics={"c": len}), ValueError, "metrics name 'c'"),  # a grid parameter
    (dict(metrics={"m": 3.0}), TypeError, r"metrics\['m'\]"),
    (dict(executor=object()), TypeError, "executor"),
    (dict(bogus=1), TypeError, "bogus"),
])
def test_bad_input_names_the_parameter(kwargs, exc, word):
    args = dict(grid={"c": [1.0]}, seeds=[0], steps=10, runs=1, progress=False)
    args.update(kwargs)
    grid = args.pop("grid")
    with pytest.raises(exc, match=word):
        sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), grid, **args)


def test_cli_store_needs_resume_or_overwrite(tmp_path, capsys):
    from clipsgd.cli import main

    store = str(tmp_path / "s")
    argv = ["sweep", "--c", "1", "2", "--k", "0", "--seeds", "0", "--steps", "100", "--runs", "10",
            "--store", store, "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 point(s) computed, 0 from the store" in out and "-2.5" in out  # exact stationary point
    assert main(argv) == 2  # results exist: refuse without --resume/--overwrite
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", "--store", store, "--resume", "--quiet"]) == 0  # settings from cli.json
    assert "0 point(s) computed, 2 from the store" in capsys.readouterr().out
    assert main(argv + ["--overwrite"]) == 0
    assert "2 point(s) computed, 0 from the store" in capsys.readouterr().out


@pytest.mark.parametrize("processes", [False, True])
def test_dask_distributed_matches_local(tmp_path, processes):
    distributed = pytest.importorskip("distributed")
    base = ClippedSGD(lr=0.01, c=1.0)
    local = sweep(problems.example1(), base, GRID, seeds=SEEDS, **KW)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = sweep(problems.example1(), base, GRID, seeds=SEEDS, executor=client,
                        store=tmp_path, **KW)
        via_executor = sweep(problems.example1(), base, GRID, seeds=SEEDS,
                             executor=client.get_executor(), **KW)
    assert _metrics_rows(on_dask) == _metrics_rows(local)
    assert _metrics_rows(via_executor) == _metrics_rows(local)
    assert len(_results(tmp_path)) == N_POINTS


def test_a_diverging_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    # SGD on Example 1 with lr = 3: |x_t - x*| doubles every step (1 - lr = -2), overflow by
    # step ~1030; lr = 0.01 and 0.02 converge. The middle point must not stop the others
    from clipsgd import SGD

    t = sweep(problems.example1(), SGD(lr=0.01), {"lr": [0.01, 3.0, 0.02]}, store=str(tmp_path),
              steps=2000, runs=2, record_loss=False, progress=False)
    assert [row["diverged"] for row in t] == [False, True, False]
    assert "lr = 3.0 is too large" in t[1]["error"]
    assert abs(t[0]["x_mean"] - 1.0) < 0.5 and abs(t[2]["x_mean"] - 1.0) < 0.5
    assert len(_results(str(tmp_path))) == 3  # all three stored; a rerun loads them
    again = sweep(problems.example1(), SGD(lr=0.01), {"lr": [0.01, 3.0, 0.02]}, store=str(tmp_path),
                  steps=2000, runs=2, record_loss=False, progress=False)
    assert again.loaded == 3 and again.computed == 0


def test_a_lambda_metric_with_a_store_is_refused_and_a_dict_names_each_metric(tmp_path):
    # every lambda is called '<lambda>', the name that goes into the store key: a second sweep
    # with another lambda would load the first one's results as its own, so it is refused
    base, store = ClippedSGD(lr=0.01, c=1.0), str(tmp_path)
    kw = dict(seeds=[0], steps=10, runs=2, progress=False, store=store)
    with pytest.raises(ValueError, match=r"metrics is a lambda.*named function.*dict"):
        sweep(problems.example1(), base, {"c": [1.0]}, metrics=lambda res: {"m": 1.0}, **kw)
    first = sweep(problems.example1(), base, {"c": [1.0]}, metrics={"m": lambda res: 1.0}, **kw)
    second = sweep(problems.example1(), base, {"c": [1.0]}, metrics={"other": lambda res: 2.0}, **kw)
    # different names, different keys: the second is computed, not loaded from the first
    assert first[0]["m"] == 1.0 and second[0]["other"] == 2.0 and "m" not in second[0]
    assert second.computed == 1 and second.loaded == 0 and first[0]["key"] != second[0]["key"]
    again = sweep(problems.example1(), base, {"c": [1.0]}, metrics={"m": lambda res: 1.0}, **kw)
    assert again.loaded == 1 and again[0]["m"] == 1.0  # same names: resumed from the store


def test_cli_table_shows_which_points_diverged(capsys):
    from clipsgd.cli import main

    # Example 1 with lr = 3: unclipped (c = inf) SGD doubles |x - x*| every step (1 - lr = -2) and
    # overflows within 2000 steps; clipped at c = 1 a step moves x by at most lr * c = 3: no overflow
    argv = ["sweep", "--c", "inf", "1", "--k", "0", "--lr", "3", "--seeds", "0", "1", "--steps", "2000",
            "--runs", "2", "--quiet"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[1].split()
    assert header[:6] == ["c", "k", "z", "lr", "n_seeds", "diverged"]
    assert lines[2].split()[:6] == ["inf", "0", "0", "3", "2", "2/2"]  # both seeds diverged
    assert lines[3].split()[:6] == ["1", "0", "0", "3", "2", "0/2"]
    assert lines[4].startswith("diverged: 1 of 2 point(s), 2 of 4 seed(s); a diverged run")


def test_store_files_have_the_mode_of_an_ordinary_file(tmp_path):
    # mkstemp creates 0600 files; a store shared on a machine must be readable like any output
    umask = os.umask(0o022)
    os.umask(umask)
    store = str(tmp_path / "s")
    sweep(problems.example1(), ClippedSGD(lr=0.05, c=1.0), {"c": [1.0]}, seeds=[0], steps=5,
          store=store, progress=False)
    modes = {f: os.stat(os.path.join(store, f)).st_mode & 0o777 for f in os.listdir(store)}
    assert modes and set(modes.values()) == {0o666 & ~umask}, modes


def test_cli_ctrl_c_is_one_line_with_how_to_resume(tmp_path, capsys, monkeypatch):
    from clipsgd.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sys.modules["clipsgd.sweep"], "sweep", interrupted)
    store = str(tmp_path / "s")
    assert main(["sweep", "--store", store, "--quiet"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"clipsgd sweep: interrupted; the finished points are in {store!r}: run the same "
                   "command with --resume to go on"]
