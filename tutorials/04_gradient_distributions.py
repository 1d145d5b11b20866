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
# # 04 · Gradient distributions on real data
#
# Tutorials 02 and 03 say: clipping is harmless when the gradient noise is (nearly)
# symmetric, and the damage is bounded by a *bias* that measures the asymmetry. Is real
# gradient noise symmetric? Chen, Wu & Hong answered with pictures: per-example gradients
# along DP-SGD training, projected onto random 2-D planes. This tutorial reproduces the
# pictures on scikit-learn's digits data and turns them into numbers.
#
# You will learn
#
# * the symmetry statistics of `clipsgd.diagnostics`: $W_1$ to the reflection, skewness,
#   projected (sliced) disparity, and the clipping bias $b_t$ with its Theorem-2 bound;
# * why each statistic needs a **baseline**: a finite sample from a perfectly symmetric
#   population is not perfectly symmetric;
# * how to record the statistics along a DP-SGD run with `clipsgd.geometry_study`.
#
# Needs: `clipsgd` (core, `diagnostics`, `geometry_study`, `datasets`). Runs in about
# 15 seconds.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from clipsgd import diagnostics as dg
from clipsgd import exercises, geometry_study

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234"))  # your own seed for the exercises


def savefig(fig, name):
    """Save a figure as figures/04_<name>.png (folder: $CLIPSGD_FIGURES)."""
    path = FIGURES / f"04_{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## 1. The statistics, on Example 1
#
# At a point $x$ with per-example gradients $g_i$, the full gradient is $g = \bar g$ and
# the noise is $\xi_i = g_i - g$; $p$ is the uniform distribution on the $\xi_i$ and
# $p^-$ its reflection (the distribution of $-\xi$).
#
# * $W_1(p, p^-)$: how far the noise is from its mirror image. In 1-D the optimal
#   transport matches sorted samples: $W_1 = \frac1n\sum_i |s_{(i)} + s_{(n+1-i)}|$.
# * the **disparity** $W_1(p, p^-)/\mathbb E\lVert\xi\rVert \in [0, 2]$, scale-free;
# * the **skewness** $m_3/m_2^{3/2}$ along a direction;
# * the **clipping bias** against the symmetrisation $\tilde p = \tfrac12(p + p^-)$,
#   $$ b = \mathbb E_{\tilde p}\langle g, \operatorname{clip}(g+\xi, c)\rangle
#        - \mathbb E_{p}\langle g, \operatorname{clip}(g+\xi, c)\rangle, \qquad
#      |b| \le \lVert g\rVert\, W_1(p, \tilde p) = \tfrac12 \lVert g\rVert\, W_1(p, p^-). $$
#   Theorem 2 (tutorial 03) adds $b$ to the convergence bound: it is the *price of
#   asymmetry*.
#
# Example 1 of tutorial 01 at its stall point $x = -2.5$: $g_i = (0.5, 0.5, -11.5)$.

# %%
G = np.array([[0.5], [0.5], [-11.5]])
g, xi = dg.gradient_noise(G)
print("g =", g, " xi =", xi.ravel())
print("W1(p, p^-) =", dg.w1_to_reflection(xi).value, "  disparity =", dg.sliced_disparity(xi, [[1.0]])[0])
print("skewness =", dg.skewness(xi, [[1.0]])[0])
cb = dg.clipping_bias(G, c=1.0)
print(f"bias b = {cb.bias:.4f} <= bound {cb.bound:.4f} (truncated cost: {cb.bound_truncated:.4f})")
print(f"progress E_p <g, clip> = {cb.progress:.4f}, symmetrised {cb.progress_symmetrised:.4f} (>= 0 by Lemma 1)")

