"""Facts about the clip map used by every other derivation.

``clip(y, c) = y * min(1, c/||y||)`` (``clip(0, c) = 0``) is the Euclidean projection
onto the closed ball ``B_c`` of radius ``c``.

Reduction to the plane. Every statement below involves at most two vectors ``x, y``;
they lie in a subspace of dimension <= 2, clip commutes with rotations, and inner
products are those of coordinates in an orthonormal basis of that plane. So it is no
loss of generality to take ``x = (x1, x2)``, ``y = (y1, y2)`` in R^2. We write
``u = ||x||``, ``v = ||y||``, ``w = <x, y>``.

Results (each proved by a case analysis on which of ``x, y`` lies outside the ball):

* (P0) Cauchy-Schwarz ``|w| <= u v`` (Lagrange identity in the plane).
* (P1) ``||clip(y)|| = min(||y||, c) <= c`` and clip is odd.
* (P2) clip is 1-Lipschitz: ``||clip(x) - clip(y)|| <= ||x - y||``; hence, since both
  images lie in ``B_c`` (diameter ``2c``), ``||clip(x) - clip(y)|| <= min(||x - y||, 2c)``.
* (P3) clip is *firmly* nonexpansive:
  ``<clip(x) - clip(y), x - y> >= ||clip(x) - clip(y)||^2``.
* (P4) Outside the ball the Jacobian is ``(c/||y||) (I - yhat yhat^T)`` (checked in R^3).
"""

from __future__ import annotations

import sympy as sp

try:  # imported as part of the ``theory`` package
    from ._steps import Derivation, P, S, format_steps
except ImportError:  # run as a script: ``python theory/projection.py``
    from _steps import Derivation, P, S, format_steps

TITLE = "Clip facts: projection onto the ball of radius c"

c = sp.Symbol("c", positive=True)
# abstract norms / inner product
U, V = sp.symbols("u v", positive=True)
W = sp.Symbol("w", real=True)
# coordinates in the plane spanned by x and y
x1, x2, y1, y2 = sp.symbols("x1 x2 y1 y2", real=True)


def _plane():
    u = sp.sqrt(x1**2 + x2**2)
    v = sp.sqrt(y1**2 + y2**2)
    w = x1 * y1 + x2 * y2
    return sp.Matrix([x1, x2]), sp.Matrix([y1, y2]), u, v, w


def _sq(m):
    return (m.T * m)[0, 0]


def _dot(a, b):
    return (a.T * b)[0, 0]


