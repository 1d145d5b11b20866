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
# # Solutions to tutorial 07 (bring your own objective)

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numba
import numpy as np

import clipsgd
from clipsgd import ClippedSGD, exercises, problems

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEEDS = [int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234")), 0, 1, 2]


def savefig(fig, name):
    path = FIGURES / f"07_solutions_{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## Exercise 7.1: log-cosh regression
#
# The oracle writes $\tanh(r_i) z_i$ with $r_i = z_i^\top x - y_i$ and returns
# $\log\cosh r_i$ (computed stably as $|r| + \log(1 + e^{-2|r|}) - \log 2$). We check it
# against finite differences, then clip every row and average.

# %%
@numba.njit(cache=True)
def logcosh_grad(x, i, X, Y, P, out):
    r = -Y[i]
    for j in range(x.shape[0]):
        r += X[i, j] * x[j]
    t = np.tanh(r)
    for j in range(x.shape[0]):
        out[j] = t * X[i, j]
    a = abs(r)
    return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)


for seed in SEEDS:
    ex = exercises.get("07.logcosh_clipped_mean", seed=seed, show=(seed == SEEDS[0]))
    X, y = np.asarray(ex.data["X"]), np.asarray(ex.data["y"])
    x0, c = np.asarray(ex.params["x0"]), ex.params["c"]
    prob = problems.custom(logcosh_grad, dim=X.shape[1], X=X, Y=y)
    G = prob.per_example_grads(x0)  # no NumPy twin given: this calls the oracle
    h, E = 1e-6, np.eye(X.shape[1])
    G_fd = np.stack([(prob.losses(x0 + h * e) - prob.losses(x0 - h * e)) / (2 * h) for e in E], axis=1)
    assert np.allclose(G, G_fd, atol=1e-6)
    answer = clipsgd.clip(G, c).mean(axis=0)
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 7.2: where weighted clipped SGD stalls
#
# The weights travel in `Y`. The simulation answers the question as asked; the exact zero
# of $h$ (through the least-squares equivalence) confirms it.

# %%
@numba.njit(cache=True)
def weighted_grad(x, i, X, Y, P, out):
    r = x[0] - X[i, 0]
    out[0] = Y[i] * r
    return 0.5 * Y[i] * r * r


for seed in SEEDS:
    ex = exercises.get("07.weighted_stall", seed=seed, show=(seed == SEEDS[0]))
    a, w, c = np.asarray(ex.data["a"]), np.asarray(ex.data["w"]), ex.params["c"]
    z = np.sqrt(w)
    exact = clipsgd.stationary_points(problems.least_squares(z[:, None], z * a), c).points[0]
    assert ex.check(exact)
    if seed == SEEDS[0]:
        prob = problems.custom(weighted_grad, dim=1, X=a[:, None], Y=w)
        res = clipsgd.run(prob, ClippedSGD(lr=ex.params["lr"], c=c), steps=ex.params["steps"],
                          runs=ex.params["runs"], seed=seed)
        answer = res.x.mean()
        print("simulated: %.4f   exact zero of h: %.4f" % (answer, exact))
        assert ex.check(answer)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(res.record_steps, res.trajectory[:, :, 0].mean(axis=0), color="tab:red", label="mean of runs")
        ax.axhline(exact, color="k", ls=":", label="exact zero of h")
        ax.axhline(np.sum(w * a) / np.sum(w), color="tab:blue", ls="--", label="minimiser of f")
        ax.set(xlabel="step", ylabel="x", title=f"Exercise 7.2, seed {seed}")
        ax.legend(fontsize=8)
        savefig(fig, "weighted_stall")
        plt.show()
print("all solutions of tutorial 07 check out")
