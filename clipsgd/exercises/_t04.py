r"""Exercises of tutorial 04: symmetry statistics of per-example gradients.

All on a 1-D sample of per-example gradients :math:`g_i`, with noise
:math:`\xi_i = g_i - \bar g` and :math:`p` uniform on the :math:`\xi_i`:

* :math:`W_1(p, p^-)`, exact in 1-D by the sorted matching
  :math:`\frac1n\sum_i |s_{(i)} + s_{(n+1-i)}|`;
* the skewness :math:`m_3 / m_2^{3/2}` (population convention);
* the clipping bias of Theorem 2 against the symmetrisation
  :math:`\tilde p = \frac12(p + p^-)`:
  :math:`b = \frac12\bigl(\mathbb E_p\, g\operatorname{clip}(g - \xi, c) - \mathbb E_p\, g\operatorname{clip}(g + \xi, c)\bigr)`.

The reference answers use :mod:`clipsgd.diagnostics` (arXiv:2006.15429, Theorem 2).
"""

from __future__ import annotations

import math

import numpy as np

from .. import diagnostics as dg
from ._core import NUMBER, Exercise, Mistake, fmt, fmt_vec, Precision, register


def _gen_sample(rng, lo=-8, hi=10):
    n = int(rng.integers(5, 9))
    g = rng.integers(lo, hi + 1, size=n).astype(float)
    if np.ptp(g) == 0:
        return None
    return g


def _xi(g):
    return g - g.mean()


def _w1_sorted(a, b):
    return float(np.mean(np.abs(np.sort(a) - np.sort(b))))


# ------------------------------------------------------------------ W1 to the reflection
def _gen_w1(rng):
    g = _gen_sample(rng)
    if g is None or _w1_sorted(_xi(g), -_xi(g)) < 0.3:
        return None
    return {"g": g}


def _q_w1(p):
    return (
        f"Per-example gradients (1-D) at some point: g = {fmt_vec(p['g'])}. Let p be the empirical "
        "distribution of the\ngradient noise xi_i = g_i - mean(g). Compute W1(p, p^-), the Wasserstein-1 "
        "distance between p and its reflection\n(the distribution of -xi).\nAnswer: one number."
    )


def _solve_w1(p):
    xi = _xi(p["g"])
    return dg.w1_to_reflection(xi[:, None]).value


def _mistakes_w1(p):
    g = p["g"]
    xi = _xi(g)
    w = _w1_sorted(xi, -xi)
    return [
        Mistake(_w1_sorted(g, -g), "you reflected the gradients themselves; centre them first "
                                   "(xi_i = g_i - mean g): symmetry is about the mean."),
        Mistake(w / 2, "that is W1(p, p~) to the symmetrisation p~ = (p + p^-)/2, which is exactly half "
                       "of W1(p, p^-)."),
        Mistake(float(np.mean(np.abs(xi))), "that is E|xi|, the normaliser of the disparity, not the distance."),
        Mistake(w / float(np.mean(np.abs(xi))), "that is the normalised disparity W1(p, p^-)/E|xi|; the "
                                                "question asks for W1 itself."),
    ]


register(Exercise(
    id="04.w1_reflection",
    title="Wasserstein distance to the reflection",
    kind=NUMBER,
    generate=_gen_w1, question=_q_w1, solve=_solve_w1, mistakes=_mistakes_w1,
    hint=lambda p, ans: ("not right yet. In 1-D the optimal transport matches sorted samples: sort xi and "
                         "-xi and average |difference|."),
    precision=Precision.sig(4),
))


# ---------------------------------------------------------------------------- skewness
def _gen_sk(rng):
    g = _gen_sample(rng)
    if g is None or len(g) < 5:
        return None
    s = float(dg.skewness(_xi(g)[:, None], [[1.0]])[0])
    if abs(s) < 0.2:
        return None
    return {"g": g}


def _q_sk(p):
    return (
        f"Per-example gradients (1-D): g = {fmt_vec(p['g'])}. Compute the skewness of the gradient noise "
        "xi_i = g_i - mean(g),\ngamma = m3 / m2^(3/2) with the population moments m_k = (1/n) sum_i xi_i^k.\n"
        "Answer: one number."
    )