# %% [markdown]
# At the stall point the actual progress is exactly 0 (that is what "stall" means),
# while the symmetrised noise would still make progress $7/12$: the bias eats all of it.
#
# ## 2. A baseline: symmetric samples are not exactly symmetric
#
# Draw $n$ points from a *symmetric* population (a standard Gaussian) and compute the
# disparity: it is not 0, it shrinks like $n^{-1/2}$. So "the disparity is 0.3" means
# nothing until compared with what a symmetric sample of the same size gives.
# `geometry_study` does this with **sign flips**: it multiplies each $\xi_i$ by a random
# sign (a sample from the symmetrisation $\tilde p$), recomputes the statistic, and
# repeats. The fraction of flips at least as asymmetric as the data is a p-value of the
# randomisation test of symmetry.

# %%
rng = np.random.default_rng(0)
ns = [10, 30, 100, 300, 1000, 3000]
sym = [np.mean([dg.sliced_disparity(rng.normal(size=(n, 1)), [[1.0]])[0] for _ in range(50)]) for n in ns]
skewed = [np.mean([dg.sliced_disparity(rng.exponential(size=(n, 1)) - 1, [[1.0]])[0] for _ in range(50)]) for n in ns]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(ns, sym, "o-", label="Gaussian (symmetric)")
ax.loglog(ns, skewed, "s-", label="centred exponential (skewed)")
ax.loglog(ns, sym[0] * np.sqrt(ns[0] / np.array(ns)), "k:", label=r"$\propto n^{-1/2}$")
ax.set(xlabel="sample size n", ylabel="1-D disparity (mean of 50 samples)", title="Disparity of finite samples")
ax.legend(fontsize=8)
savefig(fig, "baseline")
plt.show()

# %% [markdown]
# ## 3. DP-SGD on digits, recorded
#
# Softmax regression on the 8x8 digits ($d = 65 \times 10 = 650$ parameters, 1347
# training images), DP-SGD with $c = 1$, $z = 1$, expected batch 64, four epochs. At
# each epoch `record_diagnostics` computes the per-example gradients on a fixed subset of
# 400 training images, every statistic above, 64 random directions for the 1-D
# statistics, 50 sign flips for the baselines, and 3 random 2-D projections for the
# pictures.

# %%
spec = geometry_study.ModelSpec("digits", "softmax", c=1.0, noise_multiplier=1.0, batch=64, lr=1.0,
                                epochs=4, diag_epochs=(0, 1, 2, 4), subset=400)
out = geometry_study.geometry_experiment(spec, seed=0, n_flips=50, n_projections_2d=3)
rec = out["recording"]
print(out["result"].privacy)
print("epochs:", out["epochs"], " test accuracy:", np.round(out["test_accuracy"], 3))
print(f"(training {out['seconds_train']:.1f} s, diagnostics {out['seconds_diagnostics']:.1f} s)")

# %% [markdown]
# The paper's picture: rows are random 2-D planes, columns are epochs; each panel is a
# density of the 400 projected per-example gradients, centred on the projected mean
# gradient (red cross). Asymmetry shows as mass off-centre.

# %%
P, M = rec.projections, rec.projected_mean
n_cols, n_rows = P.shape[0], P.shape[1]
fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.3 * n_cols, 2.3 * n_rows), squeeze=False)
for j in range(n_cols):
    for i in range(n_rows):
        ax, pts, mu = axes[i, j], P[j, i], M[j, i]
        half = 1.05 * np.quantile(np.max(np.abs(pts - mu), axis=1), 0.99)
        ext = (mu[0] - half, mu[0] + half, mu[1] - half, mu[1] + half)
        ax.hexbin(pts[:, 0], pts[:, 1], gridsize=25, bins="log", extent=ext, mincnt=1, cmap="viridis")
        ax.plot(*mu, "+", color="red", ms=10, mew=1.8)
        ax.set(xlim=ext[:2], ylim=ext[2:], xticks=[], yticks=[])
        if i == 0:
            ax.set_title(f"epoch {out['epochs'][j]:g}", fontsize=9)
        if j == 0:
            ax.set_ylabel(f"plane {i + 1}", fontsize=9)
fig.suptitle("digits, softmax regression: projected per-example gradients", fontsize=10)
fig.tight_layout()
savefig(fig, "projection_grid")
plt.show()

# %% [markdown]
# And the numbers, each against its sign-flip baseline (grey: mean and 95% quantile
# of the flips).

