r"""The clipping rule, in one place.

.. math::

    \operatorname{clip}(v, c) = v \cdot \min\Bigl(1, \frac{c}{\lVert v \rVert_2}\Bigr),
    \qquad \operatorname{clip}(0, c) = 0,

the Euclidean projection onto the ball of radius :math:`c`: 1-Lipschitz, output norm
:math:`\le c`, identity inside the ball, and :math:`\operatorname{clip}(v, c) =
c \operatorname{clip}(v / c, 1)`. ``c = inf`` means no clipping.

Edge cases (each covered by a test):

=====================  ==================================================================
input                  result
=====================  ==================================================================
``v = 0``              ``0`` (factor 1, never NaN)
``c = inf``            ``v`` unchanged (factor 1)
``c <= 0`` or NaN      :class:`ValueError` naming ``c``
non-finite ``v``       :class:`ValueError` naming ``g`` (``G`` in :func:`clip_numpy`)
complex ``v``, ``c``   :class:`TypeError` naming ``g`` (``G``) or ``c``
=====================  ==================================================================

:func:`clip_numpy` is the readable definition; :func:`clip_rows_inplace`,
:func:`l2_norm` and :func:`clip_factor` are the Numba kernels the engine uses, held equal to the twin by the
tests.

References
----------
Chen, Wu, Hong, "Understanding Gradient Clipping in Private SGD: A Geometric
Perspective", NeurIPS 2020, arXiv:2006.15429.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ._validate import check_bool, check_clip_threshold, check_finite_array

__all__ = ["clip", "clip_numpy", "ClipInfo", "clip_factor", "clip_rows_inplace", "l2_norm"]


class ClipInfo(NamedTuple):
    r"""Per-row outcome of :func:`clip`.

    Attributes
    ----------
    clipped : ndarray
        The clipped vector(s), same shape as the input.
    norms : ndarray
        :math:`\lVert g_i \rVert_2` before clipping (scalar array for a vector input).
    factors : ndarray
        :math:`\min(1, c / \lVert g_i \rVert)`, with factor 1 for a zero row.
    was_clipped : ndarray of bool
        ``norms > c`` (the row was shrunk).
    """

    clipped: np.ndarray
    norms: np.ndarray
    factors: np.ndarray
    was_clipped: np.ndarray


@njit(cache=True, inline="always")
def clip_factor(norm, c):
    r"""Factor :math:`\min(1, c/\lVert v\rVert)` (1 for a zero norm or ``c = inf``)."""
    if norm > c:
        return c / norm
    return 1.0


@njit(cache=True, inline="always")
def l2_norm(v):
    r""":math:`\lVert v \rVert_2` of a 1-D array, exact to rounding for every finite ``v``.

    The plain :math:`\sqrt{\sum_j v_j^2}` overflows for entries near 1e155 (giving
    ``inf``, hence a clip factor 0) and underflows below 1e-154 (giving 0, hence no
    clipping at a tiny ``c``); in those rare cases the sum is recomputed on
    :math:`v / \max_j |v_j|`.
    """
    s = 0.0
    for j in range(v.shape[0]):
        a = np.float64(v[j])  # (float32 rows: square in double precision)
        s += a * a
    if 1e-280 < s < 1e300:
        return math.sqrt(s)
    m = 0.0
    for j in range(v.shape[0]):
        a = abs(np.float64(v[j]))
        if a > m:
            m = a
    if m == 0.0:
        return 0.0
    s = 0.0
    for j in range(v.shape[0]):
        t = np.float64(v[j]) / m
        s += t * t
    return m * math.sqrt(s)


@njit(cache=True)
def clip_rows_inplace(G, c, norms, factors):
    """Numba kernel: clip each row of ``G`` in place; fill ``norms`` and ``factors``.

    Returns the number of rows with norm > c.
    """
    n, d = G.shape
    count = 0
    for i in range(n):
        nrm = l2_norm(G[i])
        f = clip_factor(nrm, c)
        norms[i] = nrm
        factors[i] = f
        if f < 1.0:
            count += 1
            for j in range(d):
                G[i, j] *= f
    return count


def _check_clip_args(name: str, g, c, ndim):
    """The validation shared by :func:`clip` and :func:`clip_numpy`.

    Parameters
    ----------
    name : str
        The name of the array parameter, for the messages (``"g"`` or ``"G"``).
    g : array_like
        Finite real entries (complex input is a TypeError, NaN or inf a ValueError).
    c : float
        Clip threshold in (0, inf].
    ndim : int or tuple of int
        The allowed dimensionalities of ``g``.

    Returns
    -------
    arr : ndarray of float64
        ``g`` as a C-contiguous float array (not a copy when it already is one).
    c : float
    """
    c = check_clip_threshold("c", c)
    return check_finite_array(name, g, ndim=ndim), c


def clip_numpy(G, c):
    """Plain-NumPy definition of row-wise clipping (the twin of the kernel).

    Parameters
    ----------
    G : array_like, shape (n, d)
        Per-example gradients as rows; finite real entries.
    c : float
        Clip threshold in (0, inf]; ``inf`` disables clipping.

    Returns
    -------
    clipped, norms, factors : ndarray
        The clipped rows, their norms before clipping and the factors applied.

    Raises
    ------
    ValueError
        ``c`` outside (0, inf] or NaN, ``G`` not 2-D or with a NaN or inf entry.
    TypeError
        ``c`` not a real number, ``G`` not an array of real numbers (e.g. complex).

    Notes
    -----
    It validates exactly like :func:`clip` (the same checks, with ``G`` for ``g``);
    for a single vector use :func:`clip`, or pass ``v[None, :]``.
    """
    G, c = _check_clip_args("G", G, c, ndim=2)
    with np.errstate(over="ignore", under="ignore"):
        sq = np.sum(G * G, axis=1)
    norms = np.sqrt(sq)
    # rows whose squared norm over- or underflowed: ||g|| = m ||g / m||, m = max_j |g_j|
    bad = ~((sq > 1e-280) & (sq < 1e300))
    if bad.any():
        m = np.abs(G[bad]).max(axis=1, initial=0.0)
        norms[bad] = m * np.sqrt(np.sum((G[bad] / np.where(m > 0, m, 1.0)[:, None]) ** 2, axis=1))
    with np.errstate(divide="ignore", over="ignore"):
        factors = np.where(norms > c, c / np.where(norms > 0, norms, 1.0), 1.0)
    return G * factors[:, None], norms, factors


def clip(g, c, return_info: bool = False):
    r"""Clip a vector, or each row of a matrix of per-example gradients, to L2 norm <= c.

    .. math:: \operatorname{clip}(v, c) = v \min(1, c / \lVert v \rVert_2)

    Parameters
    ----------
    g : array_like, shape (d,) or (n, d)
        A vector, or per-example gradients as rows. Must be finite.
    c : float
        Clip threshold in (0, inf]; ``inf`` disables clipping.
    return_info : bool, default False
        If True, return a :class:`ClipInfo` with norms, factors and which rows were clipped.

    Returns
    -------
    ndarray or ClipInfo
        The clipped array (a new array; the input is not modified).

    Raises
    ------
    ValueError
        ``c`` outside (0, inf] or NaN; ``g`` not 1-D or 2-D, or with a NaN or inf entry.
    TypeError
        ``c`` not a real number, ``g`` not real (e.g. complex), ``return_info`` not a bool.

    Examples
    --------
    The hand-checkable case from optax: rows of norm 0, 5, 5, 5 clipped at 1.25 sum to
    (1.75, 1.75, 1.75), with 3 rows clipped.

    >>> import numpy as np, clipsgd
    >>> G = np.array([[0., 0, 0], [0, 3, 4], [4, 0, 3], [3, 4, 0]])
    >>> info = clipsgd.clip(G, 1.25, return_info=True)
    >>> info.clipped.sum(axis=0)
    array([1.75, 1.75, 1.75])
    >>> int(info.was_clipped.sum())
    3
    >>> clipsgd.clip([3.0, 4.0], 1.0)
    array([0.6, 0.8])
    """
    arr, c = _check_clip_args("g", g, c, ndim=(1, 2))
    return_info = check_bool("return_info", return_info)
    vector = arr.ndim == 1
    G = arr.reshape(1, -1).copy() if vector else arr.copy()
    norms = np.empty(G.shape[0])
    factors = np.empty(G.shape[0])
    clip_rows_inplace(G, c, norms, factors)
    out = G[0] if vector else G
    if not return_info:
        return out
    if vector:
        norms, factors = norms[0], factors[0]
    return ClipInfo(out, np.asarray(norms), np.asarray(factors), np.asarray(factors) < 1.0)
