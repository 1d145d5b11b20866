"""``clipsgd reproduce``: the paper's phenomena on real numbers, as figures + report.

The job is a list of *sections*. A section is a function ``section(ctx) -> dict`` with
keys ``title``, ``markdown`` (its part of report.md), ``results`` (JSON-able numbers) and
``figures`` (paths written under ``ctx.out``). The foundation sections live here; later
studies add theirs by name in :data:`SECTIONS` (``"module:function"``), so the job grows
without this file growing.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import datasets, plots, problems
from ._validate import check_bool, check_int
from .algorithms import DPSGD, SGD, ClippedSGD
from .engine import run
from .exact import expected_clipped_gradient, stationary_points

__all__ = ["Context", "reproduce", "SECTIONS"]

SECTIONS = (
    "clipsgd.reproduce:section_example1",
    "clipsgd.reproduce:section_example2",
    "clipsgd.reproduce:section_real_data",
    "clipsgd.geometry_study:section",  # gradient geometry along real training (skipped if absent)
    "clipsgd.bias_study:section",  # the perturbation fix and its rivals (skipped if absent)
)


def section_name(spec: str) -> str:
    """The short name of a section for ``--only``: ``example1``, ``real_data``, ``geometry_study``, ..."""
    module, func = spec.split(":")
    return func[len("section_"):] if func.startswith("section_") else module.rsplit(".", 1)[-1]


def select_sections(only) -> list:
    """The section specs whose short name contains one of ``only`` (all when ``None``).

    Parameters
    ----------
    only : str, sequence of str or None
        Parts of section names (see :func:`section_name`).

    Raises
    ------
    ValueError
        ``only`` is an empty sequence (it would silently run everything), or one of its
        strings matches no section (the message lists the names).
    """
    if only is None:
        return list(SECTIONS)
    if isinstance(only, str):
        only = [only]
    only = list(only)
    if not only:
        raise ValueError("only must name at least one section (or be None for all of them); "
                         f"the sections are: {', '.join(section_name(spec) for spec in SECTIONS)}")
    names = [section_name(spec) for spec in SECTIONS]
    unknown = [o for o in only if not any(o in n for n in names)]
    if unknown:
        raise ValueError(f"--only {' '.join(map(repr, unknown))} matches no section; "
                         f"the sections are: {', '.join(names)} (any part of a name selects it)")
    return [spec for spec, n in zip(SECTIONS, names) if any(o in n for o in only)]


@dataclass
class Context:
    """What a section needs: output folder, quick flag, seed, progress logger."""

    out: str
    quick: bool = False
    seed: int = 0
    verbose: bool = True
    t0: float = field(default_factory=time.perf_counter)

    def log(self, msg: str):
        if self.verbose:
            print(f"[{time.perf_counter() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)


# ------------------------------------------------------------------------- sections
def section_example1(ctx: Context) -> dict:
    """Example 1: clipped SGD converges to -2.5, not to x* = 1."""
    prob = problems.example1()
    c, lr, runs, steps = 1.0, 0.01, 1000, 3000
    ctx.log(f"Example 1: {runs} runs x {steps} steps of SGD, clipped SGD and DP-SGD (c = {c})")
    st = stationary_points(prob, c)
    kw = dict(steps=steps, runs=runs, seed=ctx.seed, record_every=20, record_loss=False)
    r_clip = run(prob, ClippedSGD(lr=lr, c=c), **kw)
    r_sgd = run(prob, SGD(lr=lr), **kw)
    # DP-SGD: full batch (q = 1), z = 1; its expected update is the clipped-GD update
    r_dp = run(prob, DPSGD(lr=lr, c=c, noise_multiplier=1.0, sample_rate=1.0), **kw, delta=1e-5)
    xs = np.linspace(-8, 12, 801)
    h = expected_clipped_gradient(prob, xs, c)
    fig = plots.plot_example1(r_clip.record_steps, r_clip.trajectory[:, :, 0], r_sgd.trajectory[:, :, 0],
                              xs, h, st.points[0], float(prob.x_star[0]), ctx.path("example1.png"),
                              traj_dp=r_dp.trajectory[:, :, 0])

    def stats(r):
        x = r.x[:, 0]
        return {"mean_final": float(x.mean()), "std_final": float(x.std(ddof=1)),
                "sem": float(x.std(ddof=1) / np.sqrt(len(x))), "runs": int(len(x))}

    res = {
        "a": [-3.0, -3.0, 9.0], "c": c, "lr": lr, "steps": steps, "x_star": 1.0,
        "stationary_point": st.points[0], "h_at_x_star": float(expected_clipped_gradient(prob, 1.0, c)),
        "clipped_sgd": stats(r_clip), "sgd": stats(r_sgd), "dp_sgd": stats(r_dp),
        "dp_sgd_noise_multiplier": 1.0,
    }
    s = res
    md = f"""## Example 1: clipping converges to the wrong point

