"""Bookkeeping for the sympy-checked derivations in ``theory/``.

A derivation is a list of :class:`Step` objects. Each step states one algebraic or
calculus fact and is *checked* when it is recorded:

* ``identity``  -- ``lhs - rhs`` simplifies to 0 (sympy);
* ``nonneg``    -- ``multiplier * expr == certificate`` is an identity (sympy) and the
  certificate is a sum of products of factors that are nonnegative *by inspection*:
  positive numbers, even powers, symbols declared nonnegative, or expressions listed as
  hypotheses of the step (a polynomial certificate of nonnegativity);
* ``decide``    -- a sympy relational / assumption query that sympy evaluates to True;
* ``limit`` / ``series`` -- sympy computes the limit / expansion and it equals the claim;
* ``numerical`` -- a fact sympy cannot confirm; the module says so and records the
  numerical evidence (the step is *not* counted as symbolic);
* ``cited``     -- a standard theorem (Taylor, mean value) or a step read off by
  inspection, named as such, with numerical evidence for its conclusion (*not* counted
  as symbolic).

A failed check raises :class:`StepFailed` (an ``AssertionError``) naming the step, so
``check()`` of every module either returns all its steps verified or raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

__all__ = ["Step", "StepFailed", "Derivation", "format_steps", "P", "S", "clip_np", "worst_over_random_vectors"]


class P(tuple):
    """A product of factors in a certificate: ``P(a, b, c)`` means ``a*b*c``.

    Kept as a tuple so sympy cannot distribute numbers over sums (``2*(a - b)`` would
    otherwise become ``2a - 2b`` and lose its visible sign).
    """

    def __new__(cls, *factors):
        return super().__new__(cls, factors)


class S(tuple):
    """A sum of terms in a certificate: ``S(t1, t2)`` means ``t1 + t2``."""

    def __new__(cls, *terms):
        return super().__new__(cls, terms)


def to_expr(cert):
    """The sympy expression of a certificate built from :class:`P` and :class:`S`."""
    if isinstance(cert, P):
        return sp.Mul(*[to_expr(f) for f in cert])
    if isinstance(cert, S):
        return sp.Add(*[to_expr(t) for t in cert])
    return sp.sympify(cert)


@dataclass(frozen=True)
class Step:
    """One checked step of a derivation.

    Attributes
    ----------
    name : str
        Short label, e.g. ``"case 2: one clipped"``.
    statement : str
        The mathematical claim in words/formulas.
    verified : bool
        True when the check passed (a failing check raises instead of returning).
    method : str
        How it was checked: ``"sympy: ..."`` for symbolic checks, ``"numerical: ..."``
        for steps sympy cannot confirm.
    """

    name: str
    statement: str
    verified: bool
    method: str

    @property
    def symbolic(self) -> bool:
        """True when the step was confirmed by sympy (not only numerically)."""
        return self.method.startswith("sympy")


class StepFailed(AssertionError):
    """A derivation step did not check."""


def _is_zero(expr, simplifier=None) -> bool:
    expr = sp.sympify(expr)
    if simplifier is not None:
        return sp.sympify(simplifier(expr)) == 0
    rewrite_pw = lambda e: sp.simplify(sp.piecewise_fold(e.rewrite(sp.Piecewise)))  # noqa: E731
    rewrite_erf = lambda e: sp.simplify(e.rewrite(sp.erf))  # noqa: E731
    for f in (sp.expand, sp.cancel, sp.simplify, rewrite_pw, rewrite_erf):
        try:
            if f(expr) == 0:
                return True
        except Exception:  # pragma: no cover - sympy internals
            continue
    return False


def _same(a, b) -> bool:
    return sp.expand(a - b) == 0


def _factor_nonneg(f, hyps, pos) -> bool:
    """True when factor ``f`` is nonnegative by inspection (see module docstring)."""
    if f.is_number:
        return bool(f.is_nonnegative)
    if any(_same(f, h) for h in list(hyps) + list(pos)):
        return True
    if f.is_nonnegative:  # sympy assumptions: positive symbols, squares of reals, ...
        return True
    if f.is_Pow:
        base, e = f.as_base_exp()
        if e.is_integer and e.is_even and base.is_extended_real:
            return True
        if e.is_positive and _factor_nonneg(base, hyps, pos):
            return True
        if e.is_negative and _factor_pos(base, pos):
            return True
        return False
    if f.is_Add:
        return all(_term_nonneg(t, hyps, pos) for t in f.args)
    if f.is_Mul:
        return _term_nonneg(f, hyps, pos)
    return False


def _factor_pos(f, pos) -> bool:
    if f.is_number:
        return bool(f.is_positive)
    if f.is_positive:
        return True
    if any(_same(f, h) for h in pos):
        return True
    if f.is_Pow:
        base, e = f.as_base_exp()
        return e.is_real is True and _factor_pos(base, pos)
    if f.is_Mul:
        return all(_factor_pos(a, pos) for a in f.args)
    if f.is_Add:
        return all(_factor_pos(a, pos) for a in f.args)
    return False


def _term_nonneg(term, hyps, pos) -> bool:
    return all(_factor_nonneg(f, hyps, pos) for f in sp.Mul.make_args(term))


def certified_nonneg(certificate, hypotheses=(), positive=()) -> bool:
    """Is ``certificate`` a sum of products of factors nonnegative by inspection?

    ``certificate`` is a sympy expression or a nested structure of :class:`S` (sums) and
    :class:`P` (products) whose leaves are sympy expressions.
    """
    hyps = [sp.sympify(h) for h in hypotheses]
    pos = [sp.sympify(p) for p in positive]
    if isinstance(certificate, (P, S)):
        return all(certified_nonneg(part, hyps, pos) for part in certificate)
    return _factor_nonneg(sp.sympify(certificate), hyps, pos)


@dataclass
class Derivation:
    """An ordered list of checked steps for one result."""

    title: str
    steps: list = field(default_factory=list)

    # -- recording -----------------------------------------------------------------
    def _record(self, name, statement, ok, method, detail=""):
        if not ok:
            raise StepFailed(
                f"[{self.title}] step {name!r} failed ({method}): {statement}"
                + (f"\n  {detail}" if detail else "")
            )
        step = Step(name=name, statement=statement, verified=True, method=method)
        self.steps.append(step)
        return step

    # -- kinds of steps --------------------------------------------------------------
    def identity(self, name, statement, lhs, rhs=0, simplifier=None):
        """Check ``lhs == rhs`` by simplifying the difference to 0."""
        diff = sp.sympify(lhs) - sp.sympify(rhs)
        ok = _is_zero(diff, simplifier)
        return self._record(name, statement, ok, "sympy: identity (difference simplifies to 0)",
                            detail=f"difference = {sp.simplify(diff)}" if not ok else "")

    def nonneg(self, name, statement, expr, certificate, hypotheses=(), positive=(),
               multiplier=1):
        """Check ``expr >= 0`` via ``multiplier*expr == certificate`` and a certificate.

        ``hypotheses`` are expressions assumed >= 0, ``positive`` expressions assumed > 0
        (they may appear as factors, and ``multiplier`` must be a product of them).
        """
        expr, multiplier = sp.sympify(expr), sp.sympify(multiplier)
        same = _is_zero(multiplier * expr - to_expr(certificate))
        mult_ok = _factor_pos(multiplier, [sp.sympify(p) for p in positive])
        cert_ok = certified_nonneg(certificate, hypotheses, positive)
        ok = same and mult_ok and cert_ok
        detail = "" if ok else (f"identity={same} multiplier>0={mult_ok} "
                                f"certificate nonneg by inspection={cert_ok}")
        return self._record(name, statement, ok,
                            "sympy: polynomial certificate (identity + nonnegative factors)",
                            detail)

    def decide(self, name, statement, value, how="sympy: decided"):
        """Record a fact that sympy decided (``value`` must be the sympy result True)."""
        ok = value is True or value == sp.true
        return self._record(name, statement, ok, how, detail=f"sympy returned {value!r}")

    def limit(self, name, statement, expr, var, point, expected, direction="+"):
        """Check ``lim_{var -> point} expr == expected`` with sympy.limit."""
        got = sp.limit(expr, var, point, direction)
        expected = sp.sympify(expected)
        if got == expected:
            ok = True
        elif got.has(sp.oo, -sp.oo, sp.zoo, sp.nan, sp.AccumBounds) or got.has(sp.Limit):
            ok = False
        else:
            ok = _is_zero(got - expected)
        return self._record(name, statement, ok, "sympy: limit", detail=f"limit = {got}")

    def series(self, name, statement, expr, var, point, order, expected):
        """Check the expansion of ``expr`` in ``var`` at ``point`` up to ``O(var**order)``."""
        got = sp.series(expr, var, point, order).removeO()
        ok = _is_zero(sp.expand(got - expected))
        return self._record(name, statement, ok, f"sympy: series to O({var}^{order})",
                            detail=f"series = {got}")

    def cited(self, name, statement, reference, ok, evidence):
        """A standard fact used as is (a named theorem, or a step read off by inspection).

        Not counted as symbolic: the statement must say that sympy cannot confirm it,
        ``reference`` names the theorem or the inspection that justifies it, and ``ok`` /
        ``evidence`` are the numerical evidence for the step's conclusion on concrete
        instances (a cited step without evidence is not accepted).
        """
        return self._record(name, statement, bool(ok), f"cited: {reference}; numerical evidence: {evidence}")

    def numerical(self, name, statement, ok, evidence):
        """A step sympy cannot confirm: record the numerical evidence that supports it."""
        return self._record(name, statement, bool(ok), f"numerical: {evidence}")


def format_steps(title, steps) -> str:
    """Human-readable listing used by each module's ``__main__``."""
    lines = [title, "=" * len(title)]
    for i, s in enumerate(steps, 1):
        mark = "ok " if s.verified else "FAIL"
        lines.append(f"{i:2d}. [{mark}] {s.name}")
        lines.append(f"      {s.statement}")
        lines.append(f"      ({s.method})")
    n_sym = sum(s.symbolic for s in steps)
    n_cited = sum(s.method.startswith("cited") for s in steps)
    lines.append(f"{len(steps)} steps, {n_sym} confirmed by sympy, {n_cited} cited, "
                 f"{len(steps) - n_sym - n_cited} by numerical evidence only.")
    return "\n".join(lines)


# ------------------------------------------------- numerical evidence for vector facts
def clip_np(v, c):
    """``clip(v, c) = v min(1, c/||v||)`` in NumPy (the evidence for cited vector steps)."""
    import numpy as np

    n = np.linalg.norm(v)
    return v if n <= c else v * (c / n)


def worst_over_random_vectors(margin, trials=4000, seed=0):
    """``min margin(g, xi, c)`` over random g, xi (d = 1..5, scales over 3 decades) and c."""
    import numpy as np

    rng = np.random.default_rng(seed)
    worst = np.inf
    for _ in range(trials):
        d = int(rng.integers(1, 6))
        g, xi = rng.standard_normal(d) * rng.uniform(0.01, 5), rng.standard_normal(d) * rng.uniform(0.01, 10)
        worst = min(worst, margin(g, xi, rng.uniform(0.1, 5)))
    return worst
