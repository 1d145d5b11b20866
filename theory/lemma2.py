"""Lemma 2 (quantitative version of Lemma 1), a sharper pointwise form, and tightness.

Statement (as the paper's Lemma 2, Chen, Wu, Hong 2020, arXiv 2006.15429). For ``a`` in
(0, 1), ``c > 0`` and symmetric p,

    E_p <g, clip(g + xi, c)>  >=  P_p(||xi|| < a c) * min(||g||^2, (1 - a) c ||g||),

and the constant ``1 - a`` is tight.

Sharper statement proved here (pointwise in xi, all a at once). With ``n = ||g||``,
``r = ||xi||`` and ``phi(xi) = <g, clip(g + xi) + clip(g - xi)>`` (Lemma 1):

    phi(xi) / 2  >=  min(n^2, (c - r)_+ n)                                   (L2')

so for symmetric p:  ``E <g, clip(g + xi)> = E phi/2 >= E min(n^2, (c - ||xi||)_+ n)``,
and since ``min(n^2, (c - r)_+ n) >= 1{r < ac} min(n^2, (1 - a) c n)`` this implies
Lemma 2 for every a in (0, 1] simultaneously. (L2') holds with equality whenever
``g`` is parallel to ``xi`` and ``n + r = c``.

Proof of (L2'). If ``r >= c`` the right side is 0 and Lemma 1 gives ``phi >= 0``. Let
``r < c``. Rotate so that ``g = n e1`` and write ``xi = (p, q)``, ``p^2 + q^2 = r^2``,
``u = ||g + xi||``, ``v = ||g - xi||``; by the symmetry ``xi -> -xi`` assume ``u >= v``.
Identity: ``u^2 = n^2 + 2 n p + r^2`` so ``p = (u^2 - n^2 - r^2) / (2n)``.

* Neither clipped: ``phi/2 = n^2`` (Lemma 1, case 1).
* Otherwise ``u > c``; as ``u <= n + r`` this forces ``n > c - r``, so the minimum is
  ``(c - r) n`` and we must show ``phi >= 2 (c - r) n``.
* One clipped (``v <= c < u``): with ``E := (u/n)(phi - 2(c - r) n)``,
  ``2n E = 4nc(n + r - u) + 2n(n + r)(u - c) + (u - c)(n + r - u)(n + r + u) >= 0``.
* Both clipped: each term ``T = <g, c y/||y||>``, ``y = g +- xi``, ``||y|| > c`` is at
  least ``(c - r) n``: ``2u (T - (c - r) n) = N(u) := c(u^2 + n^2 - r^2) - 2n(c - r)u`` and
    - if ``n >= c``: ``c N = (cu - n(c - r))^2 + r[(n - c)(n + c)(2c - r) + 2c^2 (c - r)]``,
    - if ``n < c``:  ``N = c[(c - n - r)^2 + 2r(c - r)] + (u - c)[c(u - c) + 2c(c - n) + 2nr]``.

Tightness of 1 - a. Take ``xi = +-r e1`` (symmetric two-point law), ``g = n e1`` with
``n = (1 - a)c + eps``, ``r = ac - eps/2`` (``0 < eps < 4ac/3``). Then P(||xi|| < ac) = 1,
``g + xi`` is clipped, ``g - xi`` is not, and

    E <g, clip(g + xi)> = n ((1 - a) c + 3 eps / 4),

so LHS / RHS = ``1 + 3 eps / (4 (1 - a) c) -> 1``; the effective constant
``LHS / (P c n) -> 1 - a``. For any ``beta > 1 - a`` and ``eps < (beta - 1 + a) c`` the
bound with ``beta`` in place of ``1 - a`` fails: ``LHS - min(n^2, beta c n) = -n eps / 4``.
"""

from __future__ import annotations

import sympy as sp

try:
    from ._steps import Derivation, P, S, format_steps
except ImportError:
    from _steps import Derivation, P, S, format_steps

TITLE = "Lemma 2: E<g, clip(g+xi)> >= P(|xi| < ac) min(|g|^2, (1-a)c|g|), tight"

c, n, r, u = sp.symbols("c n r u", positive=True)
p, q = sp.symbols("p q", real=True)
a, eps, beta = sp.symbols("a epsilon beta", positive=True)


