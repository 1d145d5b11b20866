"""``clipsgd sweep``: a grid of (c, k, z, lr) x seeds on a 1-D finite sum, resumable.

Each point is clipped SGD (``z = 0``) or DP-SGD (``z > 0``) with Poisson sampling of
expected batch ``--batch-size`` on Example 1 or 2 of arXiv:2006.15429 (or on your own
atoms, ``--atoms``). The table printed at the end averages over seeds and shows, next
to the mean final iterate, the exact zero of the expected (perturbed) clipped gradient
(clipsgd.stationary_points), where the runs should stall, and in column ``diverged`` how
many of its seeds diverged (a footer counts them; such a point has no other metrics).

Store semantics: ``--store DIR`` keeps one file per finished point and the command line
in ``DIR/cli.json``. Running again on a store that already has results needs
``--resume`` (reuse them; options not given are taken from ``cli.json``, so
``clipsgd sweep --store DIR --resume`` finishes an interrupted sweep) or
``--overwrite`` (recompute every point of the grid).
"""

from __future__ import annotations

import json
import os
import sys

#: Options stored in DIR/cli.json and taken from there by --resume when not given.
_DEFAULTS = {
    "problem": "example1",
    "atoms": None,
    "c": [0.5, 1.0, 2.0, 4.0],
    "k": [0.0, 1.0, 2.0],
    "z": [0.0],
    "lr": [0.01],
    "seeds": [0, 1, 2],
    "steps": 2000,
    "runs": 200,
    "batch_size": 1.0,
}


