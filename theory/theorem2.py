"""Theorem 2 (any gradient noise; the clipping bias).

Setting as Theorem 1, but ``p_t`` (the law of ``xi_t`` given ``x_t``) is arbitrary.
For any *symmetric* ``p~_t`` define the bias

    b_t = E_{p~_t} <g_t, clip(g_t + xi, c)> - E_{p_t} <g_t, clip(g_t + xi, c)>.

Statement. For every ``a`` in (0, 1)

    (1/T) sum_t E[ P_{p~_t}(||xi|| < a c) min(||g_t||^2, (1 - a) c ||g_t||) ]
        <= D_f / (alpha T) + G alpha c^2 / 2 + (1/T) sum_t E[b_t]

(and the sharper left side of Lemma 2' under ``p~_t``). The bias obeys

    |b_t| <= ||g_t|| * W_{2c}(p_t, p~_t) <= ||g_t|| * min( W_1(p_t, p~_t), 2c TV(p_t, p~_t) ),

where ``W_{2c}`` is the Wasserstein distance for the truncated cost ``min(||u - v||, 2c)``
(a metric), ``W_1`` the usual Wasserstein-1 distance and TV the total variation distance.

For the symmetrisation ``p~ = (p + p(-.))/2``:
``b = (1/2) E_p <g, clip(g - xi) - clip(g + xi)>``, ``|b| <= ||g|| E_p min(||xi||, c)``,
``W(p, p~) = W(p, p(-.)) / 2`` for the Euclidean and the truncated cost alike, and
``W_1(p, p(-.)) / 2 <= E_p ||xi||``; ``b = 0`` when p is symmetric.

Proof.
* Rearranging the definition, ``E_p <g, s> = E_{p~} <g, s> - b >= M~ - b`` (Lemma 2 under
  p~); the rest is Theorem 1's telescoping with ``-alpha M_t`` replaced by
  ``-alpha (M~_t - b_t)``.
* For any coupling pi of (xi, xi~) with marginals p, p~:
  ``b = E_pi <g, clip(g + xi~) - clip(g + xi)>`` (only the marginals enter),
  ``|b| <= ||g|| E_pi ||clip(g + xi~) - clip(g + xi)||`` (Cauchy-Schwarz) and
  ``||clip(y~) - clip(y)|| <= min(||xi~ - xi||, 2c)`` (projection.P2). Take inf over pi.
  ``min(d, 2c) <= d`` gives W_1; ``min(d, 2c) <= 2c 1{d > 0}`` gives TV.
* Symmetrisation: ``p - p~ = (p - p(-.))/2`` as signed measures, and by
  Kantorovich-Rubinstein duality ``W(mu, nu) = sup_{Lip f <= 1} int f d(mu - nu)`` (any
  metric cost, e.g. the truncated one) depends on ``mu - nu`` only, so
  ``W(p, p~) = W(p, p(-.))/2``. Coupling p with p(-.) by ``xi -> -xi`` costs ``2 E||xi||``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

try:
    from ._steps import Derivation, P, clip_np, format_steps, worst_over_random_vectors
except ImportError:
    from _steps import Derivation, P, clip_np, format_steps, worst_over_random_vectors

TITLE = "Theorem 2: any noise, bias b_t and |b_t| <= ||g|| W_1(p, p~)"


def _evidence_pointwise(trials=4000):
    """|<g, clip(g - xi) - clip(g + xi)>| <= ||g|| min(2||xi||, 2c) on random g, xi, c."""
    def margin(g, xi, c):
        rhs = np.linalg.norm(g) * min(2 * np.linalg.norm(xi), 2 * c)
        return (rhs - abs(g @ (clip_np(g - xi, c) - clip_np(g + xi, c)))) / (1 + rhs)

    worst = worst_over_random_vectors(margin, trials, seed=20202)
    return worst >= -1e-12, f"{trials} random (g, xi, c), d = 1..5: min (RHS - LHS)/(1 + RHS) = {worst:.3g}"


def check():
    """Run the derivation; return its steps (raises StepFailed on a failed step)."""
    Dv = Derivation(TITLE)
    G, alpha, c, D_f, T = sp.symbols("G alpha c D_f T", positive=True)
    f_t, Ep, Eq, M, b = sp.symbols("f_t E_p E_ptilde M_tilde b", real=True)

    Dv.identity("bias decomposition", "E_p<g,s> = E_p~<g,s> - b  (definition of b)",
                Ep, Eq - (Eq - Ep))
    Dv.nonneg("one step with bias",
              "[f_t - alpha(M~ - b) + G alpha^2 c^2/2] - [f_t - alpha E_p<g,s> + G alpha^2 c^2/2] "
              "= alpha (E_p~<g,s> - M~) >= 0  (Lemma 2 under the symmetric p~)",
              (f_t - alpha * (M - (Eq - Ep)) + G * alpha**2 * c**2 / 2)
              - (f_t - alpha * Ep + G * alpha**2 * c**2 / 2),
              P(alpha, Eq - M), hypotheses=[Eq - M])
    SumM, SumB = sp.symbols("SumM SumB", real=True)
    Dv.identity("sum and divide",
                "alpha(SumM - SumB) <= D_f + T G alpha^2 c^2/2  <=>  SumM/T <= D_f/(alpha T) "
                "+ G alpha c^2/2 + SumB/T  (the two sides differ by the positive factor alpha T)",
                ((D_f + T * G * alpha**2 * c**2 / 2) - alpha * (SumM - SumB)) / (alpha * T),
                D_f / (alpha * T) + G * alpha * c**2 / 2 + SumB / T - SumM / T)

    # only the marginals of a coupling enter
    F = sp.Function("F")  # F(y) = <g, clip(g + y)>
    y = sp.symbols("y1:3", real=True)
    z = sp.symbols("z1:3", real=True)
    pi = sp.Matrix(2, 2, sp.symbols("pi11 pi12 pi21 pi22", nonnegative=True))
    lhs = sum(pi[i, j] * (F(z[j]) - F(y[i])) for i in range(2) for j in range(2))
    rhs = (sum(sum(pi[i, j] for i in range(2)) * F(z[j]) for j in range(2))
           - sum(sum(pi[i, j] for j in range(2)) * F(y[i]) for i in range(2)))
    Dv.identity("coupling: only marginals enter",
                "sum_ij pi_ij (F(z_j) - F(y_i)) = sum_j q_j F(z_j) - sum_i p_i F(y_i) "
                "(q, p the column/row sums of pi), so b = E_pi[F(xi~) - F(xi)]",
                lhs, rhs)
    d = sp.Symbol("d", nonnegative=True)
    Dv.identity("truncated cost <= W_1 cost: rewrite", "min(d, 2c) - d = min(0, 2c - d)",
                sp.Min(d, 2 * c) - d, sp.Min(0, 2 * c - d))
    Dv.decide("truncated cost <= W_1 cost", "min(0, 2c - d) <= 0, i.e. min(d, 2c) <= d",
              sp.Min(0, 2 * c - d).is_nonpositive)
    Dv.identity("truncated cost <= 2c TV cost: d = 0",
                "min(d, 2c) <= 2c 1{d > 0}: for d = 0 both sides are 0",
                sp.Min(sp.S(0), 2 * c), 0)
    Dv.identity("truncated cost <= 2c TV cost: d > 0, rewrite", "min(d, 2c) - 2c = min(d - 2c, 0)",
                sp.Min(d, 2 * c) - 2 * c, sp.Min(d - 2 * c, 0))
    Dv.decide("truncated cost <= 2c TV cost: d > 0", "min(d - 2c, 0) <= 0, i.e. min(d, 2c) <= 2c",
              sp.Min(d - 2 * c, 0).is_nonpositive)

    # symmetrisation: b = (1/2) E_p <g, clip(g - xi) - clip(g + xi)>
    w = sp.symbols("w1:4", nonnegative=True)
    x = sp.symbols("x1:4", real=True)
    Ep_F = sum(w[i] * F(x[i]) for i in range(3))
    Ept_F = sum(w[i] / 2 * (F(x[i]) + F(-x[i])) for i in range(3))
    Dv.identity("bias of the symmetrisation",
                "E_{(p+p(-.))/2} F - E_p F = (1/2) E_p [F(-xi) - F(xi)]",
                Ept_F - Ep_F, sum(w[i] / 2 * (F(-x[i]) - F(x[i])) for i in range(3)))
    # |F(-x) - F(x)| <= ||g|| min(2||x||, 2c)  -> |b| <= ||g|| E min(||xi||, c)
    gn, xn = sp.symbols("gnorm xnorm", nonnegative=True)
    Dv.cited("symmetrisation: pointwise bound",
             "sympy cannot confirm the vector inequality: |F(-xi) - F(xi)| = |<g, clip(g - xi) - "
             "clip(g + xi)>| <= ||g|| min(||2 xi||, 2c) (Cauchy-Schwarz; clip is 1-Lipschitz, "
             "projection.P2, and has norm <= c)", "Cauchy-Schwarz + projection.P2",
             *_evidence_pointwise())
    Dv.identity("symmetrisation: direct bound",
                "(1/2) ||g|| min(||2 xi||, 2c) = ||g|| min(||xi||, c)",
                sp.Rational(1, 2) * gn * sp.Min(2 * xn, 2 * c), gn * sp.Min(xn, c))
    # p - p~ = (p - p(-.))/2 as signed measures (test functions F): KR duality gives W(p,p~) = W(p,p(-.))/2
    Ep_minus_F = sum(w[i] * F(-x[i]) for i in range(3))
    Dv.identity("symmetrisation: p - p~ = (p - p(-.))/2",
                "int F d(p - p~) = (1/2) int F d(p - p(-.)) for every F; with KR duality "
                "W(p, p~) = W(p, p(-.))/2 (any metric cost, truncated included)",
                Ep_F - Ept_F, (Ep_F - Ep_minus_F) / 2)
    Dv.identity("symmetrisation: reflection coupling",
                "the coupling xi -> -xi costs E||xi - (-xi)|| = 2 E||xi||, so W_1(p, p~) = W_1(p, p(-.))/2 <= E||xi||",
                sp.Rational(1, 2) * (2 * xn), xn)
    # a symmetric p: atoms +-x_j with weights w_j/2 each; its reflection p(-.) has the same atoms
    Ep_sym = sum(w[i] / 2 * (F(x[i]) + F(-x[i])) for i in range(3))
    Ep_sym_reflected = sum(w[i] / 2 * (F(-x[i]) + F(x[i])) for i in range(3))
    Dv.identity("symmetric p has no bias",
                "if p = p(-.) (atoms +-x_j, weights w_j/2) then E_{(p+p(-.))/2} F - E_p F = 0, so b = 0",
                (Ep_sym + Ep_sym_reflected) / 2 - Ep_sym, 0)
    return Dv.steps


if __name__ == "__main__":
    print(format_steps(TITLE, check()))
