"""Perturbed clipping in one dimension: closed form, bias ~ 1/k^2, and the trade-off.

Perturbed clipping replaces ``clip(g_i, c)`` by ``clip(g_i + k zeta, c)``,
``zeta ~ N(0, 1)``. Its conditional mean is ``H_k(g_i)`` with

    H_k(m) := E clip(m + k Z, c)
            = m [Phi(al) - Phi(be)] + c [Phi(-al) - Phi(be)] + k [phi(be) - phi(al)],
    al = (c - m)/k,  be = (-c - m)/k,

(Phi, phi the standard normal cdf and pdf). Facts proved below:

* H_k is odd; ``H_k'(m) = Phi(al) - Phi(be) = P(|m + k Z| < c)`` in (0, L_k] with
  ``L_k := 2c / (k sqrt(2 pi))`` (the density of m + kZ is at most 1/(k sqrt(2 pi)));
  ``H_k(m) -> +-c`` as ``m -> +-oo``; ``H_k -> clip(., c)`` as ``k -> 0+``;
  ``k H_k(m) -> 2 c m / sqrt(2 pi)`` as ``k -> oo``.
* Series in t = 1/k (an entire function of t, so a convergent series):
  ``H_k(m) = L_k [ m - (m^3 + c^2 m)/(6 k^2) + (m^5 + 10 c^2 m^3/3 + c^4 m)/(40 k^4) + O(k^-6) ]``.
  Only odd powers of m: the even-order part of the clipping bias vanishes.

1-D finite sum ``f_i(x) = (x - a_i)^2 / 2``: ``g_i = x - a_i``, ``x* = mean(a)``, and the
gradient noise ``xi_i = g_i - mean_j g_j = x* - a_i`` does not depend on x. Write
``mu_j = mean_i xi_i^j`` (mu_1 = 0). The expected perturbed clipped gradient is
``h_k(x) = mean_i H_k(x - a_i)``; it is strictly increasing (0 < h_k' <= L_k), from -c to
c, so it has a unique zero ``x_k``, the point where perturbed clipped SGD stalls in
expectation. Then (Theorem P):

(a) bias:  ``x_k - x* = mu_3 / (6 k^2) + d_2 / k^4 + O(k^-6)``,
    ``d_2 = mu_3 (3 mu_2 + c^2) / 36 - (mu_5 + 10 c^2 mu_3 / 3) / 40``;
    relative bias at x*: ``h_k(x*) / h_k'(x*) = -mu_3/(6 k^2) + O(k^-4)``.
    Sign: with xi the *gradient noise* (g_i minus the full gradient) the stationary point
    moves in the direction of E[xi^3] (the paper's sign is right with this convention;
    in terms of the data, x_k - x* = -E[(a - x*)^3]/(6 k^2)).
    Example 1 (a = (-3, -3, 9), c = 1): xi = (4, 4, -8), mu_3 = -128, shift = -64/(3 k^2).
(b) speed: ``0 < h_k'(x) <= L_k = 2c/(k sqrt(2 pi))`` for all x and k > 0 (exact), and
    ``h_k'(x_k) = L_k (1 - (3 mu_2 + c^2)/(6 k^2) + O(k^-4))``.
    The mean dynamics ``x <- x - alpha h_k(x)`` with ``alpha L_k <= 1`` therefore satisfy
    ``|x_t - x_k| >= (1 - alpha L_k)^t |x_0 - x_k|``: reaching ``|x_t - x_k| <= e`` from
    distance R takes ``t >= log(R/e) (1 - alpha L_k)/(alpha L_k)`` steps.
(c) trade-off: ``(x_k - x*) / L_k^2 -> pi mu_3 / (12 c^2)`` as k -> oo, i.e. the bias is
    ``pi |mu_3| / (12 c^2)`` times the square of the best possible contraction rate, and
    ``1/(alpha L_k) = (1/(alpha c)) sqrt(pi |mu_3| / (12 |x_k - x*|)) (1 + O(k^-2))``:
    halving the bias costs a factor sqrt(2) more steps.
Sympy cannot confirm that the zero x_k *has* the expansion (a) (implicit function
theorem for the analytic normalised drift, whose delta-derivative at (0, 0) is 1); the
module records numerical evidence on Example 1 instead.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy.optimize import brentq
from scipy.special import ndtr

try:
    from ._steps import Derivation, format_steps
except ImportError:
    from _steps import Derivation, format_steps

TITLE = "Perturbation (1-D): H_k(m) = E clip(m + kZ, c), bias ~ mu_3/(6k^2), speed ~ 2c/(k sqrt(2 pi))"

EXAMPLE1 = np.array([-3.0, -3.0, 9.0])
_SQRT2PI = math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- NumPy side
def _npdf(x):
    return np.exp(-0.5 * np.square(x)) / _SQRT2PI


def expected_perturbed_clip(m, k, c):
    """``H_k(m) = E clip(m + k Z, c)`` for Z ~ N(0, 1) (1-D closed form).

    ``H_k(m) = m [Phi(al) - Phi(be)] + c [Phi(-al) - Phi(be)] + k [phi(be) - phi(al)]``
    with ``al = (c - m)/k``, ``be = (-c - m)/k``; ``k = 0`` gives ``clip(m, c)``.

    >>> round(float(expected_perturbed_clip(0.0, 1.0, 1.0)), 12)
    0.0
    >>> float(expected_perturbed_clip(2.0, 0.0, 1.0))
    1.0
    """
    m = np.asarray(m, dtype=float)
    if k == 0:
        return np.clip(m, -c, c)
    al = (c - m) / k
    be = (-c - m) / k
    H = m * (ndtr(al) - ndtr(be)) + c * (ndtr(-al) - ndtr(be)) + k * (_npdf(be) - _npdf(al))
    # |H| < c exactly; far out in the tails rounding can exceed c by an ulp
    return np.clip(H, -c, c)


def expected_perturbed_clip_derivative(m, k, c):
    """``H_k'(m) = P(|m + k Z| < c) = Phi((c - m)/k) - Phi((-c - m)/k)``."""
    m = np.asarray(m, dtype=float)
    return ndtr((c - m) / k) - ndtr((-c - m) / k)


