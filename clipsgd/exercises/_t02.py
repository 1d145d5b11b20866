r"""Exercises of tutorial 02: the geometry of symmetric noise (Lemmas 1-2).

Lemma 1 (arXiv:2006.15429): :math:`\langle g, \operatorname{clip}(g+\xi, c) +
\operatorname{clip}(g-\xi, c)\rangle \ge 0`. Lemma 2: for symmetric :math:`p` and
:math:`a \in (0, 1)`,
:math:`\mathbb E\langle g, \operatorname{clip}(g+\xi, c)\rangle \ge P(\lVert\xi\rVert < ac)
\min(\lVert g\rVert^2, (1-a)c\lVert g\rVert)`.
"""

from __future__ import annotations

import numpy as np

from ..clip import clip_numpy
from ._core import NUMBER, Exercise, Mistake, fmt, fmt_vec, Precision, register


def _clip(v, c):
    return clip_numpy(np.asarray(v, dtype=float).reshape(1, -1), c)[0][0]


def _ip(g, v, c):
    """<g, clip(v, c)>."""
    return float(g @ _clip(v, c))


def _vec(rng, lo, hi):
    return rng.integers(lo, hi + 1, size=2) / 10.0


def _away_from(norms, c, margin=0.05):
    return all(abs(nv - c) > margin * c for nv in norms)


# -------------------------------------------------------------------------- the pair sum
def _gen_pair(rng):
    c = float(rng.choice((0.5, 1.0, 1.5, 2.0)))
    g, xi = _vec(rng, -15, 15), _vec(rng, -40, 40)
    norms = [np.linalg.norm(g + xi), np.linalg.norm(g - xi)]
    if np.linalg.norm(g) < 0.2 or max(norms) <= c or not _away_from(norms, c):
        return None
    return {"g": g, "xi": xi, "c": c}


def _q_pair(p):
    return (
        f"Lemma 1's pairing argument. With g = {fmt_vec(p['g'])}, xi = {fmt_vec(p['xi'])} and c = "
        f"{fmt(p['c'])},\ncompute <g, clip(g + xi, c) + clip(g - xi, c)>.\nAnswer: one number."
    )


def _solve_pair(p):
    g, xi, c = p["g"], p["xi"], p["c"]
    return _ip(g, g + xi, c) + _ip(g, g - xi, c)


def _mistakes_pair(p):
    g, xi, c = p["g"], p["xi"], p["c"]
    s = _solve_pair(p)
    return [
        Mistake(2 * float(g @ g), "that is the value without clipping (2 ||g||^2): clip g + xi and "
                                  "g - xi separately first."),
        Mistake(_ip(g, g + xi, c), "that is only the first half of the pair; add the mirrored term "
                                   "<g, clip(g - xi, c)>."),
        Mistake(_ip(g, 2 * g, c), "you clipped the sum (g + xi) + (g - xi) = 2g; clip each term, then add."),
        Mistake(s / 2, "that is the average of the pair; the question asks for the sum."),
    ]


def _hint_pair(p, ans):
    if ans < 0:
        return "Lemma 1 says this sum is never negative; recheck the clipped vectors."
    return "not right yet. Compute v = g + xi and w = g - xi, scale each by min(1, c/||.||), add, take the inner product with g."


register(Exercise(
    id="02.pair_sum",
    title="Lemma 1: a symmetric pair never hurts",
    kind=NUMBER,
    generate=_gen_pair, question=_q_pair, solve=_solve_pair, mistakes=_mistakes_pair, hint=_hint_pair,
    precision=Precision.sig(4),
))


# ------------------------------------------------------ symmetric two-pair distributions
def _gen_two_pairs(rng, need_small=False):
    c = float(rng.choice((1.0, 2.0)))
    g = _vec(rng, -15, 15)
    xi1, xi2 = _vec(rng, -40, 40), _vec(rng, -40, 40)
    p1 = float(rng.integers(2, 9)) / 10.0
    vs = [g + xi1, g - xi1, g + xi2, g - xi2]
    norms = [np.linalg.norm(v) for v in vs]
    if np.linalg.norm(g) < 0.2 or max(norms) <= c or not _away_from(norms, c):
        return None
    return {"g": g, "xi1": xi1, "xi2": xi2, "p1": p1, "c": c}


def _progress(g, xi1, xi2, p1, c):
    p2 = 1.0 - p1
    return (p1 / 2 * (_ip(g, g + xi1, c) + _ip(g, g - xi1, c))
            + p2 / 2 * (_ip(g, g + xi2, c) + _ip(g, g - xi2, c)))


def _dist_text(p):
    return (f"the symmetric noise distribution put mass {fmt(p['p1'] / 2)} on each of +xi1 and -xi1 and "
            f"mass {fmt((1 - p['p1']) / 2)} on each of +xi2 and -xi2,\nwith xi1 = {fmt_vec(p['xi1'])}, "
            f"xi2 = {fmt_vec(p['xi2'])}")


