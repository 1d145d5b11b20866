"""Lemma 1 (a symmetric pair never hurts).

Statement. For all ``g, xi`` in R^d and ``c > 0``

    phi(xi) := <g, clip(g + xi, c) + clip(g - xi, c)>  >=  0,

and, sharper (firm nonexpansiveness of the projection),

    <g, S>  >=  ||S||^2 / 2,     S := clip(g + xi, c) + clip(g - xi, c).

Hence for a symmetric distribution p (p(xi) = p(-xi)):
``E_p <g, clip(g + xi, c)> = E_p phi(xi) / 2 >= E_p ||S||^2 / 4 >= 0``.

Proof. Only ``g`` and ``xi`` enter, so (projection.py) we may work in the plane they
span. Put ``A = g + xi``, ``B = g - xi``, ``u = ||A||``, ``v = ||B||``, ``G = ||g||^2``,
``w = <g, xi>``. ``phi`` is unchanged by ``xi -> -xi`` (which swaps A and B), so assume
``u >= v``. Two facts drive every case:

  (i)  ``u^2 - v^2 = 4 w``, so ``w = (u^2 - v^2)/4 >= 0``;
  (ii) ``4G - (u - v)^2 = 2(uv + <A, B>) >= 0`` (Cauchy-Schwarz), i.e. ``2||g|| >= u - v``
       -- the reverse triangle inequality for ``2g = A + B``.

Case 1, neither clipped (u <= c): ``phi = <g, A + B> = 2G >= 0``.
Case 2, one clipped (v <= c < u): ``u phi = (c + u) G - (u - c) w
        = (c + u)(G - (u-v)^2/4) + u (u - v)(c - v)/2 >= 0``.
Case 3, both clipped (c < v <= u): ``(uv/c) phi = (u + v) G - (u - v) w
        = (u + v)(G - (u-v)^2/4) >= 0`` -- this is where it reduces to ``2||g|| >= u - v``.
(The case u <= c < v contradicts u >= v.)

Second proof (sharper). clip is odd and firmly nonexpansive (projection.py, P3):
with ``x = g + xi`` and ``y = xi - g`` we have ``x - y = 2g`` and
``clip(x) - clip(y) = S``, so ``2<g, S> = <clip x - clip y, x - y> >= ||S||^2``.
"""

from __future__ import annotations

import sympy as sp

try:
    from ._steps import Derivation, P, S, clip_np, format_steps, worst_over_random_vectors
except ImportError:
    from _steps import Derivation, P, S, clip_np, format_steps, worst_over_random_vectors

TITLE = "Lemma 1: <g, clip(g+xi) + clip(g-xi)> >= 0"

c = sp.Symbol("c", positive=True)
U, V = sp.symbols("u v", positive=True)
G = sp.Symbol("G", nonnegative=True)  # ||g||^2
Wg = sp.Symbol("w", real=True)  # <g, xi>
Wab = sp.Symbol("w_AB", real=True)  # <A, B>
g1, g2, e1, e2 = sp.symbols("g1 g2 xi1 xi2", real=True)


def _dot(a, b):
    return (a.T * b)[0, 0]


def _evidence_firm_pair(trials=4000):
    """2<g, S> >= ||S||^2 for S = clip(g + xi) + clip(g - xi), on random g, xi, c (d = 1..5)."""
    def margin(g, xi, c):
        S_ = clip_np(g + xi, c) + clip_np(g - xi, c)
        return (2 * g @ S_ - S_ @ S_) / (1 + S_ @ S_)

    worst = worst_over_random_vectors(margin, trials, seed=20201)
    return worst >= -1e-12, f"{trials} random (g, xi, c), d = 1..5: min (2<g,S> - ||S||^2)/(1 + ||S||^2) = {worst:.3g}"


