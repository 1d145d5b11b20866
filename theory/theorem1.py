"""Theorem 1 (clipped SGD under symmetric gradient noise).

Setting. ``f`` is G-smooth (``||grad f(x) - grad f(y)|| <= G ||x - y||``) and bounded
below; ``D_f = f(x_1) - inf f``. Clipped SGD with constant step ``alpha``:
``x_{t+1} = x_t - alpha clip(g_t + xi_t, c)``, ``g_t = grad f(x_t)``, where given
``x_t`` the noise ``xi_t ~ p_t`` is symmetric. No Lipschitz (bounded gradient)
assumption on f.

Statement (the constants of the paper's Theorem 1, Chen, Wu, Hong 2020, arXiv 2006.15429,
confirmed). For every ``a`` in (0, 1),

    (1/T) sum_{t=1}^T E[ P_t(||xi_t|| < a c) min(||g_t||^2, (1 - a) c ||g_t||) ]
        <= D_f / (alpha T) + G alpha c^2 / 2,

in particular (a = 1/4) with weight ``P(||xi_t|| < c/4)`` and ``min(||g||^2, 3c||g||/4)``.
Sharper (Lemma 2', pointwise): the left side may be replaced by
``(1/T) sum_t E[ min(||g_t||^2, (c - ||xi_t||)_+ ||g_t||) ]``, which dominates it for
every a.

Optimal constant step. The right side ``R(alpha) = D/(alpha T) + G alpha c^2/2`` is
minimised by ``alpha* = sqrt(2 D / (G c^2 T))`` with value ``R* = c sqrt(2 D G / T)``.

Proof (algebra checked below; the two cited facts are the tower property of
conditional expectation and ``f(x_{T+1}) >= inf f``).
1. Descent lemma: ``f(y) - f(x) - <grad f(x), y - x> = int_0^1 <grad f(x + s h) - grad f(x), h> ds
   <= int_0^1 G s ||h||^2 ds = G ||h||^2 / 2`` with ``h = y - x``.
2. With ``h = -alpha s_t``, ``||s_t|| <= c`` (clip output norm):
   ``f(x_{t+1}) <= f(x_t) - alpha <g_t, s_t> + G alpha^2 c^2 / 2``.
3. Conditional expectation and Lemma 2: ``E_t <g_t, s_t> >= M_t``.
4. Telescoping over t = 1..T and ``f(x_{T+1}) >= inf f``; divide by ``alpha T``.
"""

from __future__ import annotations

import sympy as sp

try:
    from ._steps import Derivation, P, format_steps
except ImportError:
    from _steps import Derivation, P, format_steps

TITLE = "Theorem 1: clipped SGD, symmetric noise, G-smooth f"

G, alpha, c, D_f, T = sp.symbols("G alpha c D_f T", positive=True)
s_norm, h, sv = sp.symbols("s_norm h s", nonnegative=True)
a = sp.Symbol("a", positive=True)


def descent_rhs(D, G_, alpha_, K, T_):
    """``D/(alpha T) + G alpha K / 2`` (K = c^2 for clipped SGD)."""
    return D / (alpha_ * T_) + G_ * alpha_ * K / 2


