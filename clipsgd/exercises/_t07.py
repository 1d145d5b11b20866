r"""Exercises of tutorial 07: bring your own objective (``problems.custom``).

* a log-cosh regression, :math:`f_i(x) = \log\cosh(z_i^\top x - y_i)`, whose per-example
  gradient :math:`\tanh(z_i^\top x - y_i)\, z_i` the student codes as a Numba oracle;
* a weighted 1-D quadratic, :math:`f_i(x) = w_i (x - a_i)^2/2`, run with clipped SGD.
  Its gradients :math:`w_i x - w_i a_i` are those of 1-D least squares with
  :math:`z_i = \sqrt{w_i}`, :math:`y_i = \sqrt{w_i} a_i`, so the stall point is exact
  (:func:`clipsgd.exact.stationary_points`).
"""

from __future__ import annotations

import numpy as np

from .. import problems
from ..clip import clip_numpy
from ..exact import expected_clipped_gradient, stationary_points
from ._core import NUMBER, VECTOR, Exercise, Mistake, direction_hint, fmt, fmt_vec, Precision, register


# -------------------------------------------------------------------- log-cosh regression
def _logcosh_grads(X, y, x):
    return np.tanh(X @ x - y)[:, None] * X


def _gen_lc(rng):
    n, d = 20, 2
    X = np.round(rng.normal(size=(n, d)), 2)
    w = np.round(rng.normal(size=d), 1)
    y = np.round(X @ w + 0.7 * rng.standard_t(2, size=n), 2)
    x0 = rng.integers(-10, 11, size=d) / 10.0
    G = _logcosh_grads(X, y, x0)
    norms = np.linalg.norm(G, axis=1)
    c = float(np.round(np.quantile(norms, 0.6), 2))
    if c < 0.05 or np.mean(norms > c) < 0.2 or np.min(np.abs(norms - c)) < 1e-3:
        return None
    return {"X": X, "y": y, "x0": x0, "c": c}


def _q_lc(p):
    n, d = p["X"].shape
    return (
        f"Log-cosh regression: f_i(x) = log cosh(z_i . x - y_i), where z_i is row i of "
        f"instance.data['X'] ({n} x {d}) and y_i = instance.data['y'][i].\n"
        f"Write its per-example gradient as a numba oracle, build the problem with "
        f"clipsgd.problems.custom, and compute\nthe mean clipped gradient (1/n) sum_i clip(grad f_i(x0), c) "
        f"at x0 = {fmt_vec(p['x0'])} with c = {fmt(p['c'])}.\nAnswer: a vector of length {d}."
    )


def _solve_lc(p):
    G = _logcosh_grads(p["X"], p["y"], p["x0"])
    return clip_numpy(G, p["c"])[0].mean(axis=0)


def _mistakes_lc(p):
    X, y, x0, c = p["X"], p["y"], p["x0"], p["c"]
    G = _logcosh_grads(X, y, x0)
    ref = _solve_lc(p)
    return [
        Mistake(G.mean(axis=0), "that is the unclipped mean gradient: clip every per-example gradient first."),
        Mistake(clip_numpy(G.mean(axis=0)[None, :], c)[0][0], "you clipped the mean gradient; clipping acts on "
                                                             "each per-example gradient before averaging."),
        Mistake(clip_numpy((X @ x0 - y)[:, None] * X, c)[0].mean(axis=0),
                "that is the least-squares gradient (r_i z_i); the derivative of log cosh(r) is tanh(r)."),
        Mistake(-ref, "check the sign: d/dx log cosh(z.x - y) = +tanh(z.x - y) z."),
        Mistake(len(y) * ref, "that is the sum over examples; take the mean (divide by n)."),
    ]


register(Exercise(
    id="07.logcosh_clipped_mean",
    title="A custom oracle: log-cosh regression",
    kind=VECTOR,
    generate=_gen_lc, question=_q_lc, solve=_solve_lc, mistakes=_mistakes_lc,
    hint=lambda p, ans: ("not right yet. Check your oracle against a finite difference of f_i, then "
                         "clip each row of the per-example gradients and average."),
    precision=Precision.sig(4, floor=1e-6),
    length=lambda p: p["X"].shape[1],
))