Finite sum f_i(x) = (x - a_i)^2/2 with a = (-3, -3, 9): the optimum is x* = 1, where the
per-example gradients (4, 4, -8) clip (c = 1) to (1, 1, -1), so h(x*) = {s['h_at_x_star']:.4f} != 0.
The exact zero of h(x) = mean_i clip(x - a_i, 1) (rational arithmetic) is **{s['stationary_point']:g}**.

| algorithm ({runs} runs, {steps} steps, lr {lr}) | mean final x | std over runs | std. error |
|---|---|---|---|
| SGD (no clipping) | {s['sgd']['mean_final']:.4f} | {s['sgd']['std_final']:.4f} | {s['sgd']['sem']:.4f} |
| clipped SGD, c = 1 | **{s['clipped_sgd']['mean_final']:.4f}** | {s['clipped_sgd']['std_final']:.4f} | {s['clipped_sgd']['sem']:.4f} |
| DP-SGD, c = 1, z = 1, q = 1 | {s['dp_sgd']['mean_final']:.4f} | {s['dp_sgd']['std_final']:.4f} | {s['dp_sgd']['sem']:.4f} |

Clipped SGD's mean final iterate is {s['clipped_sgd']['mean_final']:.4f}, within
{abs(s['clipped_sgd']['mean_final'] - s['stationary_point']):.4f} of the exact stationary point
{s['stationary_point']:g} and {abs(s['clipped_sgd']['mean_final'] - 1):.2f} away from x* = 1.

![Example 1](example1.png)
"""
    return {"title": "Example 1", "markdown": md, "results": res, "figures": [fig]}


def section_example2(ctx: Context) -> dict:
    """Example 2: symmetric noise, but a whole interval is stationary."""
    prob = problems.example2()
    c, lr, steps = 1.0, 0.05, 400
    x0 = np.linspace(-4, 4, 17)[:, None]
    ctx.log("Example 2: clipped gradient descent from 17 starting points")
    st = stationary_points(prob, c)
    # full batch, no randomness in the update: batches of 2 from a shuffled permutation
    alg = ClippedSGD(lr=lr, c=c, sampling="shuffle", batch_size=2)
    r = run(prob, alg, steps=steps, runs=len(x0), x0=x0, seed=ctx.seed, record_every=4, record_loss=False)
    r_sgd = run(prob, SGD(lr=lr, sampling="shuffle", batch_size=2), steps=steps, runs=len(x0), x0=x0,
                seed=ctx.seed, record_every=4, record_loss=False)
    xs = np.linspace(-6, 6, 601)
    h = expected_clipped_gradient(prob, xs, c)
    lo, hi = st.intervals[0]
    fig = plots.plot_example2(r.record_steps, r.trajectory[:, :, 0], xs, h, (lo, hi), ctx.path("example2.png"))
    xf = r.x[:, 0]
    inside = (x0[:, 0] >= lo) & (x0[:, 0] <= hi)
    res = {
        "a": [-3.0, 3.0], "c": c, "x_star": 0.0, "stationary_interval": [lo, hi],
        "starts": x0[:, 0].tolist(), "final_clipped_gd": xf.tolist(),
        "max_move_inside": float(np.max(np.abs(xf[inside] - x0[inside, 0]))),
        "max_dist_outside_to_interval": float(np.max(np.minimum(np.abs(xf[~inside] - lo), np.abs(xf[~inside] - hi)))),
        "max_abs_final_sgd": float(np.max(np.abs(r_sgd.x))),
    }
    md = f"""## Example 2: symmetric noise, but too large: a whole interval is stationary

