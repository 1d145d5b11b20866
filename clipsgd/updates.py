r"""The per-step math of private SGD, one small function each (kernels + NumPy twins).

* The **perturbation** (the paper's bias fix, Section 5 of arXiv:2006.15429):
  :math:`\tilde g_i = g_i + k \zeta_i`, :math:`\zeta_i \sim N(0, I_d)` fresh per example
  and step: :func:`perturb_inplace` / :func:`perturb_numpy`.
* The **clip** of each perturbed gradient: :mod:`clipsgd.clip`.
* The **DP-SGD update** (Abadi et al. 2016, arXiv:1607.00133):

  .. math::

     x \leftarrow x - \frac{\alpha_t}{B}\Bigl(\sum_{i \in \mathcal B_t}
     \operatorname{clip}(\tilde g_i, c) + z c\, \nu\Bigr), \qquad \nu \sim N(0, I_d),

  with :math:`B` the *expected* batch size: :func:`dp_sgd_step` /
  :func:`dp_sgd_step_numpy`. With ``z = 0`` it is clipped SGD, with ``c = inf`` plain SGD.

The engine (:mod:`clipsgd.engine`) only does plumbing around these.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .clip import clip_numpy, l2_norm

__all__ = [
    "perturb_inplace",
    "perturb_numpy",
    "dp_sgd_step",
    "perturbed_glm_gradient",
    "dp_sgd_step_numpy",
    "clipped_sum_numpy",
    "auto_clip_numpy",
    "dice_sgd_step_numpy",
    "quantile_threshold_update_numpy",
]


@njit(cache=True, inline="always")
def perturb_inplace(g, k, zeta):
    """g <- g + k * zeta (kernel)."""
    for j in range(g.shape[0]):
        g[j] += k * zeta[j]


@njit(cache=True, inline="always")
def perturbed_glm_gradient(r, X, i, k, zeta, g):
    r"""The perturbed gradient of a generalised linear model, :math:`g = r z_i + k\zeta`
    (:func:`perturb_inplace` applied to :math:`\nabla f_i = r z_i`, the same two roundings
    per entry), written into ``g`` in the same pass that reads the row; returns
    :math:`\lVert g\rVert` (4 partial sums of squares, so it does not wait on one add
    chain; :func:`clipsgd.clip.l2_norm` when the sum leaves [1e-280, 1e300], for the
    overflow-safe rescaling)."""
    d = g.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= d:
        a0 = r * X[i, j] + k * zeta[j]
        a1 = r * X[i, j + 1] + k * zeta[j + 1]
        a2 = r * X[i, j + 2] + k * zeta[j + 2]
        a3 = r * X[i, j + 3] + k * zeta[j + 3]
        g[j], g[j + 1], g[j + 2], g[j + 3] = a0, a1, a2, a3
        s0 += a0 * a0
        s1 += a1 * a1
        s2 += a2 * a2
        s3 += a3 * a3
        j += 4
    ss = (s0 + s1) + (s2 + s3)
    while j < d:
        a0 = r * X[i, j] + k * zeta[j]
        g[j] = a0
        ss += a0 * a0
        j += 1
    if 1e-280 < ss < 1e300:
        return math.sqrt(ss)
    return l2_norm(g)


def perturb_numpy(G, k, Z):
    """Per-example perturbation :math:`G + k Z` (rows are examples)."""
    return G + k * Z


@njit(cache=True, inline="always")
def dp_sgd_step(x, clipped_sum, noise, lr, noise_scale, expected_batch):
    """x <- x - lr / B * (clipped_sum + noise_scale * noise), noise_scale = z c (kernel)."""
    a = lr / expected_batch
    for j in range(x.shape[0]):
        x[j] -= a * (clipped_sum[j] + noise_scale * noise[j])


def clipped_sum_numpy(G, c):
    r""":math:`\sum_i \operatorname{clip}(g_i, c)` and the number of clipped rows."""
    C, norms, factors = clip_numpy(G, c)
    return C.sum(axis=0), int(np.count_nonzero(factors < 1.0))


def dp_sgd_step_numpy(x, G, c, z, lr, expected_batch, noise):
    """One DP-SGD step on the batch gradients G (rows), given the standard normal ``noise``.

    Examples
    --------
    Two examples with gradients (3, 4) and (0, 0), c = 1, no noise, B = 2, lr = 1:
    the clipped sum is (0.6, 0.8), so x moves by -(0.3, 0.4).

    >>> dp_sgd_step_numpy(np.zeros(2), np.array([[3., 4.], [0., 0.]]), 1.0, 0.0, 1.0, 2.0, np.zeros(2))
    array([-0.3, -0.4])
    """
    s, _ = clipped_sum_numpy(G, c) if len(G) else (np.zeros_like(x), 0)
    # z = 0 adds no noise (also for c = inf, where z * c would be 0 * inf = NaN)
    return x - lr / expected_batch * (s + z * c * noise if z > 0 else s)


# ---------------------------------------------------------------- rival bias fixes
def auto_clip_numpy(G, c, gamma):
    r"""AUTO-S normalisation :math:`c\,g_i/(\lVert g_i\rVert + \gamma)` (Bu et al. 2022,
    arXiv:2206.07136); returns the rows and their factors :math:`c/(\lVert g_i\rVert+\gamma)`."""
    factors = c / (np.linalg.norm(G, axis=1) + gamma)
    return G * factors[:, None], factors


def dice_sgd_step_numpy(x, e, G, c1, c2, z, lr, expected_batch, noise):
    r"""One DiceSGD step (Zhang, Bu, Wu, Hong 2023, arXiv:2311.14632).

    .. math::

        v = \frac1B\sum_i \operatorname{clip}(g_i, C_1) + \operatorname{clip}(e, C_2),\quad
        x \leftarrow x - \alpha\,(v + \tfrac{z C_1}{B}\nu),\quad
        e \leftarrow e + \frac1B \sum_i g_i - v.

    Returns (x, e).
    """
    from .clip import clip_numpy as _clip

    s1 = _clip(G, c1)[0].sum(axis=0) if len(G) else np.zeros_like(x)
    v = s1 / expected_batch + _clip(e[None, :], c2)[0][0]
    raw = G.sum(axis=0) / expected_batch if len(G) else np.zeros_like(x)
    x_new = x - lr * (v + z * c1 / expected_batch * noise)
    return x_new, e + raw - v


def quantile_threshold_update_numpy(c, n_below, m, expected_batch, target, eta, z_count, nu):
    r"""Geometric update of the clip threshold towards the ``target`` quantile of the norms
    (Andrew et al. 2021, arXiv:1905.03871):

    .. math::

        \tilde b = \frac{\sum_i (\mathbb 1\{\lVert g_i\rVert \le c\} - \tfrac12) + \sigma_b \nu}{B}
        + \tfrac12, \qquad c \leftarrow c\, e^{-\eta(\tilde b - \gamma)}.

    The centring by 1/2 makes the count's sensitivity 1/2.
    """
    b = (n_below - 0.5 * m + z_count * nu) / expected_batch + 0.5
    return c * np.exp(-eta * (b - target))
