r"""Geometry of a matrix of per-example gradients at one point: symmetry and clipping bias.

At a point :math:`x` with per-example gradients :math:`g_i = g + \xi_i`
(:math:`g = \nabla f(x)` the mean, :math:`\xi_i` the *gradient noise*), Chen, Wu & Hong
(arXiv:2006.15429) explain when clipping hurts by the distance of the noise distribution
:math:`p` (uniform on the :math:`\xi_i`) from a symmetric one.  Their Theorem 2 bounds the
*clipping bias* against any symmetric :math:`\tilde p`,

.. math::

    b = \mathbb{E}_{\tilde p}\langle g, \operatorname{clip}(g + \xi, c)\rangle
      - \mathbb{E}_{p}\langle g, \operatorname{clip}(g + \xi, c)\rangle,
    \qquad |b| \le \lVert g \rVert \, W_1(p, \tilde p),

because :math:`\xi \mapsto \langle g, \operatorname{clip}(g + \xi, c)\rangle` is
:math:`\lVert g\rVert`-Lipschitz with range of width :math:`2c\lVert g\rVert` (so the cost
may be truncated to :math:`\min(\lVert u - v\rVert, 2c)`).  This module computes every
quantity in that statement for an empirical :math:`p`, plus the statistics the paper only
showed as pictures (random 2-D projections) turned into numbers.

Exactness
---------
For two uniform distributions on :math:`n` atoms each, optimal transport is attained at a
permutation (Birkhoff-von Neumann), so

.. math:: W_1(A, B) = \min_{\sigma} \frac1n \sum_i c(a_i, b_{\sigma(i)}),

solved exactly by :func:`scipy.optimize.linear_sum_assignment`; in 1-D (untruncated
cost) the sorted matching is optimal.  Above ``exact_max`` atoms a sliced estimate is
returned and labelled ``method="sliced"``.

The symmetrisation needs no second transport problem: for any metric cost
(the Euclidean one or its truncation), Kantorovich-Rubinstein duality
:math:`W_1(\mu, \nu) = \sup_{\mathrm{Lip}(f) \le 1} \int f \, d(\mu - \nu)` depends on
:math:`\mu - \nu` only, and :math:`p - \tfrac12(p + p^-) = \tfrac12(p - p^-)`, hence

.. math:: W_1\bigl(p, \tfrac12(p + p^-)\bigr) = \tfrac12 W_1(p, p^-),

an equality (the convexity bound only gives :math:`\le`).  The tests check it against
the direct :math:`2n`-atom assignment.

Caveat on high dimensions: two samples from the *same* distribution in :math:`d`
dimensions are far apart in :math:`W_1` (of order :math:`n^{-1/d}` times the spread), so
the exact :math:`d`-dimensional disparity of a finite sample is large even for a
perfectly symmetric population.  The bias bound stays valid (it is a statement about the
empirical :math:`p` itself), but as a *test* of symmetry use the 1-D projected
statistics (``sliced_disparity``, skewness), whose sampling error is
:math:`O(n^{-1/2})`.

Compiled parts: only the pairwise cost matrix (:func:`pairwise_cost`, a Numba kernel
parallel over rows, 5-6x faster than :func:`scipy.spatial.distance.cdist` on 2 cores);
its readable definition is :func:`pairwise_cost_numpy`.  The assignment itself is
SciPy's; everything else is vectorised NumPy.

References
----------
X. Chen, Z. S. Wu, M. Hong, "Understanding Gradient Clipping in Private SGD: A Geometric
Perspective", NeurIPS 2020, arXiv:2006.15429.
C. Villani, *Optimal Transport: Old and New*, Springer 2009 (Kantorovich-Rubinstein
duality, Thm. 5.10 and Rem. 6.5).
N. Bonneel, J. Rabin, G. Peyre, H. Pfister, "Sliced and Radon Wasserstein barycenters of
measures", J. Math. Imaging Vis. 51 (2015) (sliced Wasserstein distance).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np
from numba import njit, prange
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaln

from .clip import clip_numpy
from ._validate import (
    check_clip_threshold,
    check_finite_array,
    check_int,
    check_open_unit,
    check_positive,
)

__all__ = [
    "gradient_noise",
    "reflect",
    "pairwise_cost",
    "pairwise_cost_numpy",
    "W1Estimate",
    "wasserstein1",
    "w1_to_reflection",
    "w1_to_symmetrisation",
    "ClippingBias",
    "clipping_bias",
    "prob_small_noise",
    "clip_fraction",
    "random_directions",
    "skewness",
    "third_moments",
    "sliced_disparity",
    "random_projections_2d",
    "SymmetryReport",
    "symmetry_report",
]

#: Default largest number of atoms for which W_1 is solved exactly by assignment.
#: linear_sum_assignment takes about 1 s at n = 2000 (d = 64) and grows like n^2-n^3.
EXACT_MAX = 2000
#: Default number of random directions for the sliced estimate.
N_PROJECTIONS = 256

_METHODS = ("auto", "sorted", "assignment", "sliced")


# ---------------------------------------------------------------------------------------
# validation and randomness helpers
# ---------------------------------------------------------------------------------------


def _gradients(name, G) -> np.ndarray:
    """A finite float (n, d) array with n >= 1 and d >= 1."""
    arr = check_finite_array(name, G, ndim=2)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column (got shape {arr.shape})")
    return arr


def _points(name, X) -> np.ndarray:
    """Atoms of an empirical distribution: (n,) scalars or (n, d) vectors, as (n, d)."""
    arr = check_finite_array(name, X, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one atom of dimension >= 1 (got shape {arr.shape})")
    return arr


def _cap(cap):
    """None/inf -> inf (no truncation); else a positive float."""
    if cap is None:
        return math.inf
    return check_positive("cap", cap, allow_inf=True)


def _rng(seed) -> np.random.Generator:
    """A Generator from an int, SeedSequence, Generator or None."""
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int, SeedSequence, Generator or None (got {seed!r})")
    if isinstance(seed, np.random.Generator):
        return seed
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"seed must be a non-negative int, SeedSequence, Generator or None (got {seed!r}: {exc})"
        ) from None


def _unit_exponent(*arrays) -> int:
    r"""The :math:`e` with :math:`\max|a| \cdot 2^{-e} \in [1/2, 1)` over the arrays (0 if all
    are zero).

    Every distance, norm and clipped inner product here is positively homogeneous in the
    gradients (with the threshold scaled alike), and scaling by a power of two is exact, so
    the computations run on :math:`2^{-e}` times the input and scale back: no squared
    entry overflows (gradients ~1e200) or underflows (~1e-200). Exact unless an entry is
    more than :math:`2^{1074}` times smaller than the largest (it then rounds to 0)."""
    m = max(float(np.max(np.abs(a))) for a in arrays)
    return math.frexp(m)[1] if m > 0 else 0


def _ldexp(v: float, e: int) -> float:
    r""":math:`v \cdot 2^e` as a float: inf past the float64 range (no OverflowError)."""
    with np.errstate(over="ignore"):
        return float(np.ldexp(v, e))


# ---------------------------------------------------------------------------------------
# noise and reflection
# ---------------------------------------------------------------------------------------


def gradient_noise(G):
    r"""Split per-example gradients into their mean and the gradient noise.

    .. math:: g = \frac1n \sum_i g_i, \qquad \xi_i = g_i - g .

    Parameters
    ----------
    G : array_like, shape (n, d)
        Per-example gradients as rows; finite.

    Returns
    -------
    g : ndarray, shape (d,)
        The mean gradient (the full gradient :math:`\nabla f(x)` for a finite sum).
    xi : ndarray, shape (n, d)
        The noise :math:`\xi_i`; its empirical distribution is :math:`p` of arXiv:2006.15429.

    Examples
    --------
    Example 1 of the paper at its spurious limit :math:`x = -2.5`: :math:`g_i = x - a_i`
    with :math:`a = (-3, -3, 9)`.

    >>> g, xi = gradient_noise([[0.5], [0.5], [-11.5]])
    >>> g.tolist(), xi.ravel().tolist()
    ([-3.5], [4.0, 4.0, -8.0])
    """
    G = _gradients("G", G)
    g = G.mean(axis=0)
    return g, G - g


def reflect(xi):
    r"""The reflected noise :math:`-\xi`, whose distribution is :math:`p^-(\cdot) = p(-\cdot)`.

    Parameters
    ----------
    xi : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (n, d)

    Examples
    --------
    >>> reflect([[1.0, -2.0]]).tolist()
    [[-1.0, 2.0]]
    """
    return -_gradients("xi", xi)


# ---------------------------------------------------------------------------------------
# cost matrix: Numba kernel and its NumPy twin
# ---------------------------------------------------------------------------------------


@njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def _pairwise_cost_kernel(A, B, cap):
    """C[i, j] = min(||A[i] - B[j]||_2, cap); rows in parallel (thread-count independent)."""
    n, d = A.shape
    m = B.shape[0]
    out = np.empty((n, m))
    for i in prange(n):
        for j in range(m):
            s = 0.0
            for k in range(d):
                t = A[i, k] - B[j, k]
                s += t * t
            v = math.sqrt(s)
            out[i, j] = v if v < cap else cap
    return out


def pairwise_cost_numpy(A, B, cap=None) -> np.ndarray:
    r"""Readable definition of the (truncated) Euclidean cost matrix.

    .. math:: C_{ij} = \min(\lVert a_i - b_j \rVert_2, \mathrm{cap})

    Memory :math:`O(n m d)`; use :func:`pairwise_cost` for real sizes.

    Parameters
    ----------
    A : array_like, shape (n, d) or (n,)
    B : array_like, shape (m, d) or (m,)
    cap : float in (0, inf] or None
        Truncation level (None or inf: no truncation).

    Returns
    -------
    ndarray, shape (n, m)
    """
    A, B = _points("A", A), _points("B", B)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"B must have the same dimension as A (got {B.shape[1]} and {A.shape[1]})")
    dist = np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=2))
    return np.minimum(dist, _cap(cap))


def pairwise_cost(A, B, cap=None) -> np.ndarray:
    r"""The (truncated) Euclidean cost matrix :math:`C_{ij} = \min(\lVert a_i - b_j\rVert, \mathrm{cap})`.

    Numba kernel, parallel over rows; equal to :func:`pairwise_cost_numpy` up to
    summation order (relative difference ~1e-15).  Differences are formed directly (no
    :math:`\lVert a\rVert^2 + \lVert b\rVert^2 - 2a\cdot b` cancellation), so identical
    atoms have cost exactly 0.

    Parameters
    ----------
    A : array_like, shape (n, d) or (n,)
    B : array_like, shape (m, d) or (m,)
    cap : float in (0, inf] or None
        Truncation level (None or inf: no truncation).

    Returns
    -------
    ndarray, shape (n, m)

    Examples
    --------
    >>> pairwise_cost([[0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0]]).tolist()
    [[5.0, 1.0]]
    >>> pairwise_cost([[0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0]], cap=2.0).tolist()
    [[2.0, 1.0]]
    """
    A, B = _points("A", A), _points("B", B)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"B must have the same dimension as A (got {B.shape[1]} and {A.shape[1]})")
    return _pairwise_cost_kernel(A, B, _cap(cap))


# ---------------------------------------------------------------------------------------
# Wasserstein-1
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class W1Estimate:
    r"""A Wasserstein-1 distance and how it was obtained.

    Attributes
    ----------
    value : float
        The distance (``exact``) or the sliced estimate (``method == "sliced"``).
    method : str
        ``"sorted"`` (exact, 1-D), ``"assignment"`` (exact, optimal permutation) or
        ``"sliced"`` (random-projection estimate).
    exact : bool
        True unless ``method == "sliced"``.
    lower_bound : float
        A guaranteed lower bound on the true :math:`W_1`: ``value`` when exact; for the
        sliced estimate :math:`\max_l W_1(\theta_l \# A, \theta_l \# B)` (every
        projection onto a unit vector is 1-Lipschitz).
    stderr : float
        Monte Carlo standard error of ``value`` over the directions (0 when exact).
    n_atoms : int
        Number of atoms of each distribution.
    n_projections : int
        Directions used (0 when exact).
    cap : float
        Cost truncation level (``inf``: plain Euclidean cost).
    """

    value: float
    method: str
    exact: bool
    lower_bound: float
    stderr: float
    n_atoms: int
    n_projections: int
    cap: float

    def __float__(self) -> float:
        return self.value

    def _rescaled(self, e: int, cap: float) -> "W1Estimate":
        """This estimate, computed on :math:`2^{-e}` times the atoms, in the original units."""
        return replace(self, value=_ldexp(self.value, e), lower_bound=_ldexp(self.lower_bound, e),
                       stderr=_ldexp(self.stderr, e), cap=cap)

    def halved(self) -> "W1Estimate":
        """The estimate of :math:`W_1(p, \\tfrac12(p+q))` from one of :math:`W_1(p, q)`."""
        return W1Estimate(
            self.value / 2, self.method, self.exact, self.lower_bound / 2, self.stderr / 2,
            self.n_atoms, self.n_projections, self.cap,
        )


def _w1_sorted(A: np.ndarray, B: np.ndarray) -> float:
    """Exact 1-D W_1 between equal-size uniform samples: match order statistics."""
    return float(np.mean(np.abs(np.sort(A[:, 0]) - np.sort(B[:, 0]))))


def _w1_assignment(C: np.ndarray) -> float:
    """Exact W_1 between uniform n-atom distributions with cost matrix C (n, n)."""
    rows, cols = linear_sum_assignment(C)
    return float(C[rows, cols].sum() / C.shape[0])


def _mean_abs_coordinate(d: int) -> float:
    r""":math:`\mathbb{E}|\theta_1|` for :math:`\theta` uniform on :math:`S^{d-1}`:
    :math:`\Gamma(d/2) / (\sqrt{\pi}\,\Gamma((d+1)/2))` (1, 2/pi, 1/2 for d = 1, 2, 3)."""
    return float(np.exp(gammaln(d / 2) - gammaln((d + 1) / 2)) / math.sqrt(math.pi))


def random_directions(d: int, n_directions: int, seed=0) -> np.ndarray:
    r"""Independent directions uniform on the unit sphere :math:`S^{d-1}` (normalised Gaussians).

    Parameters
    ----------
    d : int >= 1
    n_directions : int >= 1
    seed : int, SeedSequence, Generator or None

    Returns
    -------
    ndarray, shape (n_directions, d)
        Unit rows.  Same seed, same bits.
    """
    d = check_int("d", d, minimum=1)
    n_directions = check_int("n_directions", n_directions, minimum=1)
    rng = _rng(seed)
    while True:
        U = rng.standard_normal((n_directions, d))
        norms = np.linalg.norm(U, axis=1)
        if np.all(norms > 0):  # a zero Gaussian vector has probability 0
            return U / norms[:, None]


def _sliced_per_direction(A: np.ndarray, B: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """W_1 of the 1-D projections on each row of theta: shape (L,)."""
    PA = np.sort(A @ theta.T, axis=0)
    PB = np.sort(B @ theta.T, axis=0)
    return np.mean(np.abs(PA - PB), axis=0)


def _w1_sliced(A, B, n_projections, seed) -> W1Estimate:
    d = A.shape[1]
    theta = random_directions(d, n_projections, seed)
    w = _sliced_per_direction(A, B, theta)
    kappa = _mean_abs_coordinate(d)
    scaled = w / kappa
    stderr = float(scaled.std(ddof=1) / math.sqrt(len(w))) if len(w) > 1 else math.inf
    lower = float(w.max())  # guaranteed: W_1 >= every projected W_1
    return W1Estimate(
        max(float(scaled.mean()), lower), "sliced", False, lower, stderr, A.shape[0], len(w), math.inf
    )


def wasserstein1(A, B, *, cap=None, method="auto", exact_max=EXACT_MAX,
                 n_projections=N_PROJECTIONS, seed=0) -> W1Estimate:
    r"""Wasserstein-1 distance between two uniform empirical distributions of :math:`n` atoms.

    .. math::

        W_1(A, B) = \min_{\sigma \in S_n} \frac1n \sum_{i=1}^n
        \min\bigl(\lVert a_i - b_{\sigma(i)} \rVert_2, \mathrm{cap}\bigr)

    (a permutation is optimal for equal uniform weights, Birkhoff-von Neumann).

    Notes
    -----
    Methods:

    ``"sorted"``
        1-D, untruncated: :math:`\frac1n\sum_i |a_{(i)} - b_{(i)}|` (order statistics).
    ``"assignment"``
        Any dimension and cap: :func:`scipy.optimize.linear_sum_assignment` on
        :func:`pairwise_cost`.  Exact; time about 1 s for n = 2000.
    ``"sliced"``
        Untruncated only.  With :math:`\theta_1..\theta_L` uniform on the sphere,
        :math:`\widehat W = \max\bigl(\frac{1}{\kappa_d L}\sum_l W_1(\theta_l\#A, \theta_l\#B),
        \max_l W_1(\theta_l\#A, \theta_l\#B)\bigr)`,
        :math:`\kappa_d = \mathbb{E}|\theta_1| = \Gamma(d/2)/(\sqrt\pi\,\Gamma(\frac{d+1}2))`.
        Each projected :math:`W_1` is at most :math:`\int|\theta\cdot(u-v)|\,d\pi^*`
        for the optimal coupling :math:`\pi^*`, whose average over :math:`\theta` is
        :math:`\kappa_d W_1`; hence :math:`\mathbb{E}\widehat W \le W_1`, with equality
        for a translation :math:`B = A + t` (and a dilation :math:`B = sA`).  It can be
        far below :math:`W_1` for two point clouds in high dimension.
        ``lower_bound`` holds the guaranteed bound :math:`\max_l W_1(\theta_l\#A,
        \theta_l\#B) \le W_1`; the estimate is never below it (the average alone
        was, e.g. 0.46 against a bound of 0.66 and an exact 2.10 for 500 skewed
        points in 8-D), and since both terms are at most :math:`W_1` (the average in
        expectation), the larger is the closer.  ``stderr`` is the average's.
    ``"auto"``
        ``"sorted"`` in 1-D without cap, else ``"assignment"`` when
        :math:`n \le` ``exact_max``, else ``"sliced"``.

    Parameters
    ----------
    A, B : array_like, shape (n,) or (n, d)
        Atoms (rows), same shape, finite.
    cap : float in (0, inf] or None, default None
        Truncate the cost at ``cap`` (Theorem 2 of arXiv:2006.15429 allows ``cap = 2c``).
        A truncated metric is a metric, so :math:`W_1` stays a distance.
    method : {"auto", "sorted", "assignment", "sliced"}
    exact_max : int >= 1
        Largest :math:`n` solved by assignment under ``"auto"``.
    n_projections : int >= 1
        Directions of the sliced estimate.
    seed : int, SeedSequence, Generator or None
        For the sliced directions.

    Returns
    -------
    W1Estimate

    References
    ----------
    arXiv:2006.15429 (Theorem 2); Villani (2009) for duality; Bonneel et al. (2015) for
    the sliced distance.

    Examples
    --------
    Two 2-D clouds whose index-order pairing costs :math:`\sqrt5`, optimal pairing 1:

    >>> A = [[0.0, 0.0], [2.0, 0.0]]
    >>> B = [[2.0, 1.0], [0.0, 1.0]]
    >>> r = wasserstein1(A, B)
    >>> r.value, r.method
    (1.0, 'assignment')
    >>> wasserstein1([0.0, 1.0, 3.0], [5.0, 1.0, 2.0]).value  # |0-1| + |1-2| + |3-5|, / 3
    1.3333333333333333
    """
    A, B = _points("A", A), _points("B", B)
    if A.shape != B.shape:
        raise ValueError(f"B must have the same shape as A (got {B.shape} and {A.shape})")
    cap = _cap(cap)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS} (got {method!r})")
    exact_max = check_int("exact_max", exact_max, minimum=1)
    n_projections = check_int("n_projections", n_projections, minimum=1)
    e = _unit_exponent(A, B)  # W_1(sA, sB) = s W_1(A, B): exact for s = 2^-e
    return _w1_unit(np.ldexp(A, -e), np.ldexp(B, -e), _ldexp(cap, -e), method, exact_max,
                    n_projections, seed)._rescaled(e, cap)


def _w1_unit(A, B, cap, method, exact_max, n_projections, seed) -> W1Estimate:
    """:func:`wasserstein1` of validated atoms of magnitude about 1."""
    n, d = A.shape
    if method == "auto":
        if d == 1 and cap == math.inf:
            method = "sorted"
        elif n <= exact_max:
            method = "assignment"
        else:
            method = "sliced"
    if method == "sorted":
        if d != 1 or cap != math.inf:
            raise ValueError(
                f"method='sorted' needs 1-D atoms and cap=None (got d={d}, cap={cap}); "
                "a truncated cost is not convex, so order statistics need not be optimal"
            )
        v = _w1_sorted(A, B)
        return W1Estimate(v, "sorted", True, v, 0.0, n, 0, cap)
    if method == "assignment":
        v = _w1_assignment(_pairwise_cost_kernel(A, B, cap))
        return W1Estimate(v, "assignment", True, v, 0.0, n, 0, cap)
    if cap != math.inf:
        raise ValueError(
            f"cap must be None for the sliced estimate (got {cap}); "
            f"n={n} exceeds exact_max={exact_max}, raise exact_max for an exact truncated W_1"
        )
    return _w1_sliced(A, B, n_projections, seed)


def w1_to_reflection(xi, *, cap=None, method="auto", exact_max=EXACT_MAX,
                     n_projections=N_PROJECTIONS, seed=0) -> W1Estimate:
    r"""Distance of the noise distribution from its mirror image, :math:`W_1(p, p^-)`.

    .. math::

        W_1(p, p^-) = \min_{\sigma} \frac1n \sum_i \lVert \xi_i + \xi_{\sigma(i)} \rVert
        \;\in\; \bigl[0,\ 2\,\mathbb{E}_p\lVert\xi\rVert\bigr]

    (the upper end is the identity coupling :math:`\xi \mapsto -\xi`).  Zero iff the
    sample is symmetric (a union of :math:`\pm` pairs and zeros).

    Parameters
    ----------
    xi : array_like, shape (n, d)
        Noise atoms (see :func:`gradient_noise`).
    cap, method, exact_max, n_projections, seed
        As in :func:`wasserstein1`.

    Returns
    -------
    W1Estimate

    Examples
    --------
    Example 1 of arXiv:2006.15429 (:math:`a = (-3,-3,9)`): :math:`\xi = (4, 4, -8)`;
    sorted :math:`\xi = (-8, 4, 4)` against sorted :math:`-\xi = (-4, -4, 8)` gives
    :math:`(4 + 8 + 4)/3`.

    >>> w1_to_reflection([[4.0], [4.0], [-8.0]]).value
    5.333333333333333
    >>> w1_to_reflection([[4.0], [4.0], [-8.0]], cap=2.0).value  # every pair costs 2
    2.0
    """
    xi = _gradients("xi", xi)
    return wasserstein1(xi, -xi, cap=cap, method=method, exact_max=exact_max,
                        n_projections=n_projections, seed=seed)


def w1_to_symmetrisation(xi, *, cap=None, method="auto", exact_max=EXACT_MAX,
                         n_projections=N_PROJECTIONS, seed=0) -> W1Estimate:
    r"""Distance of the noise distribution from its symmetrisation, :math:`W_1(p, \tilde p)`.

    .. math::

        \tilde p = \tfrac12 (p + p^-), \qquad
        W_1(p, \tilde p) = \tfrac12 W_1(p, p^-)

    by Kantorovich-Rubinstein duality (the dual depends only on :math:`p - \tilde p =
    \frac12(p - p^-)`; valid for the truncated cost, itself a metric).  This is the
    :math:`W_1` of Theorem 2 of arXiv:2006.15429 with the natural symmetric reference.

    Parameters
    ----------
    xi : array_like, shape (n, d)
    cap, exact_max, n_projections, seed
        As in :func:`wasserstein1`.
    method : {"auto", "sorted", "sliced", "assignment"}
        ``"assignment"`` solves the defining problem directly: :math:`\tilde p` has
        :math:`2n` atoms :math:`\pm\xi_j` of mass :math:`1/(2n)`; :math:`p` is written
        with each atom duplicated, and a :math:`2n \times 2n` assignment is solved (8
        times the work; used to check the identity).  The others compute
        :math:`\frac12 W_1(p, p^-)` with that method.

    Returns
    -------
    W1Estimate

    Examples
    --------
    >>> w1_to_symmetrisation([[4.0], [4.0], [-8.0]]).value
    2.6666666666666665
    >>> w1_to_symmetrisation([[4.0], [4.0], [-8.0]], method="assignment").value
    2.6666666666666665
    """
    xi = _gradients("xi", xi)
    if method != "assignment":
        return w1_to_reflection(xi, cap=cap, method=method, exact_max=exact_max,
                                n_projections=n_projections, seed=seed).halved()
    cap = _cap(cap)
    e = _unit_exponent(xi)  # exact rescaling, as in wasserstein1
    xi = np.ldexp(xi, -e)
    doubled = np.concatenate([xi, xi])
    symmetrised = np.concatenate([xi, -xi])
    v = _w1_assignment(_pairwise_cost_kernel(doubled, symmetrised, _ldexp(cap, -e)))
    return W1Estimate(v, "assignment", True, v, 0.0, xi.shape[0], 0, cap)._rescaled(e, cap)


# ---------------------------------------------------------------------------------------
# clipping bias (Theorem 2)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClippingBias:
    r"""The clipping bias of Theorem 2 (arXiv:2006.15429) and its Wasserstein bounds.

    Attributes
    ----------
    bias : float
        :math:`b = \mathbb{E}_{\tilde p} \langle g, \operatorname{clip}(g+\xi, c)\rangle -
        \mathbb{E}_p \langle g, \operatorname{clip}(g+\xi, c)\rangle`.
    progress : float
        :math:`\mathbb{E}_p \langle g, \operatorname{clip}(g+\xi, c)\rangle`, the expected
        first-order descent of one clipped step (per unit step size).
    progress_symmetrised : float
        The same under :math:`\tilde p`; Lemma 1 makes it :math:`\ge 0`.
    grad_norm : float
        :math:`\lVert g\rVert`.
    w1 : W1Estimate
        :math:`W_1(p, \tilde p)`, Euclidean cost.
    bound : float
        :math:`\lVert g\rVert\, W_1(p, \tilde p)`.
    w1_truncated : W1Estimate or None
        :math:`W_1` with cost :math:`\min(\lVert u-v\rVert, 2c)` (None if not computed).
    bound_truncated : float
        :math:`\lVert g\rVert\, W_1^{(2c)}(p, \tilde p) \le` ``bound`` (nan if not computed).
    bound_is_rigorous : bool
        True when the :math:`W_1` used is exact (not a sliced estimate).
    """

    bias: float
    progress: float
    progress_symmetrised: float
    grad_norm: float
    w1: W1Estimate
    bound: float
    w1_truncated: W1Estimate | None
    bound_truncated: float
    bound_is_rigorous: bool


def _progress_terms(g: np.ndarray, xi: np.ndarray, c: float):
    """(E_p <g, clip(g + xi)>, E_p <g, clip(g - xi)>)."""
    plus = clip_numpy(g + xi, c)[0] @ g
    minus = clip_numpy(g - xi, c)[0] @ g
    return float(plus.mean()), float(minus.mean())


def _warn_beyond_range(where, **values):
    """A RuntimeWarning naming the results that are +-inf: their exact values, computed
    without intermediate overflow, lie beyond the float64 range."""
    bad = [name for name, v in values.items() if math.isinf(v)]
    if bad:
        warnings.warn(f"{where}: {', '.join(bad)} exceed(s) the float64 range (about 1.8e308) and is "
                      "returned as inf; these are products of two gradient-sized factors: rescale the "
                      "gradients", RuntimeWarning, stacklevel=3)


def clipping_bias(G, c, reference="symmetrised", *, truncated=True, exact_max=EXACT_MAX,
                  n_projections=N_PROJECTIONS, seed=0) -> ClippingBias:
    r"""Clipping bias :math:`b` against the symmetrised noise, with the bound of Theorem 2.

    With :math:`p` uniform on :math:`\xi_i = g_i - g` and
    :math:`\tilde p = \frac12(p + p^-)`,

    .. math::

        b = \mathbb{E}_{\tilde p}\langle g, \operatorname{clip}(g+\xi, c)\rangle
          - \mathbb{E}_{p}\langle g, \operatorname{clip}(g+\xi, c)\rangle
          = \frac12\Bigl(\mathbb{E}_p\langle g, \operatorname{clip}(g-\xi, c)\rangle
          - \mathbb{E}_p\langle g, \operatorname{clip}(g+\xi, c)\rangle\Bigr),

    .. math::

        |b| \le \lVert g\rVert\, W_1^{(2c)}(p, \tilde p) \le \lVert g\rVert\, W_1(p, \tilde p)
        = \tfrac12 \lVert g\rVert\, W_1(p, p^-),

    since :math:`\xi \mapsto \langle g, \operatorname{clip}(g+\xi,c)\rangle` is
    :math:`\lVert g\rVert`-Lipschitz and takes values in
    :math:`[-c\lVert g\rVert, c\lVert g\rVert]`.  :math:`b = 0` for symmetric noise;
    :math:`b > 0` means clipping loses descent relative to the symmetric reference.

    Parameters
    ----------
    G : array_like, shape (n, d)
        Per-example gradients; finite.
    c : float in (0, inf]
        Clip threshold (``inf``: no clipping, then :math:`b = 0`).
    reference : {"symmetrised"}
        The symmetric reference :math:`\tilde p`; only the symmetrisation is offered.
    truncated : bool, default True
        Also compute the sharper bound with cost truncated at :math:`2c` (one more
        assignment, skipped when no pair is farther apart than :math:`2c`).
    exact_max, n_projections, seed
        As in :func:`wasserstein1`.  Above ``exact_max`` rows the :math:`W_1` is a
        sliced estimate, the bound is not rigorous (``bound_is_rigorous=False``) and the
        truncated bound is not computed.

    Returns
    -------
    ClippingBias

    References
    ----------
    arXiv:2006.15429, Theorem 2 and Lemma 1.

    Examples
    --------
    Example 1 at its spurious limit :math:`x = -2.5` (:math:`g = -3.5`,
    :math:`\xi = (4, 4, -8)`, :math:`c = 1`): clipped :math:`g+\xi = (0.5, 0.5, -1)`
    averages to 0, clipped :math:`g - \xi = (-1, -1, 1)` to :math:`-1/3`, so
    :math:`b = \frac12 \cdot (-3.5)(-1/3) = 7/12`; the bounds are
    :math:`3.5 \cdot 8/3` and :math:`3.5 \cdot 1` (every truncated pair costs 2).

    >>> r = clipping_bias([[0.5], [0.5], [-11.5]], 1.0)
    >>> round(r.bias, 12), round(r.bound, 12), round(r.bound_truncated, 12)
    (0.583333333333, 9.333333333333, 3.5)
    """
    G = _gradients("G", G)
    c = check_clip_threshold("c", c)
    if reference != "symmetrised":
        raise ValueError(f"reference must be 'symmetrised' (got {reference!r})")
    exact_max = check_int("exact_max", exact_max, minimum=1)
    n_projections = check_int("n_projections", n_projections, minimum=1)
    # b(sG, sc) = s^2 b(G, c), ||s g|| = s ||g||, W_1 scales by s: compute at s = 2^-e (exact)
    e = _unit_exponent(G)
    c_unit = max(_ldexp(c, -e), math.ulp(0.0))  # a c 2^1074 below the gradients: clip to ~0
    g, xi = gradient_noise(np.ldexp(G, -e))
    plus, minus = _progress_terms(g, xi, c_unit)
    bias = 0.5 * (minus - plus)
    grad_norm = float(np.linalg.norm(g))
    n = xi.shape[0]
    w1_trunc = None
    if n <= exact_max and xi.shape[1] > 1:
        C = _pairwise_cost_kernel(xi, -xi, math.inf)
        w1_refl = _w1_assignment(C)
        w1 = W1Estimate(w1_refl, "assignment", True, w1_refl, 0.0, n, 0, math.inf).halved()
        if truncated and c < math.inf:
            cap = 2.0 * c_unit
            vt = w1_refl if C.max() <= cap else _w1_assignment(np.minimum(C, cap))
            w1_trunc = W1Estimate(vt, "assignment", True, vt, 0.0, n, 0, cap).halved()
    else:
        w1 = w1_to_symmetrisation(xi, exact_max=exact_max, n_projections=n_projections, seed=seed)
        if truncated and c < math.inf and n <= exact_max:  # 1-D: assignment on the cap
            w1_trunc = w1_to_symmetrisation(xi, cap=2.0 * c_unit, exact_max=exact_max)
    if truncated and c == math.inf:
        w1_trunc = w1  # the cap 2c = inf truncates nothing
    bound = grad_norm * w1.value
    bound_trunc = grad_norm * w1_trunc.value if w1_trunc is not None else math.nan
    # back to the units of G (products of two gradient-sized factors scale by 2^(2e))
    bias, plus, bound, bound_trunc = (_ldexp(v, 2 * e) for v in (bias, plus, bound, bound_trunc))
    grad_norm = _ldexp(grad_norm, e)
    w1 = w1._rescaled(e, math.inf)
    if w1_trunc is not None:
        w1_trunc = w1 if c == math.inf else w1_trunc._rescaled(e, 2.0 * c)
    _warn_beyond_range("clipping_bias", bias=bias, progress=plus, bound=bound, bound_truncated=bound_trunc)
    return ClippingBias(bias, plus, plus + bias, grad_norm, w1, bound, w1_trunc, bound_trunc, w1.exact)


# ---------------------------------------------------------------------------------------
# scalar statistics
# ---------------------------------------------------------------------------------------


def prob_small_noise(xi, c, a=0.25) -> float:
    r"""Empirical :math:`P(\lVert\xi\rVert < a c)`, the weight in Lemma 2 / Theorem 1.

    .. math:: \frac1n \#\{ i : \lVert \xi_i \rVert_2 < a c \}

    Theorem 1 of arXiv:2006.15429 uses :math:`a = 1/4`; the weight is 0 in Example 2
    (symmetric but too large noise), which is why clipped SGD may stall there.

    Parameters
    ----------
    xi : array_like, shape (n, d)
    c : float in (0, inf]
    a : float in (0, 1), default 0.25

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> prob_small_noise([[0.1], [-0.3], [0.2], [5.0]], c=1.0)  # norms < 0.25: 0.1, 0.2
    0.5
    """
    xi = _gradients("xi", xi)
    c = check_clip_threshold("c", c)
    a = check_open_unit("a", a)
    return float(np.mean(np.linalg.norm(xi, axis=1) < a * c))


def clip_fraction(G, c) -> float:
    r"""Fraction of per-example gradients that clipping shrinks, :math:`\frac1n\#\{i: \lVert g_i\rVert > c\}`.

    Parameters
    ----------
    G : array_like, shape (n, d)
    c : float in (0, inf]

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    Rows of norm 0, 5, 5, 5 at :math:`c = 1.25`:

    >>> clip_fraction([[0., 0, 0], [0, 3, 4], [4, 0, 3], [3, 4, 0]], 1.25)
    0.75
    """
    G = _gradients("G", G)
    c = check_clip_threshold("c", c)
    return float(np.mean(np.linalg.norm(G, axis=1) > c))


def _directions(directions, d: int) -> np.ndarray:
    U = check_finite_array("directions", directions, ndim=(1, 2))
    if U.ndim == 1:
        U = U.reshape(1, -1)
    if U.shape[1] != d or U.shape[0] < 1:
        raise ValueError(f"directions must have shape (k, {d}) with k >= 1 (got {U.shape})")
    norms = np.linalg.norm(U, axis=1)
    if not np.all(norms > 0):
        raise ValueError("directions must be nonzero vectors (they are normalised to unit length)")
    return U / norms[:, None]


def skewness(xi, directions) -> np.ndarray:
    r"""Third standardised moment of the noise along each direction.

    For a unit direction :math:`u`, with :math:`s_i = u\cdot\xi_i - \overline{u\cdot\xi}`,

    .. math:: \gamma(u) = \frac{\frac1n\sum_i s_i^3}{\bigl(\frac1n\sum_i s_i^2\bigr)^{3/2}}

    (population convention, as ``scipy.stats.skew(bias=True)``).  It is 0 for symmetric
    noise; in 1-D the spurious limit of perturbed clipping moves by
    :math:`\mathbb{E}\xi^3/(6k^2)` (arXiv:2006.15429), so skewness drives the bias.  A
    direction with no spread (all :math:`u\cdot\xi_i` equal: a point mass, which is
    symmetric) gets 0.

    Parameters
    ----------
    xi : array_like, shape (n, d)
    directions : array_like, shape (k, d) or (d,)
        Nonzero vectors; normalised to unit length (skewness is scale-free anyway).

    Returns
    -------
    ndarray, shape (k,)

    Examples
    --------
    Sample (0, 0, 3): deviations (-1, -1, 2), :math:`m_2 = 2`, :math:`m_3 = 2`,
    :math:`\gamma = 2 / 2^{3/2} = 1/\sqrt2`.

    >>> skewness([[0.0], [0.0], [3.0]], [[1.0]]).round(6).tolist()
    [0.707107]
    """
    xi = _gradients("xi", xi)
    U = _directions(directions, xi.shape[1])
    S = xi @ U.T
    S = S - S.mean(axis=0)
    m2 = np.mean(S**2, axis=0)
    m3 = np.mean(S * S * S, axis=0)  # S**3 takes a slow pow path in NumPy 2
    # Relative threshold: spread below rounding level of the projections is no spread.
    scale = np.max(np.abs(xi @ U.T), axis=0)
    flat = m2 <= (1e-14 * scale) ** 2
    out = np.zeros_like(m2)
    out[~flat] = m3[~flat] / m2[~flat] ** 1.5
    return out


def third_moments(xi, directions) -> np.ndarray:
    r"""Directional third moments :math:`\frac1n\sum_i (u\cdot\xi_i)^3` along unit directions.

    A cheap stand-in for the third-moment tensor :math:`T = \mathbb{E}\,\xi^{\otimes 3}`:
    the returned values are :math:`T(u, u, u)`.  Odd in :math:`u`; all zero for symmetric
    noise.  Not centred (the noise :math:`\xi` has mean 0 by construction).

    Parameters
    ----------
    xi : array_like, shape (n, d)
    directions : array_like, shape (k, d) or (d,)
        Nonzero vectors; normalised to unit length.

    Returns
    -------
    ndarray, shape (k,)

    Examples
    --------
    >>> third_moments([[4.0, 0.0], [4.0, 0.0], [-8.0, 0.0]], [[2.0, 0.0], [0.0, 1.0]]).tolist()
    [-128.0, 0.0]
    """
    xi = _gradients("xi", xi)
    U = _directions(directions, xi.shape[1])
    P = xi @ U.T
    return np.mean(P * P * P, axis=0)


def sliced_disparity(xi, directions) -> np.ndarray:
    r"""Scale-free asymmetry of the noise along each direction, in :math:`[0, 2]`.

    .. math::

        \delta(u) = \frac{W_1(u\#p,\ u\#p^-)}{\mathbb{E}_p |u\cdot\xi|}
        = \frac{\frac1n\sum_i |s_{(i)} + s_{(n+1-i)}|}{\frac1n\sum_i |s_i|},
        \quad s_i = u\cdot\xi_i

    (exact 1-D transport; the numerator is at most twice the denominator).  0 for a
    symmetric sample; 0 for a direction with no spread.  Unlike the :math:`d`-dimensional
    :math:`W_1`, its sampling error is :math:`O(n^{-1/2})`, so it measures the symmetry of
    the population in the way the paper's projected pictures do.

    Parameters
    ----------
    xi : array_like, shape (n, d)
    directions : array_like, shape (k, d) or (d,)

    Returns
    -------
    ndarray, shape (k,)

    Examples
    --------
    :math:`\xi = (4, 4, -8)`: numerator :math:`16/3` (see :func:`w1_to_reflection`),
    :math:`\mathbb{E}|\xi| = 16/3`, so the disparity is 1.

    >>> sliced_disparity([[4.0], [4.0], [-8.0]], [[1.0]]).tolist()
    [1.0]
    """
    xi = _gradients("xi", xi)
    U = _directions(directions, xi.shape[1])
    S = xi @ U.T
    Ssorted = np.sort(S, axis=0)
    num = np.mean(np.abs(Ssorted + Ssorted[::-1]), axis=0)
    den = np.mean(np.abs(S), axis=0)
    out = np.zeros_like(den)
    pos = den > 0
    out[pos] = num[pos] / den[pos]
    return out


# ---------------------------------------------------------------------------------------
# projections for pictures
# ---------------------------------------------------------------------------------------


def random_projections_2d(G, n_directions=4, seed=0):
    r"""Seeded random orthonormal 2-D projections of per-example gradients.

    Each basis :math:`Q_k \in \mathbb{R}^{d\times 2}` has orthonormal columns and is
    Haar-distributed (QR of a Gaussian matrix with the signs of :math:`\operatorname{diag} R`
    made positive); the pictures of arXiv:2006.15429 (Fig. 2-3) are scatter/density plots
    of :math:`Q_k^\top g_i`.

    Parameters
    ----------
    G : array_like, shape (n, d), d >= 2
    n_directions : int >= 1
        Number of independent 2-D projections.
    seed : int, SeedSequence, Generator or None
        Same seed, same bases (bit for bit).

    Returns
    -------
    bases : ndarray, shape (n_directions, d, 2)
    points : ndarray, shape (n_directions, n, 2)
        ``points[k] = G @ bases[k]``.
    """
    G = _gradients("G", G)
    n, d = G.shape
    if d < 2:
        raise ValueError(f"G must have at least 2 columns for 2-D projections (got d={d})")
    n_directions = check_int("n_directions", n_directions, minimum=1)
    rng = _rng(seed)
    bases = np.empty((n_directions, d, 2))
    for k in range(n_directions):
        Q, R = np.linalg.qr(rng.standard_normal((d, 2)))
        signs = np.where(np.diag(R) < 0, -1.0, 1.0)
        bases[k] = Q * signs
    points = np.einsum("nd,kdj->knj", G, bases)
    return bases, points


# ---------------------------------------------------------------------------------------
# the bundle
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SymmetryReport:
    r"""Symmetry and clipping-bias statistics of per-example gradients at one point.

    Attributes
    ----------
    n, d : int
        Number of examples and dimension.
    c : float
        Clip threshold.
    grad_norm : float
        :math:`\lVert g\rVert`, norm of the mean gradient.
    mean_noise_norm : float
        :math:`\mathbb{E}_p\lVert\xi\rVert`.
    w1_reflection : float
        :math:`W_1(p, p^-)` (exact when ``w1_exact``, else sliced estimate).
    disparity : float
        ``w1_reflection / mean_noise_norm`` in :math:`[0, 2]` (0 when there is no noise).
        Large for any finite sample in high dimension; see the module notes.
    w1_symmetrisation : float
        :math:`W_1(p, \tilde p) = W_1(p, p^-)/2`.
    w1_method : str
        ``"sorted"``, ``"assignment"`` or ``"sliced"``.
    w1_exact : bool
    bias : float
        Clipping bias :math:`b` of Theorem 2 against :math:`\tilde p`.
    bias_bound : float
        :math:`\lVert g\rVert W_1(p, \tilde p)`.
    bias_bound_truncated : float
        :math:`\lVert g\rVert W_1^{(2c)}(p, \tilde p)` (nan when not computed).
    progress : float
        :math:`\mathbb{E}_p\langle g, \operatorname{clip}(g+\xi, c)\rangle`.
    p_small_noise : float
        :math:`P(\lVert\xi\rVert < c/4)`.
    clip_fraction : float
        Fraction of rows with :math:`\lVert g_i\rVert > c`.
    mean_abs_skewness : float
        Mean of :math:`|\gamma(u)|` over ``n_directions`` random unit directions.
    sliced_disparity : float
        Mean of :func:`sliced_disparity` over the same directions, in :math:`[0, 2]`.
    seed : int or None
        The seed, when given as an int.
    """

    n: int
    d: int
    c: float
    grad_norm: float
    mean_noise_norm: float
    w1_reflection: float
    disparity: float
    w1_symmetrisation: float
    w1_method: str
    w1_exact: bool
    bias: float
    bias_bound: float
    bias_bound_truncated: float
    progress: float
    p_small_noise: float
    clip_fraction: float
    mean_abs_skewness: float
    sliced_disparity: float
    seed: int | None

    def as_dict(self) -> dict:
        """Plain ``dict`` of Python scalars (JSON-ready except for ``inf``/``nan``)."""
        return asdict(self)


def symmetry_report(G, c, seed=0, *, n_directions=64, truncated=True, exact_max=EXACT_MAX,
                    n_projections=N_PROJECTIONS) -> SymmetryReport:
    r"""All symmetry and bias statistics of per-example gradients ``G`` at clip threshold ``c``.

    Bundles :func:`gradient_noise`, :func:`w1_to_reflection` (normalised by
    :math:`\mathbb{E}\lVert\xi\rVert` into a disparity in :math:`[0, 2]`),
    :func:`w1_to_symmetrisation`, :func:`clipping_bias`, :func:`prob_small_noise`
    (:math:`a = 1/4`), :func:`clip_fraction`, and the mean absolute :func:`skewness`
    and mean :func:`sliced_disparity` over ``n_directions`` random unit directions.  One
    assignment (two with ``truncated``) of size :math:`n` when :math:`n \le`
    ``exact_max``.

    Parameters
    ----------
    G : array_like, shape (n, d)
    c : float in (0, inf]
    seed : int, SeedSequence, Generator or None
        Drives the random directions (and the sliced estimate when :math:`n >`
        ``exact_max``).
    n_directions : int >= 1
    truncated : bool
        Also compute the :math:`2c`-truncated bias bound.
    exact_max, n_projections
        As in :func:`wasserstein1`.

    Returns
    -------
    SymmetryReport

    Examples
    --------
    >>> r = symmetry_report([[0.5], [0.5], [-11.5]], 1.0)
    >>> r.disparity, round(r.bias, 6), r.clip_fraction, r.w1_method
    (1.0, 0.583333, 0.3333333333333333, 'sorted')
    """
    G = _gradients("G", G)
    c = check_clip_threshold("c", c)
    n_directions = check_int("n_directions", n_directions, minimum=1)
    rng = _rng(seed)
    # every entry is homogeneous in (G, c): computed at scale 2^-e (exact), then scaled back
    e = _unit_exponent(G)
    G, c_unit = np.ldexp(G, -e), max(_ldexp(c, -e), math.ulp(0.0))
    g, xi = gradient_noise(G)
    n, d = G.shape
    U = random_directions(d, n_directions, rng)
    cb = clipping_bias(G, c_unit, truncated=truncated, exact_max=exact_max,
                       n_projections=n_projections, seed=rng)
    w1_refl = 2.0 * cb.w1.value
    mean_noise = float(np.mean(np.linalg.norm(xi, axis=1)))
    disparity = w1_refl / mean_noise if mean_noise > 0 else 0.0
    bias, bound, bound_trunc, progress = (_ldexp(v, 2 * e) for v in (cb.bias, cb.bound, cb.bound_truncated, cb.progress))
    _warn_beyond_range("symmetry_report", bias=bias, progress=progress, bias_bound=bound, bias_bound_truncated=bound_trunc)
    return SymmetryReport(
        n=n,
        d=d,
        c=c,
        grad_norm=_ldexp(cb.grad_norm, e),
        mean_noise_norm=_ldexp(mean_noise, e),
        w1_reflection=_ldexp(w1_refl, e),
        disparity=float(disparity),
        w1_symmetrisation=_ldexp(cb.w1.value, e),
        w1_method=cb.w1.method,
        w1_exact=cb.w1.exact,
        bias=bias,
        bias_bound=bound,
        bias_bound_truncated=bound_trunc,
        progress=progress,
        p_small_noise=prob_small_noise(xi, c_unit, 0.25),
        clip_fraction=clip_fraction(G, c_unit),
        mean_abs_skewness=float(np.mean(np.abs(skewness(xi, U)))),
        sliced_disparity=float(np.mean(sliced_disparity(xi, U))),
        seed=int(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else None,
    )
