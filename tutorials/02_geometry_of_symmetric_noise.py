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
# # 02 · The geometry of symmetric noise
#
# Tutorial 01 showed clipping stalling SGD. Yet DP-SGD with clipping trains real models
# well. Chen, Wu & Hong ([arXiv:2006.15429](https://arxiv.org/abs/2006.15429)) explain
# why with a short geometric argument: **if the gradient noise is symmetric, clipping
# never makes the expected step point uphill.** This tutorial draws that argument.
#
# Notation: at the current point the full gradient is $g = \nabla f(x)$, a per-example
# gradient is $g + \xi$ with *gradient noise* $\xi$ (mean zero), and the clipped step is
# $-\operatorname{clip}(g + \xi, c)$. The step makes first-order progress on $f$ when
#
# $$ \langle g, \operatorname{clip}(g + \xi, c) \rangle > 0 . $$
#
# Without clipping, $\mathbb E\langle g, g + \xi\rangle = \lVert g\rVert^2 > 0$ for any
# mean-zero noise. With clipping, the expectation can be negative (Example 1 of
# tutorial 01 at $x^*$ is one instance). You will see
#
# * **Lemma 1**: a symmetric pair $\pm\xi$ never hurts, with its one-line proof;
# * **Lemma 2**: how much a symmetric distribution helps, and why its constant is tight.
#
# Needs only NumPy, matplotlib and `clipsgd.clip`. Runs in a few seconds.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import clipsgd
from clipsgd import exercises

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234"))  # your own seed for the exercises


def savefig(fig, name):
    """Save a figure as figures/02_<name>.png (folder: $CLIPSGD_FIGURES)."""
    path = FIGURES / f"02_{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("figure written to", path)


def progress(g, xi, c):
    """<g, clip(g + xi, c)> for one g and many noise vectors xi (rows)."""
    return clipsgd.clip(g[None, :] + np.atleast_2d(xi), c) @ g


# %% [markdown]
# ## 1. One noise vector can point the step uphill
#
# Take a small gradient $g$ and a large noise vector nearly opposite to it. Then
# $g + \xi$ points away from $g$ and clipping keeps that direction: negative progress.
# Its mirror image $g - \xi$ points roughly *along* $g$. Without clipping the two would
# average to exactly $g$; clipped, both have length $c$ and the average is no longer
# $g$. Does the pair still help? That is Lemma 1.

# %%
g = np.array([0.4, 0.1])
xi = np.array([-2.0, 0.9])
c = 1.0
print("<g, clip(g + xi)> =", progress(g, xi, c)[0])
print("<g, clip(g - xi)> =", progress(g, -xi, c)[0])
print("pair sum          =", progress(g, xi, c)[0] + progress(g, -xi, c)[0])

# %% [markdown]
# ## 2. Lemma 1: a symmetric pair never hurts
#
# **Lemma 1.** For all $g, \xi$ and $c > 0$,
# $$\bigl\langle g,\ \operatorname{clip}(g + \xi, c) + \operatorname{clip}(g - \xi, c)\bigr\rangle \ \ge\ 0 .$$
# Hence for any symmetric noise distribution ($p(\xi) = p(-\xi)$),
# $\mathbb E\langle g, \operatorname{clip}(g + \xi, c)\rangle \ge 0$: average the
# inequality over the pairs $\{\xi, -\xi\}$.
#
# **Proof in the case that matters** (both vectors clipped). Let $u = \lVert g + \xi\rVert$,
# $v = \lVert g - \xi \rVert$ and $K = \lVert g\rVert^2 - \lVert\xi\rVert^2$. Expanding
# the squares, $\langle g, g \pm \xi\rangle = \tfrac12\bigl(u^2 + K\bigr)$ resp.
# $\tfrac12\bigl(v^2 + K\bigr)$, so
#
# $$ \Bigl\langle g, \frac{c(g+\xi)}{u} + \frac{c(g-\xi)}{v}\Bigr\rangle
#    = \frac{c}{2}\Bigl(u + v + K\bigl(\tfrac1u + \tfrac1v\bigr)\Bigr)
#    = \frac{c\,(u + v)}{2uv}\,\bigl(uv + K\bigr). $$
#
# By the parallelogram law $u^2 + v^2 = 2\lVert g\rVert^2 + 2\lVert \xi\rVert^2$, and by
# the triangle inequality $|u - v| \le 2\lVert g\rVert$, because $g + \xi = 2g + (\xi - g)$
# and $\lVert \xi - g\rVert = v$. Then
#
# $$ uv = \tfrac12\bigl(u^2 + v^2 - (u - v)^2\bigr) \ \ge\ \lVert g\rVert^2 + \lVert\xi\rVert^2 - 2\lVert g\rVert^2
#    = -K, $$
#
# so $uv + K \ge 0$. (The cases with one or no vector clipped are similar; `theory/lemma1.py`
# checks the full case analysis with sympy.) Let us check the identity and the lemma
# numerically on a million random triples, in 2 and in 50 dimensions.