# ------------------------------------------------------------------ weighted quadratics
def _as_least_squares(a, w):
    z = np.sqrt(w)
    return problems.least_squares(z[:, None], z * a)


def _weighted_stall(a, w, c):
    s = stationary_points(_as_least_squares(a, w), c)
    if len(s.points) == 1 and not s.intervals:
        return float(s.points[0])
    return None


def _h_weighted(a, w, c, x):
    return float(expected_clipped_gradient(_as_least_squares(a, w), [float(x)], c)[0])


def _gen_w(rng):
    n = int(rng.integers(3, 6))
    a = rng.integers(-8, 9, size=n).astype(float)
    w = rng.choice((0.5, 1.0, 2.0, 3.0), size=n)
    c = float(rng.choice((0.5, 1.0)))
    xs = _weighted_stall(a, w, c)
    if xs is None or np.ptp(a) < 4:
        return None
    slope = (_h_weighted(a, w, c, xs + 1e-3) - _h_weighted(a, w, c, xs - 1e-3)) / 2e-3
    if slope < 0.2:  # slow to settle: the simulated mean would not be converged
        return None
    lr, steps = 0.003, 20000
    # time for the mean dynamics x <- x - lr h(x) to travel from 0 to within 0.3 of xs
    if abs(xs) > 0.3:
        path = np.linspace(0.0, xs - 0.3 * np.sign(xs), 200)
        speed = np.abs(expected_clipped_gradient(_as_least_squares(a, w), path, c))
        if speed.min() <= 0 or np.mean(1.0 / speed) * abs(path[-1]) > 0.5 * lr * steps:
            return None
    return {"a": a, "w": w, "c": c, "lr": lr, "steps": steps, "runs": 300}


def _q_w(p):
    return (
        f"Weighted quadratics f_i(x) = w_i (x - a_i)^2 / 2 with a = {fmt_vec(p['a'])} and "
        f"w = {fmt_vec(p['w'])} (arrays in instance.data).\n"
        f"Write the per-example gradient as a numba oracle, build the problem with clipsgd.problems.custom, "
        f"and run\nClippedSGD(lr={fmt(p['lr'])}, c={fmt(p['c'])}) (batch size 1) for {p['steps']} steps, "
        f"{p['runs']} runs, from x0 = 0.\nWhere does clipped SGD stall? Report the mean final iterate over "
        "the runs.\nAnswer: one number."
    )


def _solve_w(p):
    return _weighted_stall(p["a"], p["w"], p["c"])


def _mistakes_w(p):
    a, w, c = p["a"], p["w"], p["c"]
    out = [
        Mistake(float(np.sum(w * a) / np.sum(w)), "that is the optimum of f (the weighted mean of the a_i); "
                                                  "clipped SGD does not get there."),
        Mistake(float(a.mean()), "that is the plain mean of the a_i: you lost the weights, and clipping "
                                 "moves the stall point anyway."),
    ]
    s0 = stationary_points(problems.quadratic(a), c)
    if len(s0.points) == 1 and not s0.intervals:
        out.append(Mistake(float(s0.points[0]), "that is where clipped SGD stalls without the weights "
                                                "(w_i = 1): the oracle must return w_i (x - a_i)."))
    return out


def _hint_w(p, ans):
    return direction_hint(_h_weighted(p["a"], p["w"], p["c"], ans)) + (
        " (If you simulated: did you run all the steps and average over the runs?)")


register(Exercise(
    id="07.weighted_stall",
    title="A custom oracle: where weighted clipped SGD stalls",
    kind=NUMBER,
    generate=_gen_w, question=_q_w, solve=_solve_w, mistakes=_mistakes_w, hint=_hint_w,
    precision=Precision.abs(0.03, note="a simulated mean: 2 decimals, within its Monte Carlo error"),
))