def register(sub):
    p = sub.add_parser(
        "sweep",
        help="grid of clip threshold c, perturbation k, noise z, lr and seeds; resumable store",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("--problem", choices=["example1", "example2"], default=None,
                   help=f"1-D finite sum of arXiv:2006.15429 (default {_DEFAULTS['problem']})")
    p.add_argument("--atoms", type=float, nargs="+", default=None,
                   help="your own atoms a_i of f_i(x) = (x - a_i)^2 / 2 (instead of --problem)")
    for name, help_ in (("c", "clip thresholds"), ("k", "perturbation scales k >= 0"),
                        ("z", "noise multipliers z >= 0 (0: clipped SGD, > 0: DP-SGD)"),
                        ("lr", "learning rates")):
        p.add_argument(f"--{name}", type=float, nargs="+", default=None,
                       help=f"{help_} (default {_DEFAULTS[name]})")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help=f"seeds (default {_DEFAULTS['seeds']})")
    p.add_argument("--steps", type=int, default=None, help=f"steps per run (default {_DEFAULTS['steps']})")
    p.add_argument("--runs", type=int, default=None,
                   help=f"independent runs per point (default {_DEFAULTS['runs']})")
    p.add_argument("--batch-size", type=float, default=None, dest="batch_size",
                   help=f"expected Poisson batch size, <= n (default {_DEFAULTS['batch_size']})")
    p.add_argument("--store", default=None, help="folder for the results, one JSON file per point")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="reuse the points already in --store (options not given come from its cli.json)")
    mode.add_argument("--overwrite", action="store_true", help="recompute every point, overwriting --store")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: in this process)")
    p.add_argument("--scheduler", default=None,
                   help="address of a dask.distributed scheduler to run the points on (extra 'distributed')")
    p.add_argument("--json", default=None, help="write every row (all seeds) to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_main, memory_hint="fewer --runs, or fewer --workers")


def _settings(args) -> dict:
    """Command-line options merged with the store's cli.json (--resume) and the defaults."""
    given = {k: getattr(args, k) for k in _DEFAULTS if getattr(args, k) is not None}
    stored = {}
    if args.resume:
        if not args.store:
            raise ValueError("--resume needs --store DIR")
        path = os.path.join(args.store, "cli.json")
        if os.path.exists(path):
            with open(path) as fh:
                stored = {k: v for k, v in json.load(fh).items() if k in _DEFAULTS}
    elif args.store and os.path.isdir(args.store):
        n_done = sum(1 for f in os.listdir(args.store)
                     if f.endswith(".json") and not f.startswith(".") and f not in ("cli.json", "sweep.json"))
        if n_done and not args.overwrite:
            raise ValueError(f"store {args.store!r} already holds {n_done} finished point(s); pass --resume "
                             "to continue that sweep or --overwrite to recompute")
    if "atoms" in given:
        given.setdefault("problem", None)
    settings = dict(_DEFAULTS)
    settings.update(stored)
    settings.update(given)
    return settings


def _make_problem(settings):
    from clipsgd import problems

    if settings["atoms"]:
        return problems.quadratic(settings["atoms"], name="atoms")
    return getattr(problems, settings["problem"] or "example1")()


class _Factory:
    """(c, k, z, lr) -> ClippedSGD (z = 0) or DPSGD (z > 0), Poisson rate batch/n."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, c, k, z, lr):
        from clipsgd import DPSGD, ClippedSGD

        if z == 0:
            return ClippedSGD(lr=lr, c=c, k=k, sampling="poisson", sample_rate=self.rate)
        return DPSGD(lr=lr, c=c, k=k, noise_multiplier=z, sample_rate=self.rate)


def _executor(args):
    if args.scheduler and args.workers > 1:
        raise ValueError("give either --workers or --scheduler, not both")
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask.distributed: pip install 'clipsgd[distributed]'") from None
        return Client(args.scheduler)
    if args.workers > 1:
        import concurrent.futures as cf
        import multiprocessing as mp

        return cf.ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn"),
                                      initializer=_ignore_sigint)
    if args.workers < 1:
        raise ValueError(f"workers must be an integer >= 1 (got {args.workers})")
    return None


def _ignore_sigint():
    """Worker initializer: Ctrl-C is the parent's to handle (workers printed one traceback each)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(executor, interrupted: bool) -> None:
    """Release the executor; after Ctrl-C, without waiting for the points still running."""
    if executor is None:
        return
    if hasattr(executor, "shutdown"):
        if interrupted:  # a point in flight is lost anyway: it is not in the store
            workers = list((getattr(executor, "_processes", None) or {}).values())  # (None after shutdown)
            for proc in workers:
                proc.terminate()
            executor.shutdown(wait=False, cancel_futures=True)
        else:
            executor.shutdown()
    elif hasattr(executor, "close"):
        executor.close()


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _mark_diverged(rows) -> int:
    """Replace each row's ``diverged`` fraction by ``"k/n"`` (k of its n seeds diverged) and
    store k as ``n_diverged``; return the total number of diverged seeds."""
    total = 0
    for r in rows:
        k = int(round(r.get("diverged", 0.0) * r["n_seeds"]))
        r["n_diverged"] = k
        r["diverged"] = f"{k}/{r['n_seeds']}"
        total += k
    return total


def _main(args):
    from clipsgd.exact import stationary_points
    from clipsgd.sweep import sweep

    settings = _settings(args)
    problem = _make_problem(settings)
    rate = settings["batch_size"] / problem.n
    if not 0 < rate <= 1:
        raise ValueError(f"batch-size must be in (0, n={problem.n}] (got {settings['batch_size']})")
    grid = {name: [float(v) for v in settings[name]] for name in ("c", "k", "z", "lr")}
    if args.store:
        os.makedirs(args.store, exist_ok=True)
        with open(os.path.join(args.store, "cli.json"), "w") as fh:
            json.dump(settings, fh, indent=1)
    executor = _executor(args)
    interrupted = False
    try:
        table = sweep(problem, _Factory(rate), grid, seeds=settings["seeds"], steps=settings["steps"],
                      runs=settings["runs"], store=args.store, resume=not args.overwrite,
                      executor=executor, progress=not args.quiet, record_loss=False)
    except KeyboardInterrupt:
        interrupted = True
        where = (f"the finished points are in {args.store!r}: run the same command with --resume to go on"
                 if args.store else "nothing was stored (no --store)")
        print(f"\nclipsgd sweep: interrupted; {where}", file=sys.stderr)
        return 130
    finally:
        _stop(executor, interrupted)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(list(table), fh, indent=1)
    rows = table.mean_over_seeds()
    for row in rows:
        try:
            st = stationary_points(problem, row["c"], row["k"])
            parts = [f"{p:.4g}" for p in st.points] + [f"[{lo:.3g},{hi:.3g}]" for lo, hi in st.intervals]
            row["stationary"] = " ".join(parts) or "-"
        except ValueError:
            row["stationary"] = "-"
    n_diverged = _mark_diverged(rows)
    cols = [c for c in ("c", "k", "z", "lr", "n_seeds", "diverged", "x_mean", "stationary", "x_std",
                        "dist_to_opt", "clip_fraction", "epsilon") if any(c in r for r in rows)]
    x_star = problem.x_star
    print(f"{problem!r}: x* = {float(x_star[0]):.4g}; {settings['runs']} runs x {settings['steps']} steps per "
          f"point; {table.computed} point(s) computed, {table.loaded} from the store")
    widths = {c: max(len(c), *(len(_fmt(r.get(c, ""))) for r in rows)) for c in cols}
    print("  ".join(c.rjust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(_fmt(r.get(c, "")).rjust(widths[c]) for c in cols))
    n_seeds = sum(r["n_seeds"] for r in rows)
    print(f"diverged: {sum(1 for r in rows if r['n_diverged'])} of {len(rows)} point(s), {n_diverged} of "
          f"{n_seeds} seed(s)" + ("; a diverged run (step size too large) has no metrics, so a point "
                                  "with a diverged seed shows none" if n_diverged else ""))
    sys.stdout.flush()
    return 0
