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
# # 03 · Convergence theorems, checked numerically
#
# Tutorial 02 showed that a symmetric noise pair never points the clipped step uphill
# (Lemma 1), and how much progress small noise guarantees (Lemma 2). Summed over the
# steps of a run, this gives the convergence theorems of Chen, Wu & Hong
# ([arXiv:2006.15429](https://arxiv.org/abs/2006.15429)). This tutorial states them,
# sketches the proof, and checks each inequality on simulated runs with
# `clipsgd.bounds.evaluate_run`.
#
# Needs: `clipsgd` (core, `bounds`). Runs in about 20 seconds.
#
# ## The argument in four lines
#
# $f$ is $G$-smooth (its gradient is $G$-Lipschitz) and bounded below. One step
# $x_{t+1} = x_t - \alpha m_t$ with the clipped update $m_t$ satisfies the descent lemma
#
# $$ f(x_{t+1}) \le f(x_t) - \alpha\langle \nabla f(x_t), m_t\rangle + \frac{G\alpha^2}{2}\lVert m_t\rVert^2 . $$
#
# Clipping gives $\lVert m_t\rVert \le c$: **no Lipschitz assumption on $f$ is needed**.
# Take expectations: $\mathbb E\langle g_t, m_t\rangle = \mathbb E_{\xi}\langle g_t, \operatorname{clip}(g_t + \xi, c)\rangle$,
# which Lemma 2 bounds below for symmetric noise. Sum over $t = 1..T$, telescope, divide
# by $\alpha T$, with $D_f = f(x_1) - \inf f$:
#
# **Theorem 1** (clipped SGD, symmetric noise).
# $$ \frac1T\sum_{t=1}^T \mathbb E\Bigl[P\bigl(\lVert\xi_t\rVert < \tfrac c4\bigr)
#    \min\bigl(\lVert\nabla f(x_t)\rVert^2, \tfrac34 c\lVert\nabla f(x_t)\rVert\bigr)\Bigr]
#    \ \le\ \frac{D_f}{\alpha T} + \frac{G\alpha c^2}{2}. $$
#
# **Theorem 2** (any noise). The same with the *clipping bias* added on the right,
# $\frac1T\sum_t \mathbb E\, b_t$, where $b_t$ compares the progress under the symmetrised
# noise with the actual progress (tutorial 04 measures it on real data).
#
# **Theorem 3** (DP-SGD). The same with $c^2$ replaced by $\kappa c^2 + d\sigma^2$, the
# second moment of the noisy update ($\sigma$ = noise std on the averaged update,
# $\kappa = 1 + (1-q)/(qn)$ for Poisson batches; the constants are derived in
# `theory/theorem3.py`).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

import clipsgd
from clipsgd import DPSGD, ClippedSGD, bounds, exercises, problems

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234"))  # your own seed for the exercises


def savefig(fig, name):
    """Save a figure as figures/03_<name>.png (folder: $CLIPSGD_FIGURES)."""
    path = FIGURES / f"03_{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## 1. Theorem 1 on a problem with symmetric noise
#
# $f_i(x) = \tfrac12\lVert x - a_i\rVert^2$ in 2-D with 100 atoms placed symmetrically
# ($a$ and $-a$), so the gradient noise $\xi_i = \bar a - a_i$ is exactly symmetric at
# every point, and $G = 1$. `evaluate_run` needs every step recorded; it computes, per
# run, the left side $L_r$ (a mean over the $T$ iterates), the right side, and the
# margin with its Monte-Carlo standard error over the 20 independent runs.

# %%
rng = np.random.default_rng(0)
half = 0.5 * rng.normal(size=(50, 2))
sym = problems.quadratic(np.vstack([half, -half]), name="symmetric")
c, T, x0 = 1.0, 2000, np.array([5.0, 3.0])
D_f = sym.loss(x0) - bounds.infimum(sym)
alphas = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
rows = []
for lr in alphas:
    res = clipsgd.run(sym, ClippedSGD(lr=lr, c=c), steps=T, runs=20, seed=1, x0=x0, record_every=1, record_loss=False)
    rb = bounds.evaluate_run(res)
    sharp = bounds.stationarity_along(sym, res.trajectory[:, :T], c, sharp=True).mean()  # same iterates x_1..x_T
    rows.append((rb.lhs.mean(), sharp, rb.rhs, rb.holds()))
    print(f"alpha = {lr:5}: left side {rb.lhs.mean():.4f} (sharp form {sharp:.4f}) <= right side "
          f"{rb.rhs:.4f}: {rb.holds()}   (|bias term| = {abs(rb.bias.mean()):.0e}: zero up to rounding)")
