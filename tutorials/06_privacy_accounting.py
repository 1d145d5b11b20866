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
# # 06 · Privacy accounting
#
# Clipping exists for privacy: it bounds how much one example can change the update, and
# Gaussian noise of that size hides the rest. This tutorial counts the privacy a DP-SGD
# run spends, $(\varepsilon, \delta)$, with `clipsgd.privacy` (which hands the counting to
# Google's `dp_accounting`), and shows how the numbers depend on the noise, the sampling
# and the number of steps.
#
# You will learn
#
# * what exactly is released at each step, and the noise on the averaged update;
# * the exact answer for full batches (the Gaussian mechanism) and why composition goes
#   like $\sqrt T$;
# * RDP vs PLD accountants for Poisson subsampling, and privacy amplification;
# * calibrating the noise multiplier to a target $\varepsilon$;
# * what clipsgd reports for other sampling schemes, and what it does not promise.
#
# Needs: `clipsgd` (core + `clipsgd.privacy`, `clipsgd.datasets`), dp-accounting,
# scikit-learn's bundled data. Runs in about half a minute (the PLD accountant takes a
# second or two per number).

# %%
import os
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import clipsgd
from clipsgd import DPSGD, datasets, exercises, privacy

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEED = int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234"))  # your own seed for the exercises


def savefig(fig, name):
    """Save a figure as figures/06_<name>.png (folder: $CLIPSGD_FIGURES)."""
    path = FIGURES / f"06_{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## 1. What one step releases
#
# With clip threshold $c$, noise multiplier $z$ and Poisson sampling (each example joins
# the batch $\mathcal B_t$ independently with probability $q$), one step releases
#
# $$ \tilde g_t = \sum_{i \in \mathcal B_t} \operatorname{clip}(g_i, c) + N(0, z^2 c^2 I_d) $$
#
# and updates $x \leftarrow x - \alpha\,\tilde g_t / B$ with the **expected** batch size
# $B = qn$. Adding or removing one example changes the sum by a vector of norm at most
# $c$ (the *sensitivity*), so $z$ is the noise in units of the sensitivity. The noise on
# the averaged update, the quantity that enters the convergence bounds (Theorem 3 in
# tutorial 03), has per-coordinate standard deviation
#
# $$ \sigma = \frac{z c}{B}. $$

# %%
z, c, q, n = 1.1, 1.0, 0.01, 60_000
print("expected batch size B =", q * n, "  sigma = z c / B =", privacy.averaged_noise_std(z, c, q * n))
alg = DPSGD(lr=0.1, c=c, noise_multiplier=z, sample_rate=q)
print("the same from the algorithm description:", alg.noise_std(n))

# %% [markdown]
# ## 2. Full batches: the Gaussian mechanism, exactly
#
# With $q = 1$ every step is the Gaussian mechanism with $\mu = \text{sensitivity}/\text{noise} = 1/z$,
# and $T$ of them compose into **one** Gaussian mechanism with
# $\mu = \sqrt{T}/z$ (privacy losses add like variances; Dong, Roth & Su 2019). Its exact
# privacy curve is (Balle & Wang 2018)
#
# $$ \delta(\varepsilon) = \Phi\Bigl(-\frac{\varepsilon}{\mu} + \frac{\mu}{2}\Bigr)
#    - e^{\varepsilon}\,\Phi\Bigl(-\frac{\varepsilon}{\mu} - \frac{\mu}{2}\Bigr). $$
#
# The RDP accountant gives an upper bound above it; the PLD accountant (clipsgd's
# default) uses this closed form when $q = 1$.

# %%
T, delta = 100, 1e-5
for z in (2.0, 5.0, 10.0, 20.0):
    mu = np.sqrt(T) / z
    exact = privacy.gaussian_mechanism_epsilon(mu, delta)
    rdp = privacy.epsilon(z, 1.0, T, delta, accountant="rdp")
    pld = privacy.epsilon(z, 1.0, T, delta, accountant="pld")
    print(f"z = {z:5.1f}: mu = {mu:.2f}, exact eps = {exact:.4f}, PLD {pld:.4f}, RDP {rdp:.4f} (+{rdp / exact - 1:.0%})")

# %% [markdown]
# ## 3. Poisson subsampling amplifies privacy
#
# With $q < 1$ an example is absent from most steps, and the adversary does not know
# which: each step is much more private than the Gaussian mechanism itself. There is no
# closed form, so an accountant composes the steps: **RDP** (Rényi DP: fast, a looser
# upper bound) or **PLD** (privacy-loss distributions: near exact, slower). Below,
# $\varepsilon$ after $T$ steps at $q = 0.01$, $\delta = 10^{-5}$: RDP as curves, PLD at
# a few points, and full batches ($q = 1$) for comparison.

