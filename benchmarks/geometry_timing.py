r"""Wall time of a 5-epoch DP-SGD run on digits with the geometry diagnostics at every epoch.

Issue "geometry of gradient distributions": such a run must take under 2 minutes on 2
cores. This script measures it for both digits models of the study (softmax regression
and the one-hidden-layer MLP), diagnosing on the *whole* training set (no subset: the
exact W_1 assignment on n = 1347 examples), in a fresh process, first call included
(Numba compilation from a warm or cold cache, as the user would see it).

    python benchmarks/geometry_timing.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    from clipsgd.geometry_study import ModelSpec, geometry_experiment

    t_import = time.perf_counter() - t_start
    out = {"import_s": t_import, "cpu_count": os.cpu_count(), "models": {}}
    for model in ("softmax", "mlp"):
        spec = ModelSpec("digits", model, epochs=5, diag_epochs=None, subset=None)
        t0 = time.perf_counter()
        ex = geometry_experiment(spec, seed=0)
        total = time.perf_counter() - t0
        out["models"][model] = {
            "epochs": spec.epochs, "diagnosed_epochs": list(map(int, ex["epochs"])),
            "n_diagnosed": int(ex["problem"].n), "dim": int(ex["problem"].dim),
            "seconds_train": ex["seconds_train"], "seconds_diagnostics": ex["seconds_diagnostics"],
            "seconds_total": total, "test_accuracy_end": float(ex["test_accuracy"][-1]),
        }
        print(f"digits {model}: d = {ex['problem'].dim}, train {ex['seconds_train']:.1f} s, diagnostics "
              f"{ex['seconds_diagnostics']:.1f} s at epochs {list(map(int, ex['epochs']))} on "
              f"{ex['problem'].n} examples; total {total:.1f} s (limit 120 s)")
    out["total_s"] = time.perf_counter() - t_start
    print(f"whole script {out['total_s']:.1f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