lhs, lhs_sharp, rhs, _ = map(np.array, zip(*rows))
a_star = bounds.optimal_step_size(D_f, 1.0, T, c**2)
print(f"D_f = {D_f:.3f}; the bound is smallest at alpha* = sqrt(2 D_f/(G c^2 T)) = {a_star:.4f}, "
      f"where it equals {bounds.optimal_rate(D_f, 1.0, T, c**2):.4f}")
# the noise xi_i = mean(a) - a_i does not depend on x, so the weight P(||xi|| < c/4) is one number
atoms = np.vstack([half, -half])
weight = np.mean(np.linalg.norm(atoms.mean(axis=0) - atoms, axis=1) < c / 4)
print(f"weight P(||xi|| < c/4) on this instance: {weight:.2f} ({round(weight * len(atoms))} of {len(atoms)} atoms); "
      f"expectation over the draw of the atoms: 1 - exp(-c^2/8) = {1 - np.exp(-c**2 / 8):.4f}")

# %%
fine = np.geomspace(alphas[0], alphas[-1], 200)
fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(fine, [bounds.theorem1_rhs(D_f, 1.0, a, c, T) for a in fine], color="k", label="right side (Theorem 1)")
ax.loglog(alphas, lhs, "o-", color="tab:red", label="left side, a = 1/4 (mean of 20 runs)")
ax.loglog(alphas, lhs_sharp, "s--", color="tab:orange", label="left side, sharp form (L2')")
ax.axvline(a_star, color="gray", ls=":", label=r"$\alpha^*$")
ax.set(xlabel=r"step size $\alpha$", ylabel="value", title=f"Theorem 1, symmetric noise (T = {T}, c = {c})")
ax.legend(fontsize=8)
savefig(fig, "theorem1")
plt.show()

# %% [markdown]
# The right side trades the two terms: $D_f/(\alpha T)$ (too small a step does not get
# far) against $G\alpha c^2/2$ (too large a step overshoots). The left side stays below
# it everywhere, with room to spare. One reason is the weight $P(\lVert\xi\rVert < c/4)$:
# the noise $\xi_i = \bar a - a_i$ does not depend on $x$, so the weight is one number,
# printed above for this instance (the fraction of the 100 atoms within $c/4$ of their
# mean). Its expectation over the draw of the atoms ($a_i \sim N(0, I/4)$, so
# $\lVert a_i\rVert^2/(1/4)$ is $\chi^2_2$) is $1 - e^{-c^2/8} \approx 12\%$, and
# a single draw scatters about 5 points around it (the 100 atoms are 50 independent
# $\pm$ pairs). Either way most of the noise is larger than $c/4$, so the left side is
# conservative. The sharp form
# $\mathbb E\min(\lVert g\rVert^2, (c - \lVert\xi\rVert)_+\lVert g\rVert)$ (proved in
# `theory/lemma2.py`) is larger and still below the bound.
#
# ## 2. Theorem 2: asymmetric noise needs the bias term
#
# Now seven atoms, $a = (-2.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4)$ with mean $x^* = 0$, and
# $c = 2$. The noise is strongly asymmetric, and the zero of the expected clipped
# gradient is at $1/15 \neq x^*$. Start **at the optimum**, so $D_f = 0$: Theorem 1's
# right side is just $G\alpha c^2/2$, tiny for a small step. But clipped SGD walks away
# from the optimum to the stall point, where $\nabla f \neq 0$ and most of the noise is
# small: the left side stays positive.

# %%
asym = problems.quadratic([-2.4] + [0.4] * 6, name="asymmetric")
print("zero of h:", clipsgd.stationary_points(asym, c=2.0))
res = clipsgd.run(asym, ClippedSGD(lr=0.0005, c=2.0), steps=20000, runs=40, seed=2, x0=asym.x_star,
                  record_every=1, record_loss=False)
