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
# # 01 · Clipping can stall
#
# DP-SGD (Abadi et al., 2016) clips every per-example gradient to norm at most $c$
# before averaging and adding noise. Clipping bounds how much one example can move the
# model (the *sensitivity* the privacy analysis needs), but it also changes the
# gradient. This tutorial shows, on the two one-dimensional examples of Chen, Wu & Hong
# (NeurIPS 2020, [arXiv:2006.15429](https://arxiv.org/abs/2006.15429)), that the change
# can make SGD converge to the **wrong point**, or stop anywhere on a **whole interval**.
#
# You will learn
#
# * the clipping rule and the *expected clipped gradient* $h(x)$,
# * why the zeros of $h$, not of $f'$, are where clipped SGD stalls,
# * how to compute them exactly with `clipsgd.stationary_points`,
# * how the stall point moves with the clip threshold $c$.
#
# Needs: `clipsgd` (core) and matplotlib. Runs in a few seconds.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import clipsgd
from clipsgd import SGD, ClippedSGD, exercises, problems

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234"))  # your own seed for the exercises


def savefig(fig, name):
    """Save a figure as figures/01_<name>.png (folder: $CLIPSGD_FIGURES)."""
    path = FIGURES / f"01_{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## 1. The clipping rule
#
# $$\operatorname{clip}(v, c) = v \cdot \min\Bigl(1, \frac{c}{\lVert v \rVert}\Bigr),
# \qquad \operatorname{clip}(0, c) = 0 .$$
#
# It is the Euclidean projection onto the ball of radius $c$: vectors inside the ball are
# left alone, vectors outside are shrunk onto its surface. In one dimension it is simply
# $\max(-c, \min(c, v))$.

# %%
print(clipsgd.clip([3.0, 4.0], 1.0))  # norm 5 -> norm 1, same direction
print(clipsgd.clip([0.3, 0.4], 1.0))  # inside the ball: unchanged
print(clipsgd.clip(np.array([[4.0], [4.0], [-8.0]]), 1.0).ravel())  # 1-D, row by row

# %% [markdown]
# ## 2. Example 1: asymmetric gradients lead to the wrong limit
#
# Take $n = 3$ examples with $f_i(x) = \tfrac12 (x - a_i)^2$ and $a = (-3, -3, 9)$. The
# objective $f = \frac13 \sum_i f_i$ is minimised at the mean, $x^* = 1$, where the
# per-example gradients $g_i = x^* - a_i$ are $(4, 4, -8)$: they average to zero.
#
# Clipped SGD picks one example at random and moves along $-\operatorname{clip}(g_i, c)$.
# On average it moves along $-h(x)$, where
#
# $$ h(x) = \frac1n \sum_{i=1}^n \operatorname{clip}(x - a_i, c) $$
#
# is the **expected clipped gradient**. At $x^*$ with $c = 1$ the clipped gradients are
# $(1, 1, -1)$, so $h(x^*) = 1/3 \neq 0$: the optimum is *not* a resting point. The
# resting points are the zeros of $h$. For $x$ between $-4$ and $-2$ the first two
# gradients $x + 3$ are inside the ball and the third, $x - 9$, is clipped to $-1$:
#
# $$ h(x) = \tfrac13\bigl(2(x + 3) - 1\bigr) = 0 \iff x = -2.5 .$$

# %%
ex1 = problems.example1()
print("a =", ex1.X.ravel(), " x* =", ex1.x_star)
print("per-example gradients at x*:", ex1.per_example_grads(ex1.x_star).ravel())
print("h(x*) =", clipsgd.expected_clipped_gradient(ex1, 1.0, c=1.0))
stall = clipsgd.stationary_points(ex1, c=1.0)
print("zeros of h:", stall, "  exact:", stall.rational_points)

# %% [markdown]
# `stationary_points` finds every zero of $h$ exactly: $h$ is piecewise linear with kinks
# at $x = a_i \pm c$, so it evaluates $h$ at the kinks in rational arithmetic and solves
# the linear piece where the sign changes. Here is the picture.

