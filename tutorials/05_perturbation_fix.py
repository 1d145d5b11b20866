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
# # 05 · The perturbation fix and its price
#
# Clipping is biased when the gradient noise is asymmetric (tutorials 01, 03, 04).
# Chen, Wu & Hong ([arXiv:2006.15429](https://arxiv.org/abs/2006.15429), Section 5)
# propose a fix that costs no privacy: **add Gaussian noise before clipping**,
#
# $$ \operatorname{clip}(g_i + k\zeta_i, c), \qquad \zeta_i \sim N(0, I_d) \text{ fresh per example and step}. $$
#
# The sensitivity is still $c$ (the clip comes last), so the privacy accounting does not
# change. This tutorial shows why the fix works (it makes the clipped map odd and
# smooth), how fast the bias disappears (like $1/k^2$), what it costs (progress slows
# like $1/k$), and how later fixes (AUTO-S, DiceSGD, quantile clipping) compare.
#
# Needs: `clipsgd` (core, `exact`, `bias_study`, `exact_rivals`). Runs in about 20 s.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

import clipsgd
from clipsgd import ClippedSGD, bias_study, exact_rivals, exercises, problems
from clipsgd.algorithms import AutoClipSGD, DiceSGD

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234"))  # your own seed for the exercises


def savefig(fig, name):
    """Save a figure as figures/05_<name>.png (folder: $CLIPSGD_FIGURES)."""
    path = FIGURES / f"05_{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## 1. The perturbed clip in one dimension
#
# Averaging over the perturbation turns the clip into a smooth function
# $H_k(m) = \mathbb E\operatorname{clip}(m + kZ, c)$, with a closed form
# (`clipsgd.perturbed_clip_mean`; derivation in `theory/perturbation.py`): with
# $\alpha = (-c - m)/k$, $\beta = (c - m)/k$,
#
# $$ H_k(m) = c\,\Phi(-\beta) - c\,\Phi(\alpha) + m\bigl(\Phi(\beta) - \Phi(\alpha)\bigr) + k\bigl(\varphi(\alpha) - \varphi(\beta)\bigr). $$
#
# $H_k$ is odd, increasing, and for large $k$ nearly **linear** over a range of width
# about $k$: $H_k(m) \approx \frac{2c}{k\sqrt{2\pi}}\, m$. A linear map does not care
# about asymmetry: the average of linear images of the $g_i$ is the linear image of
# their average, $\nabla f$. That is the whole idea.

# %%
m = np.linspace(-12, 12, 481)
fig, ax = plt.subplots(figsize=(7, 3.8))
for k, col in ((0.0, "k"), (1.0, "tab:blue"), (4.0, "tab:orange"), (16.0, "tab:red")):
    H = clipsgd.perturbed_clip_mean(m, 1.0, k)
    scale = 1.0 if k == 0 else k * np.sqrt(2 * np.pi) / 2  # rescale so the slope at 0 is 1
    ax.plot(m, H * scale, color=col, label=f"k = {k:g}" + ("" if k == 0 else " (rescaled)"))
ax.plot(m, m, ":", color="gray", label="identity")
ax.set(xlabel="m", ylabel=r"$H_k(m)$, rescaled", ylim=(-12, 12), title="clip(m + kZ, 1), averaged over Z")
ax.legend(fontsize=8)
savefig(fig, "perturbed_clip")
plt.show()

# %% [markdown]
# ## 2. The bias vanishes like $1/k^2$
#
# On Example 1 ($a = (-3, -3, 9)$, $x^* = 1$, $c = 1$), the stall point $x_k$ is the zero
# of $h_k(x) = \frac1n\sum_i H_k(x - a_i)$, computed exactly by
# `clipsgd.stationary_points(problem, c, k)`. Expanding $H_k$ to third order around 0
# (the even terms vanish because $H_k$ is odd) gives
#
# $$ x_k = x^* + \frac{\mathbb E[\xi^3]}{6k^2} + O(k^{-4}), \qquad \xi_i = x^* - a_i , $$
#
# so the **skewness** of the noise drives the remaining bias; for Example 1,
# $\mathbb E\xi^3 = (64 + 64 - 512)/3 = -128$. `bias_study.perturbation_bound` also gives
# a rigorous, non-asymptotic bound (Theorem B in its docstring).

# %%
ex1 = problems.example1()
ks = np.geomspace(0.5, 64, 30)
xk = np.array([clipsgd.stationary_points(ex1, 1.0, k).points[0] for k in ks])
asym = np.array([bias_study.asymptotic_shift(ex1, k) for k in ks])
bnd = [bias_study.perturbation_bound(ex1, 1.0, k) for k in ks[ks >= 2]]
print("k = 0: stall point", clipsgd.stationary_points(ex1, 1.0))
for k in (1, 4, 16, 64):
    x = clipsgd.stationary_points(ex1, 1.0, k).points[0]
    print(f"k = {k:3d}: x_k = {x:.5f}, |x_k - x*| = {abs(x - 1):.2e}, asymptotic {bias_study.asymptotic_shift(ex1, k):+.2e}")

fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(ks, np.abs(xk - 1.0), "o-", color="tab:red", ms=3, label="|x_k - x*| (exact)")
ax.loglog(ks, np.abs(asym), "k--", label=r"$|E\xi^3|/(6k^2)$")
ax.loglog(ks[ks >= 2], [b.sharp for b in bnd], ":", color="tab:blue", label="Theorem B, sharp bound")
ax.loglog(ks[ks >= 2], [b.explicit for b in bnd], "-.", color="tab:cyan", label="Theorem B, explicit bound")
ax.set(xlabel="perturbation k", ylabel="distance of the stall point to x*", title="Example 1, c = 1")
ax.legend(fontsize=8)
savefig(fig, "bias_vs_k")
plt.show()

# %% [markdown]
# ## 3. The price: progress slows like $1/k$
#
# The same linearisation that removes the bias also flattens $h_k$: near $x^*$ its slope
# is $h_k'(x^*) = \frac1n\sum_i P(|\xi_i + kZ| < c) \approx \frac{2c}{k\sqrt{2\pi}}$, so
# the expected dynamics $x \leftarrow x - \alpha h_k(x)$ contract $k$ times more slowly.
# Below: the exact mean-field dynamics from the $k = 0$ stall point $-2.5$, steps to get
# within 0.1 of $x^*$ (`bias_study.mean_field_steps_to_target`), with the ratio each
# doubling of $k$ costs.

# %%
ks2 = np.array([0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0])
steps_needed = bias_study.mean_field_steps_to_target(ex1, 1.0, ks2, lr=0.1, x0=-2.5, target=0.1)
for i, (k, s) in enumerate(zip(ks2, steps_needed)):
    ratio = (f"  ({s / steps_needed[i - 1]:.2f} x the steps of k = {ks2[i - 1]:g})"
             if i and np.isfinite(steps_needed[i - 1]) else "")
    print(f"k = {k:4g}: {'never (bias > 0.1)' if np.isinf(s) else f'{int(s)} steps'}{ratio}")

# %% [markdown]
# The law "steps $\propto k$" is asymptotic, and the printed ratios show where it sets in.
# The contraction rate near the stall point is $\alpha h_k'(x_k) \approx \alpha\frac{2c}{k\sqrt{2\pi}}$,
# and the number of steps is about $\log(\text{start distance}/\text{distance left to } x_k)$
# divided by that rate. At $k = 16$ the stall point is already $0.085$ from $x^*$, so the
# iterates must come within $0.015$ of it, a larger log factor than for $k = 32$: going
# from 16 to 32 costs only about 1.3 times the steps. From $k = 32$ on the stall point is
# well inside the target, the log factor settles, and each doubling of $k$ nearly doubles
# the time (about 1.9 and 2.0 here).
#
# Right panel: the distance to $x^*$ on a log scale, for the exact mean field (lines,
# $x \leftarrow x - \alpha h_k(x)$, the dynamics the left panel counts) and for simulated
# clipped SGD (dots, mean of 1000 runs). A straight descent on this scale is a constant
# contraction rate $\alpha h_k'$: each doubling of $k$ halves the slope. $k = 0$ and
# $k = 4$ stop at their bias ($3.5$ and $1.3$), $k = 16$ just inside the target. The
# dots follow the lines within their Monte-Carlo error (the standard error of a mean of
# 1000 runs, 0.03 to 0.06 here), which hides the rest of the descent below about $0.1$.

# %%
lr2, T2 = 0.1, 8000
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
fin = np.isfinite(steps_needed)
ax1.loglog(ks2[fin], steps_needed[fin], "o-", color="tab:red", label="steps to |x - x*| <= 0.1")
ax1.loglog(ks2[fin], steps_needed[fin][-1] * ks2[fin] / ks2[fin][-1], "k:", label=r"$\propto k$")
ax1.set_xticks(ks2[fin], [f"{k:g}" for k in ks2[fin]])  # one label per k: the default labels overlapped
ax1.xaxis.set_minor_formatter(NullFormatter())
ax1.set(xlabel="k", ylabel="steps (exact mean field, lr = 0.1)", title="the price of the fix")
ax1.legend(fontsize=8)
a1 = np.array([-3.0, -3.0, 9.0])  # Example 1's atoms: g_i(x) = x - a_i
for k, col in ((0.0, "k"), (4.0, "tab:orange"), (16.0, "tab:red"), (32.0, "tab:purple"), (64.0, "tab:blue")):
    res = clipsgd.run(ex1, ClippedSGD(lr=lr2, c=1.0, k=k), steps=T2, runs=1000, seed=0, x0=[-2.5],
                      record_loss=False)
    ax2.semilogy(res.record_steps, np.abs(res.trajectory[:, :, 0].mean(axis=0) - 1.0), ".", ms=3, color=col,
                 alpha=0.5)
    x, dist = -2.5, [3.5]
    for _ in range(T2):
        x -= lr2 * clipsgd.perturbed_clip_mean(x - a1, 1.0, k).mean()
        dist.append(abs(x - 1.0))
    ax2.semilogy(np.arange(T2 + 1), dist, color=col, label=f"k = {k:g}")