def speed_bound(k, c):
    """``L_k = 2c / (k sqrt(2 pi))``: the largest possible slope of the perturbed drift."""
    return 2.0 * c / (k * _SQRT2PI)


def perturbed_drift(x, a, k, c):
    """``h_k(x) = mean_i H_k(x - a_i)`` for ``f_i = (x - a_i)^2/2``."""
    a = np.asarray(a, dtype=float)
    return float(np.mean(expected_perturbed_clip(x - a, k, c)))


def perturbed_stationary_point(a, k, c, xtol=1e-14):
    """The unique zero of ``h_k`` (k > 0) for the finite sum ``(x - a_i)^2/2`` (brentq).

    ``h_k`` is increasing with ``h_k(min a) <= 0 <= h_k(max a)``, which brackets the zero.
    """
    a = np.asarray(a, dtype=float)
    lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        return lo
    return brentq(perturbed_drift, lo, hi, args=(a, k, c), xtol=xtol, rtol=4 * np.finfo(float).eps)


def noise_moments(a):
    """Moments ``mu_j = mean_i xi_i^j`` of the gradient noise ``xi_i = mean(a) - a_i``."""
    a = np.asarray(a, dtype=float)
    xi = a.mean() - a
    return {j: float(np.mean(xi**j)) for j in range(2, 6)}


def shift_first_order(a, k):
    """``E[xi^3] / (6 k^2)`` with ``xi_i = mean(a) - a_i`` (gradient noise)."""
    return noise_moments(a)[3] / (6.0 * k**2)


def shift_second_order(a, k, c):
    """``mu_3/(6k^2) + d_2/k^4`` with ``d_2 = mu_3(3 mu_2 + c^2)/36 - (mu_5 + 10 c^2 mu_3/3)/40``."""
    mu = noise_moments(a)
    d2 = mu[3] * (3 * mu[2] + c**2) / 36.0 - (mu[5] + 10.0 * c**2 * mu[3] / 3.0) / 40.0
    return mu[3] / (6.0 * k**2) + d2 / k**4