def _q_prog(p):
    return (
        f"Let g = {fmt_vec(p['g'])}, c = {fmt(p['c'])}, and let {_dist_text(p)}.\n"
        "Compute the expected progress E <g, clip(g + xi, c)>.\nAnswer: one number."
    )


def _solve_prog(p):
    return _progress(p["g"], p["xi1"], p["xi2"], p["p1"], p["c"])


def _mistakes_prog(p):
    g, xi1, xi2, p1, c = p["g"], p["xi1"], p["xi2"], p["p1"], p["c"]
    return [
        Mistake(float(g @ g), "that is ||g||^2, the progress without clipping: the noise averages out "
                              "only before clipping."),
        Mistake(p1 * _ip(g, g + xi1, c) + (1 - p1) * _ip(g, g + xi2, c),
                "you used only +xi1 and +xi2; the distribution is symmetric, so -xi1 and -xi2 count too."),
        Mistake(_progress(g, xi1, xi2, 0.5, c), "you weighted the four atoms equally; use the given masses."),
        Mistake(_ip(g, g, c), "that is <g, clip(g, c)>: the noise goes inside the clip."),
    ]


register(Exercise(
    id="02.expected_progress",
    title="Expected progress under symmetric noise",
    kind=NUMBER,
    generate=_gen_two_pairs, question=_q_prog, solve=_solve_prog, mistakes=_mistakes_prog,
    hint=lambda p, ans: ("not right yet. Average <g, clip(g + xi, c)> over the four atoms with their masses."
                         + (" (Lemma 1: it cannot be negative.)" if ans < 0 else "")),
    precision=Precision.sig(4),
))


# ------------------------------------------------------------------ the Lemma 2 bound
def _polar(rng, radius):
    t = rng.uniform(0, 2 * np.pi)
    return np.round(radius * np.array([np.cos(t), np.sin(t)]), 2)


def _gen_bound(rng):
    c = float(rng.choice((1.0, 2.0)))
    a = float(rng.choice((0.25, 0.4, 0.5)))
    g = _vec(rng, -20, 20)
    xi1 = _polar(rng, rng.uniform(0.2, 0.8) * a * c)
    xi2 = _polar(rng, rng.uniform(1.2 * a, 0.9) * c)
    n1, n2, ng = np.linalg.norm(xi1), np.linalg.norm(xi2), np.linalg.norm(g)
    # xi1 inside the small ball, xi2 outside it but inside the clip ball; none on a boundary
    if not (n1 < 0.9 * a * c and 1.1 * a * c < n2 < 0.95 * c) or ng < 0.1:
        return None
    if abs(ng - (1 - a) * c) < 0.1 * c or abs(ng - a * c) < 0.1 * c:
        return None
    p1 = float(rng.integers(2, 9)) / 10.0
    return {"g": g, "xi1": xi1, "xi2": xi2, "p1": p1, "c": c, "a": a}


def _q_bound(p):
    return (
        f"Let g = {fmt_vec(p['g'])}, c = {fmt(p['c'])}, and let {_dist_text(p)}.\n"
        f"Evaluate Lemma 2's lower bound P(||xi|| < a c) * min(||g||^2, (1 - a) c ||g||) for a = {fmt(p['a'])}.\n"
        "Answer: one number."
    )


def _bound(p, a=None, prob=None):
    g, c = p["g"], p["c"]
    a = p["a"] if a is None else a
    prob = p["p1"] if prob is None else prob
    ng = float(np.linalg.norm(g))
    return prob * min(ng * ng, (1 - a) * c * ng)


def _mistakes_bound(p):
    g, c, a, p1 = p["g"], p["c"], p["a"], p["p1"]
    ng = float(np.linalg.norm(g))
    out = [
        Mistake(min(ng * ng, (1 - a) * c * ng), "you left out the weight P(||xi|| < a c): only noise "
                                                "inside the small ball is guaranteed to help."),
        Mistake(_bound(p, prob=1.0), "P(||xi|| < c) counts noise that is merely inside the clip ball; the "
                                     "lemma's weight is P(||xi|| < a c)."),
        Mistake(p1 * min(ng * ng, a * c * ng), "the second term of the min is (1 - a) c ||g||, not a c ||g||."),
        Mistake(p1 / 2 * min(ng * ng, (1 - a) * c * ng), "P(||xi|| < a c) counts both +xi1 and -xi1."),
    ]
    if ng * ng > (1 - a) * c * ng:
        out.append(Mistake(p1 * ng * ng, "you dropped the min: here (1 - a) c ||g|| is the smaller term."))
    else:
        out.append(Mistake(p1 * (1 - a) * c * ng, "you dropped the min: here ||g||^2 is the smaller term."))
    return out


register(Exercise(
    id="02.lemma2_bound",
    title="Lemma 2's lower bound",
    kind=NUMBER,
    generate=_gen_bound, question=_q_bound, solve=_bound, mistakes=_mistakes_bound,
    hint=lambda p, ans: "not right yet. Which atoms have ||xi|| < a c? Their total mass is the probability.",
    precision=Precision.sig(4),
))
