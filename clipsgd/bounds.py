r"""Right-hand sides of the paper's bounds, and the quantities on their left.

Chen, Wu & Hong (arXiv:2006.15429) bound a *weighted* stationarity measure of clipped
SGD / DP-SGD. The derivations, constants and sympy checks are in ``theory/`` (see
``theory/README.md``); this module evaluates them numerically on given samples.

Left-hand quantities, at one point with per-example gradients :math:`g_i = g + \xi_i`
(:math:`g` their mean, :math:`\xi_i` the gradient noise):

* :func:`descent_progress`: :math:`\mathbb E_p\langle g, \operatorname{clip}(g + \xi, c)\rangle`,
  the expected first-order descent of one clipped step;
* :func:`stationarity_measure`: :math:`P(\lVert\xi\rVert < ac)\min(\lVert g\rVert^2, (1-a)c\lVert g\rVert)`
  (Lemma 2; Theorem 1 uses :math:`a = 1/4`);
* :func:`sharp_stationarity_measure`: :math:`\mathbb E\min(\lVert g\rVert^2, (c - \lVert\xi\rVert)_+\lVert g\rVert)`,
  the sharper pointwise form (L2') proved in ``theory/lemma2.py``;
* :func:`stationarity_along`: either measure at every recorded iterate of a run.

Along a run (``Result.trajectory`` of :func:`clipsgd.run`), vectorised over iterates:
:func:`gradients_along` (per-example gradients), :func:`small_noise_probability_along`
(:math:`P(\lVert\xi_t\rVert < ac)`), :func:`clipping_bias_along` (Theorem 2's
:math:`b_t` against the symmetrisation) and :func:`bias_bound_along` (:math:`b_t` with
:math:`\lVert\nabla f(x_t)\rVert\, W_1(p_t, \tilde p_t)` and the truncated
:math:`W_{2c}`). :func:`evaluate_run` puts them together: the left side of Theorem 1/3
per run, the bias term of Theorem 2, the right side, the margin and its Monte-Carlo
standard error; :func:`smoothness` and :func:`infimum` give :math:`G` and
:math:`\inf f` for the built-in problems.

Right-hand sides: :func:`descent_rhs` (:math:`D_f/(\alpha T) + G\alpha K/2`),
:func:`theorem1_rhs` (:math:`K = c^2`), :func:`theorem2_rhs` (plus the mean bias),
:func:`theorem3_rhs`
(:math:`K = \kappa c^2 + d\sigma^2`, :func:`poisson_kappa`), :func:`optimal_step_size`,
:func:`optimal_rate`, the privacy calibration :func:`zcdp_noise_multiplier` and the
privacy-utility bound :func:`privacy_utility_bound`; for the perturbation fix
:func:`perturbed_speed_bound`, :func:`perturbed_slope` and :func:`perturbed_shift`.

Lemma 2 and Theorems 1-3 need the noise to be symmetric (or add the bias term of
Theorem 2, computed by :func:`clipsgd.diagnostics.clipping_bias`).

References
----------
X. Chen, Z. S. Wu, M. Hong, "Understanding Gradient Clipping in Private SGD: A Geometric
Perspective", NeurIPS 2020, arXiv:2006.15429.
M. Bun, T. Steinke, "Concentrated Differential Privacy", TCC 2016, arXiv:1605.02065.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit, gammaln

from ._validate import (
    check_clip_threshold,
    check_finite_array,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_rate,
    check_real,
)
from .clip import clip_numpy
from .problems import LEAST_SQUARES, LOGISTIC, QUADRATIC, Problem

__all__ = [
    "descent_progress",
    "stationarity_measure",
    "sharp_stationarity_measure",
    "stationarity_along",
    "gradients_along",
    "small_noise_probability_along",
    "clipping_bias_along",
    "bias_bound_along",
    "BiasBound",
    "smoothness",
    "infimum",
    "evaluate_run",
    "RunBound",
    "descent_rhs",
    "theorem1_rhs",
    "theorem2_rhs",
    "theorem3_rhs",
    "poisson_kappa",
    "optimal_step_size",
    "optimal_rate",
    "zcdp_noise_multiplier",
    "privacy_utility_bound",
    "perturbed_speed_bound",
    "perturbed_slope",
    "perturbed_shift",
]


def _grads(name, G) -> np.ndarray:
    G = check_finite_array(name, G, ndim=(1, 2))
    if G.ndim == 1:
        G = G.reshape(-1, 1)  # a 1-D array is n scalar gradients
    if G.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row (got shape {G.shape})")
    return G


def _mean_and_noise(G):
    g = G.mean(axis=0)
    return g, G - g


# ------------------------------------------------------------------------ left-hand sides
def descent_progress(G, c) -> float:
    r"""Expected first-order descent :math:`\mathbb E_i\langle g, \operatorname{clip}(g_i, c)\rangle`.

    With :math:`g = \frac1n\sum_i g_i` this is the left side of Lemmas 1-2. For symmetric
    noise it is :math:`\ge` :func:`sharp_stationarity_measure` :math:`\ge`
    :func:`stationarity_measure` :math:`\ge 0`.

    Parameters
    ----------
    G : array_like, shape (n, d) or (n,)
        Per-example gradients as rows (a 1-D array is n scalars).
    c : float in (0, inf]

    Returns
    -------
    float

    Examples
    --------
    Gradients 2 and 0 (g = 1): clipped at 1 they are 1 and 0, mean 1/2, times g = 1:

    >>> descent_progress([2.0, 0.0], 1.0)
    0.5
    """
    G = _grads("G", G)
    c = check_clip_threshold("c", c)
    g, _ = _mean_and_noise(G)
    return float(np.mean(clip_numpy(G, c)[0] @ g))


def stationarity_measure(G, c, a=0.25) -> float:
    r"""Lemma 2's lower bound :math:`P(\lVert\xi\rVert < ac)\,\min(\lVert g\rVert^2, (1-a)c\lVert g\rVert)`.

    :math:`P` is the empirical law of :math:`\xi_i = g_i - g`. Theorem 1 averages this
    (with :math:`a = 1/4`: weight :math:`P(\lVert\xi\rVert < c/4)` and
    :math:`\min(\lVert g\rVert^2, 3c\lVert g\rVert/4)`) along the run.

    Parameters
    ----------
    G : array_like, shape (n, d) or (n,)
    c : float in (0, inf)
    a : float in (0, 1), default 0.25

    Returns
    -------
    float

    Examples
    --------
    Gradients 1.1 and 0.9: g = 1, xi = +-0.1, both below c/4, so the value is
    min(1, 0.75) = 0.75 (and the progress, (1 + 0.9)/2 = 0.95, is larger):

    >>> stationarity_measure([1.1, 0.9], 1.0)
    0.75
    """
    G = _grads("G", G)
    c = check_positive("c", c)
    a = check_open_unit("a", a)
    g, xi = _mean_and_noise(G)
    gn = float(np.linalg.norm(g))
    prob = float(np.mean(np.linalg.norm(xi, axis=1) < a * c))
    return prob * min(gn * gn, (1.0 - a) * c * gn)


def sharp_stationarity_measure(G, c) -> float:
    r"""The pointwise form (L2'): :math:`\mathbb E\min(\lVert g\rVert^2, (c - \lVert\xi\rVert)_+\lVert g\rVert)`.

    For symmetric noise, :func:`descent_progress` is at least this, and this is at least
    :func:`stationarity_measure` for every ``a`` (``theory/lemma2.py``).

    Parameters
    ----------
    G : array_like, shape (n, d) or (n,)
    c : float in (0, inf)

    Returns
    -------
    float

    Examples
    --------
    Gradients 1.1 and 0.9 (g = 1, |xi| = 0.1): min(1, 0.9) = 0.9.

    >>> round(sharp_stationarity_measure([1.1, 0.9], 1.0), 12)
    0.9
    """
    G = _grads("G", G)
    c = check_positive("c", c)
    g, xi = _mean_and_noise(G)
    gn = float(np.linalg.norm(g))
    slack = np.maximum(c - np.linalg.norm(xi, axis=1), 0.0)
    return float(np.mean(np.minimum(gn * gn, slack * gn)))


def stationarity_along(problem, trajectory, c, a=0.25, sharp=False) -> np.ndarray:
    r"""The (sharp) stationarity measure at every recorded iterate.

    Parameters
    ----------
    problem : clipsgd.problems.Problem
        Supplies the per-example gradients (see :func:`gradients_along`).
    trajectory : array_like, shape (runs, n_rec, d), (n_rec, d) or (d,)
        Iterates, e.g. ``Result.trajectory``.
    c : float in (0, inf)
    a : float in (0, 1), default 0.25
        Ignored when ``sharp``.
    sharp : bool, default False
        Use :func:`sharp_stationarity_measure` instead of :func:`stationarity_measure`.

    Returns
    -------
    ndarray, shape ``trajectory.shape[:-1]``
        Equal (to rounding) to :func:`stationarity_measure` (or
        :func:`sharp_stationarity_measure`) of ``problem.per_example_grads(x)`` at each x.

    Notes
    -----
    Theorem 1's left side is the mean over *all* steps; with ``record_every > 1`` the
    mean over records estimates it (:func:`evaluate_run` needs every step).
    """
    c = check_positive("c", c)
    if not sharp:
        a = check_open_unit("a", a)

    def measure(Gb):
        g, gn, xin = _noise_stats(Gb)
        if sharp:
            return np.mean(np.minimum(gn[:, None] ** 2, np.maximum(c - xin, 0.0) * gn[:, None]), axis=1)
        return np.mean(xin < a * c, axis=1) * np.minimum(gn * gn, (1.0 - a) * c * gn)

    return _along(problem, trajectory, measure)


# ------------------------------------------------------------------ quantities along a run
_CHUNK = 1 << 20  # floats of per-example gradients held at once


def _check_problem(problem) -> Problem:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a clipsgd Problem (got {type(problem).__name__})")
    return problem


def _iterates(problem, trajectory):
    X = check_finite_array("trajectory", trajectory, ndim=(1, 2, 3))
    if X.shape[-1] != problem.dim:
        raise ValueError(f"trajectory must have last dimension dim={problem.dim} (got shape {X.shape})")
    return X, X.reshape(-1, X.shape[-1])


def _grads_block(problem, pts) -> np.ndarray:
    r"""Per-example gradients at m points, shape (m, n, d).

    Vectorised closed forms for the built-in GLMs (the same formulas as the problems'
    NumPy twins, see :mod:`clipsgd.problems`); any other problem goes point by point
    through ``problem.per_example_grads``.
    """
    Z, y = problem.X, problem.Y
    if problem.kind == QUADRATIC:  # x - a_i
        return pts[:, None, :] - Z[None, :, :]
    if problem.kind == LEAST_SQUARES:  # (x.z_i - y_i) z_i
        return (pts @ Z.T - y)[:, :, None] * Z[None, :, :]
    if problem.kind == LOGISTIC:  # (sigmoid(x.z_i) - y_i) z_i
        return (expit(pts @ Z.T) - y)[:, :, None] * Z[None, :, :]
    return np.stack([problem.per_example_grads(x) for x in pts])


def _along(problem, trajectory, reducer) -> np.ndarray:
    """``reducer`` (m, n, d) -> (m, ...) applied to chunks of iterates; shape traj[:-1] + (...)."""
    problem = _check_problem(problem)
    X, flat = _iterates(problem, trajectory)
    step = max(1, _CHUNK // (problem.n * problem.dim))
    parts = [reducer(_grads_block(problem, flat[j:j + step])) for j in range(0, flat.shape[0], step)]
    out = np.concatenate(parts, axis=0)
    return out.reshape(X.shape[:-1] + out.shape[1:])


def _noise_stats(Gb):
    """(g, ||g||, ||xi_i||) at each point of a block of per-example gradients (m, n, d)."""
    g = Gb.mean(axis=1)
    xi = Gb - g[:, None, :]
    return g, np.sqrt(np.einsum("md,md->m", g, g)), np.sqrt(np.einsum("mnd,mnd->mn", xi, xi))


def gradients_along(problem, trajectory) -> np.ndarray:
    r"""Per-example gradients :math:`g_i(x) = \nabla f_i(x)` at every iterate.

    Parameters
    ----------
    problem : clipsgd.problems.Problem
    trajectory : array_like, shape (..., d)

    Returns
    -------
    ndarray, shape ``trajectory.shape[:-1] + (n, d)``

    Examples
    --------
    Example 1 (:math:`g_i = x - a_i`, a = (-3, -3, 9)) at x = 1:

    >>> from clipsgd import problems
    >>> gradients_along(problems.example1(), [[1.0]])[0].ravel().tolist()
    [4.0, 4.0, -8.0]
    """
    return _along(problem, trajectory, lambda Gb: Gb)


def small_noise_probability_along(problem, trajectory, c, a=0.25) -> np.ndarray:
    r""":math:`P(\lVert\xi_t\rVert < ac)` at every iterate: the weight in Lemma 2 / Theorem 1.

    For a finite sum sampled one uniform example at a time, :math:`\xi_t` is uniform on
    :math:`\{g_i(x_t) - \nabla f(x_t)\}`, so this is the fraction of examples with
    :math:`\lVert g_i(x_t) - \nabla f(x_t)\rVert < ac`. The law is the same under the
    symmetrisation :math:`\tilde p_t` (norms are even), as Theorem 2 needs.

    Examples
    --------
    Example 2 (a = (-3, 3), :math:`\lvert\xi\rvert = 3`) has weight 0 for c = 1 and 1 for c = 13:

    >>> from clipsgd import problems
    >>> small_noise_probability_along(problems.example2(), [[0.0], [1.5]], 1.0).tolist()
    [0.0, 0.0]
    >>> small_noise_probability_along(problems.example2(), [[0.0]], 13.0).tolist()
    [1.0]
    """
    c = check_positive("c", c)
    a = check_open_unit("a", a)
    return _along(problem, trajectory, lambda Gb: np.mean(_noise_stats(Gb)[2] < a * c, axis=1))


def _progress_pm(Gb, c):
    r"""(E_p <g, clip(g + xi)>, E_p <g, clip(g - xi)>) at each point of a block."""
    m, n, d = Gb.shape
    g = Gb.mean(axis=1)
    plus = clip_numpy(Gb.reshape(-1, d), c)[0].reshape(m, n, d)
    minus = clip_numpy((2.0 * g[:, None, :] - Gb).reshape(-1, d), c)[0].reshape(m, n, d)
    return np.einsum("mnd,md->m", plus, g) / n, np.einsum("mnd,md->m", minus, g) / n


def clipping_bias_along(problem, trajectory, c) -> np.ndarray:
    r"""Theorem 2's bias :math:`b_t` against the symmetrisation, at every iterate.

    With :math:`p_t` uniform on :math:`\xi_i = g_i(x_t) - g_t` and
    :math:`\tilde p_t = \frac12(p_t + p_t(-\cdot))`,

    .. math:: b_t = \mathbb E_{\tilde p_t}\langle g_t, \operatorname{clip}(g_t+\xi, c)\rangle
              - \mathbb E_{p_t}\langle g_t, \operatorname{clip}(g_t+\xi, c)\rangle
              = \tfrac12\,\mathbb E_{p_t}\langle g_t, \operatorname{clip}(g_t-\xi, c)
              - \operatorname{clip}(g_t+\xi, c)\rangle,

    the same number as :func:`clipsgd.diagnostics.clipping_bias` (``.bias``), vectorised.
    It is 0 for symmetric noise.

    Examples
    --------
    Example 1 at its stall point x = -2.5 (hand: 7/12, see
    :func:`clipsgd.diagnostics.clipping_bias`):

    >>> from clipsgd import problems
    >>> round(float(clipping_bias_along(problems.example1(), [[-2.5]], 1.0)[0]), 12)
    0.583333333333
    """
    c = check_clip_threshold("c", c)

    def bias(Gb):
        plus, minus = _progress_pm(Gb, c)
        return 0.5 * (minus - plus)

    return _along(problem, trajectory, bias)


class BiasBound(NamedTuple):
    r"""Theorem 2's bias and its transport bounds at each iterate (arrays of one shape).

    Attributes
    ----------
    bias : ndarray
        :math:`b_t` (:func:`clipping_bias_along`).
    grad_norm : ndarray
        :math:`\lVert\nabla f(x_t)\rVert`.
    w1 : ndarray
        :math:`W_1(p_t, \tilde p_t)` (exact).
    w1_truncated : ndarray
        :math:`W_{2c}(p_t, \tilde p_t)`, cost :math:`\min(\lVert u - v\rVert, 2c)` (exact).

    Theorem 2: :math:`|b_t| \le \lVert\nabla f(x_t)\rVert\,W_{2c} \le \lVert\nabla f(x_t)\rVert\,W_1`.
    """

    bias: np.ndarray
    grad_norm: np.ndarray
    w1: np.ndarray
    w1_truncated: np.ndarray

    @property
    def bound(self) -> np.ndarray:
        r""":math:`\lVert\nabla f(x_t)\rVert\, W_1(p_t, \tilde p_t)`."""
        return self.grad_norm * self.w1

    @property
    def bound_truncated(self) -> np.ndarray:
        r""":math:`\lVert\nabla f(x_t)\rVert\, W_{2c}(p_t, \tilde p_t)`."""
        return self.grad_norm * self.w1_truncated


def bias_bound_along(problem, trajectory, c, exact_max=None) -> BiasBound:
    r"""Bias :math:`b_t`, :math:`\lVert\nabla f(x_t)\rVert` and the exact distances of
    :math:`p_t` to its symmetrisation at every iterate (Theorem 2).

    The distances come from :func:`clipsgd.diagnostics.w1_to_symmetrisation`
    (:math:`W(p, \tilde p) = W(p, p(-\cdot))/2`, exact: sorted in 1-D, an assignment
    otherwise). For a quadratic finite sum the noise :math:`\xi_i = \bar a - a_i` does not
    depend on x, so the distances are computed once.

    Parameters
    ----------
    problem : Problem
    trajectory : array_like, shape (..., d)
    c : float in (0, inf)
    exact_max : int, optional
        Largest n solved exactly (default :data:`clipsgd.diagnostics.EXACT_MAX`); above
        it a ValueError is raised, since a sliced estimate is not a bound.

    Returns
    -------
    BiasBound

    Examples
    --------
    Example 1 at x = -2.5 (c = 1): :math:`b = 7/12`, :math:`\lVert g\rVert = 3.5`;
    :math:`\xi = (4, 4, -8)` is at :math:`W_1 = 16/3` from its reflection (sorted
    :math:`(-8, 4, 4)` against :math:`(-4, -4, 8)`) and at :math:`W_2 = 2` with the cost
    capped at 2c = 2, so half of each from the symmetrisation:

    >>> from clipsgd import problems
    >>> r = bias_bound_along(problems.example1(), [[-2.5]], 1.0)
    >>> [round(float(v[0]), 12) for v in r]
    [0.583333333333, 3.5, 2.666666666667, 1.0]
    """
    from .diagnostics import EXACT_MAX

    problem = _check_problem(problem)
    c = check_positive("c", c)
    exact_max = EXACT_MAX if exact_max is None else check_int("exact_max", exact_max, 1)
    if problem.n > exact_max:
        raise ValueError(
            f"exact_max must be >= n={problem.n} for an exact W_1 (got {exact_max}); "
            "clipsgd.diagnostics.w1_to_symmetrisation gives sliced estimates, not bounds")
    bias = clipping_bias_along(problem, trajectory, c)
    G = gradients_along(problem, trajectory)
    flat = G.reshape((-1,) + G.shape[-2:])
    grad_norm = np.linalg.norm(flat.mean(axis=1), axis=1)
    w1 = np.empty(flat.shape[0])
    w1t = np.empty(flat.shape[0])
    for j, Gj in enumerate(flat):
        if problem.kind == QUADRATIC and j > 0:  # xi does not depend on x
            w1[j], w1t[j] = w1[0], w1t[0]
            continue
        w1[j], w1t[j] = _w1_to_symmetrisation_pair(Gj - Gj.mean(axis=0), 2.0 * c)
    shape = bias.shape
    return BiasBound(bias, grad_norm.reshape(shape), w1.reshape(shape), w1t.reshape(shape))


def _w1_to_symmetrisation_pair(xi, cap):
    r"""Exact :math:`(W_1, W_{cap})(p, \tilde p)` for the uniform law on the rows of xi.

    :math:`W(p, \tilde p) = W(p, p(-\cdot))/2` (``theory/theorem2.py``), and between two
    uniform n-atom laws an optimal coupling is a permutation (Birkhoff-von Neumann), so one
    cost matrix (:func:`clipsgd.diagnostics.pairwise_cost_numpy`) and two assignments give
    both; the same numbers as :func:`clipsgd.diagnostics.w1_to_symmetrisation`, without its
    parallel kernel (whose thread start-up dominates for the small n used here).
    """
    from scipy.optimize import linear_sum_assignment

    from .diagnostics import pairwise_cost_numpy

    C = pairwise_cost_numpy(xi, -xi)
    r, k = linear_sum_assignment(C)
    w1 = float(C[r, k].mean())
    if C.max() <= cap:
        return w1 / 2.0, w1 / 2.0
    Ct = np.minimum(C, cap)
    r, k = linear_sum_assignment(Ct)
    return w1 / 2.0, float(Ct[r, k].mean()) / 2.0


def smoothness(problem) -> float:
    r"""Smoothness constant G of :math:`f = \frac1n\sum_i f_i` for the built-in convex problems.

    ============== ===============================================================
    quadratic      :math:`G = 1` (:math:`\nabla^2 f = I`)
    least squares  :math:`G = \lambda_{\max}(Z^\top Z / n)` (the Hessian, exactly)
    logistic       :math:`G = \lambda_{\max}(Z^\top Z / n)/4` (:math:`\sigma' \le 1/4`)
    ============== ===============================================================

    Other problems raise ValueError: pass G to :func:`evaluate_run` yourself.

    Examples
    --------
    >>> from clipsgd import problems
    >>> smoothness(problems.least_squares([[1.0, 0.0], [0.0, 2.0]], [0.0, 0.0]))  # diag(1, 4)/2
    2.0
    """
    problem = _check_problem(problem)
    if problem.kind == QUADRATIC:
        return 1.0
    if problem.kind in (LEAST_SQUARES, LOGISTIC):
        Z = problem.X
        lam = float(np.linalg.eigvalsh(Z.T @ Z / problem.n).max())
        return lam if problem.kind == LEAST_SQUARES else lam / 4.0
    raise ValueError(
        f"smoothness is known in closed form for quadratic, least_squares and logistic problems "
        f"(got {problem.name!r}); pass smoothness=G explicitly")


def infimum(problem) -> float:
    r""":math:`\inf f` for the built-in convex problems, or an upper bound on it.

    Quadratic and least squares: :math:`f(x^*)` at the closed-form minimiser (exact).
    Logistic: :math:`f(\hat x)` at the L-BFGS minimiser, which is :math:`\ge \inf f`; then
    :math:`D_f = f(x_1) - f(\hat x)` is at most the true :math:`D_f` and a right-hand side
    built on it is never too generous.

    Examples
    --------
    >>> from clipsgd import problems
    >>> infimum(problems.example1())  # f(1) = (16 + 16 + 64)/6
    16.0
    """
    problem = _check_problem(problem)
    if problem.kind in (QUADRATIC, LEAST_SQUARES):
        return problem.loss(problem.x_star)
    if problem.kind == LOGISTIC:
        from scipy.optimize import minimize

        res = minimize(problem.loss, np.zeros(problem.dim), jac=problem.full_grad, method="L-BFGS-B",
                       options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000})
        return min(float(res.fun), problem.loss(np.zeros(problem.dim)))
    raise ValueError(
        f"inf f is known for quadratic, least_squares and logistic problems (got {problem.name!r}); "
        "pass f_inf explicitly")


@dataclass(frozen=True)
class RunBound:
    r"""Theorems 1-3 evaluated on the runs of one :class:`clipsgd.Result`.

    Per run r (one start :math:`x_1^{(r)}`, T steps):

    .. math:: L_r = \frac1T\sum_{t=1}^T P(\lVert\xi_t\rVert < ac)\min(\lVert g_t\rVert^2, (1-a)c\lVert g_t\rVert),
              \quad B_r = \frac1T\sum_{t=1}^T b_t,
              \quad R_r = \frac{D_f^{(r)}}{\alpha T} + \frac{G\alpha K}{2},

    with :math:`K = \kappa c^2 + d\sigma^2` (:math:`\kappa` = :func:`poisson_kappa` for
    Poisson batches, else 1; :math:`\sigma` the noise std on the averaged update). The
    theorem says :math:`\mathbb E[L_r] \le R_r + \mathbb E[B_r]`. The runs are
    independent, so ``margin`` :math:`= \overline{R_r - L_r + B_r}` estimates
    :math:`R + \mathbb E B - \mathbb E L` with standard error ``se`` (sample std over runs
    :math:`/\sqrt{\text{runs}}`).

    Attributes
    ----------
    lhs, bias, descent_term : ndarray (runs,)
        :math:`L_r`, :math:`B_r` and :math:`D_f^{(r)}/(\alpha T)`.
    variance_term : float
        :math:`G\alpha K/2`.
    D_f : ndarray (runs,)
    smoothness, alpha, c, K, kappa, sigma : float
    T, dim : int
    margin, se : float
    """

    lhs: np.ndarray
    bias: np.ndarray
    descent_term: np.ndarray
    variance_term: float
    D_f: np.ndarray
    smoothness: float
    alpha: float
    c: float
    K: float
    kappa: float
    sigma: float
    T: int
    dim: int
    margin: float
    se: float

    @property
    def rhs(self) -> float:
        r"""Mean right side over runs, :math:`\overline{R_r} + \overline{B_r}`."""
        return float(self.descent_term.mean() + self.variance_term + self.bias.mean())

    def holds(self, z=3.0) -> bool:
        """True unless ``margin < -z se`` (one-sided test of the theorem at level ``z``)."""
        z = check_nonnegative("z", z)
        return bool(self.margin >= -z * self.se)


def evaluate_run(result, a=0.25, sharp=False, smoothness=None, f_inf=None) -> RunBound:
    r"""Left side, bias and right side of Theorems 1-3 on a run of clipped SGD / DP-SGD.

    Theorem 1 (symmetric noise, :math:`b_t = 0`), Theorem 2 (any noise, bias added on the
    right) and Theorem 3 (DP-SGD, :math:`c^2 \to \kappa c^2 + d\sigma^2`) are one
    inequality; see :class:`RunBound` (``theory/theorem1.py`` - ``theorem3.py``).

    Parameters
    ----------
    result : clipsgd.Result
        From :func:`clipsgd.run` with ``record_every=1`` (the left side is a mean over
        *every* step). The algorithm must be :class:`clipsgd.ClippedSGD` or
        :class:`clipsgd.DPSGD` with a constant step, ``k = 0``, finite c, and batches
        drawn afresh each step: ``replacement`` (any B), ``poisson`` (rate q) or full
        batch. Epoch shuffling (``shuffle`` with B < n) is refused: within an epoch the
        batch depends on the past, and the proof needs
        :math:`\mathbb E_t\langle g_t, m_t\rangle = \mathbb E_{i}\langle g_t, \operatorname{clip}(g_i)\rangle`.
    a : float in (0, 1), default 0.25
    sharp : bool or "both", default False
        Use the left side of (L2'), :math:`\mathbb E\min(\lVert g\rVert^2, (c-\lVert\xi\rVert)_+\lVert g\rVert)`.
        ``"both"`` returns the pair (Lemma 2 form, (L2') form) from one pass.
    smoothness : float, optional
        G (default :func:`smoothness` of the problem).
    f_inf : float, optional
        :math:`\inf f` (default :func:`infimum`).

    Returns
    -------
    RunBound (a pair of them for ``sharp="both"``)
    """
    from .algorithms import ClippedSGD, DPSGD, Method, Sampling, Schedule

    alg = result.algorithm
    problem = _check_problem(result.problem)
    if not isinstance(alg, ClippedSGD) or alg.method is not Method.CLIP:
        raise ValueError(f"result.algorithm must be ClippedSGD or DPSGD (got {type(alg).__name__})")
    if alg.schedule is not Schedule.CONSTANT:
        raise ValueError(f"the theorems need a constant step: schedule must be 'constant' (got {alg.schedule.value!r})")
    if alg.k != 0.0:
        raise ValueError(f"k must be 0: the theorems are about plain clipping (got k={alg.k})")
    if math.isinf(alg.c):
        raise ValueError("c must be finite")
    n = problem.n
    if alg.sampling is Sampling.SHUFFLE and alg.batch_size != n:
        raise ValueError(
            f"sampling='shuffle' with batch_size={alg.batch_size} < n={n} is not covered "
            "(batches within an epoch depend on the past); use 'replacement' or 'poisson'")
    T = int(result.steps)
    if not np.array_equal(result.record_steps, np.arange(T + 1)):
        raise ValueError("result must record every step: run(..., record_every=1)")
    a = check_open_unit("a", a)
    G = globals()["smoothness"](problem) if smoothness is None else check_positive("smoothness", smoothness)
    f_inf = infimum(problem) if f_inf is None else check_real("f_inf", f_inf)
    c, alpha, dim = float(alg.c), float(alg.lr), problem.dim
    kappa = poisson_kappa(alg.sample_rate, n) if alg.sampling is Sampling.POISSON else 1.0
    sigma = alg.noise_std(n) if isinstance(alg, DPSGD) else 0.0
    K = kappa * c * c + dim * sigma * sigma

    X = result.trajectory[:, :T]  # x_1 .. x_T: the points where a step is taken

    def terms(Gb):  # (measure, sharp measure, b) at each point, one pass over the gradients
        g, gn, xin = _noise_stats(Gb)
        sharp_m = np.mean(np.minimum(gn[:, None] ** 2, np.maximum(c - xin, 0.0) * gn[:, None]), axis=1)
        meas = np.mean(xin < a * c, axis=1) * np.minimum(gn * gn, (1.0 - a) * c * gn)
        plus, minus = _progress_pm(Gb, c)
        return np.stack([meas, sharp_m, 0.5 * (minus - plus)], axis=1)

    per_run = _along(problem, X, terms).mean(axis=1)  # (runs, 3)
    bias = per_run[:, 2]
    x1 = result.trajectory[:, 0]
    D_f = np.array([problem.loss(x) for x in x1]) - f_inf
    if np.any(D_f < -1e-9 * (1.0 + abs(f_inf))):
        raise ValueError(f"f_inf={f_inf} exceeds f(x_1) for some run: it is not a lower bound")
    D_f = np.maximum(D_f, 0.0)
    descent = D_f / (alpha * T)
    variance = G * alpha * K / 2.0

    def bound(lhs):
        q = descent + variance - lhs + bias
        runs = q.shape[0]
        se = float(q.std(ddof=1) / math.sqrt(runs)) if runs > 1 else math.inf
        return RunBound(lhs, bias, descent, variance, D_f, G, alpha, c, K, kappa, sigma, T, dim,
                        float(q.mean()), se)

    if sharp == "both":  # for clipsgd.verify: both left sides from one pass
        return bound(per_run[:, 0]), bound(per_run[:, 1])
    return bound(per_run[:, 1] if sharp else per_run[:, 0])


# ----------------------------------------------------------------------- right-hand sides
def descent_rhs(D_f, smoothness, alpha, T, K) -> float:
    r""":math:`D_f/(\alpha T) + G\alpha K/2`, the right side shared by Theorems 1-3.

    Parameters
    ----------
    D_f : float >= 0
        :math:`f(x_1) - \inf f`.
    smoothness : float > 0
        The smoothness constant G (gradient Lipschitz constant).
    alpha : float > 0
        Constant step size.
    T : int >= 1
        Number of steps.
    K : float >= 0
        Bound on the second moment of the update: :math:`c^2` (clipped SGD) or
        :math:`\kappa c^2 + d\sigma^2` (DP-SGD).

    Returns
    -------
    float

    Examples
    --------
    >>> descent_rhs(D_f=2.0, smoothness=1.0, alpha=0.1, T=100, K=1.0)  # 0.2 + 0.05
    0.25
    """
    D_f = check_nonnegative("D_f", D_f)
    smoothness = check_positive("smoothness", smoothness)
    alpha = check_positive("alpha", alpha)
    T = check_int("T", T, minimum=1)
    K = check_nonnegative("K", K)
    return D_f / (alpha * T) + smoothness * alpha * K / 2.0


def theorem1_rhs(D_f, smoothness, alpha, c, T) -> float:
    r"""Theorem 1 (clipped SGD, symmetric noise): :math:`D_f/(\alpha T) + G\alpha c^2/2`.

    Examples
    --------
    >>> theorem1_rhs(2.0, 1.0, 0.1, 1.0, 100)
    0.25
    """
    c = check_positive("c", c)
    return descent_rhs(D_f, smoothness, alpha, T, c * c)


def theorem2_rhs(D_f, smoothness, alpha, c, T, mean_bias) -> float:
    r"""Theorem 2 (any noise): :math:`D_f/(\alpha T) + G\alpha c^2/2 + \frac1T\sum_t \mathbb E b_t`.

    ``mean_bias`` is :math:`\frac1T\sum_t \mathbb E b_t` (any sign; see
    :func:`clipping_bias_along`).

    Examples
    --------
    >>> theorem2_rhs(2.0, 1.0, 0.1, 1.0, 100, mean_bias=0.05)
    0.3
    """
    mean_bias = check_real("mean_bias", mean_bias)
    return theorem1_rhs(D_f, smoothness, alpha, c, T) + mean_bias


def poisson_kappa(q, n) -> float:
    r"""Second-moment inflation of a Poisson batch normalised by :math:`qn`: :math:`1 + (1-q)/(qn)`.

    :math:`\mathbb E\lVert\frac1{qn}\sum_i B_i s_i\rVert^2 \le \kappa c^2` for
    :math:`\lVert s_i\rVert \le c`, with equality when all :math:`s_i` are equal with norm
    c (``theory/theorem3.py``). Fixed-size batches have :math:`\kappa = 1`.

    Examples
    --------
    >>> poisson_kappa(0.5, 10)  # 1 + 0.5/5
    1.1
    """
    q = check_rate("q", q)
    n = check_int("n", n, minimum=1)
    return 1.0 + (1.0 - q) / (q * n)


def theorem3_rhs(D_f, smoothness, alpha, c, T, dim, sigma, kappa=1.0) -> float:
    r"""Theorem 3 (DP-SGD): :math:`D_f/(\alpha T) + G\alpha(\kappa c^2 + d\sigma^2)/2`.

    Parameters
    ----------
    dim : int >= 1
        Dimension d of the parameter.
    sigma : float >= 0
        Std of the Gaussian noise on the *averaged* update (``z c / B`` for noise
        multiplier z and batch size B; ``z c / (q n)`` for Poisson sampling).
    kappa : float >= 1
        1 for fixed-size batches, :func:`poisson_kappa` for Poisson batches.

    Examples
    --------
    >>> theorem3_rhs(2.0, 1.0, 0.1, 1.0, 100, dim=3, sigma=1.0)  # 0.2 + 0.05 * 4
    0.4
    """
    c = check_positive("c", c)
    dim = check_int("dim", dim, minimum=1)
    sigma = check_nonnegative("sigma", sigma)
    kappa = check_positive("kappa", kappa)
    if kappa < 1.0:
        raise ValueError(f"kappa must be >= 1 (got {kappa!r})")
    return descent_rhs(D_f, smoothness, alpha, T, kappa * c * c + dim * sigma * sigma)


def optimal_step_size(D_f, smoothness, T, K) -> float:
    r""":math:`\alpha^* = \sqrt{2D_f/(GKT)}`, the minimiser of :func:`descent_rhs`.

    Examples
    --------
    >>> optimal_step_size(D_f=2.0, smoothness=1.0, T=100, K=1.0)  # sqrt(4/100)
    0.2
    """
    D_f = check_positive("D_f", D_f)
    smoothness = check_positive("smoothness", smoothness)
    T = check_int("T", T, minimum=1)
    K = check_positive("K", K)
    return math.sqrt(2.0 * D_f / (smoothness * K * T))


def optimal_rate(D_f, smoothness, T, K) -> float:
    r""":math:`\min_\alpha` :func:`descent_rhs` :math:`= \sqrt{2D_fGK/T}`.

    Examples
    --------
    >>> optimal_rate(D_f=2.0, smoothness=1.0, T=100, K=1.0)  # sqrt(4/100)
    0.2
    """
    D_f = check_nonnegative("D_f", D_f)
    smoothness = check_positive("smoothness", smoothness)
    T = check_int("T", T, minimum=1)
    K = check_nonnegative("K", K)
    return math.sqrt(2.0 * D_f * smoothness * K / T)


# ------------------------------------------------------------------------------- privacy
def zcdp_noise_multiplier(eps, delta, T) -> float:
    r"""Noise multiplier making T full-batch Gaussian steps :math:`(\varepsilon,\delta)`-DP.

    :math:`z = \sqrt{2T(\log(1/\delta) + \varepsilon)}/\varepsilon` (add/remove-one
    adjacency, sensitivity c of the clipped sum, noise :math:`N(0, (zc)^2 I)`): the steps
    are :math:`T/(2z^2)`-zCDP, and :math:`\rho \le \varepsilon^2/(4(L+\varepsilon))`
    implies :math:`\rho + 2\sqrt{\rho L} \le \varepsilon` (``theory/rates.py``). This is a
    simple, slightly conservative calibration; use :mod:`clipsgd.privacy` for tight
    accounting. Like all of clipsgd, the noise is not hardened against floating-point
    attacks.

    Examples
    --------
    >>> round(zcdp_noise_multiplier(1.0, math.exp(-1.0), 4), 12)  # sqrt(2*4*2)/1
    4.0
    """
    eps = check_positive("eps", eps)
    delta = check_open_unit("delta", delta)
    T = check_int("T", T, minimum=1)
    return math.sqrt(2.0 * T * (math.log(1.0 / delta) + eps)) / eps


def privacy_utility_bound(D_f, smoothness, c, dim, n, eps, delta):
    r"""Privacy-utility corollary: the DP rate and the number of steps that attains it.

    Full-batch DP-GD calibrated by :func:`zcdp_noise_multiplier`, optimal constant step,
    symmetric noise. For :math:`T \ge T_0 = n^2\varepsilon^2/(2d(L+\varepsilon))`,
    :math:`L = \log(1/\delta)`, the right side of Theorem 3 is at most

    .. math:: 2\sqrt2\, c\sqrt{D_f G d (L + \varepsilon)} / (n\varepsilon)
              \;(\le 4c\sqrt{D_f G d L}/(n\varepsilon) \text{ if } \varepsilon \le L).

    Returns
    -------
    bound : float
    T0 : int
        The smallest admissible number of steps, :math:`\lceil T_0\rceil`.

    Examples
    --------
    D_f = G = c = d = 1, n = 100, eps = 1, L = 1: bound 2 sqrt(2) sqrt(2)/100 = 0.04,
    T0 = ceil(10^4 / 4) = 2500.

    >>> b, T0 = privacy_utility_bound(1.0, 1.0, 1.0, 1, 100, 1.0, math.exp(-1.0))
    >>> round(b, 12), T0
    (0.04, 2500)
    """
    D_f = check_nonnegative("D_f", D_f)
    smoothness = check_positive("smoothness", smoothness)
    c = check_positive("c", c)
    dim = check_int("dim", dim, minimum=1)
    n = check_int("n", n, minimum=1)
    eps = check_positive("eps", eps)
    delta = check_open_unit("delta", delta)
    L = math.log(1.0 / delta)
    bound = 2.0 * math.sqrt(2.0) * c * math.sqrt(D_f * smoothness * dim * (L + eps)) / (n * eps)
    T0 = max(1, math.ceil(n * n * eps * eps / (2.0 * dim * (L + eps)) - 1e-9))
    return bound, T0


# -------------------------------------------------------------------------- perturbation
def perturbed_speed_bound(k, c) -> float:
    r"""1-D: :math:`L_k = 2c/(k\sqrt{2\pi})`, an exact upper bound on the slope of
    :math:`H_k(m) = \mathbb E\operatorname{clip}(m + kZ, c)` (``theory/perturbation.py``).

    Examples
    --------
    >>> round(perturbed_speed_bound(2.0 / math.sqrt(2 * math.pi), 1.0), 12)
    1.0
    """
    k = check_positive("k", k)
    c = check_positive("c", c)
    return 2.0 * c / (k * math.sqrt(2.0 * math.pi))


def perturbed_slope(k, c, dim=1) -> float:
    r"""Slope of the perturbed drift at 0, to leading order in 1/k: :math:`(c/k)\,\mathbb E[\chi_d]/d`.

    :math:`\mathbb E[\chi_d]/d = \sqrt2\,\Gamma((d+1)/2)/(d\,\Gamma(d/2))`: :math:`\sqrt{2/\pi}` in
    1-D (so the slope is :func:`perturbed_speed_bound`), between :math:`1/\sqrt{d+1}` and
    :math:`1/\sqrt d` in general (``theory/perturbation_nd.py``).

    Examples
    --------
    >>> math.isclose(perturbed_slope(1.0, 1.0, dim=1), perturbed_speed_bound(1.0, 1.0))
    True
    >>> round(perturbed_slope(1.0, 1.0, dim=2), 12)  # E[chi_2]/2 = sqrt(pi/2)/2
    0.626657068658
    """
    k = check_positive("k", k)
    c = check_positive("c", c)
    dim = check_int("dim", dim, minimum=1)
    chi_mean = math.sqrt(2.0) * math.exp(gammaln((dim + 1) / 2.0) - gammaln(dim / 2.0))
    return c / k * chi_mean / dim


def perturbed_shift(a, k) -> np.ndarray | float:
    r"""Leading-order shift of the stationary point under perturbed clipping.

    For :math:`f_i(x) = \lVert x - a_i\rVert^2/2` (gradient noise
    :math:`\xi_i = x^* - a_i`, :math:`x^* = \bar a`) and perturbation
    :math:`k\zeta`, :math:`\zeta \sim N(0, I_d)`, the zero of the expected perturbed
    clipped gradient is

    .. math:: x_k = x^* + \frac{\mathbb E[\lVert\xi\rVert^2\xi]}{2(d+2)k^2} + o(k^{-2}),

    in 1-D :math:`x^* + \mathbb E[\xi^3]/(6k^2)` (``theory/perturbation.py``,
    ``theory/perturbation_nd.py``). Note the sign: xi is the gradient noise, not
    :math:`a_i - x^*`.

    Parameters
    ----------
    a : array_like, shape (n,) or (n, d)
        The centres a_i (rows).
    k : float > 0

    Returns
    -------
    float (1-D input) or ndarray (d,)

    Examples
    --------
    Example 1, a = (-3, -3, 9): xi = (4, 4, -8), E xi^3 = -128, shift -128/(6 k^2):

    >>> round(perturbed_shift([-3.0, -3.0, 9.0], 4.0), 12)  # -128/96
    -1.333333333333
    """
    A = check_finite_array("a", a, ndim=(1, 2))
    k = check_positive("k", k)
    scalar = A.ndim == 1
    A = A.reshape(-1, 1) if scalar else A
    if A.shape[0] == 0:
        raise ValueError("a must have at least one row")
    d = A.shape[1]
    xi = A.mean(axis=0) - A
    shift = np.mean(np.sum(xi * xi, axis=1)[:, None] * xi, axis=0) / (2.0 * (d + 2) * k * k)
    return float(shift[0]) if scalar else shift
