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
# # Solutions to tutorial 06 (privacy accounting)

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from clipsgd import exercises, privacy

FIGURES = Path(os.environ.get("CLIPSGD_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
SEEDS = [int(os.environ.get("CLIPSGD_STUDENT_SEED", "1234")), 0, 1, 2]


def savefig(fig, name):
    path = FIGURES / f"06_solutions_{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("figure written to", path)


# %% [markdown]
# ## Exercise 6.1: $\sigma = zc/(qn)$
# (The model dimension $d$ is a distractor: the std is per coordinate.)

# %%
for seed in SEEDS:
    ex = exercises.get("06.noise_std", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    assert ex.check(privacy.averaged_noise_std(p["z"], p["c"], p["q"] * p["n"]))

# %% [markdown]
# ## Exercise 6.2: full batches are one Gaussian mechanism with $\mu = \sqrt T/z$
# The PLD accountant at $q = 1$ gives the same number (it uses the closed form).

# %%
for seed in SEEDS:
    ex = exercises.get("06.gaussian_epsilon", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    answer = privacy.gaussian_mechanism_epsilon(np.sqrt(p["T"]) / p["z"], p["delta"])
    assert np.isclose(answer, privacy.epsilon(p["z"], 1.0, p["T"], p["delta"]), rtol=1e-6)
    assert ex.check(answer)

# %% [markdown]
# ## Exercise 6.3: the RDP accountant with Poisson subsampling
# We also show the PLD number (smaller) and the whole $\varepsilon(T)$ curve.

# %%
for seed in SEEDS:
    ex = exercises.get("06.subsampled_epsilon", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    answer = privacy.epsilon(p["z"], p["q"], p["T"], p["delta"], accountant="rdp")
    assert ex.check(answer)
    if seed == SEEDS[0]:
        pld = privacy.epsilon(p["z"], p["q"], p["T"], p["delta"])
        print(f"RDP {answer:.4f}, PLD {pld:.4f}")
        Ts = np.unique(np.geomspace(1, p["T"], 12).astype(int))
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(Ts, [privacy.epsilon(p["z"], p["q"], int(t), p["delta"], accountant="rdp") for t in Ts], "o-",
                label="RDP")
        ax.plot([p["T"]], [pld], "s", label="PLD")
        ax.set(xscale="log", xlabel="steps", ylabel="epsilon", title=f"Exercise 6.3, seed {seed}")
        ax.legend(fontsize=8)
        savefig(fig, "subsampled_epsilon")
        plt.show()

# %% [markdown]
# ## Exercise 6.4: calibration at $q = 1$
# `calibrate_noise_multiplier` with the PLD accountant (exact at $q = 1$) returns $z$
# within 1% above the exact value. By hand: solve $\delta(\varepsilon; \mu) = \delta$
# for $\mu$, then $z = \sqrt T / \mu$.

# %%
from scipy.optimize import brentq  # noqa: E402

for seed in SEEDS:
    ex = exercises.get("06.calibrate", seed=seed, show=(seed == SEEDS[0]))
    p = ex.params
    z_cal = privacy.calibrate_noise_multiplier(p["epsilon"], p["delta"], 1.0, p["T"])
    mu = brentq(lambda m: privacy.gaussian_mechanism_delta(m, p["epsilon"]) - p["delta"], 1e-6, 100.0)
    z_hand = np.sqrt(p["T"]) / mu
    assert z_hand <= z_cal <= 1.01 * z_hand
    assert ex.check(z_cal) and ex.check(z_hand)
print("all solutions of tutorial 06 check out")
