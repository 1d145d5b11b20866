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
# # 07 · Bring your own objective
#
# clipsgd's engine runs any finite sum $f(x) = \frac1n\sum_i f_i(x)$ for which you can
# write the per-example gradient. This tutorial plugs in a robust regression with
# outliers, checks the oracle, runs SGD, clipped SGD and DP-SGD on it, and finds where
# clipped SGD stalls in two dimensions.
#
# Needs: `clipsgd` (core), numba, scipy, matplotlib. The first run of a new oracle
# compiles a copy of the engine for it (a few seconds, once per session).
#
# ## 1. The oracle contract
#
# An oracle is a Numba-jitted function
#
# ```python
# @numba.njit
# def grad_fn(x, i, X, Y, P, out):
#     # write the gradient of f_i at x into out (length dim), return f_i(x)
# ```
#
# | argument | meaning |
# |---|---|
# | `x` | current iterate, shape `(dim,)` |
# | `i` | index of the example |
# | `X`, `Y` | your data: `X` of shape `(n, p)` (its rows define $n$), `Y` of shape `(n,)` |
# | `P` | a float vector of constants (hyper-parameters) |
# | `out` | the buffer to write $\nabla f_i(x)$ into |
#
# `problems.custom(grad_fn, dim, X, Y, P, numpy_fn=...)` turns it into a `Problem` that
# `clipsgd.run` accepts like any built-in one. The optional `numpy_fn(x, X, Y, P) ->
# (G, losses)` is a plain-NumPy *twin*: the readable definition you test the oracle
# against.
#
# ## 2. Huber regression with one-sided outliers
#
# $f_i(x) = \operatorname{huber}_\delta(z_i^\top x - y_i)$ with
# $\operatorname{huber}_\delta(r) = r^2/2$ for $|r| \le \delta$ and
# $\delta |r| - \delta^2/2$ otherwise, so
# $\nabla f_i(x) = \operatorname{clip}(z_i^\top x - y_i, \delta)\, z_i$.
# The labels get 15% outliers, all shifted *upwards*: the per-example gradients are
# strongly asymmetric, which is the situation tutorial 01 warned about.

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numba
import numpy as np
from scipy.optimize import minimize, root

import clipsgd
from clipsgd import DPSGD, SGD, ClippedSGD, exercises, problems

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234"))  # your own seed for the exercises


def savefig(fig, name):
    """Save a figure as figures/07_<name>.png (folder: $CLIPSGD_FIGURES)."""
    path = FIGURES / f"07_{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("figure written to", path)


@numba.njit(cache=True)
def huber_grad(x, i, X, Y, P, out):
    delta = P[0]
    r = -Y[i]
    for j in range(x.shape[0]):
        r += X[i, j] * x[j]
    s = max(-delta, min(delta, r))  # huber'(r)
    for j in range(x.shape[0]):
        out[j] = s * X[i, j]
    if abs(r) <= delta:
        return 0.5 * r * r
    return delta * abs(r) - 0.5 * delta * delta


def huber_numpy(x, X, Y, P):
    """The readable definition: all per-example gradients and losses at once."""
    delta = P[0]
    r = X @ x - Y
    loss = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * np.abs(r) - 0.5 * delta**2)
    return np.clip(r, -delta, delta)[:, None] * X, loss


rng = np.random.default_rng(0)
n = 300
Z = rng.normal(size=(n, 2))
y = Z @ np.array([1.0, -2.0]) + 0.3 * rng.normal(size=n)
y[rng.random(n) < 0.15] += 8.0  # one-sided outliers
prob = problems.custom(huber_grad, dim=2, X=Z, Y=y, P=[2.0], numpy_fn=huber_numpy, name="huber")
print(prob)

# %% [markdown]
# ## 3. Check the oracle before trusting it
#
# Two checks that catch almost every bug: the compiled oracle agrees with the NumPy twin,
# and the gradient agrees with central finite differences of the losses,
# $\partial_j f_i(x) \approx \bigl(f_i(x + h e_j) - f_i(x - h e_j)\bigr)/2h$.

# %%
x_test = np.array([0.3, -0.7])
G_kernel = prob.per_example_grads(x_test, use_kernel=True)
G_twin = prob.per_example_grads(x_test)
print("kernel vs twin, max difference:", np.abs(G_kernel - G_twin).max())

h = 1e-6
E = np.eye(2)
G_fd = np.stack([(prob.losses(x_test + h * E[j]) - prob.losses(x_test - h * E[j])) / (2 * h) for j in range(2)], axis=1)
print("gradient vs finite differences, max difference:", np.abs(G_fd - G_twin).max())
assert np.allclose(G_kernel, G_twin) and np.allclose(G_fd, G_twin, atol=1e-5)

