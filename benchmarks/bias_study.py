r"""The bias study (issue 5) as a stand-alone benchmark-style run.

Usage::

    python benchmarks/bias_study.py [--quick] [--out DIR] [--seed N] [--json PATH]

Runs :func:`clipsgd.bias_study.section` (the ``clipsgd reproduce`` section: the
perturbation fix and its rivals on Example 1, a skewed d-dimensional quadratic and
logistic regression on breast cancer), writes ``report.md``, ``results.json`` and the
figures into ``--out``, and prints the headline numbers plus the cost of the exact
machinery it relies on:

* exact 1-D limits x_k (closed form + Brent) and Theorem B bounds per second;
* building the d-dimensional expected perturbed clip (radial integral, Chebyshev table)
  and solving for its zero;
* engine throughput for perturbed clipped SGD (steps x runs per second), k = 0 vs k > 0
  (the perturbation costs d Gaussians per example).

The machine may be shared: the load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from clipsgd import bias_study as bs  # noqa: E402
from clipsgd import problems, run  # noqa: E402
from clipsgd.algorithms import ClippedSGD  # noqa: E402
from clipsgd.exact import stationary_points  # noqa: E402
from clipsgd.reproduce import reproduce  # noqa: E402


def loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def timed(fn, repeats=3):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def micro(quick: bool) -> dict:
    ex1 = problems.example1()
    ks = 2.0 ** np.arange(-2.0, 8.25, 0.5)
    t_x, _ = timed(lambda: [stationary_points(ex1, 1.0, k) for k in ks])
    t_b, _ = timed(lambda: [bs.perturbation_bound(ex1, 1.0, k) for k in ks])
    quad = bs.skewed_quadratic()
    t_d, D = timed(lambda: bs.PerturbedDrift(quad, 1.0, 4.0), repeats=2)
    t_f, _ = timed(lambda: D.fixed_point(), repeats=2)
    steps, runs = (2000, 100) if quick else (10000, 200)
    rates = {}
    for k in (0.0, 4.0):
        run(quad, ClippedSGD(lr=0.05, c=1.0, k=k), steps=10, runs=2, record_loss=False)  # warm-up
        t, _ = timed(lambda: run(quad, ClippedSGD(lr=0.05, c=1.0, k=k), steps=steps, runs=runs,
                                 record_every=steps, record_loss=False), repeats=2)
        rates[f"k={k:g}"] = steps * runs / t
    return {
        "exact_1d_limits_per_s": len(ks) / t_x,
        "theorem_b_bounds_per_s": len(ks) / t_b,
        "radial_table_build_s (d=10, k=4)": t_d,
        "radial_table_degree": int(D._cheb.degree()),
        "dd_fixed_point_s (n=1000, d=10)": t_f,
        "engine_steps_x_runs_per_s (d=10, batch 1)": rates,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke-test sizes (~30 s)")
    ap.add_argument("--out", default="bias_study_out", help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the timings here")
    args = ap.parse_args(argv)
    load0 = loadavg()
    t0 = time.perf_counter()
    res = reproduce(args.out, quick=args.quick, seed=args.seed, only=["clipsgd.bias_study:section"])
    wall = time.perf_counter() - t0
    r = res["sections"]["Bias correction"]["results"]
    timings = {"section_wall_s": wall, "load_before": load0, "load_after": loadavg(), "micro": micro(args.quick)}
    e = r["example1"]["exact"]
    print(f"section: {wall:.1f} s ({'quick' if args.quick else 'full'}), load {load0} -> {timings['load_after']}")
    print(f"Example 1: |x_k - x*| slope for k >= 16: {e['slope_k_ge_16']:.3f}; "
          f"quadratic: {r['quadratic']['slope_k_ge_4']:.3f}; logistic: {r['logistic']['slope_k_ge_2']:.3f}")
    for s in r["example1"]["simulated"]:
        print(f"  k = {s['k']:>4g}: exact {s['exact']:+.5f}, simulated {s['sim_mean']:+.5f} +/- {s['se']:.5f} "
              f"(O(lr) shift {s['lr_shift']:+.5f}, z = {s['z_score']:+.2f})")
    for name, v in timings["micro"].items():
        print(f"  {name}: {v}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(timings, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