a = (-3, 3), x* = 0. Exact zero set of h at c = 1: **[{lo:g}, {hi:g}]** (every point of it).
Clipped gradient descent (full batch, lr {lr}, {steps} steps) started inside the interval
does not move (largest displacement {res['max_move_inside']:.2e}); started outside, it stops at
the nearest end (distance {res['max_dist_outside_to_interval']:.2e}). Unclipped GD reaches
|x| <= {res['max_abs_final_sgd']:.1e} from every start.

![Example 2](example2.png)
"""
    return {"title": "Example 2", "markdown": md, "results": res, "figures": [fig]}


def _accuracy_curves(res, data):
    acc = np.array([[datasets.accuracy(xr, data.X_test, data.y_test, data.n_classes) for xr in run_traj]
                    for run_traj in res.trajectory])
    return acc  # (runs, n_rec)


def real_data_experiment(name: str, ctx: Context, clip_thresholds=(0.1, 0.5, 2.0), z=1.0,
                         batch=64, epochs=30, runs=5, lr=None, delta=1e-5):
    """DP-SGD vs clipped SGD vs SGD on a bundled dataset; test accuracy per epoch."""
    data = datasets.load(name, seed=ctx.seed)
    prob = datasets.make_problem(data)
    n = data.n
    q = batch / n
    steps_per_epoch = int(round(1 / q))
    steps = epochs * steps_per_epoch
    curves, table = {}, []
    algs = [("SGD (non-private)", SGD(lr=lr or 0.5, sampling="shuffle", batch_size=batch))]
    algs.append(("clipped SGD, c=1, no noise", ClippedSGD(lr=lr or 0.5, c=1.0, sampling="shuffle", batch_size=batch)))
    for c in clip_thresholds:
        algs.append((f"DP-SGD, c={c:g}, z={z:g}", DPSGD(lr=(lr or 0.5) / min(c, 1.0), c=c, noise_multiplier=z, sample_rate=q)))
    epsilon = None
    for label, alg in algs:
        ctx.log(f"  {name}: {label}, {runs} runs x {steps} steps")
        r = run(prob, alg, steps=steps, runs=runs, seed=ctx.seed, record_every=steps_per_epoch,
                record_loss=False, delta=delta)
        acc = _accuracy_curves(r, data)
        curves[label] = (acc.mean(axis=0), acc.std(axis=0))
        row = {"algorithm": label, "lr": alg.lr, "final_test_accuracy_mean": float(acc[:, -1].mean()),
               "final_test_accuracy_std": float(acc[:, -1].std()),
               "clip_fraction": float(np.nanmean(r.clip_fraction))}
        if r.privacy is not None:
            row["epsilon"] = float(r.privacy.epsilon)
            epsilon = r.privacy
        table.append(row)
    epochs_axis = r.record_steps / steps_per_epoch
    chance = float(np.max(np.bincount(data.y_test.astype(int))) / len(data.y_test))
    fig = plots.plot_accuracy_curves(epochs_axis, curves, ctx.path(f"real_{name}.png"),
                                     f"{prob.name}: test accuracy (mean +/- std over {runs} runs)", chance)
    res = {"dataset": name, "n_train": n, "n_test": int(len(data.y_test)), "dim": prob.dim,
           "batch_expected": batch, "sample_rate": q, "noise_multiplier": z, "steps": steps,
           "epochs": epochs, "delta": delta, "majority_class_accuracy": chance, "table": table,
           "epsilon": float(epsilon.epsilon) if epsilon is not None else None,
           "accountant": getattr(epsilon, "accountant", None)}
    return res, fig, epsilon


def _fmt_eps(row):
    return f"{row['epsilon']:.2f}" if "epsilon" in row else "none (not private)"


def section_real_data(ctx: Context) -> dict:
    """DP-SGD trains real classifiers (breast cancer: logistic; digits: softmax)."""
    runs = 3 if ctx.quick else 5
    parts, figs, results = [], [], {}
    for name, epochs in (("breast_cancer", 10 if ctx.quick else 30), ("digits", 5 if ctx.quick else 20)):
        ctx.log(f"Real data: DP-SGD on {name}")
        res, fig, priv = real_data_experiment(name, ctx, epochs=epochs, runs=runs)
        results[name] = res
        figs.append(fig)
        rows = "\n".join(
            f"| {r['algorithm']} | {r['final_test_accuracy_mean']:.3f} +/- {r['final_test_accuracy_std']:.3f} "
            f"| {r['clip_fraction']:.2f} | {_fmt_eps(r)} |"
            for r in res["table"])
        priv_txt = str(priv) if priv is not None else ""
        parts.append(f"""### {name}: {res['dim']} parameters, n = {res['n_train']} train / {res['n_test']} test

