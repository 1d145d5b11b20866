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
# # Solutions to tutorial 05 (the perturbation fix)

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

import clipsgd
from clipsgd import bias_study, exercises, problems

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEEDS = [int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234")), 0, 1, 2, 3]


def savefig(fig, name):
    path = FIGURES / f"05_solutions_{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## Exercise 5.1: the zero of $h_k$
# `stationary_points` with `k > 0` brackets the unique zero of the strictly increasing
# $h_k$ and refines it with Brent's method.

# %%
for seed in SEEDS:
    ex = exercises.get("05.perturbed_stationary", seed=seed, show=(seed == SEEDS[0]))
    a, c, k = np.asarray(ex.params["a"]), ex.params["c"], ex.params["k"]
    prob = problems.quadratic(a)
    answer = clipsgd.stationary_points(prob, c, k).points[0]
    assert abs(clipsgd.expected_clipped_gradient(prob, answer, c, k)) < 1e-9
    assert ex.check(answer)
    if seed == SEEDS[0]:
        ks = np.geomspace(0.25, 64, 40)
        xk = [clipsgd.stationary_points(prob, c, kk).points[0] for kk in ks]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.semilogx(ks, xk, color="tab:red", label="zero of h_k")
        ax.axhline(a.mean(), color="k", ls="--", label="x*")
        ax.axvline(k, color="gray", ls=":", label=f"k = {k:g}")
        ax.set(xlabel="k", ylabel="stall point", title=f"Exercise 5.1, seed {seed}")
        ax.legend(fontsize=8)
        savefig(fig, "stall_vs_k")
        plt.show()

# %% [markdown]
# ## Exercise 5.2: $C = \mathbb E[\xi^3]/6$ with $\xi_i = x^* - a_i$
# Checked against the exact zero at a large k: $k^2(x_k - x^*) \to C$.

# %%
for seed in SEEDS:
    ex = exercises.get("05.cubic_law", seed=seed, show=(seed == SEEDS[0]))
    a = np.asarray(ex.params["a"])
    xi = a.mean() - a
    answer = np.mean(xi**3) / 6
    prob = problems.quadratic(a)
    k = 200.0
    assert np.isclose(k**2 * (clipsgd.stationary_points(prob, 1.0, k).points[0] - a.mean()), answer, rtol=2e-2)
    assert np.isclose(answer * 1e-4, bias_study.asymptotic_shift(prob, 100.0))
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 5.3: $h_k'(x^*) = \frac1n\sum_i P(|\xi_i + kZ| < c)$
# Checked against a central finite difference of the exact $h_k$.

# %%
for seed in SEEDS:
    ex = exercises.get("05.slope_at_optimum", seed=seed, show=(seed == SEEDS[0]))
    a, c, k = np.asarray(ex.params["a"]), ex.params["c"], ex.params["k"]
    xi = a.mean() - a
    answer = np.mean(norm.cdf((c - xi) / k) - norm.cdf((-c - xi) / k))
    prob, h = problems.quadratic(a), 1e-5
    fd = (clipsgd.expected_clipped_gradient(prob, a.mean() + h, c, k)
          - clipsgd.expected_clipped_gradient(prob, a.mean() - h, c, k)) / (2 * h)
    assert np.isclose(answer, fd, rtol=1e-6)
    assert ex.check(answer)
print("all solutions of tutorial 05 check out")
