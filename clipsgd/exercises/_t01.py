r"""Exercises of tutorial 01: clipping can stall (Examples 1 and 2, :math:`h(x)`).

For the 1-D finite sum :math:`f_i(x) = (x - a_i)^2/2` the expected clipped-SGD update is
:math:`h(x) = \frac1n\sum_i \operatorname{clip}(x - a_i, c)`; its zeros are where clipped
SGD stalls (Chen, Wu, Hong, arXiv:2006.15429, Examples 1-2).
"""

from __future__ import annotations

import numpy as np

from .. import problems
from ..exact import expected_clipped_gradient, stationary_points
from ._core import INTERVAL, NUMBER, Exercise, Mistake, direction_hint, fmt, fmt_vec, Precision, register

_C_CHOICES = (0.5, 1.0, 1.5, 2.0, 3.0)


def _h(a, x, c):
    return float(expected_clipped_gradient(problems.quadratic(a), [float(x)], c)[0])


# ----------------------------------------------------------------------- h at the optimum
def _gen_h(rng):
    n = int(rng.integers(3, 6))
    a = rng.integers(-9, 10, size=n).astype(float)
    c = float(rng.choice(_C_CHOICES))
    if np.ptp(a) == 0 or abs(_h(a, a.mean(), c)) < 0.05:
        return None
    return {"a": a, "c": c}


def _q_h(p):
    return (
        f"Take f_i(x) = (x - a_i)^2 / 2 with a = {fmt_vec(p['a'])} (n = {len(p['a'])}) and clip "
        f"threshold c = {fmt(p['c'])}.\nCompute h(x*) = (1/n) sum_i clip(x* - a_i, c), the expected "
        "clipped-SGD update direction at the optimum x* of f.\nAnswer: one number."
    )


def _solve_h(p):
    return _h(p["a"], p["a"].mean(), p["c"])


def _mistakes_h(p):
    a, c = p["a"], p["c"]
    h = _solve_h(p)
    out = [
        Mistake(0.0, "that is f'(x*) = 0, the unclipped gradient (or the clip of it). Clip each "
                     "per-example gradient x* - a_i first, then average: the large gradients are "
                     "shrunk more than the small ones, so they no longer cancel."),
        Mistake(len(a) * h, "that is the sum of the clipped gradients; h is their average (divide by n)."),
        Mistake(-h, "check the sign: the gradient of f_i is x - a_i, not a_i - x."),
    ]
    if c != 1.0:
        out.append(Mistake(_h(a, a.mean(), 1.0),
                           f"that is the value for c = 1 (as in the paper's examples); this instance has c = {fmt(c)}."))
    return out


def _hint_h(p, ans):
    c = p["c"]
    if abs(ans) > c:
        return f"h is an average of numbers in [-c, c], so |h| <= c = {fmt(c)}."
    return ("not right yet. Compute x* (the mean of the a_i), the per-example gradients x* - a_i, "
            "clip each to [-c, c], then average.")


register(Exercise(
    id="01.h_at_optimum",
    title="The expected clipped gradient at the optimum",
    kind=NUMBER,
    generate=_gen_h, question=_q_h, solve=_solve_h, mistakes=_mistakes_h, hint=_hint_h,
    precision=Precision.sig(4),
))


# ------------------------------------------------------------------ the stationary point
def _unique_point(a, c):
    s = stationary_points(problems.quadratic(a), c)
    if len(s.points) == 1 and not s.intervals:
        return float(s.points[0])
    return None


def _gen_sp(rng):
    n = int(rng.integers(3, 7))
    a = rng.integers(-10, 11, size=n).astype(float)
    c = float(rng.choice((0.5, 1.0, 2.0)))
    if np.ptp(a) < 3 or _unique_point(a, c) is None:
        return None
    return {"a": a, "c": c}


def _q_sp(p):
    return (
        f"Clipped SGD on f(x) = (1/n) sum_i (x - a_i)^2 / 2 with a = {fmt_vec(p['a'])} and clip "
        f"threshold c = {fmt(p['c'])}.\nWhere does it stall? Give the point x where the expected "
        "clipped gradient h(x) = (1/n) sum_i clip(x - a_i, c) vanishes.\n"
        "Answer: one number."
    )


def _solve_sp(p):
    return _unique_point(p["a"], p["c"])