# %% [markdown]
# ## 4. Run it
#
# The same algorithm descriptions as for the built-in problems. The first `run` compiles
# the engine for `huber_grad`; later runs reuse it.

# %%
x_opt = minimize(prob.loss, np.zeros(2), jac=prob.full_grad, method="BFGS").x
print("minimiser of f:", np.round(x_opt, 4))

algs = {
    "SGD": SGD(lr=0.05, batch_size=10),
    "clipped SGD (c = 1)": ClippedSGD(lr=0.05, c=1.0, batch_size=10),
    "DP-SGD (c = 1, z = 1)": DPSGD(lr=0.05, c=1.0, noise_multiplier=1.0, sample_rate=10 / n),
}
results = {}
for name, alg in algs.items():
    t0 = time.perf_counter()
    results[name] = clipsgd.run(prob, alg, steps=3000, runs=50, seed=1)
    print(f"{name:24s} mean final x = {np.round(results[name].x.mean(axis=0), 3)}"
          f"   ({time.perf_counter() - t0:.1f} s including compilation)")
print(results["DP-SGD (c = 1, z = 1)"].privacy)

# %% [markdown]
# ## 5. Where does clipped SGD stall in two dimensions?
#
# As in tutorial 01, clipped (full-batch) gradient descent stops at the zeros of the
# expected clipped gradient
#
# $$ h(x) = \frac1n \sum_{i=1}^n \operatorname{clip}\bigl(\nabla f_i(x), c\bigr), $$
#
# which we can evaluate for *any* problem from its per-example gradients and solve
# with `scipy.optimize.root`.

# %%
def expected_clipped_gradient(x, c=1.0):
    return clipsgd.clip(prob.per_example_grads(x), c).mean(axis=0)


x_stall = root(expected_clipped_gradient, x_opt, tol=1e-12).x
print("zero of h (c = 1):", np.round(x_stall, 4), "  minimiser of f:", np.round(x_opt, 4))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for (name, res), col in zip(results.items(), ("tab:blue", "tab:red", "tab:purple")):
    ax1.plot(res.record_steps, res.loss.mean(axis=0) - prob.loss(x_opt), color=col, label=name)
    ax2.scatter(res.x[:, 0], res.x[:, 1], s=8, color=col, alpha=0.6, label=name)
ax1.set(yscale="log", xlabel="step", ylabel="f(x) - min f (mean of 50 runs)", title="Huber regression")
ax1.legend(fontsize=8)
ax2.plot(*x_opt, "k*", ms=14, label="minimiser of f")
ax2.plot(*x_stall, "rX", ms=12, label="zero of h (c = 1)")
ax2.set(xlabel="$x_1$", ylabel="$x_2$", title="final iterates of 50 runs")
ax2.legend(fontsize=8)
savefig(fig, "huber_runs")
plt.show()

# %% [markdown]
# The upward outliers pull every clipped run towards a point that is *not* the
# minimiser of $f$: the clipped runs (red, and purple with privacy noise on top) gather
# around the zero of $h$, SGD (blue) around the minimiser. Repeat with a larger $c$ and
# the two points merge (nothing is clipped near the optimum).

# %%
cs = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
gap = [np.linalg.norm(root(expected_clipped_gradient, x_opt, args=(c,), tol=1e-12).x - x_opt) for c in cs]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(cs, gap, "o-", color="tab:red")
ax.set(xlabel="clip threshold c", ylabel="|zero of h - minimiser|", title="Clipping bias shrinks as c grows")
savefig(fig, "bias_vs_c")
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 7.1.** Write a Numba oracle for log-cosh regression,
# $f_i(x) = \log\cosh(z_i^\top x - y_i)$ (gradient $\tanh(z_i^\top x - y_i)\,z_i$),
# wrap it with `problems.custom`, check it as in section 3, and compute the mean clipped
# gradient the exercise asks for. (Your data are in `ex.data["X"]`, `ex.data["y"]`.)

# %%
ex = exercises.get("07.logcosh_clipped_mean", seed=SEED)
answer = None  # your answer here: a vector of length 2
ex.check(answer)

# %% [markdown]
# **Exercise 7.2.** Weighted quadratics $f_i(x) = w_i (x - a_i)^2/2$: pass the weights
# in `Y` (or `P`), run clipped SGD as instructed and report where it stalls. Bonus: its
# gradients $w_i x - w_i a_i$ are those of 1-D least squares with $z_i = \sqrt{w_i}$,
# $y_i = \sqrt{w_i}\,a_i$, so `clipsgd.stationary_points(problems.least_squares(...), c)`
# gives the exact answer to compare with.

# %%
ex = exercises.get("07.weighted_stall", seed=SEED)
answer = None  # your answer here
ex.check(answer)