# %%
xs = np.linspace(-6, 10, 801)
h = clipsgd.expected_clipped_gradient(ex1, xs, c=1.0)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(xs, xs - 1.0, "--", color="tab:blue", label="$f'(x) = x - 1$ (no clipping)")
ax.plot(xs, h, color="tab:red", lw=2, label=r"$h(x) = \frac{1}{3}\sum_i \mathrm{clip}(x - a_i, 1)$")
ax.axhline(0, color="k", lw=0.7)
ax.axvline(1.0, color="tab:blue", ls=":", label="$x^* = 1$")
ax.axvline(-2.5, color="tab:red", ls=":", label="zero of $h$: $-2.5$")
ax.set(xlabel="x", ylabel="expected update direction", ylim=(-2, 2), title="Example 1, c = 1")
ax.legend(fontsize=8)
savefig(fig, "example1_h")
plt.show()

# %% [markdown]
# Now run it. `clipsgd.run` simulates many independent runs at once (compiled with
# Numba, one random stream per run); each run samples one example per step.

# %%
clipped = clipsgd.run(ex1, ClippedSGD(lr=0.01, c=1.0), steps=3000, runs=500, seed=0)
plain = clipsgd.run(ex1, SGD(lr=0.01), steps=3000, runs=500, seed=0)
print(clipped.summary())
print("mean final x: clipped SGD %.3f, SGD %.3f" % (clipped.x.mean(), plain.x.mean()))

fig, ax = plt.subplots(figsize=(7, 3.5))
for res, col, lab in ((plain, "tab:blue", "SGD"), (clipped, "tab:red", "clipped SGD, c = 1")):
    traj = res.trajectory[:, :, 0]
    ax.plot(res.record_steps, traj[:20].T, color=col, alpha=0.15, lw=0.7)
    ax.plot(res.record_steps, traj.mean(axis=0), color=col, lw=2, label=f"{lab} (mean of {res.runs} runs)")
ax.axhline(1.0, color="k", ls="--", lw=1, label="$x^* = 1$")
ax.axhline(-2.5, color="tab:red", ls=":", lw=1, label="zero of $h$")
ax.set(xlabel="step", ylabel="x", title="Example 1: clipped SGD converges to the wrong point")
ax.legend(fontsize=8)
savefig(fig, "example1_runs")
plt.show()

# %% [markdown]
# The individual runs keep jittering (the step size is constant), but their average
# settles at $-2.5$, not at $1$. Nothing is wrong with the optimiser: the *expected*
# step simply vanishes at $-2.5$. The culprit is the **asymmetry** of the per-example
# gradients: one large negative gradient against two small positive ones. Clipping
# shrinks the large one more, so they no longer cancel at $x^*$.
#
# ## 3. Example 2: symmetric, but too spread out
#
# With $a = (-3, 3)$ the gradient noise is symmetric and $x^* = 0$. For every $x$ in
# $[-2, 2]$ both gradients $x + 3 \geq 1$ and $x - 3 \leq -1$ are clipped, to $+1$ and
# $-1$: $h(x) = 0$ on the **whole interval**. Clipped gradient descent stops wherever it
# enters it.

# %%
ex2 = problems.example2()
print("zeros of h:", clipsgd.stationary_points(ex2, c=1.0))

starts = np.linspace(-6, 6, 13)[:, None]
# batch_size = n with sampling "shuffle" uses every example at every step: gradient descent
gd = clipsgd.run(ex2, ClippedSGD(lr=0.1, c=1.0, sampling="shuffle", batch_size=2),
                 steps=300, runs=len(starts), x0=starts, seed=0)
