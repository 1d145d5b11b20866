r"""Exercises of tutorial 03: the right-hand sides of Theorems 1-3.

:math:`R = D_f/(\alpha T) + G\alpha K/2` with :math:`K = c^2` (Theorem 1, clipped SGD)
or :math:`K = c^2 + d\sigma^2`, :math:`\sigma = zc/B` (Theorem 3, DP-SGD with fixed-size
batches), minimised by :math:`\alpha^* = \sqrt{2D_f/(GKT)}`. References:
:mod:`clipsgd.bounds`, arXiv:2006.15429.
"""

from __future__ import annotations

import math

from .. import bounds
from ._core import NUMBER, Exercise, Mistake, fmt, Precision, register


def _common(rng):
    return {"D_f": float(rng.choice((0.5, 1.0, 2.0, 5.0, 10.0))),
            "G": float(rng.choice((0.5, 1.0, 2.0, 4.0))),
            "c": float(rng.choice((0.1, 0.3, 2.0, 3.0))),
            "T": int(rng.choice((100, 1000, 5000, 10000)))}


def _setting(p):
    return (f"f is G-smooth with G = {fmt(p['G'])}, D_f = f(x_1) - inf f = {fmt(p['D_f'])}, clip threshold "
            f"c = {fmt(p['c'])}, T = {p['T']} steps")


# ------------------------------------------------------------------------- Theorem 1
def _gen_t1(rng):
    p = _common(rng)
    p["alpha"] = float(rng.choice((0.001, 0.005, 0.01, 0.05, 0.1)))
    return p


def _q_t1(p):
    return (
        f"Clipped SGD with constant step alpha = {fmt(p['alpha'])}: {_setting(p)}.\nEvaluate the right-hand "
        "side of Theorem 1, D_f/(alpha T) + G alpha c^2 / 2.\nAnswer: one number."
    )


def _solve_t1(p):
    return bounds.theorem1_rhs(p["D_f"], p["G"], p["alpha"], p["c"], p["T"])


def _mistakes_t1(p):
    D, G, a, c, T = p["D_f"], p["G"], p["alpha"], p["c"], p["T"]
    return [
        Mistake(D / (a * T) + G * a * c * c, "the variance term is G alpha c^2 / 2: you forgot the 1/2."),
        Mistake(D / (a * T) + G * a * c / 2, "the variance term has c^2 (the squared norm of a clipped step), not c."),
        Mistake(D / T + G * a * c * c / 2, "the first term is D_f / (alpha T): the step size divides it."),
        Mistake(D / (a * T), "you left out the variance term G alpha c^2 / 2."),
    ]


register(Exercise(
    id="03.theorem1_rhs",
    title="Theorem 1's right-hand side",
    kind=NUMBER,
    generate=_gen_t1, question=_q_t1, solve=_solve_t1, mistakes=_mistakes_t1,
    hint=lambda p, ans: "not right yet. Two terms: D_f/(alpha T) and G alpha c^2 / 2.",
    precision=Precision.sig(4),
))


# ----------------------------------------------------------------- the optimal step size
def _q_step(p):
    return (
        f"Clipped SGD: {_setting(p)}.\nWhich constant step size alpha minimises Theorem 1's right-hand side "
        "D_f/(alpha T) + G alpha c^2 / 2?\nAnswer: one number."
    )


def _solve_step(p):
    return bounds.optimal_step_size(p["D_f"], p["G"], p["T"], p["c"] ** 2)


def _mistakes_step(p):
    D, G, c, T = p["D_f"], p["G"], p["c"], p["T"]
    return [
        Mistake(math.sqrt(D / (G * c * c * T)), "setting the derivative -D_f/(alpha^2 T) + G c^2/2 to zero gives "
                                                "alpha^2 = 2 D_f/(G c^2 T): you lost the factor 2."),
        Mistake(math.sqrt(2 * D / (G * c * T)), "the variance term has c^2, so alpha* has c^2 under the root."),
        Mistake(math.sqrt(2 * D * G * c * c / T), "that is the optimal *value* of the bound, sqrt(2 D_f G c^2 / T); "
                                                  "the question asks for the step size."),
        Mistake(2 * D / (G * c * c * T), "take the square root: alpha*^2 = 2 D_f/(G c^2 T)."),
    ]


register(Exercise(
    id="03.optimal_step",
    title="The step size that minimises the bound",
    kind=NUMBER,
    generate=_common, question=_q_step, solve=_solve_step, mistakes=_mistakes_step,
    hint=lambda p, ans: "not right yet. Differentiate D_f/(alpha T) + G alpha c^2/2 in alpha and set it to 0.",
    precision=Precision.sig(4),
))


# ------------------------------------------------------------------------- Theorem 3
def _gen_t3(rng):
    p = _common(rng)
    p["alpha"] = float(rng.choice((0.001, 0.01, 0.05)))
    p["z"] = float(rng.choice((0.5, 1.0, 2.0, 4.0)))
    p["B"] = int(rng.choice((16, 64, 256)))
    p["d"] = int(rng.choice((10, 100, 1000, 10000)))
    if p["d"] * _sigma(p) ** 2 < 0.1 * p["c"] ** 2:  # the privacy noise would not matter
        return None
    return p


def _q_t3(p):
    return (
        f"DP-SGD with fixed batch size B = {p['B']}, noise multiplier z = {fmt(p['z'])} (noise N(0, (z c)^2 I) on "
        f"the sum of clipped\ngradients, which is then divided by B), dimension d = {p['d']}, constant step "
        f"alpha = {fmt(p['alpha'])}: {_setting(p)}.\nEvaluate Theorem 3's right-hand side "
        "D_f/(alpha T) + G alpha (c^2 + d sigma^2) / 2.\nAnswer: one number."
    )


def _sigma(p):
    return p["z"] * p["c"] / p["B"]


def _solve_t3(p):
    return bounds.theorem3_rhs(p["D_f"], p["G"], p["alpha"], p["c"], p["T"], p["d"], _sigma(p))


def _mistakes_t3(p):
    D, G, a, c, T, d, z, B = p["D_f"], p["G"], p["alpha"], p["c"], p["T"], p["d"], p["z"], p["B"]
    s = _sigma(p)
    rhs = lambda K: D / (a * T) + G * a * K / 2  # noqa: E731
    return [
        Mistake(rhs(c * c + d * (z * c) ** 2), "sigma is the noise std on the *averaged* update, z c / B, not z c."),
        Mistake(rhs(c * c), "that is Theorem 1's bound: DP-SGD adds d sigma^2 to c^2."),
        Mistake(rhs(c * c + s * s), "the noise is d-dimensional: its squared norm is d sigma^2."),
        Mistake(rhs(c * c + d * z * z), "sigma = z c / B: the noise scales with c and is divided by B."),
        Mistake(rhs(c * c + d * s), "the variance term has sigma^2, not sigma."),
    ]


register(Exercise(
    id="03.theorem3_rhs",
    title="Theorem 3's right-hand side (DP-SGD)",
    kind=NUMBER,
    generate=_gen_t3, question=_q_t3, solve=_solve_t3, mistakes=_mistakes_t3,
    hint=lambda p, ans: "not right yet. First sigma = z c / B, then K = c^2 + d sigma^2, then D_f/(alpha T) + G alpha K/2.",
    precision=Precision.sig(4),
))
