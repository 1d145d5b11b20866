r"""Exercises of tutorial 06: privacy accounting.

DP-SGD adds :math:`N(0, z^2c^2 I)` to the **sum** of clipped gradients and divides by the
expected batch size :math:`B = qn`, so the noise on the averaged update has std
:math:`zc/B`. With full batches (:math:`q = 1`) :math:`T` steps are one Gaussian mechanism
with :math:`\mu = \sqrt T / z` (Dong, Roth, Su 2019, arXiv:1905.02383), whose exact
:math:`\varepsilon(\delta)` is a closed form (Balle & Wang 2018, arXiv:1805.06530).
With Poisson subsampling the accountants of :mod:`clipsgd.privacy` count it.
"""

from __future__ import annotations

import math

from scipy.optimize import brentq

from .. import privacy
from ._core import NUMBER, Exercise, Mistake, fmt, Precision, register


# ---------------------------------------------------------------------- noise std
def _gen_std(rng):
    n = int(rng.choice((1000, 5000, 10000, 60000)))
    q = float(rng.choice((0.001, 0.004, 0.01, 0.02)))
    if q * n < 4:
        return None
    return {"z": float(rng.choice((0.5, 0.8, 1.1, 1.5, 2.0, 3.0))),
            "c": float(rng.choice((0.1, 0.5, 2.0, 4.0))),
            "n": n, "q": q, "d": int(rng.choice((10, 100, 1000)))}


def _q_std(p):
    return (
        f"DP-SGD with noise multiplier z = {fmt(p['z'])}, clip threshold c = {fmt(p['c'])}, Poisson "
        f"sampling rate q = {fmt(p['q'])} on n = {p['n']} examples, model dimension d = {p['d']}.\n"
        "The update is x <- x - lr * (sum of clipped gradients + Gaussian noise) / (expected batch size).\n"
        "What is the standard deviation of the noise, per coordinate, on the *averaged* update?\n"
        "Answer: one number."
    )


def _solve_std(p):
    return p["z"] * p["c"] / (p["q"] * p["n"])


def _mistakes_std(p):
    z, c, B, d = p["z"], p["c"], p["q"] * p["n"], p["d"]
    return [
        Mistake(z * c, "that is the noise std on the *sum* of clipped gradients; the update divides "
                       "the sum by the expected batch size."),
        Mistake(z / B, "the noise scale is proportional to the clip threshold c (the sensitivity of the sum)."),
        Mistake(z * c / math.sqrt(B), "the noise is added once to the sum, not per example: divide by B, "
                                      "not sqrt(B)."),
        Mistake(z * c * math.sqrt(d) / B, "that is (roughly) the norm of the noise vector; the question asks "
                                          "for the std of one coordinate."),
        Mistake(z * c / p["n"], "divide by the expected batch size q n, not by n."),
    ]


register(Exercise(
    id="06.noise_std",
    title="The noise on the averaged update",
    kind=NUMBER,
    generate=_gen_std, question=_q_std, solve=_solve_std, mistakes=_mistakes_std,
    hint=lambda p, ans: "not right yet. The noise N(0, (z c)^2) goes on the sum; the sum is divided by B = q n.",
    precision=Precision.sig(4),
))


# -------------------------------------------------------- full batch: exact epsilon
def _gen_gauss(rng):
    T = int(rng.choice((4, 10, 25, 50, 100)))
    mu = float(rng.uniform(0.3, 2.5))
    z = round(math.sqrt(T) / mu, 1)
    if z < 0.5:
        return None
    return {"z": z, "T": T, "delta": float(rng.choice((1e-5, 1e-6)))}


def _q_gauss(p):
    return (
        f"Full-batch DP gradient descent (every example in every step, q = 1) with noise multiplier "
        f"z = {fmt(p['z'])} runs T = {p['T']} steps.\nWhat is its exact epsilon at delta = {p['delta']:g} "
        "(add/remove-one neighbours)?\nAnswer: one number."
    )


def _gauss_eps(mu, delta):
    return privacy.gaussian_mechanism_epsilon(mu, delta)


def _solve_gauss(p):
    return _gauss_eps(math.sqrt(p["T"]) / p["z"], p["delta"])


def _mistakes_gauss(p):
    z, T, d = p["z"], p["T"], p["delta"]
    return [
        Mistake(_gauss_eps(1.0 / z, d), "that is the epsilon of a single step; T steps compose."),
        Mistake(_gauss_eps(T / z, d), "Gaussian mechanisms compose like mu = sqrt(T)/z, not T/z (the "
                                      "privacy losses add up like variances)."),
        Mistake(T * _gauss_eps(1.0 / z, d), "that is basic composition (T times one step's epsilon), a "
                                            "valid but very loose bound; the question asks for the exact value."),
        Mistake(privacy.epsilon(z, 1.0, T, d, accountant="rdp"),
                "that is the RDP accountant's bound, which overestimates epsilon; the exact value for "
                "full batches is smaller (PLD accountant, or the closed form of the Gaussian mechanism)."),
    ]