print("final iterates:", np.round(gd.x.ravel(), 3))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
ax1.plot(gd.record_steps, gd.trajectory[:, :, 0].T, color="tab:red", lw=1)
ax1.axhspan(-2, 2, color="tab:red", alpha=0.1, label="h = 0 here")
ax1.axhline(0, color="k", ls="--", lw=1, label="$x^* = 0$")
ax1.set(xlabel="step", ylabel="x", title="Example 2: clipped GD from 13 starts")
ax1.legend(fontsize=8)
xs2 = np.linspace(-6, 6, 601)
ax2.plot(xs2, xs2, "--", color="tab:blue", label="$f'(x) = x$")
ax2.plot(xs2, clipsgd.expected_clipped_gradient(ex2, xs2, c=1.0), color="tab:red", lw=2, label="$h(x)$")
ax2.axhline(0, color="k", lw=0.7)
ax2.axvspan(-2, 2, color="tab:red", alpha=0.1)
ax2.set(xlabel="x", ylim=(-2, 2), title="h vanishes on [-2, 2]")
ax2.legend(fontsize=8)
savefig(fig, "example2")
plt.show()

# %% [markdown]
# Symmetry alone is not enough: here the noise $\pm 3$ is large compared with $c = 1$,
# so near $x^*$ *every* gradient is clipped and the clipped gradients carry only their
# signs. The paper's Theorem 1 (tutorial 03) makes this precise: progress is weighted by
# $P(\lVert \xi \rVert < c/4)$, the chance that the noise is small, which is $0$ in
# Example 2. Tutorial 02 shows why symmetric noise *with* some mass near zero is harmless.
#
# ## 4. How the stall point moves with $c$
#
# For large $c$ nothing is clipped and $h = f'$: the stall point is $x^* = 1$. For
# $c \to 0$ only signs survive, $h(x) \approx \frac{c}{n}\sum_i \operatorname{sign}(x - a_i)$,
# whose zero is the **median** $-3$. In between, the stall point slides from one to the
# other.

# %%
cs = np.linspace(0.05, 10, 200)
stall_c = [clipsgd.stationary_points(ex1, c=c).points[0] for c in cs]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(cs, stall_c, color="tab:red", lw=2, label="zero of $h$ (exact)")
ax.axhline(1.0, color="k", ls="--", lw=1, label="mean $x^* = 1$")
ax.axhline(-3.0, color="tab:gray", ls=":", lw=1, label="median $-3$")
ax.set(xlabel="clip threshold c", ylabel="stall point", title="Example 1: stall point against c")
ax.legend(fontsize=8)
savefig(fig, "stall_vs_c")
plt.show()
print("smallest c on the grid whose stall point is x* = 1: %.3f" % cs[np.isclose(stall_c, 1.0)].min())

# %% [markdown]
# Only for $c \geq 8 = \max_i |x^* - a_i|$ does clipped SGD find the optimum: then nothing
# is clipped at $x^*$. But a large $c$ is expensive in DP-SGD (the noise scale is
# proportional to $c$), which is the dilemma the rest of the tutorials resolve.
#
# ## Exercises
#
# Each exercise draws its own numbers from your seed (`SEED` above). Replace `None` by
# your answer and run the cell: the checker says whether it is right and, if not, what
# probably went wrong (without giving the answer away). Worked solutions are in
# `tutorials/solutions/` (your instructor may withhold them).
#
# **Exercise 1.1.** Compute $h(x^*)$ for your instance (by hand, or with
# `clipsgd.clip` and NumPy).

# %%
ex = exercises.get("01.h_at_optimum", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 1.2.** Where does clipped SGD stall? (Hint: `problems.quadratic(a)` and
# `clipsgd.stationary_points`; or find the linear piece of $h$ by hand.)

# %%
ex = exercises.get("01.stationary_point", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 1.3.** An Example-2-like instance: give the whole interval on which $h$
# vanishes, as `(lo, hi)`.

# %%
ex = exercises.get("01.stationary_interval", seed=SEED)
answer = None  # your answer here, e.g. (lo, hi)
ex.check(answer)