def check():
    """Run the derivation; return its steps (raises StepFailed on a failed step)."""
    Dv = Derivation(TITLE)

    # 1. descent lemma: the remainder integral
    Dv.identity("descent lemma: remainder", "int_0^1 G s h^2 ds = G h^2 / 2",
                sp.integrate(G * sv * h**2, (sv, 0, 1)), G * h**2 / 2)
    # 2. clipped step has norm <= c
    f_t, inner = sp.symbols("f_t inner", real=True)
    upper_exact = f_t - alpha * inner + G * alpha**2 * s_norm**2 / 2
    upper = f_t - alpha * inner + G * alpha**2 * c**2 / 2
    Dv.nonneg("clipped step: ||s|| <= c",
              "f_t - alpha<g,s> + G alpha^2 c^2/2 - (f_t - alpha<g,s> + G alpha^2 ||s||^2/2) "
              "= (G alpha^2/2)(c - ||s||)(c + ||s||) >= 0",
              upper - upper_exact, P(sp.Rational(1, 2), G, alpha**2, c - s_norm, c + s_norm),
              hypotheses=[c - s_norm])
    # 3. Lemma 2 with a = 1/4 gives the constant 3/4
    Dv.identity("Lemma 2 at a = 1/4", "(1 - a) c = 3c/4 at a = 1/4", ((1 - a) * c).subs(a, sp.Rational(1, 4)),
                sp.Rational(3, 4) * c)
    # one-step inequality: E f_{t+1} <= f_t - alpha M_t + G alpha^2 c^2/2  (M_t <= E_t<g,s>)
    M, Einner = sp.symbols("M_t E_inner", real=True)
    Dv.nonneg("one step with Lemma 2",
              "[f_t - alpha M_t + G alpha^2 c^2/2] - [f_t - alpha E_t<g,s> + G alpha^2 c^2/2] "
              "= alpha (E_t<g,s> - M_t) >= 0",
              (f_t - alpha * M + G * alpha**2 * c**2 / 2) - (f_t - alpha * Einner + G * alpha**2 * c**2 / 2),
              P(alpha, Einner - M), hypotheses=[Einner - M])

    # 4. telescoping, by induction on T
    Fs = sp.IndexedBase("F")
    t, TT = sp.symbols("t T_", integer=True, positive=True)
    Dv.identity("telescoping: base case", "sum_{t=1}^{1} (F_t - F_{t+1}) = F_1 - F_2",
                sp.Sum(Fs[t] - Fs[t + 1], (t, 1, 1)).doit(), Fs[1] - Fs[2])
    Dv.identity("telescoping: induction step",
                "(F_1 - F_{T+1}) + (F_{T+1} - F_{T+2}) = F_1 - F_{T+2}",
                (Fs[1] - Fs[TT + 1]) + (Fs[TT + 1] - Fs[TT + 2]), Fs[1] - Fs[TT + 2])
    # sum of the one-step bounds: alpha sum M_t <= F_1 - F_{T+1} + T G alpha^2 c^2 / 2 <= D_f + ...
    SumM, F1, FT1, finf = sp.symbols("SumM F_1 F_Tp1 f_inf", real=True)
    Dv.nonneg("telescoped bound",
              "(D_f + T G alpha^2 c^2/2) - (F_1 - F_{T+1} + T G alpha^2 c^2/2) = F_{T+1} - inf f >= 0 "
              "(D_f = F_1 - inf f)",
              ((F1 - finf) + T * G * alpha**2 * c**2 / 2) - (F1 - FT1 + T * G * alpha**2 * c**2 / 2),
              FT1 - finf, hypotheses=[FT1 - finf])
    Dv.identity("divide by alpha T",
                "(D_f + T G alpha^2 c^2/2)/(alpha T) = D_f/(alpha T) + G alpha c^2/2",
                (D_f + T * G * alpha**2 * c**2 / 2) / (alpha * T), descent_rhs(D_f, G, alpha, c**2, T))

    # optimal constant step size
    R = descent_rhs(D_f, G, alpha, c**2, T)
    a_star = sp.sqrt(2 * D_f / (G * c**2 * T))
    R_star = c * sp.sqrt(2 * D_f * G / T)
    Dv.identity("optimal step: stationarity", "dR/dalpha = 0 at alpha* = sqrt(2D/(G c^2 T))",
                sp.diff(R, alpha).subs(alpha, a_star), 0)
    Dv.decide("optimal step: convexity", "d^2R/dalpha^2 = 2D/(alpha^3 T) > 0",
              sp.diff(R, alpha, 2).is_positive)
    Dv.identity("optimal value", "R(alpha*) = c sqrt(2 D G / T)", R.subs(alpha, a_star), R_star)
    Dv.nonneg("optimal value is a lower bound (AM-GM)",
              "R(alpha) - c sqrt(2DG/T) = (sqrt(D/(alpha T)) - sqrt(G alpha c^2/2))^2 >= 0",
              R - R_star, (sp.sqrt(D_f / (alpha * T)) - sp.sqrt(G * alpha * c**2 / 2)) ** 2)
    return Dv.steps


if __name__ == "__main__":
    print(format_steps(TITLE, check()))
