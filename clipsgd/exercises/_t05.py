r"""Exercises of tutorial 05: the perturbation fix and its price.

1-D quadratics :math:`f_i = (x - a_i)^2/2`, noise :math:`\xi_i = x^* - a_i`; perturbed
clipping stalls at the zero :math:`x_k` of
:math:`h_k(x) = \frac1n\sum_i \mathbb E\operatorname{clip}(x - a_i + kZ, c)`, with
:math:`x_k - x^* = \mathbb E[\xi^3]/(6k^2) + O(k^{-4})`; the speed near :math:`x^*` is
:math:`h_k'(x^*) = \frac1n\sum_i P(|\xi_i + kZ| < c)` (arXiv:2006.15429, Section 5;
``theory/perturbation.py``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from .. import problems
from ..exact import stationary_points
from ._core import NUMBER, Exercise, Mistake, direction_hint, fmt, fmt_vec, Precision, register


def _atoms(rng):
    n = int(rng.integers(3, 6))
    a = rng.integers(-8, 9, size=n).astype(float)
    if np.ptp(a) < 4:
        return None
    xi = a.mean() - a
    if abs(np.mean(xi**3)) < 1.0:  # nearly symmetric: nothing to fix
        return None
    return a


def _unique(s):
    return float(s.points[0]) if len(s.points) == 1 and not s.intervals else None


# ------------------------------------------------------------ the perturbed stall point
def _gen_pk(rng):
    a = _atoms(rng)
    if a is None:
        return None
    c = float(rng.choice((0.5, 1.0, 2.0)))
    k = float(rng.choice((1.0, 2.0, 3.0, 4.0)))
    if _unique(stationary_points(problems.quadratic(a), c)) is None:
        return None
    return {"a": a, "c": c, "k": k}


def _q_pk(p):
    return (
        f"Perturbed clipped SGD on f_i(x) = (x - a_i)^2 / 2 with a = {fmt_vec(p['a'])}, c = {fmt(p['c'])}: each "
        f"step clips g_i + k Z with k = {fmt(p['k'])}, Z ~ N(0, 1).\nWhere does it stall, i.e. where does "
        "h_k(x) = (1/n) sum_i E clip(x - a_i + k Z, c) vanish?\nAnswer: one number."
    )


def _solve_pk(p):
    return _unique(stationary_points(problems.quadratic(p["a"]), p["c"], p["k"]))


def _mistakes_pk(p):
    a, c, k = p["a"], p["c"], p["k"]
    xs = a.mean()
    shift = np.mean((xs - a) ** 3) / (6 * k * k)
    out = [
        Mistake(_unique(stationary_points(problems.quadratic(a), c)), "that is the stall point without the "
                "perturbation (k = 0); the perturbation moves it towards x*."),
        Mistake(xs, "that is x*: the perturbation shrinks the bias but does not remove it for finite k."),
        Mistake(xs + shift, "that is the large-k approximation x* + E[xi^3]/(6 k^2); at this k it is not "
                            "accurate enough: solve h_k(x) = 0 exactly."),
        Mistake(xs - shift, "that is x* - E[xi^3]/(6 k^2) with the sign of xi flipped (xi_i = x* - a_i), and "
                            "only an approximation anyway: solve h_k(x) = 0 exactly."),
    ]
    return out


def _hint_pk(p, ans):
    from ..exact import expected_clipped_gradient

    return direction_hint(float(expected_clipped_gradient(problems.quadratic(p["a"]), [ans], p["c"], p["k"])[0]),
                          name="h_k")


register(Exercise(
    id="05.perturbed_stationary",
    title="Where perturbed clipped SGD stalls",
    kind=NUMBER,
    generate=_gen_pk, question=_q_pk, solve=_solve_pk, mistakes=_mistakes_pk, hint=_hint_pk,
    precision=Precision.dec(3),
))


# ---------------------------------------------------------------------- the 1/k^2 law
def _gen_law(rng):
    a = _atoms(rng)
    return None if a is None else {"a": a}


def _q_law(p):
    return (
        f"For f_i(x) = (x - a_i)^2 / 2 with a = {fmt_vec(p['a'])}, perturbed clipping stalls at "
        "x_k = x* + C / k^2 + O(1/k^4) for large k.\nCompute the constant C (it does not depend on c).\n"
        "Answer: one number."
    )


def _solve_law(p):
    xi = p["a"].mean() - p["a"]
    return float(np.mean(xi**3) / 6.0)


def _mistakes_law(p):
    a = p["a"]
    xi = a.mean() - a
    m3 = float(np.mean(xi**3))
    return [
        Mistake(-m3 / 6, "check the sign: the noise is xi_i = g_i - grad f = x* - a_i, not a_i - x*."),
        Mistake(m3, "that is E[xi^3]; the constant is E[xi^3] / 6."),
        Mistake(m3 / 2, "the constant is E[xi^3] / 6 (the Taylor coefficient H'''(0)/6 over H'(0))."),
        Mistake(float(np.mean(xi**3) / np.mean(xi**2) ** 1.5 / 6), "that uses the standardised skewness; the "
                                                                    "law has the raw third moment E[xi^3]."),
        Mistake(float(np.mean(a**3) / 6), "centre first: xi_i = x* - a_i, not -a_i."),
    ]


register(Exercise(
    id="05.cubic_law",
    title="The 1/k^2 law of the perturbation",
    kind=NUMBER,
    generate=_gen_law, question=_q_law, solve=_solve_law, mistakes=_mistakes_law,
    hint=lambda p, ans: ("not right yet. Expand H_k(m) = E clip(m + kZ, c) to third order in m, average over "
                         "the xi_i and solve h_k(x* + delta) = 0 to leading order."),
    precision=Precision.sig(4),
))


# ----------------------------------------------------------------- the price: the slope
def _p_inside(m, c, k):
    return ndtr((c - m) / k) - ndtr((-c - m) / k)


def _gen_slope(rng):
    a = _atoms(rng)
    if a is None:
        return None
    c = float(rng.choice((0.5, 1.0, 2.0)))
    k = float(rng.choice((1.0, 2.0, 4.0, 8.0)))
    return {"a": a, "c": c, "k": k}


def _q_slope(p):
    return (
        f"For f_i(x) = (x - a_i)^2 / 2 with a = {fmt_vec(p['a'])}, c = {fmt(p['c'])} and perturbation k = "
        f"{fmt(p['k'])}, compute the slope h_k'(x*) of\nh_k(x) = (1/n) sum_i E clip(x - a_i + k Z, c) at the "
        "optimum x*: the contraction rate of the expected dynamics near x*\n(x - x* shrinks by about "
        "1 - lr h_k'(x*) per step).\nAnswer: one number."
    )


def _solve_slope(p):
    xi = p["a"].mean() - p["a"]
    return float(np.mean(_p_inside(xi, p["c"], p["k"])))


def _mistakes_slope(p):
    a, c, k = p["a"], p["c"], p["k"]
    xi = a.mean() - a
    out = [
        Mistake(1.0, "that is the slope without clipping (f'' = 1); clipping flattens h_k where a gradient "
                     "is likely to be clipped."),
        Mistake(float(2 * ndtr(c / k) - 1), "that is P(|kZ| < c), the slope at a point where every gradient "
                                            "is 0; at x* the gradients are xi_i = x* - a_i."),
        Mistake(float(np.mean(np.abs(xi) < c)), "that is the slope without perturbation (k = 0): the fraction "
                                                "of unclipped gradients."),
        Mistake(2 * c / (k * math.sqrt(2 * math.pi)), "that is the large-k bound 2c/(k sqrt(2 pi)); the exact "
                                                      "slope averages P(|xi_i + kZ| < c)."),
    ]
    return out


register(Exercise(
    id="05.slope_at_optimum",
    title="The price of the perturbation: the slope at the optimum",
    kind=NUMBER,
    generate=_gen_slope, question=_q_slope, solve=_solve_slope, mistakes=_mistakes_slope,
    hint=lambda p, ans: ("not right yet. d/dm E clip(m + kZ, c) = P(|m + kZ| < c); average it over the "
                         "per-example gradients at x*."),
    precision=Precision.sig(4),
))