# %%
steps = np.unique(np.geomspace(10, 20_000, 18).astype(int))
fig, ax = plt.subplots(figsize=(7, 4))
t0 = time.perf_counter()
for z, col in ((0.8, "tab:red"), (1.1, "tab:orange"), (2.0, "tab:green")):
    eps_rdp = [privacy.epsilon(z, 0.01, int(t), 1e-5, accountant="rdp") for t in steps]
    ax.plot(steps, eps_rdp, color=col, lw=2, label=f"z = {z}, q = 0.01 (RDP)")
    t_pld = 5000
    ax.plot(t_pld, privacy.epsilon(z, 0.01, t_pld, 1e-5), "o", color=col, mec="k",
            label=f"z = {z}, PLD at T = {t_pld}")
ax.plot(steps, [privacy.gaussian_mechanism_epsilon(np.sqrt(t) / 1.1, 1e-5) for t in steps], "k--",
        label="z = 1.1, q = 1 (exact)")
ax.set(xscale="log", yscale="log", xlabel="steps T", ylabel=r"$\varepsilon$ at $\delta = 10^{-5}$",
       title="Privacy spent against steps", ylim=(0.05, 300))
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
savefig(fig, "epsilon_vs_steps")
plt.show()
print(f"(accounting took {time.perf_counter() - t0:.1f} s)")

# %% [markdown]
# Full batches (dashed) spend privacy fast: $\mu = \sqrt T / z$ grows without help.
# Subsampling at $q = 0.01$ costs one to two orders of magnitude less. For few steps the
# RDP curves are flat: there $\varepsilon$ is dominated by the conversion from Rényi DP,
# $\log(1/\delta)/(\alpha - 1)$, not by the composed privacy loss, whose growth is
# roughly $q\sqrt{T}$ afterwards. The PLD points sit below the RDP curves: both are upper
# bounds on the true $\varepsilon$, and PLD is the tighter one.
#
# PLD discretises the privacy-loss distribution on a grid whose width grows with the
# privacy loss: for a tiny noise multiplier it needs gigabytes (at $z = 10^{-3}$ it would
# ask for tens of GiB). So clipsgd first computes the cheap RDP bound; when that exceeds
# `privacy.RDP_SCREEN` (= 50, far beyond any meaningful budget) it returns the RDP
# number, says so in a `RuntimeWarning`, and reports the accountant it really used.
# `rdp_screen=None` forces PLD whatever it costs.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    eps_tiny = privacy.epsilon(0.05, 0.01, 1000, 1e-5)  # PLD asked for, RDP screen answers
print(f"z = 0.05: epsilon = {eps_tiny:.4g}, RDP bound "
      f"{privacy.epsilon(0.05, 0.01, 1000, 1e-5, accountant='rdp'):.4g}")
print("warning:", caught[0].message if caught else "none")

# %% [markdown]
# ## 4. Calibration: the noise for a target $\varepsilon$
#
# In practice one fixes the budget $(\varepsilon, \delta)$, the sampling rate and the
# number of steps, and asks for the smallest noise multiplier that meets it.
# `calibrate_noise_multiplier` never overshoots: the returned $z$ is checked by the
# accountant to give $\varepsilon \le$ target.

# %%
targets = [0.5, 1.0, 2.0, 4.0, 8.0]
q, T = 0.01, 2000
z_rdp = [privacy.calibrate_noise_multiplier(e, 1e-5, q, T, accountant="rdp") for e in targets]
z_pld_1 = privacy.calibrate_noise_multiplier(1.0, 1e-5, q, T)
for e, zz in zip(targets, z_rdp):
    print(f"target eps = {e:3}: z = {zz:.3f} (RDP)")
print(f"target eps = 1.0: z = {z_pld_1:.3f} (PLD) -- less noise for the same guarantee")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(targets, z_rdp, "o-", label="RDP calibration")
ax.plot([1.0], [z_pld_1], "s", color="tab:red", label="PLD calibration")
ax.set(xscale="log", xlabel=r"target $\varepsilon$ ($\delta = 10^{-5}$)", ylabel="noise multiplier z",
       title=f"q = {q}, T = {T}")
ax.legend(fontsize=8)
savefig(fig, "calibration")
plt.show()

# %% [markdown]
# ## 5. Other sampling schemes, and what the numbers do not promise
#
# The accountants analyse **Poisson** sampling. Many implementations instead shuffle the
# data and read fixed-size batches, or draw with replacement. clipsgd never reports the
# Poisson number for those: it reports an honest (looser) bound and says why.

# %%
for sampling in ("poisson", "shuffle", "replacement"):
    kw = dict(sample_rate=0.01) if sampling == "poisson" else dict(sample_rate=None, batch_size=100, n=10_000)
    rep = privacy.privacy_report(1.1, steps=1000, delta=1e-5, sampling=sampling, accountant="rdp", **kw)
    print(f"--- {sampling}: epsilon = {rep.epsilon:.3g}")
    for w in rep.warnings:
        print("   warning:", w[:160] + ("..." if len(w) > 160 else ""))
