"""Every figure of clipsgd, one function each (matplotlib, Agg backend, PNG output).

Each function takes the numbers to draw and a ``path``; it writes the figure there and
returns the path. Nothing here computes statistics: callers pass results.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "plot_example1",
    "plot_example2",
    "plot_accuracy_curves",
    "plot_projection_grid",
    "plot_geometry_curves",
    "save",
]


def save(fig, path):
    """Write ``fig`` to ``path`` (creating the folder) and close it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_example1(steps, traj_clip, traj_sgd, xs, h, stationary, x_star, path, traj_dp=None):
    """Example 1: trajectories of clipped SGD vs SGD, and h(x) with its zero.

    Parameters
    ----------
    steps : (n_rec,) record steps; traj_* : (runs, n_rec) 1-D trajectories
    xs, h : grid and h(x) on it; stationary : the zero of h; x_star : the optimum
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for tr, col, lab in ((traj_sgd, "tab:blue", "SGD"), (traj_clip, "tab:red", "clipped SGD (c=1)"),
                         (traj_dp, "tab:purple", "DP-SGD (c=1)")):
        if tr is None:
            continue
        for row in tr[:25]:
            ax1.plot(steps, row, color=col, alpha=0.12, lw=0.7)
        ax1.plot(steps, tr.mean(axis=0), color=col, lw=2.2, label=f"{lab}: mean of {len(tr)} runs")
    ax1.axhline(x_star, color="k", ls="--", lw=1, label=f"optimum x* = {x_star:g}")
    ax1.axhline(stationary, color="tab:red", ls=":", lw=1.2, label=f"zero of h: {stationary:g}")
    ax1.set(xlabel="step", ylabel="x", title="Example 1: a = (-3, -3, 9)")
    ax1.legend(fontsize=8, loc="best")
    ax2.plot(xs, h, color="tab:red", lw=2, label="h(x) = mean clip(x - a_i, 1)")
    ax2.plot(xs, xs - x_star, color="tab:blue", lw=1, ls="--", label="f'(x) = x - 1 (no clipping)")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.axvline(stationary, color="tab:red", ls=":", lw=1.2)
    ax2.axvline(x_star, color="k", ls="--", lw=1)
    ax2.set(xlabel="x", ylabel="expected update direction", ylim=(-1.5, 1.5),
            title="expected clipped gradient: zero at %g, not %g" % (stationary, x_star))
    ax2.legend(fontsize=8)
    return save(fig, path)


def plot_example2(steps, trajs, xs, h, interval, path):
    """Example 2: clipped gradient descent from many starts; h(x) vanishes on an interval."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for row in trajs:
        inside = interval[0] <= row[0] <= interval[1]
        ax1.plot(steps, row, color="tab:red" if inside else "tab:blue", lw=1)
    ax1.axhspan(interval[0], interval[1], color="tab:red", alpha=0.08, label="stationary interval")
    ax1.axhline(0, color="k", ls="--", lw=1, label="optimum x* = 0")
    ax1.set(xlabel="step", ylabel="x", title="Example 2: clipped GD (c = 1) from 17 starts")
    ax1.legend(fontsize=8)
    ax2.plot(xs, h, color="tab:red", lw=2, label="h(x) = mean clip(x - a_i, 1)")
    ax2.plot(xs, xs, color="tab:blue", ls="--", lw=1, label="f'(x) = x")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.axvspan(interval[0], interval[1], color="tab:red", alpha=0.08)
    ax2.set(xlabel="x", ylim=(-1.5, 1.5), title="h(x) = 0 on all of [%g, %g]" % interval)
    ax2.legend(fontsize=8)
    return save(fig, path)