def check():
    """Run the derivation; return its steps (raises StepFailed on a failed step)."""
    D = Derivation(TITLE)
    g = sp.Matrix([n, 0])
    xi = sp.Matrix([p, q])
    sq = lambda m: (m.T * m)[0, 0]  # noqa: E731
    dot = lambda x, y: (x.T * y)[0, 0]  # noqa: E731
    on_circle = {q**2: r**2 - p**2}

    D.identity("u^2 = n^2 + 2np + r^2", "||g + xi||^2 = n^2 + 2 n p + r^2 (with p^2 + q^2 = r^2)",
               sp.expand(sq(g + xi)).subs(on_circle), n**2 + 2 * n * p + r**2)
    D.identity("v^2 = n^2 - 2np + r^2", "||g - xi||^2 = n^2 - 2 n p + r^2",
               sp.expand(sq(g - xi)).subs(on_circle), n**2 - 2 * n * p + r**2)
    p_of_u = (u**2 - n**2 - r**2) / (2 * n)
    D.identity("p from u", "p = (u^2 - n^2 - r^2)/(2n) solves u^2 = n^2 + 2np + r^2",
               (n**2 + 2 * n * p + r**2).subs(p, p_of_u), u**2)

    # triangle inequality u <= n + r, as (n + r)^2 - u^2 = 2n(r - p) with p <= r
    D.nonneg("u <= n + r", "(n + r)^2 - u^2 = 2n(r - p) >= 0 since p <= |xi| = r",
             (n + r) ** 2 - (n**2 + 2 * n * p + r**2), P(2, n, r - p), hypotheses=[r - p])
    D.nonneg("clipping forces n > c - r",
             "u > c and u <= n + r give n + r - c > 0; then n^2 - (c - r) n = n (n + r - c) >= 0, "
             "so min(n^2, (c - r)n) = (c - r) n",
             n**2 - (c - r) * n, P(n, n + r - c), hypotheses=[n + r - c])

    # neither clipped
    D.identity("neither clipped", "phi/2 = <g, (g + xi) + (g - xi)>/2 = n^2 >= min(n^2, (c-r)n)",
               dot(g, (g + xi) + (g - xi)) / 2, n**2)

    # one clipped: v <= c < u
    phi1 = dot(g, c * (g + xi) / u + (g - xi))
    D.identity("one clipped: phi", "phi = (c/u) n (n + p) + n (n - p)",
               phi1, c * n * (n + p) / u + n * (n - p))
    E1 = (phi1 - 2 * (c - r) * n).subs(p, p_of_u)
    D.nonneg("one clipped: phi >= 2(c - r) n",
             "2u (phi - 2(c-r)n) = 4nc(n + r - u) + 2n(n + r)(u - c) + (u - c)(n + r - u)(n + r + u) "
             ">= 0 for c < u <= n + r",
             E1,
             S(P(4, n, c, n + r - u), P(2, n, n + r, u - c), P(u - c, n + r - u, n + r + u)),
             hypotheses=[n + r - u, u - c], positive=[2 * u], multiplier=2 * u)

    # both clipped: one term T = <g, c(g+xi)/u> >= (c - r) n   (same for g - xi: p -> -p)
    T = dot(g, c * (g + xi) / u)
    N = c * (u**2 + n**2 - r**2) - 2 * n * (c - r) * u
    D.identity("both clipped: one term", "2u (T - (c - r) n) = N(u) := c(u^2 + n^2 - r^2) - 2n(c - r)u",
               2 * u * (T - (c - r) * n).subs(p, p_of_u), N)
    D.nonneg("both clipped, n >= c",
             "c N = (cu - n(c - r))^2 + r[(n - c)(n + c)(2c - r) + 2c^2(c - r)] >= 0",
             N,
             S((c * u - n * (c - r)) ** 2,
               P(r, S(P(n - c, n + c, S(c - r, c)), P(2, c**2, c - r)))),
             hypotheses=[n - c, c - r], multiplier=c)
    D.nonneg("both clipped, n < c",
             "N = c[(c - n - r)^2 + 2r(c - r)] + (u - c)[c(u - c) + 2c(c - n) + 2nr] >= 0",
             N,
             S(P(c, S((c - n - r) ** 2, P(2, r, c - r))),
               P(u - c, S(P(c, u - c), P(2, c, c - n), P(2, n, r)))),
             hypotheses=[u - c, c - n, c - r])
    D.identity("both clipped: the other term",
               "T(-xi) is T(xi) with p -> -p and u -> v; the bound used no sign of p, so "
               "phi = T(xi) + T(-xi) >= 2(c - r) n",
               dot(g, c * (g - xi) / u), T.subs(p, -p).subs(q, -q))

    # from (L2') to Lemma 2
    D.nonneg("(L2') implies Lemma 2",
             "if r < ac then (c - r) - (1 - a)c = ac - r > 0, so min(n^2,(c-r)n) >= min(n^2,(1-a)cn); "
             "else the indicator is 0 and the left side is >= 0",
             (c - r) - (1 - a) * c, a * c - r, hypotheses=[a * c - r])

    # tightness family
    nn = (1 - a) * c + eps
    rr = a * c - eps / 2
    D.identity("tightness: g + xi clipped", "n + r = c + eps/2 > c", nn + rr, c + eps / 2)
    D.nonneg("tightness: g - xi not clipped (upper)", "c - (n - r) = 2ac - 3eps/2 >= 0 for eps <= 4ac/3",
             c - (nn - rr), P(sp.Rational(3, 2), sp.Rational(4, 3) * a * c - eps),
             hypotheses=[sp.Rational(4, 3) * a * c - eps])
    D.nonneg("tightness: g - xi not clipped (lower)", "(n - r) + c = 2(1 - a)c + 3eps/2 >= 0",
             (nn - rr) + c, S(P(2, 1 - a, c), P(sp.Rational(3, 2), eps)), hypotheses=[1 - a])
    lhs_family = (nn * c + nn * (nn - rr)) / 2  # E<g, clip(g + xi)> = phi/2 for the +-r pair
    D.identity("tightness: E<g, clip(g + xi)>", "phi/2 = (c n + n (n - r))/2 = n((1 - a)c + 3eps/4)",
               lhs_family, nn * ((1 - a) * c + sp.Rational(3, 4) * eps))
    ratio = lhs_family / ((1 - a) * c * nn)
    D.limit("tightness: ratio -> 1", "LHS / (P min(n^2,(1-a)cn)) = 1 + 3eps/(4(1-a)c) -> 1 as eps -> 0+",
            ratio, eps, 0, 1)
    D.limit("tightness: effective constant -> 1 - a", "LHS / (P c n) -> 1 - a as eps -> 0+",
            lhs_family / (c * nn), eps, 0, 1 - a)
    D.identity("no larger constant",
               "for beta > 1 - a and eps < (beta - 1 + a)c: min(n^2, beta c n) = n^2 and "
               "LHS - n^2 = -n eps/4 < 0, so the bound with beta fails",
               lhs_family - nn**2, -nn * eps / 4)
    return D.steps


if __name__ == "__main__":
    print(format_steps(TITLE, check()))