# %%
epochs = out["epochs"]
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for ax, name, label in ((axes[0], "sliced_disparity", "projected disparity"),
                        (axes[1], "mean_abs_skewness", "mean |skewness| over directions")):
    null = rec.null_series(name)
    ax.plot(epochs, rec.series(name), "o-", color="tab:red", label="data")
    ax.plot(epochs, null.mean(axis=1), "s--", color="tab:gray", label="sign-flip baseline")
    ax.fill_between(epochs, 0, np.quantile(null, 0.95, axis=1), color="tab:gray", alpha=0.2)
    ax.set(xlabel="epoch", title=label)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
ax = axes[2]
ax.semilogy(epochs, np.abs(rec.series("bias")), "o-", color="tab:red", label="|b_t| (data)")
ax.semilogy(epochs, rec.series("bias_bound"), "^-", color="tab:blue", label=r"bound $\|g\| W_1(p, \tilde p)$")
ax.semilogy(epochs, rec.series("bias_bound_truncated"), "v-", color="tab:cyan", label="bound, cost capped at 2c")
ax.semilogy(epochs, np.quantile(np.abs(rec.null_series("bias")), 0.95, axis=1), "s--", color="tab:gray",
            label="|b| baseline, 95%")
ax.set(xlabel="epoch", title="clipping bias and its Theorem-2 bound")
ax.legend(fontsize=7)
savefig(fig, "statistics")
plt.show()
print("bound |b_t| <= ||g_t|| W1 holds at every record:", rec.bound_holds.all())
b, bound = np.abs(rec.series("bias")), rec.series("bias_bound")
b_null = np.quantile(np.abs(rec.null_series("bias")), 0.95, axis=1)
for e, pv, bi, bd, bn, pr in zip(epochs, rec.p_values("sliced_disparity"), b, bound, b_null, rec.series("progress")):
    verdict = "distinguishable from symmetric" if pv < 0.05 else "consistent with symmetric noise"
    print(f"epoch {e:g}: sign-flip p = {pv:.3f} ({verdict}); |b| = {bi:.3g} = {bi / bn:.1f} x baseline, "
          f"{bd / bi:.0f}x below the bound, {bi / pr:.1%} of the progress")

# %% [markdown]
# How to read this:
#
# * The **bound always holds** (it is a theorem), and it is loose, often by one to two
#   orders of magnitude: $W_1$ in 650 dimensions is dominated by the sampling distance
#   between two finite samples (the $d$-dimensional caveat in `clipsgd.diagnostics`).
# * The **bias** is what Theorem 2 pays. Compare it with its sign-flip baseline (what
#   symmetric noise of the same size would give) and with the progress
#   $\mathbb E_p\langle g, \operatorname{clip}(g + \xi, c)\rangle$ (the printed
#   percentage). As training converges $g$ shrinks and so does the progress; a bias
#   comparable to or larger than the progress means clipping costs a large part of the
#   descent, even when the symmetry test can no longer tell the noise from symmetric.
# * The **projected statistics** are the honest symmetry test. With 50 flips the
#   smallest possible p-value is $1/51 \approx 0.02$. Read the printed verdicts: whether
#   the noise is distinguishable from symmetric at initialisation and later in training
#   is a property of the data and the model, which is exactly what the paper's pictures
#   could not quantify. The baselines themselves grow during training because the noise
#   concentrates on fewer examples (well-classified images have tiny gradients), so the
#   effective sample size shrinks.
#
# ## Exercises
#
# **Exercise 4.1.** $W_1$ between the noise and its reflection, for a 1-D sample.

# %%
ex = exercises.get("04.w1_reflection", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 4.2.** The skewness of the gradient noise.

# %%
ex = exercises.get("04.skewness", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 4.3.** The clipping bias $b$ of Theorem 2 for a 1-D sample. (Bonus: check
# that $|b|$ is below $\lVert g\rVert\,W_1(p, \tilde p)$.)

# %%
ex = exercises.get("04.clipping_bias", seed=SEED)
answer = None  # your answer here
ex.check(answer)
