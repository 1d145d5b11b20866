# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Solutions to tutorial 01 (clipping can stall)
#
# Each solution computes the answer with clipsgd for the student's seed and checks it.
# `SEEDS` lists the seeds to solve (the student's seed first); an instructor can run this
# for a whole class.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import clipsgd
from clipsgd import exercises, problems

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEEDS = [int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234")), 0, 1, 2, 3]


def savefig(fig, name):
    path = FIGURES / f"01_solutions_{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## Exercise 1.1: $h(x^*)$
#
# Build the problem, take $x^* = \bar a$, and average the clipped per-example gradients
# (`clipsgd.expected_clipped_gradient` does exactly that).

# %%
for seed in SEEDS:
    ex = exercises.get("01.h_at_optimum", seed=seed, show=(seed == SEEDS[0]))
    a, c = np.asarray(ex.params["a"]), ex.params["c"]
    prob = problems.quadratic(a)
    by_hand = clipsgd.clip((prob.x_star - a)[:, None], c).mean()
    answer = clipsgd.expected_clipped_gradient(prob, prob.x_star[0], c)
    assert np.isclose(by_hand, answer)
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 1.2: the stall point
#
# `clipsgd.stationary_points` returns the exact zero set of $h$ (here a single point).
# As a sanity check we also run clipped SGD and compare its mean final iterate.

# %%
for seed in SEEDS:
    ex = exercises.get("01.stationary_point", seed=seed, show=(seed == SEEDS[0]))
    a, c = np.asarray(ex.params["a"]), ex.params["c"]
    prob = problems.quadratic(a)
    zeros = clipsgd.stationary_points(prob, c)
    answer = zeros.points[0]
    assert ex.check(answer)
    if seed == SEEDS[0]:
        x0 = np.full(1, a.mean())
        res = clipsgd.run(prob, clipsgd.ClippedSGD(lr=0.005, c=c), steps=20000, runs=200, x0=x0, seed=seed)
        print("clipped SGD, mean final iterate: %.3f (exact zero of h: %.4f)" % (res.x.mean(), answer))
        xs = np.linspace(a.min() - 2, a.max() + 2, 600)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(xs, clipsgd.expected_clipped_gradient(prob, xs, c), color="tab:red", label="h(x)")
        ax.axhline(0, color="k", lw=0.7)
        ax.axvline(answer, color="tab:red", ls=":", label="zero of h")
        ax.axvline(a.mean(), color="k", ls="--", label="x* (mean of a)")
        ax.set(xlabel="x", title=f"Exercise 1.2, seed {seed}")
        ax.legend(fontsize=8)
        savefig(fig, "stationary_point")
        plt.show()

# %% [markdown]
# ## Exercise 1.3: the stationary interval
#
# The zero set is an interval; `StationarySet.intervals` holds it. By hand: with the atoms
# at $m \pm b_j$, every gradient is clipped and they cancel while $|x - a_i| \ge c$ for the
# *inner* atoms, i.e. on $[m - (b_1 - c), m + (b_1 - c)]$.

# %%
for seed in SEEDS:
    ex = exercises.get("01.stationary_interval", seed=seed, show=(seed == SEEDS[0]))
    a, c = np.asarray(ex.params["a"]), ex.params["c"]
    zeros = clipsgd.stationary_points(problems.quadratic(a), c)
    lo, hi = zeros.intervals[0]
    m, b1 = a.mean(), np.min(np.abs(a - a.mean()))
    assert np.allclose((lo, hi), (m - (b1 - c), m + (b1 - c)))
    assert ex.check((lo, hi))
print("all solutions of tutorial 01 check out")