def check():
    """Run the derivation; return its steps (raises StepFailed on a failed step)."""
    D = Derivation(TITLE)
    x, y, u, v, w = _plane()
    sub = {U: u, V: v, W: w}

    # ---- (P0) Cauchy-Schwarz ---------------------------------------------------------
    D.identity("P0 Lagrange identity",
               "||x||^2 ||y||^2 - <x,y>^2 = (x1 y2 - x2 y1)^2  (so w^2 <= u^2 v^2)",
               u**2 * v**2 - w**2, (x1 * y2 - x2 * y1) ** 2)
    D.identity("P0 |w| <= uv",
               "(uv - |w|)(uv + |w|) = u^2 v^2 - w^2 >= 0 with uv + |w| >= 0, so uv >= |w|",
               (U * V - sp.Abs(W)) * (U * V + sp.Abs(W)), U**2 * V**2 - W**2)

    # ---- (P1) norm and oddness -----------------------------------------------------------
    # outside the ball: ||c y / v|| = c
    D.identity("P1 norm outside", "||c y/||y|| ||^2 = c^2", _sq(c * y / v), c**2)
    D.identity("P1 odd", "clip(-y) = -clip(y): (c/||-y||)(-y) + (c/||y||) y = 0",
               _sq(c * (-y) / sp.sqrt((-y1) ** 2 + (-y2) ** 2) + c * y / v), 0)

    # ---- (P2) 1-Lipschitz -----------------------------------------------------------------
    # case A: both inside -> clip is the identity, equality.
    D.identity("P2 case inside/inside", "clip(x) - clip(y) = x - y when u, v <= c",
               _sq(x - y) - _sq(x - y), 0)
    # case B: x outside (u > c), y inside (v <= c)
    lhs_B = _sq(c * x / u - y)
    D.identity("P2 case outside/inside: expansion",
               "||c x/u - y||^2 = c^2 - 2 c w/u + v^2",
               lhs_B, (c**2 - 2 * c * W / U + V**2).subs(sub))
    D.identity("P2 case outside/inside: expansion of ||x-y||^2",
               "||x - y||^2 = u^2 - 2w + v^2", _sq(x - y), (U**2 - 2 * W + V**2).subs(sub))
    gap_B = (U**2 - 2 * W + V**2) - (c**2 - 2 * c * W / U + V**2)
    D.nonneg("P2 case outside/inside",
             "u (||x-y||^2 - ||c x/u - y||^2) = (u-c)[u(u-c) + 2u(c-v) + 2(uv-w)] >= 0 "
             "for u > c >= v, w <= uv",
             gap_B, P(U - c, S(P(U, U - c), P(2, U, c - V), P(2, U * V - W))),
             hypotheses=[U - c, c - V, U * V - W], multiplier=U)
    # case C: both outside (u, v > c)
    lhs_C = _sq(c * x / u - c * y / v)
    D.identity("P2 case outside/outside: expansion",
               "||c x/u - c y/v||^2 = 2c^2 (1 - w/(uv))",
               lhs_C, (2 * c**2 * (1 - W / (U * V))).subs(sub))
    gap_C = (U**2 - 2 * W + V**2) - 2 * c**2 * (1 - W / (U * V))
    D.nonneg("P2 case outside/outside",
             "uv(||x-y||^2 - ||clip x - clip y||^2) = uv(u-v)^2 + 2(uv - w)(uv - c^2) >= 0 "
             "for u, v > c, w <= uv",
             gap_C, S(P(U, V, (U - V) ** 2), P(2, U * V - W, U * V - c**2)),
             hypotheses=[U * V - W, U * V - c**2], multiplier=U * V)
    D.identity("P2 truncation",
               "||clip x - clip y|| <= ||clip x|| + ||clip y|| <= 2c, so <= min(||x-y||, 2c); "
               "the bound 2c is attained: clip(c e) - clip(-c e) = 2c e",
               sp.sqrt(_sq(sp.Matrix([c, 0]) - sp.Matrix([-c, 0]))), 2 * c)

    # ---- (P3) firmly nonexpansive ----------------------------------------------------------
    # case A: equality (both sides ||x-y||^2)
    # case B: x outside, y inside:  <cx/u - y, x - y> - ||cx/u - y||^2 = <cx/u - y, x(1 - c/u)>
    fne_B = _dot(c * x / u - y, x - y) - _sq(c * x / u - y)
    D.identity("P3 case outside/inside: reduction",
               "<cx/u - y, x - y> - ||cx/u - y||^2 = (1 - c/u)(c u - w)",
               fne_B, ((1 - c / U) * (c * U - W)).subs(sub))
    D.nonneg("P3 case outside/inside",
             "u (1 - c/u)(c u - w) = (u - c)[u(c - v) + (uv - w)] >= 0 for u > c >= v",
             (1 - c / U) * (c * U - W), P(U - c, S(P(U, c - V), U * V - W)),
             hypotheses=[U - c, c - V, U * V - W], multiplier=U)
    fne_C = _dot(c * x / u - c * y / v, x - y) - _sq(c * x / u - c * y / v)
    D.identity("P3 case outside/outside: reduction",
               "<cx/u - cy/v, x - y> - ||cx/u - cy/v||^2 = c (1 - w/(uv)) (u + v - 2c)",
               fne_C, (c * (1 - W / (U * V)) * (U + V - 2 * c)).subs(sub))
    D.nonneg("P3 case outside/outside",
             "uv c(1 - w/(uv))(u + v - 2c) = c (uv - w)((u - c) + (v - c)) >= 0 for u, v > c",
             c * (1 - W / (U * V)) * (U + V - 2 * c),
             P(c, U * V - W, S(U - c, V - c)),
             hypotheses=[U * V - W, U - c, V - c], multiplier=U * V)

    # ---- (P4) Jacobian outside the ball (R^3) -------------------------------------------------
    z = sp.Matrix(sp.symbols("z1 z2 z3", real=True))
    nz = sp.sqrt(_sq(z))
    J = (c * z / nz).jacobian(z)
    D.identity("P4 Jacobian",
               "d/dy [c y/||y||] = (c/||y||)(I - y y^T/||y||^2)  (checked entrywise in R^3)",
               sp.simplify(J - (c / nz) * (sp.eye(3) - z * z.T / nz**2)).norm(), 0)
    return D.steps


if __name__ == "__main__":
    print(format_steps(TITLE, check()))
