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

__all__ = ["plot_example1", "plot_example2", "plot_accuracy_curves", "save"]


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
        ax.axhline(chance, color="k", ls=":", lw=1, label=f"chance ({chance:.2f})")
    ax.set(xlabel="epoch", ylabel="test accuracy", title=title)
    ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)
