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
# # Solutions to tutorial 04 (gradient distributions)

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from clipsgd import diagnostics as dg
from clipsgd import exercises

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEEDS = [int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234")), 0, 1, 2, 3]


def savefig(fig, name):
    path = FIGURES / f"04_solutions_{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## Exercise 4.1: $W_1(p, p^-)$
# Centre, then match sorted samples (or call `diagnostics.w1_to_reflection`).

# %%
for seed in SEEDS:
    ex = exercises.get("04.w1_reflection", seed=seed, show=(seed == SEEDS[0]))
    g = np.asarray(ex.params["g"])
    xi = g - g.mean()
    by_hand = np.mean(np.abs(np.sort(xi) - np.sort(-xi)))
    answer = dg.w1_to_reflection(xi[:, None]).value
    assert np.isclose(by_hand, answer)
    assert ex.check(answer)
    if seed == SEEDS[0]:
        fig, ax = plt.subplots(figsize=(6, 2.5))
        ax.plot(xi, np.zeros_like(xi) + 0.1, "o", color="tab:red", label="xi")
        ax.plot(-xi, np.zeros_like(xi) - 0.1, "s", color="tab:blue", label="-xi")
        for a, b in zip(np.sort(xi), np.sort(-xi)):
            ax.plot([a, b], [0.1, -0.1], "k-", lw=0.7)
        ax.set(ylim=(-0.5, 0.5), yticks=[], title=f"Exercise 4.1, seed {seed}: the sorted matching")
        ax.legend(fontsize=8)
        savefig(fig, "w1_matching")
        plt.show()

# %% [markdown]
# ## Exercise 4.2: skewness (population moments)

# %%
for seed in SEEDS:
    ex = exercises.get("04.skewness", seed=seed, show=(seed == SEEDS[0]))
    g = np.asarray(ex.params["g"])
    xi = g - g.mean()
    answer = np.mean(xi**3) / np.mean(xi**2) ** 1.5
    assert np.isclose(answer, dg.skewness(xi[:, None], [[1.0]])[0])
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 4.3: the clipping bias
# Under $\tilde p$ the atoms are $\pm\xi_i$ with mass $1/(2n)$; in 1-D the inner product
# is a product. `diagnostics.clipping_bias` gives the same number and its bound.

# %%
for seed in SEEDS:
    ex = exercises.get("04.clipping_bias", seed=seed, show=(seed == SEEDS[0]))
    gi, c = np.asarray(ex.params["g"]), ex.params["c"]
    g = gi.mean()
    xi = gi - g
    actual = np.mean(g * np.clip(g + xi, -c, c))
    symmetrised = 0.5 * (actual + np.mean(g * np.clip(g - xi, -c, c)))
    answer = symmetrised - actual
    report = dg.clipping_bias(gi[:, None], c)
    assert np.isclose(answer, report.bias) and abs(answer) <= report.bound + 1e-12
    assert ex.check(answer)
print("all solutions of tutorial 04 check out")