def _mistakes_sp(p):
    a, c = p["a"], p["c"]
    out = [
        Mistake(a.mean(), "you found a zero of the unclipped gradient, x* (the mean of the a_i); "
                          "clipping changes where the expected update vanishes."),
        Mistake(float(np.median(a)), "that is the median of the a_i, where the *signs* of the "
                                     "gradients balance (the limit c -> 0). With this c the clipped "
                                     "gradients cancel elsewhere."),
    ]
    if c != 1.0:
        x1 = _unique_point(a, 1.0)
        if x1 is not None:
            out.append(Mistake(x1, f"that is the stall point for c = 1 (as in the paper's examples); "
                                   f"this instance has c = {fmt(c)}."))
    return out


def _hint_sp(p, ans):
    return direction_hint(_h(p["a"], ans, p["c"]))


register(Exercise(
    id="01.stationary_point",
    title="Where clipped SGD stalls",
    kind=NUMBER,
    generate=_gen_sp, question=_q_sp, solve=_solve_sp, mistakes=_mistakes_sp, hint=_hint_sp,
    precision=Precision.dec(3),
))


# --------------------------------------------------------------- the stationary interval
def _gen_iv(rng):
    m = float(rng.integers(-5, 6))
    c = float(rng.choice((0.5, 1.0, 2.0)))
    b1 = c + float(rng.choice((0.5, 1.0, 1.5, 2.0, 3.0)))
    if rng.random() < 0.5:
        a = np.array([m - b1, m + b1])
    else:
        b2 = b1 + float(rng.choice((1.0, 2.0, 3.0)))
        a = np.array([m - b2, m - b1, m + b1, m + b2])
    a = a[rng.permutation(len(a))]
    s = stationary_points(problems.quadratic(a), c)
    if s.points or len(s.intervals) != 1:
        return None
    return {"a": a, "c": c}


def _q_iv(p):
    return (
        f"Clipped gradient descent x <- x - lr * h(x) on f(x) = (1/n) sum_i (x - a_i)^2 / 2 with "
        f"a = {fmt_vec(p['a'])} and c = {fmt(p['c'])},\nh(x) = (1/n) sum_i clip(x - a_i, c). Here "
        "h vanishes on a whole interval [lo, hi]: every point of it is a stall point.\n"
        "Answer: the interval as (lo, hi)."
    )


def _solve_iv(p):
    s = stationary_points(problems.quadratic(p["a"]), p["c"])
    return tuple(s.intervals[0])


def _mistakes_iv(p):
    a, c = np.sort(p["a"]), p["c"]
    m = a.mean()
    inner = np.min(np.abs(a - m))
    outer = np.max(np.abs(a - m))
    out = [
        Mistake((m - inner, m + inner), "that is the interval between the atoms a_i; near an atom its "
                                        "own gradient is smaller than c and is no longer clipped, so "
                                        "the clipped gradients stop cancelling before you reach it."),
        Mistake((m - c, m + c), "that interval has half-width c around x*; work out where *every* "
                                "per-example gradient x - a_i has |x - a_i| >= c."),
    ]
    if m != 0:
        out.append(Mistake((-(inner - c), inner - c), "the interval is centred at x*, the mean of the "
                                                       "a_i, not at 0."))
    if outer > inner:
        out.append(Mistake((m - (outer - c), m + (outer - c)), "too wide: the inner atoms stop being "
                                                               "clipped first."))
    return out


def _hint_iv(p, ans):
    a, c = p["a"], p["c"]
    h = lambda x: _h(a, x, c)  # noqa: E731
    if np.ndim(ans) == 0:
        if abs(ans - a.mean()) < 1e-9:
            return ("x* is one stall point, but h vanishes on a whole interval around it: find every x "
                    "at which the clipped per-example gradients cancel.")
        return "give the whole interval on which h vanishes."
    lo, hi = ans
    eps = 1e-2
    msgs = []
    if abs(h(lo)) > 1e-9:
        msgs.append(f"h(lo) = {h(lo):+.3g} != 0: the interval does not reach that far left.")
    elif abs(h(lo - eps)) < 1e-12:
        msgs.append("h is still 0 a little left of your lo: the interval extends further left.")
    if abs(h(hi)) > 1e-9:
        msgs.append(f"h(hi) = {h(hi):+.3g} != 0: the interval does not reach that far right.")
    elif abs(h(hi + eps)) < 1e-12:
        msgs.append("h is still 0 a little right of your hi: the interval extends further right.")
    return " ".join(msgs) or "not right yet."


register(Exercise(
    id="01.stationary_interval",
    title="A whole interval of stall points (Example 2)",
    kind=INTERVAL,
    generate=_gen_iv, question=_q_iv, solve=_solve_iv, mistakes=_mistakes_iv, hint=_hint_iv,
    precision=Precision.dec(3),
))