def plot_accuracy_curves(epochs, curves, path, title, chance=None):
    """Test accuracy per epoch; ``curves`` maps label -> (mean, std) arrays over runs."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, (mean, std) in curves.items():
        line, = ax.plot(epochs, mean, lw=1.8, label=label)
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    if chance is not None:
        ax.axhline(chance, color="k", ls=":", lw=1, label=f"majority class ({chance:.2f})")
    ax.set(xlabel="epoch", ylabel="test accuracy", title=title)
    ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)


def plot_projection_grid(projections, projected_mean, column_labels, path, title, gridsize=28):
    """Densities of 2-D projected per-example gradients: rows = random bases, columns = epochs.

    Parameters
    ----------
    projections : ndarray (n_cols, n_rows, m, 2)
        Projected per-example gradients at each column's point, on each row's basis.
    projected_mean : ndarray (n_cols, n_rows, 2)
        The projected mean gradient; each panel is centred on it (window: the 99th
        percentile of the distance to it, per panel), so asymmetry about the mean shows
        as mass off-centre. The mean is marked with a red cross, the origin (zero
        gradient) with a white circle when it falls in the window.
    column_labels : sequence of str
    """
    P = np.asarray(projections, float)
    M = np.asarray(projected_mean, float)
    n_cols, n_rows = P.shape[0], P.shape[1]
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.1 * n_cols + 0.4, 2.1 * n_rows + 0.5), squeeze=False)
    for j in range(n_cols):
        for i in range(n_rows):
            ax = axes[i, j]
            pts, mu = P[j, i], M[j, i]
            half = float(np.quantile(np.max(np.abs(pts - mu), axis=1), 0.99)) * 1.05 or 1.0
            ext = (mu[0] - half, mu[0] + half, mu[1] - half, mu[1] + half)
            ax.hexbin(pts[:, 0], pts[:, 1], gridsize=gridsize, bins="log", extent=ext, mincnt=1, cmap="viridis",
                      linewidths=0.1)
            ax.plot(*mu, "+", color="red", ms=9, mew=1.6)
            if ext[0] < 0 < ext[1] and ext[2] < 0 < ext[3]:
                ax.plot(0, 0, "o", mfc="none", mec="white", ms=6)
            ax.set(xlim=ext[:2], ylim=ext[2:])
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(column_labels[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(f"basis {i + 1}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.05, top=0.86, wspace=0.3, hspace=0.3)
    return save(fig, path)


def geometry_ratio_labels(labels=None) -> dict:
    """Legend labels of the data / baseline panel of :func:`plot_geometry_curves`, keyed
    by statistic (from ``labels``, default :data:`clipsgd.geometry_study.STATISTIC_LABELS`)."""
    if labels is None:
        from .geometry_study import STATISTIC_LABELS as labels
    return {name: labels[name].legend for name in ("sliced_disparity", "mean_abs_skewness", "disparity")}


def plot_geometry_curves(epochs, stats, path, title, labels=None):
    """Symmetry statistics, the clipping bias and its bound along training (six panels).

    ``stats`` maps names to arrays over ``epochs``: ``sliced_disparity``,
    ``mean_abs_skewness``, ``disparity`` (observed), each with ``<name>_null`` (mean of
    the sign-flip baseline) and, for the first two, ``<name>_null_q95``; ``bias`` (|b_t|),
    ``bias_null_q95``, ``bias_bound``, ``bias_bound_truncated``; ``grad_norm``,
    ``clip_fraction``, ``p_small_noise``, ``test_accuracy``. ``labels`` maps the
    statistics to readable labels (default :data:`clipsgd.geometry_study.STATISTIC_LABELS`,
    the mapping the section's tables use too); no panel shows a raw key.
    """
    if labels is None:
        from .geometry_study import STATISTIC_LABELS as labels
    legend = geometry_ratio_labels(labels)
    e = np.asarray(epochs, float)
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    panels = [(name, legend[name]) for name in ("sliced_disparity", "mean_abs_skewness", "disparity")]
    for ax, (name, label) in zip(axes[0], panels):
        ax.plot(e, stats[name], "o-", color="tab:red", lw=1.8, ms=4, label="data")
        ax.plot(e, stats[name + "_null"], "s--", color="tab:gray", lw=1.2, ms=3, label="sign-flip baseline (mean)")
        if name + "_null_q95" in stats:
            ax.fill_between(e, 0, stats[name + "_null_q95"], color="tab:gray", alpha=0.15,
                            label="baseline 95% quantile")
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    ax = axes[1, 0]
    for name in ("sliced_disparity", "mean_abs_skewness", "disparity"):
        ax.plot(e, np.asarray(stats[name]) / np.asarray(stats[name + "_null"]), "o-", ms=3, label=legend[name])
    ax.axhline(1, color="k", lw=0.8, ls=":")
    ax.set(xlabel="epoch", title="data / symmetric baseline (1 = indistinguishable)")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    ax.semilogy(e, stats["bias_bound"], "^-", color="tab:blue", ms=4, label="bound ||g|| W1(p, p~)")
    ax.semilogy(e, stats["bias_bound_truncated"], "v-", color="tab:cyan", ms=4, label="bound, cost truncated at 2c")
    ax.semilogy(e, np.abs(stats["bias"]), "o-", color="tab:red", ms=4, label=f"{labels['bias'].math} (data)")
    ax.semilogy(e, stats["bias_null_q95"], "s--", color="tab:gray", ms=3, label=f"{labels['bias'].math} sign-flip baseline, 95%")
    ax.set(xlabel="epoch", title="clipping bias b_t and its Theorem-2 bound")
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    ax.plot(e, stats["clip_fraction"], "o-", ms=3, label="clip fraction")
    ax.plot(e, stats["p_small_noise"], "s-", ms=3, label="P(||xi|| < c/4)")
    ax.plot(e, stats["test_accuracy"], "d-", ms=3, label="test accuracy")
    ax2 = ax.twinx()
    ax2.semilogy(e, stats["grad_norm"], "k:", lw=1.2, label="||grad f|| (right)")
    ax2.tick_params(labelsize=7)
    ax.set(xlabel="epoch", ylim=(-0.02, 1.02), title="training state")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="center right")
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.07, top=0.9, wspace=0.28, hspace=0.32)
    return save(fig, path)


# ------------------------------------------------------------------ bias study (issue 5)
def _quiet_minor_ticks(fig):
    """No labels on minor log ticks (they dominate the drawing time of log-log panels)."""
    from matplotlib.ticker import NullFormatter

    for ax in fig.axes:
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())


def plot_bias_vs_k(panels, path, title="distance of the limit to the optimum vs k"):
    """Log-log distance to the optimum vs the perturbation scale k, one panel per problem.

    ``panels``: list of dicts with ``title`` and ``curves``, each curve a dict with
    ``k``, ``y``, optional ``err`` (error bars), ``label``, ``style`` (matplotlib format),
    and optional ``k0`` (the k = 0 value, drawn as a horizontal dotted line).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for cv in panel["curves"]:
            k, y = np.asarray(cv["k"], float), np.asarray(cv["y"], float)
            ok = (k > 0) & (y > 0) & np.isfinite(y)
            if cv.get("err") is not None:
                err = np.asarray(cv["err"], float)[ok]
                lower = np.minimum(err, 0.9 * y[ok])  # a log axis cannot show y - err <= 0
                ax.errorbar(k[ok], y[ok], yerr=[lower, err], fmt=cv.get("style", "o"),
                            ms=5, capsize=3, label=cv["label"])
            else:
                ax.loglog(k[ok], y[ok], cv.get("style", "-"), lw=1.6, ms=4, label=cv["label"])
            if cv.get("k0") is not None:
                ax.axhline(cv["k0"], color="tab:red", ls=":", lw=1.2, label=f"k = 0 (plain clipping): {cv['k0']:.3g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(xlabel="perturbation scale k", ylabel="||x_k - x*||", title=panel["title"])
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.2)
    _quiet_minor_ticks(fig)
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    return save(fig, path)


def plot_price_vs_k(panels, path, title="the price: steps to reach the target accuracy vs k"):
    """Log-log steps-to-target vs k, one panel per problem; unreachable k marked at the top.

    ``panels``: list of dicts with ``title``, ``target`` and ``curves`` (dicts with ``k``,
    ``steps`` (inf = never), ``label``, ``style``).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        top = 1.0
        for cv in panel["curves"]:
            s = np.asarray(cv["steps"], float)
            if np.isfinite(s).any():
                top = max(top, float(np.nanmax(s[np.isfinite(s)])))
        for cv in panel["curves"]:
            k, s = np.asarray(cv["k"], float), np.asarray(cv["steps"], float)
            ok = np.isfinite(s) & (k > 0)
            line, = ax.loglog(k[ok], s[ok], cv.get("style", "o-"), lw=1.6, ms=5, label=cv["label"])
            never = ~np.isfinite(s) & (k > 0)
            if never.any():
                ax.loglog(k[never], np.full(never.sum(), 2 * top), "x", color=line.get_color(), ms=7)
        ax.axhline(2 * top, color="gray", lw=0.6, ls=":")
        ax.text(0.02, 0.03, "x (top): never, |x_k - x*| > target", transform=ax.transAxes, fontsize=7, va="bottom")
        ax.set(xlabel="perturbation scale k", ylabel="steps", title=f"{panel['title']} (target {panel['target']:g})")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(True, which="both", alpha=0.2)
    _quiet_minor_ticks(fig)
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    return save(fig, path)


def plot_rival_distances(panels, path, title="rivals at equal privacy: ||E x_t - x*|| along training"):
    """Distance of the across-runs mean iterate to the optimum vs step, one panel per problem.

    ``panels``: list of dicts with ``title`` and ``curves`` (dicts with ``steps``,
    ``distance``, ``label``, optional ``style``).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for cv in panel["curves"]:
            ax.semilogy(cv["steps"], np.maximum(np.asarray(cv["distance"], float), 1e-6), cv.get("style", "-"),
                        lw=1.5, label=cv["label"])
        ax.set(xlabel="step", ylabel="||mean over runs of x_t - x*||", title=panel["title"])
        ax.legend(fontsize=6.5)
        ax.grid(True, which="both", alpha=0.2)
    _quiet_minor_ticks(fig)
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    return save(fig, path)


def plot_expected_drifts(xs, drifts, zeros, x_star, path, title="Example 1: where each method's expected update vanishes"):
    """Expected update direction vs x for several methods (1-D), with their zeros.

    ``drifts``: dict label -> array over ``xs``; ``zeros``: dict label -> x (or None).
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.3))
    for label, h in drifts.items():
        line, = ax.plot(xs, h, lw=1.7, label=label)
        z = zeros.get(label)
        if z is not None and np.isfinite(z):
            ax.plot([z], [0.0], "o", color=line.get_color(), ms=6)
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(x_star, color="k", ls="--", lw=1, label=f"optimum x* = {x_star:g}")
    ax.set(xlabel="x", ylabel="expected update direction (normalised to max 1)", title=title)
    ax.legend(fontsize=7)
    return save(fig, path)