Poisson sampling rate q = {res['sample_rate']:.4f} (expected batch {res['batch_expected']}),
noise multiplier z = {res['noise_multiplier']:g}, {res['steps']} steps ({res['epochs']} epochs),
delta = {res['delta']:g}. Majority-class accuracy: {res['majority_class_accuracy']:.3f}.

| algorithm | final test accuracy | clipped fraction | epsilon |
|---|---|---|---|
{rows}

Privacy: {priv_txt}

![{name}](real_{name}.png)
""")
    md = "## DP-SGD on real data (scikit-learn's bundled datasets)\n\n" + "\n".join(parts)
    return {"title": "Real data", "markdown": md, "results": results, "figures": figs}


# ------------------------------------------------------------------------------ driver
#: Said once before the first section when :func:`numba_cache_is_cold`.
COMPILING_MESSAGE = ("compiling Numba kernels on first use (up to a minute without output; "
                     "cached for later runs)...")

#: The kernels whose compilation dominates a first run: (module, dispatcher name).
_KERNELS = (("clipsgd.engine", "_lockstep_quadratic_1d"), ("clipsgd.engine", "_run_body"))


def numba_cache_is_cold() -> bool:
    """True when a main simulation kernel is not in Numba's on-disk cache (or is stale).

    Reads only the small cache index of each kernel in :data:`_KERNELS` (milliseconds,
    nothing is compiled). An index that is missing, or written for another version of
    the source, means the first call compiles. If Numba's cache internals cannot be read
    (another Numba version), the answer is True: the message is then said every time
    rather than never.

    Returns
    -------
    bool
    """
    try:
        for module, name in _KERNELS:
            dispatcher = getattr(importlib.import_module(module), name)
            if not dispatcher._cache._cache_file._load_index():  # {} when missing or stale
                return True
        return False
    except Exception:  # private Numba API: any change means "cannot tell"
        return True


def _load_section(spec):
    mod, fn = spec.split(":")
    try:
        module = importlib.import_module(mod)
    except ModuleNotFoundError as exc:
        if exc.name == mod:
            return None
        raise
    return getattr(module, fn)


def reproduce(out: str, quick: bool = False, seed: int = 0, verbose: bool = True, only=None) -> dict:
    """Run the sections; write figures, ``report.md`` and ``results.json`` into ``out``.

    Parameters
    ----------
    out : str
        Output folder (created if missing).
    quick : bool
        Smaller runs; the report header says ``quick mode`` (else ``full mode``).
    seed : int
        Seed of every simulation.
    verbose : bool
        Progress messages on stderr.
    only : str, sequence of str or None
        Run only the sections selected by :func:`select_sections` (all when ``None``).
        The report header then says it is partial and names the sections that ran and
        those omitted; ``results.json`` lists them (``sections_run``,
        ``sections_omitted``, ``sections_unavailable``).

    Returns
    -------
    dict
        The content of ``results.json``.

    Raises
    ------
    ValueError, TypeError
        A bad argument (``seed`` not an integer >= 0, ``quick`` or ``verbose`` not a bool,
        ``only`` matching no section), before any progress message or file.

    Notes
    -----
    On the first run after installing (or after clipsgd's kernels changed) Numba compiles
    the simulation kernels, which takes tens of seconds with no other output; the
    progress messages then start with :data:`COMPILING_MESSAGE`
    (see :func:`numba_cache_is_cold`).
    """
    # every argument is checked before anything is printed, written or run
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path (str or os.PathLike) (got {out!r})")
    quick = check_bool("quick", quick)
    seed = check_int("seed", seed, 0)
    verbose = check_bool("verbose", verbose)
    specs = select_sections(only)
    os.makedirs(out, exist_ok=True)
    ctx = Context(out=out, quick=quick, seed=seed, verbose=verbose)
    loaded = {spec: _load_section(spec) for spec in specs}
    sections = [s for s in loaded.values() if s is not None]
    if sections and verbose and numba_cache_is_cold():
        ctx.log(COMPILING_MESSAGE)
    outputs = []
    for i, section in enumerate(sections, 1):
        ctx.log(f"section {i}/{len(sections)}: {section.__doc__.strip().splitlines()[0]}")
        t = time.perf_counter()
        o = section(ctx)
        o["seconds"] = time.perf_counter() - t
        outputs.append(o)
    coverage = _coverage(specs, loaded)
    header = f"""# clipsgd reproduce report

Chen, Wu, Hong, "Understanding Gradient Clipping in Private SGD: A Geometric Perspective"
(NeurIPS 2020, arXiv:2006.15429), reproduced with clipsgd {_version()}
({'quick' if quick else 'full'} mode, seed {seed}, Python {platform.python_version()},
{time.strftime('%Y-%m-%d %H:%M')}).

{coverage['text']}

Honest scope: clipsgd is for teaching and research. Its Gaussian noise is not hardened
against floating-point attacks, so the epsilons below describe the idealised mechanism.
"""
    report = header + "\n" + "\n".join(o["markdown"] for o in outputs)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report)
    results = {"quick": quick, "seed": seed, "version": _version(),
               **{k: coverage[k] for k in ("sections_run", "sections_omitted", "sections_unavailable")},
               "sections": {o["title"]: {"results": o["results"], "seconds": o["seconds"],
                                         "figures": [os.path.basename(p) for p in o["figures"]]}
                            for o in outputs}}
    with open(os.path.join(out, "results.json"), "w") as f:
        # strict JSON: inf/NaN (e.g. "never reached the target") become the strings "inf", "nan"
        json.dump(_strict(results), f, indent=1, default=_json_default, allow_nan=False)
    ctx.log(f"wrote {out}/report.md, results.json and {sum(len(o['figures']) for o in outputs)} figures")
    return results


def _coverage(specs, loaded) -> dict:
    """Which sections ran, which ``only`` left out and which are not installed, by short name,
    with one sentence for the report (a partial report must say it is partial)."""
    run = [section_name(spec) for spec in specs if loaded[spec] is not None]
    unavailable = [section_name(spec) for spec in specs if loaded[spec] is None]
    omitted = [section_name(spec) for spec in SECTIONS if spec not in specs]
    if omitted or unavailable:
        text = f"**Partial report**: {len(run)} of {len(SECTIONS)} sections ran ({', '.join(run) or 'none'})."
        if omitted:
            text += f" Omitted (not selected by --only): {', '.join(omitted)}."
        if unavailable:
            text += f" Not available in this installation: {', '.join(unavailable)}."
    else:
        text = f"All {len(SECTIONS)} sections ran: {', '.join(run)}."
    return {"text": text, "sections_run": run, "sections_omitted": omitted,
            "sections_unavailable": unavailable}


def _strict(o):
    """A copy of ``o`` with non-finite floats replaced by "inf", "-inf" or "nan"."""
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if isinstance(o, np.ndarray):
        return _strict(o.tolist())
    if isinstance(o, (float, np.floating)) and not np.isfinite(o):
        return "nan" if np.isnan(o) else ("inf" if o > 0 else "-inf")
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.integer):
        return int(o)
    return o


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _version():
    from . import __version__

    return __version__