# %%
rng = np.random.default_rng(0)
for d in (2, 50):
    G = rng.normal(size=(1_000_000 // d, d)) * rng.exponential(size=(1_000_000 // d, 1))
    XI = rng.normal(size=G.shape) * rng.exponential(3.0, size=(G.shape[0], 1))
    cs = rng.exponential(size=G.shape[0])
    # clip at a different c per row: clip(v, c) = c clip(v / c, 1)
    Cp = cs[:, None] * clipsgd.clip((G + XI) / cs[:, None], 1.0)
    Cm = cs[:, None] * clipsgd.clip((G - XI) / cs[:, None], 1.0)
    pair = np.einsum("ij,ij->i", G, Cp + Cm)
    u, v = np.linalg.norm(G + XI, axis=1), np.linalg.norm(G - XI, axis=1)
    K = (G * G).sum(1) - (XI * XI).sum(1)
    both = (u > cs) & (v > cs)
    identity = cs * (u + v) / (2 * u * v) * (u * v + K)
    print(f"d = {d:2d}: min pair sum = {pair.min():.2e} (over {len(pair)} triples), "
          f"identity error (both clipped) = {np.abs(identity - pair)[both].max():.1e}, "
          f"single term negative in {np.mean(np.einsum('ij,ij->i', G, Cp) < 0):.0%} of draws")

# %% [markdown]
# The single term is negative in a large fraction of draws; the pair sum never is. Here
# is the picture of the pairing: the clipped vectors lie on the circle of radius $c$, and
# their sum (black) always has a nonnegative component along $g$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
examples = [(np.array([0.4, 0.1]), np.array([-2.0, 0.9])),
            (np.array([0.6, 0.3]), np.array([0.3, 2.2])),
            (np.array([0.3, -0.2]), np.array([1.7, 1.1]))]
t = np.linspace(0, 2 * np.pi, 200)
for ax, (g, xi) in zip(axes, examples):
    ax.plot(c * np.cos(t), c * np.sin(t), color="0.7", lw=1)
    cp, cm = clipsgd.clip(g + xi, c), clipsgd.clip(g - xi, c)
    arrow = dict(angles="xy", scale_units="xy", scale=1, width=0.008)
    ax.quiver(0, 0, *g, color="tab:green", **arrow, label="g")
    ax.quiver(0, 0, *(g + xi), color="tab:red", alpha=0.3, **arrow, label=r"$g \pm \xi$")
    ax.quiver(0, 0, *(g - xi), color="tab:blue", alpha=0.3, **arrow)
    ax.quiver(0, 0, *cp, color="tab:red", **arrow, label=r"clip$(g + \xi)$")
    ax.quiver(0, 0, *cm, color="tab:blue", **arrow, label=r"clip$(g - \xi)$")
    ax.quiver(0, 0, *(cp + cm), color="k", **arrow, label="sum of the pair")
    s = g @ (cp + cm)
    ax.set(xlim=(-2.6, 2.6), ylim=(-2.6, 2.6), aspect="equal",
           title=fr"$\langle g, \mathrm{{sum}}\rangle = {s:.3f}$, single: {g @ cp:+.3f}")
axes[0].legend(fontsize=7, loc="lower left")
fig.suptitle("Lemma 1: the mirrored pair always makes progress along g (c = 1)")
savefig(fig, "pairing")
plt.show()

# %% [markdown]
# A map makes the same point for *every* noise vector. Fix $g$ and colour each $\xi$ in
# the plane by the single progress $\langle g, \operatorname{clip}(g+\xi, c)\rangle$
# (left) and by the pair average (right). The single term is negative on a large region
# (the noise points backwards and is clipped); the pair never is.

# %%
g = np.array([0.5, 0.0])
grid = np.linspace(-4, 4, 301)
XX, YY = np.meshgrid(grid, grid)
XI = np.column_stack([XX.ravel(), YY.ravel()])
single = progress(g, XI, c).reshape(XX.shape)
pair = 0.5 * (progress(g, XI, c) + progress(g, -XI, c)).reshape(XX.shape)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, Z, title in ((axes[0], single, r"single: $\langle g, \mathrm{clip}(g+\xi)\rangle$"),
                     (axes[1], pair, "pair average")):
    im = ax.pcolormesh(XX, YY, Z, cmap="RdBu", vmin=-0.5, vmax=0.5, shading="auto")
    ax.contour(XX, YY, Z, levels=[0.0], colors="k", linewidths=1)
    ax.set(aspect="equal", xlabel=r"$\xi_1$", ylabel=r"$\xi_2$", title=title)
fig.colorbar(im, ax=axes, shrink=0.8, label="progress along g")
print("min over the grid: single %.3f, pair %.1e" % (single.min(), pair.min()))
savefig(fig, "progress_map")
plt.show()

# %% [markdown]
# The pair average vanishes only on the black dashes: $\xi$ parallel to $g$ with
# $\lVert\xi\rVert \ge c + \lVert g\rVert$. There $g + \xi$ and $g - \xi$ are clipped to
# $\pm c\,\xi/\lVert\xi\rVert$ and cancel exactly: this is Example 2 of tutorial 01.
#
# ## 3. Lemma 2: how much symmetric noise helps
#
# Lemma 1 only says "not negative". Progress comes from noise that is *small* compared
# with $c$: if $\lVert \xi \rVert < ac$ for some $a \in (0, 1)$, the pair makes progress
# at least $\min(\lVert g\rVert^2, (1 - a)c\lVert g\rVert)$. Averaging:
#
# **Lemma 2.** For symmetric $p$ and $a \in (0, 1)$,
# $$ \mathbb E_{\xi\sim p}\langle g, \operatorname{clip}(g + \xi, c)\rangle \ \ge\
#    P\bigl(\lVert\xi\rVert < ac\bigr)\,\min\bigl(\lVert g\rVert^2,\ (1 - a)\,c\,\lVert g\rVert\bigr). $$
#
# The paper uses $a = 1/4$. The weight $P(\lVert\xi\rVert < ac)$ is the whole story of
# Example 2 in tutorial 01: there the noise is $\pm 3$ with $c = 1$, so the weight is $0$
# and no progress is guaranteed (and none happens).
#
# Below: Gaussian noise $\xi \sim N(0, \sigma^2 I_2)$, Monte Carlo estimate of the left
# side against the bound, as $\lVert g\rVert$ grows.

# %%
a = 0.25
norms_g = np.linspace(0.01, 3.0, 60)
fig, ax = plt.subplots(figsize=(7, 4))
for sigma, col in ((0.2, "tab:green"), (0.6, "tab:orange"), (1.5, "tab:red")):
    XI = rng.normal(scale=sigma, size=(100_000, 2))
    XI = np.vstack([XI, -XI])  # exactly symmetric sample
    p_small = np.mean(np.linalg.norm(XI, axis=1) < a * c)
    lhs = [progress(np.array([r, 0.0]), XI, c).mean() for r in norms_g]
    rhs = p_small * np.minimum(norms_g**2, (1 - a) * c * norms_g)
    assert np.all(np.array(lhs) >= rhs - 1e-12)
    ax.plot(norms_g, lhs, color=col, lw=2, label=fr"$E\langle g, \mathrm{{clip}}\rangle$, $\sigma$ = {sigma}")
    ax.plot(norms_g, rhs, color=col, ls="--", label=f"Lemma 2 bound, P = {p_small:.2f}")
ax.set(xlabel=r"$\|g\|$", ylabel="expected progress", title="Lemma 2 (a = 1/4, c = 1)")
ax.legend(fontsize=8)
savefig(fig, "lemma2")
plt.show()

# %% [markdown]
# The bound is loose for Gaussian noise (most of the progress comes from noise outside
# the small ball), but it cannot be improved in general: with $g$ parallel to $\xi$,
# $\lVert g\rVert = (1 - a)c$ and $\lVert\xi\rVert = ac$ exactly, the pair gives
# $\lVert g + \xi\rVert = c$ (not clipped) and $\lVert g - \xi\rVert = |1 - 2a|c < c$,
# so the pair average is
# $\tfrac12\langle g, 2g\rangle = \lVert g\rVert^2 = (1-a)c\lVert g\rVert$: equality.

# %%
for a in (0.25, 0.5, 0.75):
    e = np.array([0.6, 0.8])
    g, xi = (1 - a) * c * e, a * c * e
    pair_avg = 0.5 * (progress(g, xi, c)[0] + progress(g, -xi, c)[0])
    bound = min(g @ g, (1 - a) * c * np.linalg.norm(g))
    print(f"a = {a}: pair average {pair_avg:.6f}, bound {bound:.6f}")

# %% [markdown]
# (At $\lVert \xi \rVert = ac$ exactly the strict inequality $\lVert\xi\rVert < ac$
# fails; take $\lVert\xi\rVert$ slightly below $ac$ and the ratio of the two sides tends
# to 1.)
#
# **Take-away.** Symmetric noise makes clipping safe, and noise that is often small
# compared with $c$ makes it useful. Real gradient noise is neither exactly symmetric nor
# always small; tutorial 03 turns the lemmas into convergence theorems with a *bias*
# term that measures the asymmetry, and tutorial 04 measures it on real data.
#
# ## Exercises
#
# **Exercise 2.1.** Evaluate Lemma 1's pair sum for your $g$, $\xi$ and $c$.

# %%
ex = exercises.get("02.pair_sum", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 2.2.** The expected progress under a symmetric four-atom distribution.

# %%
ex = exercises.get("02.expected_progress", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 2.3.** Lemma 2's lower bound for a four-atom distribution. (Then compare it
# with the expected progress of the same distribution: the lemma says it is smaller.)

# %%
ex = exercises.get("02.lemma2_bound", seed=SEED)
answer = None  # your answer here
ex.check(answer)