# --------------------------------------------------------------------------- sympy side
m = sp.Symbol("m", real=True)
k, c, t = sp.symbols("k c t", positive=True)


def Phi(x):
    return (1 + sp.erf(x / sp.sqrt(2))) / 2


def phi(x):
    return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)


def H_closed_form(m_=m, k_=k, c_=c):
    """Sympy expression of ``H_k(m)``."""
    al = (c_ - m_) / k_
    be = (-c_ - m_) / k_
    return m_ * (Phi(al) - Phi(be)) + c_ * (Phi(-al) - Phi(be)) + k_ * (phi(be) - phi(al))


def H_series(m_=m, t_=t, c_=c):
    """``H_{1/t}(m)`` to ``O(t^7)``: ``L (m - (m^3 + c^2 m) t^2/6 + (m^5 + 10c^2m^3/3 + c^4 m) t^4/40)``."""
    L = 2 * c_ * t_ / sp.sqrt(2 * sp.pi)
    return L * (m_ - (m_**3 + c_**2 * m_) * t_**2 / 6
                + (m_**5 + sp.Rational(10, 3) * c_**2 * m_**3 + c_**4 * m_) * t_**4 / 40)


def check():
    """Run the derivation; return its steps (raises StepFailed on a failed step)."""
    Dv = Derivation(TITLE)
    z = sp.Symbol("z", real=True)
    A, B = sp.symbols("A B", real=True)
    H = H_closed_form()
    al, be = (c - m) / k, (-c - m) / k

    # ---- closed form
    Dv.identity("closed form: middle piece",
                "int_B^A (m + k z) phi(z) dz = m (Phi(A) - Phi(B)) + k (phi(B) - phi(A))",
                sp.integrate((m + k * z) * phi(z), (z, B, A)), m * (Phi(A) - Phi(B)) + k * (phi(B) - phi(A)))
    Dv.identity("closed form: tails",
                "c P(Z > al) - c P(Z < be) = c (Phi(-al) - Phi(be))",
                c * sp.integrate(phi(z), (z, A, sp.oo)) - c * sp.integrate(phi(z), (z, -sp.oo, B)),
                c * (Phi(-A) - Phi(B)))
    Dv.identity("closed form: assembled",
                "H_k(m) = [c P(Z>al) - c P(Z<be)] + int_be^al (m + kz) phi(z) dz  (clip(m+kz) = m+kz iff be < z < al)",
                (c * (Phi(-A) - Phi(B)) + m * (Phi(A) - Phi(B)) + k * (phi(B) - phi(A))).subs({A: al, B: be}), H)

    # ---- oddness, derivative, bounds on the derivative
    Dv.identity("H_k is odd", "H_k(-m) = -H_k(m)", H.subs(m, -m) + H, 0)
    Dv.identity("derivative", "dH_k/dm = Phi(al) - Phi(be) = P(|m + kZ| < c)",
                sp.diff(H, m), Phi(al) - Phi(be))
    y = sp.Symbol("y", real=True)
    Dv.identity("derivative as an integral",
                "Phi(al) - Phi(be) = (1/(k sqrt(2 pi))) int_{-c}^{c} exp(-(y - m)^2/(2k^2)) dy",
                sp.integrate(sp.exp(-(y - m) ** 2 / (2 * k**2)), (y, -c, c)) / (k * sp.sqrt(2 * sp.pi)),
                Phi(al) - Phi(be))
    Dv.decide("density bound", "phi(z) <= phi(0): -z^2/2 <= 0 for real z (exp increasing)",
              (-(z**2) / 2).is_nonpositive)
    Dv.identity("speed bound L_k", "(al - be) phi(0) = 2c/(k sqrt(2 pi)) =: L_k, so 0 < H_k' <= L_k",
                (al - be) * phi(0), 2 * c / (k * sp.sqrt(2 * sp.pi)))

    # ---- limits
    Dv.limit("limit m -> +oo", "H_k(m) -> c", H, m, sp.oo, c)
    Dv.limit("limit m -> -oo", "H_k(m) -> -c", H, m, -sp.oo, -c)
    s_, r_ = sp.symbols("s r", positive=True)
    Dv.limit("limit k -> 0+, m > c", "H_k(c + s) -> c (= clip(c + s))", H.subs(m, c + s_), k, 0, c)
    Dv.limit("limit k -> 0+, |m| < c",
             "with c = (s + r)/2, m = (r - s)/2 (s, r > 0): H_k(m) -> m (= clip(m))",
             H.subs({c: (s_ + r_) / 2, m: (r_ - s_) / 2}), k, 0, (r_ - s_) / 2)
    Dv.limit("limit k -> oo", "k H_k(m) -> 2 c m / sqrt(2 pi)", k * H, k, sp.oo,
             2 * c * m / sp.sqrt(2 * sp.pi))

    # ---- series in t = 1/k
    Dv.series("series in 1/k", "H_{1/t}(m) = (2ct/sqrt(2pi)) [m - (m^3 + c^2 m)t^2/6 "
              "+ (m^5 + 10c^2 m^3/3 + c^4 m)t^4/40] + O(t^7); odd in m",
              H.subs(k, 1 / t), t, 0, 7, H_series())

    # ---- the (m, c) symmetry and the small-c series used by clipsgd.exact
    Dv.identity("H_k symmetric in (m, c)",
                "swapping m and c maps al -> -al, be -> be (phi even): H_k(m; c) = H_k(c; m)",
                H - H_closed_form(c, k, m), 0)
    mu_, p_ = sp.Symbol("mu", real=True), sp.Symbol("p", positive=True)
    Dv.identity("H_k homogeneous", "H_k(m; c) = k H_1(m/k; c/k)",
                H - k * H_closed_form(m / k, 1, c / k), 0)
    Dv.series("series in p = c/k", "H_1(mu; p)/p = erf(mu/sqrt2) - mu phi(mu) p^2 [1/3 + (mu^2 - 3) p^2/60] "
              "+ O(p^6) (exact.perturbed_clip_mean for c << k; by the symmetry also m << k)",
              H_closed_form(mu_, 1, p_) / p_, p_, 0, 6,
              sp.erf(mu_ / sp.sqrt(2)) - mu_ * phi(mu_) * p_**2 * (sp.Rational(1, 3) + (mu_**2 - 3) * p_**2 / 60))

    # ---- the finite sum: normalised drift hat_h(delta) = (sqrt(2pi)/(2ct)) mean_i H(delta + xi_i)
    delta = sp.Symbol("delta", real=True)
    mu2, mu3, mu4, mu5 = sp.symbols("mu2 mu3 mu4 mu5", real=True)
    mus = {0: 1, 1: 0, 2: mu2, 3: mu3, 4: mu4, 5: mu5}
    xi = sp.Symbol("xi", real=True)

    def mean_poly(expr):
        """Replace xi^j by mu_j in a polynomial in xi (xi_i has mean 0)."""
        poly = sp.Poly(sp.expand(expr), xi)
        return sum(coef * mus[mon[0]] for mon, coef in zip(poly.monoms(), poly.coeffs()))

    L = 2 * c * t / sp.sqrt(2 * sp.pi)
    hhat = sp.expand(mean_poly(sp.expand(H_series(delta + xi) / L)))
    Dv.identity("normalised drift",
                "mean_i H(delta + xi_i)/L = delta - t^2 (delta^3 + 3 mu2 delta + mu3 + c^2 delta)/6 + O(t^4) terms",
                sp.expand(hhat).coeff(t, 2), -(delta**3 + 3 * mu2 * delta + mu3 + c**2 * delta) / 6)
    Dv.identity("relative bias at x* (delta = 0)",
                "h_k(x*)/h_k'(x*) = -mu3 t^2/6 + O(t^4): the bias decays like 1/k^2",
                sp.series(hhat.subs(delta, 0) / sp.diff(hhat, delta).subs(delta, 0), t, 0, 4).removeO(),
                -mu3 * t**2 / 6)
    d1, d2 = sp.symbols("d1 d2", real=True)
    ansatz = hhat.subs(delta, d1 * t**2 + d2 * t**4)
    ser = sp.expand(sp.series(ansatz, t, 0, 6).removeO())
    sol = sp.solve([ser.coeff(t, 2), ser.coeff(t, 4)], [d1, d2], dict=True)[0]
    Dv.identity("shift: order 1/k^2", "x_k - x* = mu3/(6 k^2) + ...", sol[d1], mu3 / 6)
    d2_claim = mu3 * (3 * mu2 + c**2) / 36 - (mu5 + sp.Rational(10, 3) * c**2 * mu3) / 40
    Dv.identity("shift: order 1/k^4", "d2 = mu3(3 mu2 + c^2)/36 - (mu5 + 10c^2 mu3/3)/40", sol[d2], d2_claim)
    Dv.identity("Example 1 moments",
                "a = (-3,-3,9): xi = x* - a = (4,4,-8): mu2 = 32, mu3 = -128, shift = -64/(3k^2)",
                sp.Rational(4**3 + 4**3 + (-8) ** 3, 3) / (6 * k**2), -sp.Rational(64, 3) / k**2)

    slope = sp.diff(hhat, delta).subs(delta, sol[d1] * t**2 + sol[d2] * t**4)
    Dv.series("slope at x_k", "h_k'(x_k)/L_k = 1 - (3 mu2 + c^2) t^2/6 + O(t^4)",
              slope, t, 0, 4, 1 - (3 * mu2 + c**2) * t**2 / 6)
    bias = sol[d1] * t**2 + sol[d2] * t**4
    Dv.limit("trade-off constant", "(x_k - x*)/L_k^2 -> pi mu3/(12 c^2) as k -> oo (t -> 0+)",
             bias / L**2, t, 0, sp.pi * mu3 / (12 * c**2))
    Dv.limit("trade-off with the actual slope", "(x_k - x*)/h_k'(x_k)^2 -> pi mu3/(12 c^2)",
             bias / (L * slope) ** 2, t, 0, sp.pi * mu3 / (12 * c**2))
    absmu, absb, alpha = sp.symbols("absmu3 absbias alpha", positive=True)
    Dv.identity("steps versus bias",
                "1/(alpha L_k) = k sqrt(2pi)/(2 alpha c); with k^2 = |mu3|/(6|bias|): "
                "(1/(alpha L_k))^2 = pi |mu3| / (12 alpha^2 c^2 |bias|)",
                ((1 / (alpha * 2 * c / (k * sp.sqrt(2 * sp.pi)))) ** 2).subs(k, sp.sqrt(absmu / (6 * absb))),
                sp.pi * absmu / (12 * alpha**2 * c**2 * absb))
    yv = sp.Symbol("y", positive=True)
    qfun = yv / (1 - yv) + sp.log(1 - yv)
    Dv.identity("log bound: q(0) = 0", "q(y) = y/(1-y) + log(1-y) vanishes at 0", qfun.subs(yv, 0), 0)
    Dv.identity("log bound: q' >= 0", "q'(y) = y/(1-y)^2 >= 0 on [0,1), so log(1/(1-y)) <= y/(1-y)",
                sp.diff(qfun, yv), yv / (1 - yv) ** 2)

    # ---- numerical evidence for the existence of the expansion (implicit function theorem)
    rows = []
    for kk in (16.0, 32.0, 64.0, 128.0):
        xk = perturbed_stationary_point(EXAMPLE1, kk, 1.0)
        s1 = shift_first_order(EXAMPLE1, kk)
        s2 = shift_second_order(EXAMPLE1, kk, 1.0)
        rows.append((kk, (xk - 1.0 - s1) / s1, (xk - 1.0 - s2) / s1))
    ok = all(abs(r1) < 0.03 and abs(r2) < abs(r1) for _, r1, r2 in rows)
    Dv.numerical("expansion of the zero x_k (Example 1)",
                 "sympy cannot confirm the zero has this expansion; brentq on the closed form: "
                 "relative error of x* + mu3/(6k^2) < 3% and the d2/k^4 term reduces it",
                 ok, "; ".join(f"k={kk:g}: 1st-order rel.err {r1:+.2e}, 2nd-order {r2:+.2e}"
                               for kk, r1, r2 in rows))
    return Dv.steps


if __name__ == "__main__":
    print(format_steps(TITLE, check()))