register(Exercise(
    id="06.gaussian_epsilon",
    title="Exact epsilon of full-batch DP gradient descent",
    kind=NUMBER,
    generate=_gen_gauss, question=_q_gauss, solve=_solve_gauss, mistakes=_mistakes_gauss,
    hint=lambda p, ans: ("not right yet. T Gaussian steps with multiplier z are one Gaussian mechanism with "
                         "mu = sqrt(T)/z; find epsilon with delta(epsilon) = delta."),
    precision=Precision.sig(3, note="accountants differ in the 4th digit"),
))


# -------------------------------------------------- Poisson subsampling (RDP accountant)
def _gen_sub(rng):
    p = {"z": float(rng.choice((0.8, 1.0, 1.2, 1.5, 2.0))),
         "q": float(rng.choice((0.001, 0.005, 0.01, 0.02))),
         "T": int(rng.choice((500, 1000, 2000, 5000))),
         "delta": 1e-5}
    eps = _solve_sub(p)
    if not 0.2 < eps < 20:
        return None
    return p


def _q_sub(p):
    return (
        f"DP-SGD with Poisson sampling rate q = {fmt(p['q'])}, noise multiplier z = {fmt(p['z'])}, "
        f"T = {p['T']} steps.\nWhat epsilon does the RDP accountant give at delta = {p['delta']:g} "
        "(clipsgd.privacy, accountant='rdp', add/remove-one)?\nAnswer: one number."
    )


def _solve_sub(p):
    return privacy.epsilon(p["z"], p["q"], p["T"], p["delta"], accountant="rdp")


def _mistakes_sub(p):
    z, q, T, d = p["z"], p["q"], p["T"], p["delta"]
    return [
        Mistake(privacy.epsilon(z, 1.0, T, d, accountant="rdp"),
                "that ignores the subsampling (q = 1): each example is used in a step only with "
                "probability q, which amplifies privacy."),
        Mistake(privacy.epsilon(z, q, 1, d, accountant="rdp"), "that is the epsilon of one step; count all T steps."),
        Mistake(privacy.epsilon(z, q, max(1, int(round(T * q))), d, accountant="rdp"),
                "that counts T q steps (epochs?); the accountant counts every step (noisy release)."),
    ]


def _hint_sub(p, ans):
    ref = _solve_sub(p)
    if 0.6 * ref < ans < ref:
        return ("smaller than the RDP bound: if you used the PLD accountant (clipsgd's default), that is "
                "the tighter number, but the question asks for accountant='rdp'.")
    return "not right yet. Check q, z, T and delta against the question."


register(Exercise(
    id="06.subsampled_epsilon",
    title="Epsilon of DP-SGD with Poisson subsampling",
    kind=NUMBER,
    generate=_gen_sub, question=_q_sub, solve=_solve_sub, mistakes=_mistakes_sub, hint=_hint_sub,
    precision=Precision.sig(3, note="RDP accountants differ in the 4th digit"),
))


# ------------------------------------------------------------ calibration, full batch
def _mu_for(eps, delta):
    """mu of the Gaussian mechanism with delta(eps) = delta (delta increases with mu)."""
    f = lambda mu: privacy.gaussian_mechanism_delta(mu, eps) - delta  # noqa: E731
    hi = 1.0
    while f(hi) < 0:
        hi *= 2.0
    return brentq(f, 1e-9, hi, xtol=1e-13, rtol=1e-13)


def _gen_cal(rng):
    return {"epsilon": float(rng.choice((0.5, 1.0, 2.0, 4.0, 8.0))),
            "T": int(rng.choice((10, 50, 100, 500, 1000))),
            "delta": float(rng.choice((1e-5, 1e-6)))}


def _q_cal(p):
    return (
        f"Full-batch DP gradient descent (q = 1) will run T = {p['T']} steps. Which noise multiplier z "
        f"makes it exactly\n({fmt(p['epsilon'])}, {p['delta']:g})-DP (add/remove-one)? "
        "Answer: one number."
    )


def _solve_cal(p):
    return math.sqrt(p["T"]) / _mu_for(p["epsilon"], p["delta"])


def _mistakes_cal(p):
    eps, T, d = p["epsilon"], p["T"], p["delta"]
    mu = _mu_for(eps, d)
    out = [
        Mistake(1.0 / mu, "that z makes one step (eps, delta)-DP; the run has T steps."),
        Mistake(T / mu, "Gaussian mechanisms compose like mu = sqrt(T)/z, so z = sqrt(T)/mu, not T/mu."),
    ]
    z_rdp = privacy.calibrate_noise_multiplier(eps, d, 1.0, T, accountant="rdp", rtol=1e-4)
    if z_rdp > 1.06 * _solve_cal(p):
        out.append(Mistake(z_rdp, "that is the RDP accountant's calibration: valid, but it adds more noise "
                                  "than needed; the exact (PLD / closed-form) z is smaller."))
    return out


register(Exercise(
    id="06.calibrate",
    title="Calibrate the noise multiplier",
    kind=NUMBER,
    generate=_gen_cal, question=_q_cal, solve=_solve_cal, mistakes=_mistakes_cal,
    hint=lambda p, ans: ("too much noise: a smaller z already reaches the target." if ans > _solve_cal(p)
                         else "too little noise: this z does not reach the target epsilon."),
    precision=Precision.rel(0.01),
))