rb = bounds.evaluate_run(res)
thm1 = bounds.theorem1_rhs(0.0, 1.0, 0.0005, 2.0, 20000)
print(f"left side {rb.lhs.mean():.5f} +- {rb.lhs.std(ddof=1) / np.sqrt(len(rb.lhs)):.5f}")
print(f"Theorem 1 right side {thm1:.5f}  -> violated: {rb.lhs.mean() > thm1}")
print(f"Theorem 2 right side {rb.rhs:.5f} (bias term {rb.bias.mean():.5f}) -> holds: {rb.holds()}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
ax1.plot(res.record_steps[::50], res.trajectory[:, ::50, 0].mean(axis=0), color="tab:red", label="mean of 40 runs")
ax1.axhline(0.0, color="k", ls="--", lw=1, label="optimum $x^* = 0$")
ax1.axhline(1 / 15, color="tab:red", ls=":", lw=1, label="zero of h")
ax1.set(xlabel="step", ylabel="x", title="started at the optimum, clipped SGD leaves it")
ax1.xaxis.set_major_locator(MaxNLocator(5))  # at most 5 step labels: they do not overlap
ax1.legend(fontsize=8)
ax2.bar(["left side", "Theorem 1\nright side", "Theorem 2\nright side"], [rb.lhs.mean(), thm1, rb.rhs],
        color=["tab:red", "tab:gray", "tab:blue"])
ax2.set(title="the bias term keeps the inequality true")
savefig(fig, "theorem2")
plt.show()

# %% [markdown]
# This is the paper's point in one picture: *without symmetry, Theorem 1 is false*, and
# the amount by which it fails is (bounded by) the clipping bias. Tutorial 05 removes
# most of the bias by perturbing the gradients before clipping.
#
# ## 3. Theorem 3: DP-SGD
#
# DP-SGD adds $N(0, z^2c^2 I)$ to the sum of clipped gradients and divides by the expected
# batch $B = qn$; the update's second moment grows from $c^2$ to $\kappa c^2 + d\sigma^2$
# with $\sigma = zc/B$. On the symmetric problem, Poisson batches with $q = 0.1$
# ($B = 10$), started closer to the optimum so that the noise term is visible:

# %%
T3, lr3, x0_3 = 1000, 0.05, np.array([1.5, 1.0])
zs = [0.0, 1.0, 3.0, 10.0, 30.0]
out = []
for z in zs:
    res = clipsgd.run(sym, DPSGD(lr=lr3, c=c, noise_multiplier=z, sample_rate=0.1), steps=T3, runs=20, seed=3,
                      x0=x0_3, record_every=1, record_loss=False)
    rb = bounds.evaluate_run(res)
    out.append((rb.lhs.mean(), rb.rhs, rb.K))
    eps = "no privacy" if z == 0 else f"eps = {res.privacy.epsilon:.3g}"
    print(f"z = {z:4}: sigma = {rb.sigma:.3f}, K = kappa c^2 + d sigma^2 = {rb.K:.3f}; left {rb.lhs.mean():.4f} "
          f"<= right {rb.rhs:.4f}: {rb.holds()}   ({eps})")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(zs, [o[0] for o in out], "o-", color="tab:red", label="left side")
ax.plot(zs, [o[1] for o in out], "s-", color="k", label="right side (Theorem 3)")
ax.set(xlabel="noise multiplier z", yscale="log", title=f"Theorem 3 (q = 0.1, alpha = {lr3}, T = {T3})")
ax.legend(fontsize=8)
savefig(fig, "theorem3")
plt.show()

# %% [markdown]
# More noise, more privacy, a larger right side: the noise enters only through
# $d\sigma^2$. With the optimal step and the noise calibrated to $(\varepsilon, \delta)$,
# the bound becomes the familiar private rate $O\bigl(c\sqrt{d\log(1/\delta)}/(n\varepsilon)\bigr)$
# (`bounds.privacy_utility_bound`, full batches):

# %%
for n in (1_000, 10_000, 100_000):
    b, T0 = bounds.privacy_utility_bound(D_f=1.0, smoothness=1.0, c=1.0, dim=100, n=n, eps=1.0, delta=1e-5)
    print(f"n = {n:7d}: rate bound {b:.4f} (needs T >= {T0} steps)")

# %% [markdown]
# ## Exercises
#
# **Exercise 3.1.** Evaluate Theorem 1's right-hand side (`bounds.theorem1_rhs` or by hand).

# %%
ex = exercises.get("03.theorem1_rhs", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 3.2.** The constant step that minimises Theorem 1's right-hand side.

# %%
ex = exercises.get("03.optimal_step", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 3.3.** Theorem 3's right-hand side for DP-SGD with fixed-size batches
# ($\kappa = 1$).

# %%
ex = exercises.get("03.theorem3_rhs", seed=SEED)
answer = None  # your answer here
ex.check(answer)
