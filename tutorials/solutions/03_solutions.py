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
# # Solutions to tutorial 03 (convergence theorems)

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from clipsgd import bounds, exercises

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEEDS = [int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234")), 0, 1, 2, 3]


def savefig(fig, name):
    path = FIGURES / f"03_solutions_{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## Exercise 3.1: $D_f/(\alpha T) + G\alpha c^2/2$

# %%
for seed in SEEDS:
    ex = exercises.get("03.theorem1_rhs", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    by_hand = p["D_f"] / (p["alpha"] * p["T"]) + p["G"] * p["alpha"] * p["c"] ** 2 / 2
    answer = bounds.theorem1_rhs(p["D_f"], p["G"], p["alpha"], p["c"], p["T"])
    assert np.isclose(by_hand, answer)
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 3.2: $\alpha^* = \sqrt{2D_f/(Gc^2T)}$
# The derivative $-D_f/(\alpha^2T) + Gc^2/2$ vanishes there; the bound is then
# $\sqrt{2D_fGc^2/T}$ (the two terms are equal).

# %%
for seed in SEEDS:
    ex = exercises.get("03.optimal_step", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    answer = bounds.optimal_step_size(p["D_f"], p["G"], p["T"], p["c"] ** 2)
    assert np.isclose(answer, np.sqrt(2 * p["D_f"] / (p["G"] * p["c"] ** 2 * p["T"])))
    assert ex.check(answer)
    if seed == SEEDS[0]:
        a = np.geomspace(answer / 30, answer * 30, 200)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.loglog(a, [bounds.theorem1_rhs(p["D_f"], p["G"], x, p["c"], p["T"]) for x in a])
        ax.axvline(answer, color="tab:red", ls=":", label=r"$\alpha^*$")
        ax.set(xlabel=r"$\alpha$", ylabel="Theorem 1 right side", title=f"Exercise 3.2, seed {seed}")
        ax.legend(fontsize=8)
        savefig(fig, "optimal_step")
        plt.show()

# %% [markdown]
# ## Exercise 3.3: Theorem 3 with $\sigma = zc/B$, $K = c^2 + d\sigma^2$ ($\kappa = 1$)

# %%
for seed in SEEDS:
    ex = exercises.get("03.theorem3_rhs", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    sigma = p["z"] * p["c"] / p["B"]
    answer = bounds.theorem3_rhs(p["D_f"], p["G"], p["alpha"], p["c"], p["T"], p["d"], sigma)
    K = p["c"] ** 2 + p["d"] * sigma**2
    assert np.isclose(answer, p["D_f"] / (p["alpha"] * p["T"]) + p["G"] * p["alpha"] * K / 2)
    assert ex.check(answer)
print("all solutions of tutorial 03 check out")
