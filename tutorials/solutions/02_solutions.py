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
# # Solutions to tutorial 02 (the geometry of symmetric noise)

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import clipsgd
from clipsgd import exercises

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEEDS = [int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234")), 0, 1, 2, 3]


def savefig(fig, name):
    path = FIGURES / f"02_solutions_{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("figure written to", path)


def progress(g, xi, c):
    """<g, clip(g + xi, c)>."""
    return float(g @ clipsgd.clip(g + xi, c))


def atoms(p):
    """The four atoms of the symmetric distribution and their masses."""
    p1, xi1, xi2 = p["p1"], np.asarray(p["xi1"]), np.asarray(p["xi2"])
    return [(xi1, p1 / 2), (-xi1, p1 / 2), (xi2, (1 - p1) / 2), (-xi2, (1 - p1) / 2)]


# %% [markdown]
# ## Exercise 2.1: the pair sum
# Clip $g + \xi$ and $g - \xi$ separately, add, take the inner product with $g$.

# %%
for seed in SEEDS:
    ex = exercises.get("02.pair_sum", seed=seed, show=(seed == SEEDS[0]))
    g, xi, c = np.asarray(ex.params["g"]), np.asarray(ex.params["xi"]), ex.params["c"]
    answer = progress(g, xi, c) + progress(g, -xi, c)
    assert answer >= 0  # Lemma 1
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 2.2: expected progress
# Average $\langle g, \operatorname{clip}(g + \xi, c)\rangle$ over the four atoms.

# %%
for seed in SEEDS:
    ex = exercises.get("02.expected_progress", seed=seed, show=(seed == SEEDS[0]))
    g, c = np.asarray(ex.params["g"]), ex.params["c"]
    answer = sum(w * progress(g, xi, c) for xi, w in atoms(ex.params))
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 2.3: Lemma 2's bound
# Only $\pm\xi_1$ lie in the ball of radius $ac$, so the weight is $p_1$. We also confirm
# that the bound is below the expected progress of the same distribution, and plot both
# against $a$.

# %%
for seed in SEEDS:
    ex = exercises.get("02.lemma2_bound", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    g, c, a = np.asarray(p["g"]), p["c"], p["a"]
    ng = np.linalg.norm(g)
    weight = sum(w for xi, w in atoms(p) if np.linalg.norm(xi) < a * c)
    answer = weight * min(ng**2, (1 - a) * c * ng)
    expected = sum(w * progress(g, xi, c) for xi, w in atoms(p))
    assert answer <= expected + 1e-12  # Lemma 2
    assert ex.check(answer)
    if seed == SEEDS[0]:
        aa = np.linspace(0.01, 0.99, 99)
        bounds = [sum(w for xi, w in atoms(p) if np.linalg.norm(xi) < t * c) * min(ng**2, (1 - t) * c * ng)
                  for t in aa]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(aa, bounds, label="Lemma 2 bound")
        ax.axhline(expected, color="k", ls="--", label="expected progress")
        ax.axvline(a, color="tab:red", ls=":", label=f"a = {a}")
        ax.set(xlabel="a", title=f"Exercise 2.3, seed {seed}: the bound for every a")
        ax.legend(fontsize=8)
        savefig(fig, "lemma2_vs_a")
        plt.show()
print("all solutions of tutorial 02 check out")