def _solve_sk(p):
    return float(dg.skewness(_xi(p["g"])[:, None], [[1.0]])[0])


def _mistakes_sk(p):
    xi = _xi(p["g"])
    n = len(xi)
    m2, m3 = np.mean(xi**2), np.mean(xi**3)
    g1 = m3 / m2**1.5
    s = math.sqrt(np.sum(xi**2) / (n - 1))
    return [
        Mistake(m3, "that is the third moment m3; standardise it by m2^(3/2) (skewness is scale-free)."),
        Mistake(m3 / s**3, "you standardised with the sample variance (n - 1); the question uses the population "
                           "moments (1/n)."),
        Mistake(g1 * math.sqrt(n * (n - 1)) / (n - 2), "that is the bias-corrected sample skewness G1; the question "
                                                      "asks for m3 / m2^(3/2)."),
        Mistake(-g1, "check the sign: a long tail to the right gives positive skewness."),
    ]


register(Exercise(
    id="04.skewness",
    title="Skewness of the gradient noise",
    kind=NUMBER,
    generate=_gen_sk, question=_q_sk, solve=_solve_sk, mistakes=_mistakes_sk,
    hint=lambda p, ans: "not right yet. Centre the sample, then m2 = mean(xi^2), m3 = mean(xi^3).",
    precision=Precision.sig(4),
))


# ------------------------------------------------------------------------ clipping bias
def _bias_terms(g, c):
    gm = g.mean()
    xi = _xi(g)
    plus = float(np.mean(gm * np.clip(gm + xi, -c, c)))
    minus = float(np.mean(gm * np.clip(gm - xi, -c, c)))
    return gm, plus, minus


def _gen_bias(rng):
    g = _gen_sample(rng, -6, 9)
    if g is None:
        return None
    c = float(rng.choice((0.5, 1.0, 2.0, 3.0)))
    gm, plus, minus = _bias_terms(g, c)
    b = 0.5 * (minus - plus)
    if abs(gm) < 0.3 or abs(abs(gm) - 1.0) < 0.2 or abs(b) < 0.05:  # |g| = 1 would hide a mistake
        return None
    return {"g": g, "c": c}


def _q_bias(p):
    return (
        f"Per-example gradients (1-D): g_i = {fmt_vec(p['g'])}, clip threshold c = {fmt(p['c'])}. With the "
        "full gradient g = mean(g_i),\nnoise xi_i = g_i - g, p uniform on the xi_i and p~ = (p + p^-)/2 its "
        "symmetrisation, compute the clipping bias\n"
        "b = E_{xi ~ p~} <g, clip(g + xi, c)> - E_{xi ~ p} <g, clip(g + xi, c)>   (Theorem 2).\n"
        "Answer: one number."
    )


def _solve_bias(p):
    return dg.clipping_bias(p["g"][:, None], p["c"], truncated=False).bias


def _mistakes_bias(p):
    g, c = p["g"], p["c"]
    gm, plus, minus = _bias_terms(g, c)
    b = 0.5 * (minus - plus)
    xi = _xi(g)
    w1_sym = 0.5 * _w1_sorted(xi, -xi)
    return [
        Mistake(-b, "check the sign: b is (symmetric reference) minus (actual)."),
        Mistake(2 * b, "that compares with the reflection p^- instead of the symmetrisation p~ = (p + p^-)/2 "
                       "(twice the bias)."),
        Mistake(b / gm, "the bias is an inner product with g: multiply the difference of clipped means by g."),
        Mistake(abs(gm) * w1_sym, "that is the Theorem-2 bound ||g|| W1(p, p~), not the bias itself."),
    ]


register(Exercise(
    id="04.clipping_bias",
    title="The clipping bias of Theorem 2",
    kind=NUMBER,
    generate=_gen_bias, question=_q_bias, solve=_solve_bias, mistakes=_mistakes_bias,
    hint=lambda p, ans: ("not right yet. Under p~ each xi_i and -xi_i has mass 1/(2n); average g * clip(g + xi, c) "
                         "under p~ and under p, subtract."),
    precision=Precision.sig(4),
))