print("note:", privacy.SCOPE_STATEMENT)

# %% [markdown]
# The last line matters: the guarantees describe the *idealised* mechanism with
# real-valued Gaussian noise. clipsgd's sampler is fine for research and teaching but is
# not hardened against floating-point attacks on the noise.
#
# ### Two edge cases: no noise, and empty batches
#
# * **z = 0** is not "a little privacy": without noise the update is a deterministic
#   function of the batch, so any record that is ever sampled can be revealed. For every
#   $\varepsilon$, $\delta(\varepsilon)$ is the probability that the record is sampled at
#   least once, $1 - (1 - q)^T$; at any $\delta$ below that, $\varepsilon = \infty$.
#   clipsgd returns `inf`, without an error.
# * **An empty Poisson batch** (no example sampled) still adds the noise
#   $N(0, (zc)^2 I)$ to the (zero) sum and still divides by the *expected* batch size $qn$;
#   the step counts for the accountant like any other. Skipping the noise, or dividing by
#   the realised batch size, would change the mechanism the accountant analyses.

# %%
q0, T0 = 0.01, 100
print("z = 0: epsilon =", privacy.epsilon(0.0, q0, T0, 1e-5, accountant="rdp"))
print(f"z = 0: delta at epsilon = 1 is {privacy.delta_for(0.0, q0, T0, 1.0, accountant='rdp'):.4f}"
      f" = 1 - (1 - q)^T = {1 - (1 - q0) ** T0:.4f}")
tiny = clipsgd.run(clipsgd.problems.quadratic(np.zeros((1, 1))),
                   DPSGD(lr=1e-9, c=1.0, noise_multiplier=1.0, sample_rate=1e-9), steps=5, runs=2000,
                   seed=0, record_every=1, record_loss=False)
print(f"q = 1e-9 on n = 1: mean batch size {tiny.mean_batch.mean():.0f}, yet the final iterates have "
      f"std {tiny.x.std():.3f} (expected sqrt(T) z c = {np.sqrt(5):.3f}); steps accounted: {tiny.privacy.steps}")

# %% [markdown]
# ## 6. Privacy against accuracy on real data
#
# Logistic regression on scikit-learn's breast-cancer data ($n = 427$ training
# examples). For each budget we calibrate $z$ (RDP), run DP-SGD (20 runs at once), and
# report the test accuracy. Every private run carries its own privacy report.

# %%
data = datasets.load("breast_cancer")
prob = datasets.make_problem(data)
q, T = 64 / data.n, 300
budgets = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
acc_mean, acc_std = [], []
for eps in budgets:
    zz = privacy.calibrate_noise_multiplier(eps, 1e-5, q, T, accountant="rdp")
    res = clipsgd.run(prob, DPSGD(lr=0.5, c=1.0, noise_multiplier=zz, sample_rate=q), steps=T, runs=20,
                      seed=0, delta=1e-5, record_loss=False)
    accs = [datasets.accuracy(x, data.X_test, data.y_test, data.n_classes) for x in res.x]
    acc_mean.append(np.mean(accs))
    acc_std.append(np.std(accs))
    print(f"eps <= {eps:4}: z = {zz:.2f}, reported eps = {res.privacy.epsilon:.3f} "
          f"({res.privacy.accountant.value}), test accuracy {acc_mean[-1]:.3f} +- {acc_std[-1]:.3f}")
res_np = clipsgd.run(prob, clipsgd.ClippedSGD(lr=0.5, c=1.0, sampling="poisson", sample_rate=q), steps=T,
                     runs=20, seed=0, record_loss=False)
acc_np = np.mean([datasets.accuracy(x, data.X_test, data.y_test, data.n_classes) for x in res_np.x])

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.errorbar(budgets, acc_mean, yerr=acc_std, fmt="o-", capsize=3, label="DP-SGD (c = 1)")
ax.axhline(acc_np, color="k", ls="--", label="clipped SGD without noise")
ax.set(xscale="log", xlabel=r"$\varepsilon$ ($\delta = 10^{-5}$)", ylabel="test accuracy",
       title="breast cancer, logistic regression")
ax.legend(fontsize=8)
savefig(fig, "accuracy_vs_epsilon")
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 6.1.** The noise on the averaged update.

# %%
ex = exercises.get("06.noise_std", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 6.2.** The exact $\varepsilon$ of full-batch DP gradient descent (section 2).

# %%
ex = exercises.get("06.gaussian_epsilon", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 6.3.** $\varepsilon$ of DP-SGD with Poisson subsampling (RDP accountant).

# %%
ex = exercises.get("06.subsampled_epsilon", seed=SEED)
answer = None  # your answer here
ex.check(answer)

# %% [markdown]
# **Exercise 6.4.** Calibrate the noise multiplier of a full-batch run to a target
# $(\varepsilon, \delta)$.

# %%
ex = exercises.get("06.calibrate", seed=SEED)
answer = None  # your answer here
ex.check(answer)
