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

Right-hand sides: :func:`descent_rhs` (:math:`D_f/(\alpha T) + G\alpha K/2`),
:func:`theorem1_rhs` (:math:`K = c^2`), :func:`theorem3_rhs`
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

import numpy as np
from scipy.special import gammaln

from ._validate import (
    check_clip_threshold,
    check_finite_array,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_rate,
)
from .clip import clip_numpy

__all__ = [
    "descent_progress",
    "stationarity_measure",
    "sharp_stationarity_measure",
    "stationarity_along",
    "descent_rhs",
    "theorem1_rhs",
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
        Supplies ``per_example_grads(x) -> (n, d)``.
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

    Notes
    -----
    Theorem 1's left side is the mean over *all* steps; with ``record_every > 1`` the
    mean over records estimates it.
    """
    X = check_finite_array("trajectory", trajectory, ndim=(1, 2, 3))
    c = check_positive("c", c)
    if not sharp:
        a = check_open_unit("a", a)
    flat = X.reshape(-1, X.shape[-1])
    out = np.empty(flat.shape[0])
    for j, x in enumerate(flat):
        G = problem.per_example_grads(x)
        out[j] = sharp_stationarity_measure(G, c) if sharp else stationarity_measure(G, c, a)
    return out.reshape(X.shape[:-1])


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