ax2.axhline(0.1, color="gray", ls="--", label="target 0.1")
ax2.set(xlabel="step", ylabel="|x - x*| (log scale)", ylim=(0.01, 60),
        title=f"from -2.5, lr = {lr2}: mean field (lines), SGD (dots)")
ax2.legend(fontsize=8, loc="upper right", ncol=3)
savefig(fig, "price")
plt.show()

# %% [markdown]
# A modest $k$ already removes most of the bias; beyond that, every doubling of $k$
# quarters the remaining bias and, once $k$ is large (here from about 32 on), doubles the
# time. In DP-SGD the privacy noise is
# already there, so the price is paid in steps (and steps cost privacy): choose the
# smallest $k$ whose bias is below the accuracy you need.
#
# ## 4. The rivals
#
# Later papers fixed the bias differently; `clipsgd.exact_rivals` computes where each
# goes on a 1-D problem, exactly:
#
# * **AUTO-S** (Bu et al. 2022) normalises, $c\,g_i/(\lVert g_i\rVert + \gamma)$: for small
#   $\gamma$ only signs survive, so it goes to a **median** of the per-example optima,
#   not the mean.
# * **DiceSGD** (Zhang et al. 2023) feeds the clipped-away part back through an error
#   term clipped at $C_2$: it reaches $x^*$ **iff** $C_2 \ge |h_0(x^*)|$ (the bias at the
#   optimum); otherwise the error diverges. clipsgd has no privacy accountant for it.
# * **Quantile clipping** (Andrew et al. 2021) adapts $c$ to a quantile of the
#   per-example norms. It changes the threshold, not the geometry: a high quantile
#   removes the bias by growing $c$ until the large gradient is no longer clipped at
#   $x^*$ (here $c \to 8$, paid for with 8 times the privacy noise), the median drives
#   it to a degenerate point.

# %%
auto = exact_rivals.auto_clip_stationary_point(ex1, 1.0, gamma=0.01)
dice_ok = exact_rivals.dice_fixed_point(ex1, 1.0, 1.0)
dice_bad = exact_rivals.dice_fixed_point(ex1, 1.0, 0.1)
quant = {q: exact_rivals.quantile_fixed_points(ex1, q) for q in (0.5, 0.9)}
print(f"AUTO-S (gamma = 0.01) stalls at {auto:.4f} (median of a: -3)")
print(f"DiceSGD, C2 = 1:   converges {dice_ok.converges}, x = {dice_ok.x[0]:.4f} (needs C2 >= {dice_ok.required_c2:.4f})")
print(f"DiceSGD, C2 = 0.1: converges {dice_bad.converges}, x stops at {dice_bad.x[0]:.4f}, error drifts "
      f"{dice_bad.e_drift[0]:+.3f} per step")
for q, fp in quant.items():
    print(f"quantile clipping (target quantile {q}):", fp)
print("perturbed clipping, k = 16:", clipsgd.stationary_points(ex1, 1.0, 16.0))

runs = {
    "clipped SGD": ClippedSGD(lr=0.05, c=1.0),
    "perturbed, k = 16": ClippedSGD(lr=0.05, c=1.0, k=16.0),
    "AUTO-S": AutoClipSGD(lr=0.05, c=1.0, gamma=0.01, sampling="replacement", batch_size=1),
    "DiceSGD, C2 = 1": DiceSGD(lr=0.05, c=1.0, c2=1.0, sampling="replacement", batch_size=1),
}
fig, ax = plt.subplots(figsize=(7, 4))
for (name, alg), col in zip(runs.items(), ("k", "tab:red", "tab:green", "tab:blue")):
    res = clipsgd.run(ex1, alg, steps=6000, runs=300, seed=1, x0=[-2.5], record_loss=False)
    ax.plot(res.record_steps, res.trajectory[:, :, 0].mean(axis=0), color=col, label=name)
ax.axhline(1.0, color="gray", ls="--", label="x* = 1")
ax.set(xlabel="step", ylabel="mean x over 300 runs", title="Example 1: the fixes side by side (lr = 0.05)")
ax.legend(fontsize=8)
savefig(fig, "rivals")
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 5.1.** Where does perturbed clipped SGD stall for your instance?

# %%
ex = exercises.get("05.perturbed_stationary", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 5.2.** The constant $C$ of the $1/k^2$ law for your atoms.

# %%
ex = exercises.get("05.cubic_law", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 5.3.** The slope $h_k'(x^*)$: how much the perturbation slows the dynamics.

# %%
ex = exercises.get("05.slope_at_optimum", seed=SEED)
answer = None  # your answer here
ex.check(answer)