def check():
    """Run the derivation; return its steps (raises StepFailed on a failed step)."""
    D = Derivation(TITLE)
    g = sp.Matrix([g1, g2])
    xi = sp.Matrix([e1, e2])
    A, B = g + xi, g - xi
    u, v = sp.sqrt(_dot(A, A)), sp.sqrt(_dot(B, B))
    Gc, wc = _dot(g, g), _dot(g, xi)
    coords = {U: u, V: v, G: Gc, Wg: wc, Wab: _dot(A, B)}

    # (i) and (ii)
    D.identity("(i) polarisation", "u^2 - v^2 = 4 <g, xi>", u**2 - v**2, 4 * wc)
    D.identity("(ii) parallelogram",
               "4||g||^2 = ||A + B||^2 = u^2 + v^2 + 2<A, B>",
               4 * Gc, (U**2 + V**2 + 2 * Wab).subs(coords))
    D.nonneg("(ii) reverse triangle: 2||g|| >= u - v",
             "4G - (u - v)^2 = 2(uv + <A, B>) >= 0 (Cauchy-Schwarz |<A,B>| <= uv, projection.P0)",
             (U**2 + V**2 + 2 * Wab) - (U - V) ** 2, P(2, U * V + Wab),
             hypotheses=[U * V + Wab])

    # pieces <g, A> and <g, B>
    D.identity("<g, A> = G + w", "<g, g + xi> = ||g||^2 + <g, xi>", _dot(g, A), Gc + wc)
    D.identity("<g, B> = G - w", "<g, g - xi> = ||g||^2 - <g, xi>", _dot(g, B), Gc - wc)

    w_of_uv = (U**2 - V**2) / 4  # fact (i)

    # Case 1
    D.identity("case 1: neither clipped", "phi = <g, A + B> = 2G >= 0",
               _dot(g, A + B), 2 * Gc)

    # Case 2: v <= c < u
    phi2 = (c / U) * (G + Wg) + (G - Wg)
    D.identity("case 2: phi in coordinates",
               "phi = <g, cA/u + B> = (c/u)(G + w) + (G - w)",
               _dot(g, c * A / u + B), phi2.subs(coords))
    D.nonneg("case 2: one clipped",
             "u phi = (c+u)(G - (u-v)^2/4) + u(u-v)(c-v)/2 >= 0  (w = (u^2-v^2)/4, v <= c, u >= v)",
             phi2.subs(Wg, w_of_uv),
             S(P(c + U, G - (U - V) ** 2 / 4), P(sp.Rational(1, 2), U, U - V, c - V)),
             hypotheses=[G - (U - V) ** 2 / 4, U - V, c - V], multiplier=U)

    # Case 3: c < v <= u
    phi3 = (c / U) * (G + Wg) + (c / V) * (G - Wg)
    D.identity("case 3: phi in coordinates",
               "phi = <g, cA/u + cB/v> = (c/u)(G + w) + (c/v)(G - w)",
               _dot(g, c * A / u + c * B / v), phi3.subs(coords))
    D.nonneg("case 3: both clipped (reduces to 2||g|| >= u - v)",
             "(uv/c) phi = (u + v)(G - (u-v)^2/4) >= 0",
             phi3.subs(Wg, w_of_uv), P(U + V, G - (U - V) ** 2 / 4),
             hypotheses=[G - (U - V) ** 2 / 4], positive=[U * V / c], multiplier=U * V / c)

    # Unified: the one-line form behind all cases, <A+B, sA + tB> >= (su - tv)(u - v)
    s_, t_ = sp.symbols("s t", positive=True)  # clip factors min(1, c/u), min(1, c/v)
    D.nonneg("all cases at once",
             "<A+B, sA+tB> - (su - tv)(u - v) = (s + t)(uv + <A,B>) >= 0; and su = min(u,c), "
             "tv = min(v,c) are ordered like u, v, so (su - tv)(u - v) >= 0",
             s_ * U**2 + t_ * V**2 + (s_ + t_) * Wab - (s_ * U - t_ * V) * (U - V),
             P(s_ + t_, U * V + Wab), hypotheses=[U * V + Wab])
    D.identity("all cases at once: <A+B, sA+tB> in coordinates",
               "<A + B, sA + tB> = s u^2 + t v^2 + (s + t) <A, B>",
               _dot(A + B, s_ * A + t_ * B),
               (s_ * U**2 + t_ * V**2 + (s_ + t_) * Wab).subs(coords))

    # Sharper form via firm nonexpansiveness
    y = xi - g
    D.identity("sharper: x - y = 2g", "with x = g + xi, y = xi - g: ||x - y - 2g||^2 = 0",
               _dot(A - y - 2 * g, A - y - 2 * g), 0)
    D.identity("sharper: y = -B", "with x = g + xi, y = -(g - xi) = -B: y + B = 0",
               _dot(y + B, y + B), 0)
    D.cited("sharper: clip(x) - clip(y) = S",
            "sympy cannot apply the projection facts here: clip(y) = -clip(B) (oddness, "
            "projection.P1), so clip(x) - clip(y) = S, and firm nonexpansiveness "
            "(projection.P3) gives 2<g, S> = <x - y, clip(x) - clip(y)> >= ||S||^2",
            "projection.P1 and projection.P3 (checked in theory/projection.py)",
            *_evidence_firm_pair())

    # Symmetric distributions: pairing
    F = sp.Function("F")
    pj = sp.symbols("p1:4", nonnegative=True)
    xj = sp.symbols("x1:4", real=True)
    lhs = sum(pj[i] / 2 * F(xj[i]) + pj[i] / 2 * F(-xj[i]) for i in range(3))
    rhs = sum(pj[i] / 2 * (F(xj[i]) + F(-xj[i])) for i in range(3))
    D.identity("symmetric p: pairing",
               "for p = sum_j p_j (delta_{x_j} + delta_{-x_j})/2:  E F(xi) = E[(F(xi) + F(-xi))/2]; "
               "with F = <g, clip(g + .)> this is E phi/2 >= 0",
               lhs, rhs)
    return D.steps


if __name__ == "__main__":
    print(format_steps(TITLE, check()))
