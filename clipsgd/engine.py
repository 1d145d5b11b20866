r"""The one engine: many independent runs of (private, clipped, perturbed) SGD at once.

:func:`run` validates, derives one random stream per run (:mod:`clipsgd.rng`), calls the
jitted loop, and wraps the arrays in a :class:`Result`. The math of a step lives in
:mod:`clipsgd.clip` (the clipping rule) and :mod:`clipsgd.updates` (the perturbation and
the DP-SGD update); this module is plumbing: batches, random streams, recording.

Order of random draws within a run, per step (the contract the NumPy twin
:func:`run_numpy` follows, so the two agree to rounding):

1. the batch: Poisson geometric skips, or shuffle/replacement indices;
2. for each batch example in order, :math:`\zeta_i \in R^d` if ``k > 0``;
3. the noise :math:`\nu \in R^d` if ``z > 0`` (also when the batch is empty).

Normals come from :func:`clipsgd.rng.fill_normal` (a ziggurat on the run's xoshiro256**
stream). Numba's on-disk cache of this module does not notice changes to the jitted
functions it calls in other modules (:mod:`clipsgd.rng`, :mod:`clipsgd.problems`,
:mod:`clipsgd.clip`, :mod:`clipsgd.updates`): after editing one of them, touch this
file (or clear ``__pycache__``), or the engine keeps the old compiled code.

Generalised linear models (least squares, logistic) with ``k = 0`` clip from norms:
:math:`\nabla f_i(x) = r_i z_i`, so :math:`\lVert \nabla f_i(x)\rVert = |r_i|\,\lVert z_i\rVert`
with the row norms computed once per problem; the per-example gradient is never
written, only :math:`f\,r_i z_i` added to the sum (same draws, equal to rounding).

Monte Carlo over many runs of clipped SGD on a 1-D quadratic finite sum (batch ``B`` drawn
with replacement, no perturbation, no noise: the paper's Examples 1-2) takes a lock-step
path, :func:`_lockstep_quadratic_1d`: blocks of 64 runs advance together, so xoshiro256**
and the clip are vectorised across runs. It performs the same operations in the same
order as the general kernel, hence the same bits (tested).

Parallelism is over runs (``prange``); a run never touches another run's stream, so the
result is bit-identical for any number of threads.
"""

from __future__ import annotations

import math
import os
import time
import types
import warnings
import weakref

import numpy as np
from numba import njit, prange
from scipy.optimize import OptimizeResult

from . import rng as _rng
from .algorithms import SGD, Method, Sampling
from .clip import clip_factor, l2_norm
from .problems import CUSTOM, LEAST_SQUARES, LOGISTIC, QUADRATIC, Problem, _sigmoid, builtin_grad
from .rng import fill_normal, geometric_skip, mulhi_below, randbelow
from .updates import (
    auto_clip_numpy,
    dice_sgd_step_numpy,
    dp_sgd_step,
    dp_sgd_step_numpy,
    perturb_inplace,
    perturbed_glm_gradient,
    quantile_threshold_update_numpy,
)
from ._validate import check_finite_array, check_int

__all__ = ["run", "run_numpy", "Result", "DivergenceError"]

GRAD = builtin_grad  # rebound per custom oracle, see _engine_for


# ------------------------------------------------- generalised linear models: clip from norms
@njit(cache=True, inline="always")
def _dot8(X, i, x):
    """:math:`z_i^\top x` with 8 accumulators (breaks the add latency chain; deterministic)."""
    d = x.shape[0]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    j = 0
    while j + 8 <= d:
        a0 += X[i, j] * x[j]
        a1 += X[i, j + 1] * x[j + 1]
        a2 += X[i, j + 2] * x[j + 2]
        a3 += X[i, j + 3] * x[j + 3]
        a4 += X[i, j + 4] * x[j + 4]
        a5 += X[i, j + 5] * x[j + 5]
        a6 += X[i, j + 6] * x[j + 6]
        a7 += X[i, j + 7] * x[j + 7]
        j += 8
    s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    while j < d:
        s += X[i, j] * x[j]
        j += 1
    return s


@njit(cache=True, inline="always")
def _dot8x2(X, i, i2, x):
    """:func:`_dot8` of rows ``i`` and ``i2`` in one pass (the same operations per row, so
    the same bits): two rows' loads in flight at once."""
    d = x.shape[0]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    j = 0
    while j + 8 <= d:
        a0 += X[i, j] * x[j]
        b0 += X[i2, j] * x[j]
        a1 += X[i, j + 1] * x[j + 1]
        b1 += X[i2, j + 1] * x[j + 1]
        a2 += X[i, j + 2] * x[j + 2]
        b2 += X[i2, j + 2] * x[j + 2]
        a3 += X[i, j + 3] * x[j + 3]
        b3 += X[i2, j + 3] * x[j + 3]
        a4 += X[i, j + 4] * x[j + 4]
        b4 += X[i2, j + 4] * x[j + 4]
        a5 += X[i, j + 5] * x[j + 5]
        b5 += X[i2, j + 5] * x[j + 5]
        a6 += X[i, j + 6] * x[j + 6]
        b6 += X[i2, j + 6] * x[j + 6]
        a7 += X[i, j + 7] * x[j + 7]
        b7 += X[i2, j + 7] * x[j + 7]
        j += 8
    s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    s2 = ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7))
    while j < d:
        s += X[i, j] * x[j]
        s2 += X[i2, j] * x[j]
        j += 1
    return s, s2


@njit(cache=True, inline="always")
def _glm_link(kind, s, y):
    r""":math:`r = s - y` (least squares) or :math:`\sigma(s) - y` (logistic)."""
    if kind == LEAST_SQUARES:
        return s - y
    return _sigmoid(s) - y


@njit(cache=True, inline="always")
def _glm_residual(kind, x, i, X, Y):
    r"""The scalar :math:`r_i` of a generalised linear model, :math:`\nabla f_i(x) = r_i z_i`:
    :math:`z_i^\top x - y_i` (least squares) or :math:`\sigma(z_i^\top x) - y_i` (logistic);
    see :func:`clipsgd.problems.builtin_grad`."""
    return _glm_link(kind, _dot8(X, i, x), Y[i])


@njit(cache=True, inline="always")
def _glm_residual2(kind, x, i, i2, X, Y):
    """:func:`_glm_residual` of rows ``i`` and ``i2`` (same bits), via :func:`_dot8x2`."""
    s, s2 = _dot8x2(X, i, i2, x)
    return _glm_link(kind, s, Y[i]), _glm_link(kind, s2, Y[i2])


@njit(cache=True, inline="always")
def _scale_factor(method, nrm, c, gamma):
    r"""The factor that multiplies a per-example gradient of norm ``nrm``: AUTO-S (method 1)
    :math:`c/(\lVert g\rVert + \gamma)`, every other method the clip factor
    :math:`\min(1, c/\lVert g\rVert)` (:func:`clipsgd.clip.clip_factor`)."""
    if method == 1:
        return c / (nrm + gamma)
    return clip_factor(nrm, c)


_CHUNK = 32  # batch slots per partial sum of the GLM path (even: row pairs never straddle two)
_chunks = range  # the loop over a step's chunks; the batch-parallel engine rebinds it to prange


@njit(cache=True, inline="always")
def _glm_clipped_chunk(kind, method, x, idx, lo, hi, X, Y, rownorm, c, gamma, part, rawpart):
    r"""Partial sum over batch slots ``lo..hi-1`` of a generalised linear model's clipped
    gradients, :math:`\sum_b f_b r_b z_{i_b}` into ``part`` (and, for DiceSGD, the unclipped
    :math:`\sum_b r_b z_{i_b}` into ``rawpart``), with :math:`f_b` = ``clip_factor(|r_b|
    ||z_{i_b}||, c)`` (AUTO-S: :math:`c/(\lVert g\rVert + \gamma)`); returns how many were
    clipped. :math:`g_b = r_b z_{i_b}` is never written.

    A step's sum is the sum of these partials in chunk order (chunks of :data:`_CHUNK`
    slots), whether the chunks run one after another or in parallel: the same bits.
    """
    d = x.shape[0]
    for j in range(d):
        part[j] = 0.0
    if method == 2:
        for j in range(d):
            rawpart[j] = 0.0
    clipped = 0
    res_next = 0.0
    for b in range(lo, hi):
        i = idx[b]
        if (b - lo) % 2 == 1:  # computed with the previous row's
            res = res_next
        elif b + 1 < hi:  # x is fixed within a step: two rows' residuals at once
            res, res_next = _glm_residual2(kind, x, i, idx[b + 1], X, Y)
        else:
            res = _glm_residual(kind, x, i, X, Y)
        f = _scale_factor(method, abs(res) * rownorm[i], c, gamma)
        if f < 1.0:
            clipped += 1
        fr = f * res
        for j in range(d):
            part[j] += fr * X[i, j]
        if method == 2:
            for j in range(d):
                rawpart[j] += res * X[i, j]
    return clipped


@njit(cache=True)
def _row_norms_kernel(X, out):
    for i in range(X.shape[0]):
        out[i] = l2_norm(X[i])


_ROW_NORMS = weakref.WeakKeyDictionary()


def _row_norms(problem):
    r""":math:`\lVert z_i \rVert` for every row of a GLM problem's X (computed once per
    Problem; the data of a Problem are not meant to change). Empty for other kinds."""
    if problem.kind not in (LEAST_SQUARES, LOGISTIC):
        return np.empty(0)
    rn = _ROW_NORMS.get(problem)
    if rn is None:
        rn = np.empty(problem.n)
        _row_norms_kernel(problem.X, rn)
        _ROW_NORMS[problem] = rn
    return rn


def _full_objective_py(kind, x, X, Y, P, g, gsum):
    """(f(x), ||grad f(x)||) by a full pass over the data."""
    n = X.shape[0]
    d = x.shape[0]
    for j in range(d):
        gsum[j] = 0.0
    loss = 0.0
    for i in range(n):
        loss += GRAD(kind, x, i, X, Y, P, g)
        for j in range(d):
            gsum[j] += g[j]
    s = 0.0
    for j in range(d):
        s += (gsum[j] / n) ** 2
    return loss / n, math.sqrt(s)


def _run_body_py(kind, X, Y, P, rownorm, x0, states, lrs, method, c, z, k, mparams, sampling, log1mq,
                 B, expected_batch, rec_steps, record_loss,
                 traj, loss_out, gnorm_out, nclip, nseen, x_out, c_hist):
    R, d = x0.shape
    n = X.shape[0]
    T = lrs.shape[0]
    n_rec = rec_steps.shape[0]
    gamma, c2, target_q, eta_c, z_count = mparams[0], mparams[1], mparams[2], mparams[3], mparams[4]
    # generalised linear models without perturbation clip from norms: ||g_i|| = |r_i| ||z_i||
    glm = k == 0 and (kind == LEAST_SQUARES or kind == LOGISTIC)
    glm_perturbed = k > 0 and (kind == LEAST_SQUARES or kind == LOGISTIC)
    for r in prange(R):
        s = states[r]
        x = x0[r].copy()
        g = np.empty(d)
        acc = np.empty(d)
        raw = np.zeros(d)  # DiceSGD: sum of unclipped gradients
        err = np.zeros(d)  # DiceSGD: the fed-back error e
        zeta = np.empty(d)
        noise = np.zeros(d)
        one = np.empty(1)
        gsum = np.empty(d)
        c_t = c  # QUANTILE: the adaptive threshold
        idx = np.empty(max(n, B), dtype=np.int64)
        nch0 = max(1, (int(2 * expected_batch) + _CHUNK - 1) // _CHUNK) if glm else 1
        parts = np.empty((nch0, d))  # GLM: per-chunk partial sums (grown when a batch needs more)
        raws = np.empty((nch0, d))  # DiceSGD: per-chunk sums of the unclipped gradients
        nclip_ch = np.empty(nch0, dtype=np.int64)
        perm = np.arange(n)
        pos = n
        rec = 0
        for t in range(T + 1):
            if rec < n_rec and rec_steps[rec] == t:
                for j in range(d):
                    traj[r, rec, j] = x[j]
                if record_loss:
                    lo, gn = _full_objective(kind, x, X, Y, P, g, gsum)
                    loss_out[r, rec] = lo
                    gnorm_out[r, rec] = gn
                c_hist[r, rec] = c_t
                rec += 1
            if t == T:
                break
            # 1. the batch
            m = 0
            if sampling == 0:
                i = geometric_skip(s, log1mq)
                while i < n:
                    idx[m] = i
                    m += 1
                    i += 1 + geometric_skip(s, log1mq)
            elif sampling == 1:
                for b in range(B):
                    if pos == n:  # new epoch: Fisher-Yates shuffle
                        for a in range(n - 1, 0, -1):
                            jj = randbelow(s, a + 1)
                            tmp = perm[a]
                            perm[a] = perm[jj]
                            perm[jj] = tmp
                        pos = 0
                    idx[m] = perm[pos]
                    pos += 1
                    m += 1
            else:
                for b in range(B):
                    idx[m] = randbelow(s, n)
                    m += 1
            # 2. sum of clipped (perturbed) per-example gradients
            for j in range(d):
                acc[j] = 0.0
            clipped = 0
            if glm:  # generalised linear model, k = 0: clip from norms, partial sums per chunk
                nch = (m + _CHUNK - 1) // _CHUNK
                if nch > parts.shape[0]:
                    parts = np.empty((2 * nch, d))
                    raws = np.empty((2 * nch, d))
                    nclip_ch = np.empty(2 * nch, dtype=np.int64)
                c_clip = c if method == 1 else c_t
                for ch in _chunks(nch):
                    lo = ch * _CHUNK
                    nclip_ch[ch] = _glm_clipped_chunk(kind, method, x, idx, lo, min(m, lo + _CHUNK), X, Y,
                                                      rownorm, c_clip, gamma, parts[ch], raws[ch])
                for ch in range(nch):
                    clipped += nclip_ch[ch]
                    for j in range(d):
                        acc[j] += parts[ch, j]
                    if method == 2:
                        for j in range(d):
                            raw[j] += raws[ch, j]
            else:
                for b in range(m):
                    i = idx[b]
                    if glm_perturbed:  # g = r z_i + k zeta and its norm in one pass over the row
                        res = _glm_residual(kind, x, i, X, Y)
                        fill_normal(s, zeta)
                        nrm = perturbed_glm_gradient(res, X, i, k, zeta, g)
                    else:
                        GRAD(kind, x, i, X, Y, P, g)
                        if k > 0:
                            fill_normal(s, zeta)
                            perturb_inplace(g, k, zeta)
                        nrm = l2_norm(g)
                    f = _scale_factor(method, nrm, c if method == 1 else c_t, gamma)
                    if f < 1.0:
                        clipped += 1
                    for j in range(d):
                        acc[j] += f * g[j]
                    if method == 2:
                        for j in range(d):
                            raw[j] += g[j]
            # 3. noise on the sum, then the DP-SGD update
            if z > 0:
                fill_normal(s, noise)
            if method == 2:  # DiceSGD: add B clip(e, C2) so that acc / B = v
                fe = clip_factor(l2_norm(err), c2)
                for j in range(d):
                    acc[j] += expected_batch * fe * err[j]
            dp_sgd_step(x, acc, noise, lrs[t], z * c_t if z > 0 else 0.0, expected_batch)
            if method == 2:  # e <- e + mean g - v
                for j in range(d):
                    err[j] += (raw[j] - acc[j]) / expected_batch
                    raw[j] = 0.0
            elif method == 3:  # private quantile estimate, geometric update of c
                fill_normal(s, one)
                below = (m - clipped) - 0.5 * m + z_count * one[0]
                c_t = c_t * math.exp(-eta_c * (below / expected_batch + 0.5 - target_q))
            nclip[r, rec - 1] += clipped
            nseen[r, rec - 1] += m
        for j in range(d):
            x_out[r, j] = x[j]


_full_objective = njit(cache=True)(_full_objective_py)
_run_body = njit(cache=True, parallel=True)(_run_body_py)

# ------------------------------------------------ one long run: parallel over the batch
_USE_BATCH_PARALLEL = True  # tests switch it off to compare with the general kernel
_BATCH_PARALLEL_MIN = 4 * _CHUNK  # expected batch size from which one run splits its batch
_RUN_BODY_BATCH = []


def _batch_parallel_eligible(problem, spec, runs):
    """One run of a generalised linear model (k = 0) with a large batch, and threads to use."""
    import numba

    return (_USE_BATCH_PARALLEL and runs == 1 and problem.kind in (LEAST_SQUARES, LOGISTIC)
            and spec.k == 0 and spec.expected_batch >= _BATCH_PARALLEL_MIN and numba.get_num_threads() > 1)


def _batch_parallel_engine():
    r"""The general kernel with the loop over runs sequential and the loop over a step's
    chunks (:func:`_glm_clipped_chunk`) parallel: the same source (:func:`_run_body_py`)
    compiled with ``prange`` and ``_chunks`` swapped, so the same arithmetic in the same
    order, hence the same bits as :data:`_run_body` (tested). Compiled on first use and
    cached on disk. With one run, parallelism over runs leaves all cores but one idle;
    a DP-SGD step of a GLM on a large batch is memory-bound, and two cores read the
    sampled rows about twice as fast as one (``benchmarks/``)."""
    if not _RUN_BODY_BATCH:
        ns = dict(globals())
        ns["prange"], ns["_chunks"] = range, prange
        _RUN_BODY_BATCH.append(njit(cache=True, parallel=True)(_rebind(_run_body_py, ns, "_run_body_batch_parallel")))
    return _RUN_BODY_BATCH[0]


# ------------------------------------------------------- lock-step Monte Carlo (1-D quadratics)
_LANES = 64
_USE_LOCKSTEP = True  # tests switch it off to compare with the general kernel


def _lockstep_eligible(problem, spec):
    """Clipped SGD / SGD on a built-in 1-D quadratic, batch drawn with replacement, k = z = 0."""
    return (problem.kind == QUADRATIC and problem.dim == 1 and spec.method == int(Method.CLIP)
            and spec.k == 0 and spec.noise_multiplier == 0 and spec.sampling == 2
            and problem.n <= 2**32)


@njit(cache=True, parallel=True, error_model="numpy")
def _lockstep_quadratic_1d(X, Y, P, x0, states, lrs, c, B, expected_batch, rec_steps, record_loss,
                           traj, loss_out, gnorm_out, nclip, nseen, x_out, c_hist):
    r"""The general kernel specialised to :math:`g_i = x - a_i` in 1-D, k = z = 0, batches
    of B drawn with replacement, for blocks of :data:`_LANES` runs at once.

    Each step, per batch slot, in three passes over the block: (1) xoshiro256** and
    ``randbelow`` (integer multiply-high, :func:`clipsgd.rng.mulhi_below`) for every lane
    (vectorised), (2) the gather :math:`a_{i}` (scalar; in
    the same loop it would stop the vectorisation), (3) the clip, :math:`\lVert g\rVert =
    |g|` (equal to ``l2_norm``: :math:`\sqrt{\mathrm{fl}(g^2)} = |g|` exactly), and the
    sum in batch order. The update adds ``0.0`` where the general kernel adds
    :math:`z c \nu = 0 \cdot 0`, so that even the sign of a zero agrees.
    ``error_model="numpy"`` drops the zero-division check: ``c / nrm`` only runs when
    ``nrm > c > 0``.
    """
    R = states.shape[0]
    n = X.shape[0]
    T = lrs.shape[0]
    n_rec = rec_steps.shape[0]
    W = _LANES
    nblk = (R + W - 1) // W
    for blk in prange(nblk):
        lo = blk * W
        wl = min(W, R - lo)
        s0 = np.empty(W, np.uint64)
        s1 = np.empty(W, np.uint64)
        s2 = np.empty(W, np.uint64)
        s3 = np.empty(W, np.uint64)
        x = np.empty(W)
        acc = np.empty(W)
        ai = np.empty(W)
        idx = np.empty(W, np.int64)
        ncl = np.zeros(W, np.int64)
        xv = np.empty(1)
        g = np.empty(1)
        gsum = np.empty(1)
        for j in range(wl):
            s0[j] = states[lo + j, 0]
            s1[j] = states[lo + j, 1]
            s2[j] = states[lo + j, 2]
            s3[j] = states[lo + j, 3]
            x[j] = x0[lo + j, 0]
        rec = 0
        for t in range(T + 1):
            if rec < n_rec and rec_steps[rec] == t:
                for j in range(wl):
                    traj[lo + j, rec, 0] = x[j]
                    if record_loss:
                        xv[0] = x[j]
                        lo_, gn = _full_objective(QUADRATIC, xv, X, Y, P, g, gsum)
                        loss_out[lo + j, rec] = lo_
                        gnorm_out[lo + j, rec] = gn
                    c_hist[lo + j, rec] = c
                if rec > 0:
                    for j in range(wl):
                        nclip[lo + j, rec - 1] = ncl[j]
                        nseen[lo + j, rec - 1] = B * (rec_steps[rec] - rec_steps[rec - 1])
                        ncl[j] = 0
                rec += 1
            if t == T:
                break
            for j in range(wl):
                acc[j] = 0.0
            for b in range(B):
                for j in range(wl):  # (1) xoshiro256** (rng.next_u64) and rng.randbelow
                    v = s1[j] * np.uint64(5)
                    res = ((v << np.uint64(7)) | (v >> np.uint64(57))) * np.uint64(9)
                    tt = s1[j] << np.uint64(17)
                    s2[j] ^= s0[j]
                    s3[j] ^= s1[j]
                    s1[j] ^= s2[j]
                    s0[j] ^= s3[j]
                    s2[j] ^= tt
                    s3[j] = (s3[j] << np.uint64(45)) | (s3[j] >> np.uint64(19))
                    idx[j] = mulhi_below(res, n)  # rng.randbelow for n <= 2**32
                for j in range(wl):  # (2) the gather
                    ai[j] = X[idx[j], 0]
                for j in range(wl):  # (3) clip_factor(l2_norm(g), c), summed in batch order
                    gg = x[j] - ai[j]
                    nrm = abs(gg)
                    f = c / nrm if nrm > c else 1.0
                    ncl[j] += f < 1.0
                    acc[j] += f * gg
            a = lrs[t] / expected_batch  # updates.dp_sgd_step with noise_scale * noise = 0.0
            for j in range(wl):
                x[j] -= a * (acc[j] + 0.0)
        for j in range(wl):
            x_out[lo + j, 0] = x[j]

_CUSTOM_ENGINES: dict = {}


def _rebind(func, namespace, name):
    fn = types.FunctionType(func.__code__, namespace, name, func.__defaults__, func.__closure__)
    # Numba mangles symbols from __qualname__ + a per-process counter. The copy would keep
    # the original's qualname (taken from the code object), and its symbol could then
    # collide with the cached built-in kernel's (whose counter came from another
    # process): the built-in engine would call the custom oracle.
    fn.__qualname__ = name
    return fn


def _engine_for(problem: Problem):
    """The cached built-in engine, or one compiled for a custom oracle (memoised)."""
    if problem.kind != CUSTOM:
        return _run_body
    key = problem.grad_fn
    if key not in _CUSTOM_ENGINES:
        user = problem.grad_fn

        @njit
        def adapter(kind, x, i, X, Y, P, out):
            return user(x, i, X, Y, P, out)

        ns = dict(globals())
        ns["GRAD"] = adapter
        full = njit(_rebind(_full_objective_py, ns, "_full_objective_custom"))
        ns["_full_objective"] = full
        _CUSTOM_ENGINES[key] = njit(parallel=True)(_rebind(_run_body_py, ns, "_run_body_custom"))
    return _CUSTOM_ENGINES[key]


# ------------------------------------------------------------------------------ Result
class Result(OptimizeResult):
    r"""Outcome of :func:`run` (a dict with attribute access, like scipy's OptimizeResult).

    Attributes
    ----------
    x : ndarray (runs, d)
        Final iterates.
    trajectory : ndarray (runs, n_rec, d)
        Iterates at ``record_steps``.
    record_steps : ndarray (n_rec,)
        Step indices of the records (0 = x0, last = steps).
    loss, grad_norm : ndarray (runs, n_rec)
        :math:`f(x)` and :math:`\lVert\nabla f(x)\rVert` at the records (full pass).
    clip_fraction : ndarray (runs, n_rec - 1)
        Fraction of the examples processed in steps ``record_steps[j] ..
        record_steps[j+1]-1`` whose (perturbed) gradient had norm > c; NaN (0/0) for a
        window in which every Poisson batch was empty (no example was processed).
    mean_batch : ndarray (runs, n_rec - 1)
        Mean batch size over the same windows.
    privacy : PrivacyReport or None
        Epsilon at ``delta`` for private algorithms (see :mod:`clipsgd.privacy`).
    seed, steps, runs, problem, algorithm, wall_time
    """

    def summary(self) -> str:
        """A short human-readable report."""
        lines = [
            f"clipsgd run: {self.problem!r}, {self.algorithm}",
            f"  runs={self.runs}  steps={self.steps}  seed={self.seed}  wall time {self.wall_time:.2f}s",
        ]
        xm = self.x.mean(axis=0)
        if xm.size <= 6:
            lines.append(f"  mean final x = {np.array2string(xm, precision=4)}"
                         f"  (std over runs {np.array2string(self.x.std(axis=0), precision=4)})")
        if np.isfinite(self.loss).all():
            lines.append(f"  loss: {self.loss[:, 0].mean():.6g} -> {self.loss[:, -1].mean():.6g} (mean over runs)")
            lines.append(f"  ||grad f||: {self.grad_norm[:, 0].mean():.4g} -> {self.grad_norm[:, -1].mean():.4g}")
        if np.isfinite(self.clip_fraction).any():  # all NaN: every Poisson batch was empty
            lines.append(f"  clipped fraction (all steps): {np.nanmean(self.clip_fraction):.3f}")
        if self.get("privacy") is not None:
            lines.append("  " + str(self.privacy).replace("\n", "\n  "))
        else:
            lines.append(f"  privacy: {self.algorithm.privacy_status}")
        return "\n".join(lines)

    def __repr__(self):
        return self.summary()


def _record_every(steps, record_every):
    """The validated recording interval (default ``max(1, steps // 100)``)."""
    if record_every is None:
        record_every = max(1, steps // 100)
    return check_int("record_every", record_every, 1)


def _record_steps(steps, record_every):
    """The recorded steps for a validated ``record_every`` (:func:`_record_every`)."""
    rs = np.arange(0, steps + 1, record_every, dtype=np.int64)
    if rs[-1] != steps:
        rs = np.append(rs, steps)
    return rs


#: Fallback bound (bytes) on the memory of one call when the machine's physical memory
#: cannot be read (``os.sysconf``).
_FALLBACK_MEMORY_LIMIT = 64 * 2**30


def _memory_limit() -> int:
    """Bytes a call of :func:`run` may allocate: the machine's physical memory
    (``os.sysconf``), else :data:`_FALLBACK_MEMORY_LIMIT`."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return _FALLBACK_MEMORY_LIMIT


def _check_memory(problem, steps, runs, record_every):
    """Estimate what a call allocates before allocating it; a ValueError if it exceeds
    :func:`_memory_limit`.

    Counted (float64/int64, 8 bytes each): the step sizes (``steps``); per record and run
    the iterate (d), loss, gradient norm and threshold (3) and two window counters (2);
    per run x0, the final x (2 d) and the generator state (4); per run of the kernel its
    working vectors (about 12 d) and batch indices and permutation (2 n + 1).
    """
    n_rec = steps // record_every + 1 + (steps % record_every != 0)
    d, n = problem.dim, problem.n
    nbytes = 8 * (steps + n_rec + runs * (n_rec * (d + 5) + 2 * d + 4 + 12 * d + 2 * n + 1))
    limit = _memory_limit()
    if nbytes > limit:
        raise ValueError(
            f"steps={steps}, runs={runs}, record_every={record_every} would allocate about "
            f"{nbytes / 2**30:.3g} GiB ({n_rec} records of dimension {d} per run, {steps} step sizes), "
            f"more than this machine's memory ({limit / 2**30:.3g} GiB); record less often (larger "
            "record_every), use fewer runs per call (split them over calls with different seeds), "
            "or fewer steps")


def _check_reporting(delta, accountant):
    """Validate ``delta`` and ``accountant`` before simulating (not after)."""
    from .privacy import Accountant, _enum
    from ._validate import check_open_unit

    if delta is not None:
        check_open_unit("delta", delta)
    _enum(Accountant, "accountant", accountant)


class DivergenceError(ValueError):
    """The iterates of some runs overflowed to inf/NaN (step size too large for the problem)."""


#: A run's adaptive clip threshold that grew by more than this factor over its initial
#: value is what made the iterates overflow (the noise and the clipped step scale with it).
_THRESHOLD_BLOWUP = 1e100


def _check_finite_iterates(x_out, traj, algorithm, spec, c_hist):
    """A run whose iterates overflowed is an error naming the cause, never NaN output: the
    step size, or (quantile clipping) the adaptive clip threshold when that blew up first."""
    bad = ~(np.isfinite(x_out).all(axis=1) & np.isfinite(traj).all(axis=(1, 2)))
    if not bad.any():
        return
    what = (f"the iterates of {int(bad.sum())} of {bad.size} runs overflowed to inf/NaN (first: run "
            f"{int(np.argmax(bad))})")
    if spec.method == Method.QUANTILE:
        ch = c_hist[bad]
        if not np.isfinite(ch).all() or ch.max() > _THRESHOLD_BLOWUP * spec.c:
            top = ch[np.isfinite(ch)].max(initial=spec.c)
            raise DivergenceError(
                f"{what}: the adaptive clip threshold blew up first (initial c = {spec.c!r}, largest "
                f"finite recorded threshold {top:.3g}{', then inf/NaN' if not np.isfinite(ch).all() else ''}); "
                f"quantile_lr = {algorithm.quantile_lr!r} is too large (a step can multiply c by up to "
                f"exp(quantile_lr)) or target_quantile = {algorithm.target_quantile!r} is too close to 1; "
                "use a smaller quantile_lr")
    raise DivergenceError(
        f"{what}: the step size lr = {algorithm.lr!r} is too large for this problem "
        "(or a custom oracle returned non-finite values); use a smaller lr, or clip (finite c)")


def _warn_recorded_overflow(loss, gnorm):
    """One RuntimeWarning per call naming the recorded quantities (loss, grad_norm) that
    overflowed although the iterates are finite (checked before)."""
    bad = [(name, int(np.count_nonzero(~np.isfinite(a)))) for name, a in (("loss", loss), ("grad_norm", gnorm))]
    bad = [(name, k) for name, k in bad if k]
    if bad:
        what = " and ".join(f"{name} ({k} of {loss.size} records)" for name, k in bad)
        warnings.warn(
            f"recorded {what} overflowed to inf/NaN although the iterates are finite: f(x) or "
            "grad f(x) (or an intermediate sum of the full pass) lies beyond the float64 range "
            "(about 1.8e308) for these data and iterates; rescale the problem (data, x0)",
            RuntimeWarning, stacklevel=3)


def _prepare(problem, algorithm, steps, runs, seed, x0, record_every):
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a clipsgd Problem (got {type(problem).__name__})")
    if not isinstance(algorithm, SGD):
        raise TypeError(f"algorithm must be a clipsgd algorithm description (got {type(algorithm).__name__})")
    steps = check_int("steps", steps, 1)
    runs = check_int("runs", runs, 1)
    record_every = _record_every(steps, record_every)
    _check_memory(problem, steps, runs, record_every)
    d = problem.dim
    if x0 is None:
        x0 = np.zeros((runs, d))
    else:
        x0 = check_finite_array("x0", x0, ndim=(1, 2))
        if x0.shape[-1] != d:
            raise ValueError(f"x0 must have last dimension dim={d} (got shape {x0.shape})")
        if x0.ndim == 2 and x0.shape[0] != runs:
            raise ValueError(f"x0 must have shape ({d},) or (runs={runs}, {d}) (got {x0.shape})")
        x0 = np.ascontiguousarray(np.broadcast_to(x0, (runs, d)), dtype=float)
    spec = algorithm.spec(problem.n)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, np.random.SeedSequence):
        seed_ss = seed
    else:
        seed = check_int("seed", seed, 0)
        seed_ss = np.random.SeedSequence(seed)
    states = _rng.spawn_states(seed_ss, runs)
    rec = _record_steps(steps, record_every)
    lrs = algorithm.learning_rates(steps)
    log1mq = math.log1p(-spec.sample_rate) if spec.sampling == 0 and spec.sample_rate < 1 else -math.inf
    return steps, runs, x0, spec, seed, states, rec, lrs, log1mq


def run(problem, algorithm, steps, runs=1, seed=0, x0=None, record_every=None,
        record_loss=True, delta=None, accountant="pld"):
    """Run ``runs`` independent copies of ``algorithm`` on ``problem`` for ``steps`` steps.

    Parameters
    ----------
    problem : Problem
        From :mod:`clipsgd.problems` (or :func:`clipsgd.datasets.make_problem`).
    algorithm : SGD, ClippedSGD, DPSGD, AutoClipSGD, DiceSGD or QuantileClipDPSGD
        A frozen description (:mod:`clipsgd.algorithms`): step size and schedule, batch
        sampling, clip threshold c, pre-clip perturbation k, noise multiplier z.
    steps : int >= 1
    runs : int >= 1
        Independent runs; run ``r`` uses stream ``r`` spawned from ``seed``.
    seed : int or SeedSequence, default 0
        ``None`` draws fresh entropy (recorded in the result).
    x0 : array_like (d,) or (runs, d), default zeros
    record_every : int, optional
        Record every this many steps (default ``max(1, steps // 100)``); the final
        iterate is always recorded.
    record_loss : bool, default True
        Compute f and ||grad f|| at the records (a full pass over the data each).
    delta : float in (0, 1), optional
        For private algorithms, the delta at which epsilon is reported (default
        ``min(1e-5, 1/(10 n))``); see :func:`clipsgd.privacy.privacy_report`.
    accountant : {"pld", "rdp"}, default "pld"
        Accountant for the reported epsilon (RDP is faster and looser).

    Returns
    -------
    Result
        ``x`` (runs, d) final iterates; ``trajectory`` (runs, n_rec, d) at
        ``record_steps``; ``loss`` and ``grad_norm`` (runs, n_rec) of the full objective
        (NaN when ``record_loss=False``); ``clip_fraction`` (runs, n_rec - 1) per recording
        window (NaN for a window in which every Poisson batch was empty); ``mean_batch``;
        ``clip_threshold``; ``privacy`` (a :class:`clipsgd.privacy.PrivacyReport` for private
        algorithms, else None); ``seed``; ``wall_time``; ``summary()``. See :class:`Result`.

    Raises
    ------
    ValueError
        Bad input, naming the parameter and its allowed range (steps < 1, x0 of the wrong
        shape or not finite, delta outside (0, 1), ...).
        Also when the records, histories and per-run state would need more memory than
        the machine has (estimated before allocating; see :func:`_check_memory`).
    DivergenceError
        (a ValueError) the iterates of some run overflowed: the step size is too large
        (quantile clipping: or the adaptive threshold blew up, quantile_lr too large).

    Warns
    -----
    RuntimeWarning
        Once per call, when a recorded ``loss`` or ``grad_norm`` overflowed (is inf/NaN)
        although the iterates are finite (values beyond the float64 range).
    TypeError
        ``problem`` or ``algorithm`` is not a clipsgd object.

    Examples
    --------
    Clipped SGD on the paper's Example 1 stalls at -2.5, not at x* = 1:

    >>> from clipsgd import run, problems, ClippedSGD
    >>> res = run(problems.example1(), ClippedSGD(lr=0.01, c=1.0), steps=4000, runs=200, seed=1)
    >>> round(float(res.x.mean()), 1)
    -2.5
    """
    _check_reporting(delta, accountant)
    steps, runs, x0, spec, seed, states, rec, lrs, log1mq = _prepare(
        problem, algorithm, steps, runs, seed, x0, record_every)
    n_rec = rec.shape[0]
    d = problem.dim
    traj = np.empty((runs, n_rec, d))
    loss = np.full((runs, n_rec), np.nan)
    gnorm = np.full((runs, n_rec), np.nan)
    nclip = np.zeros((runs, n_rec - 1), dtype=np.int64)
    nseen = np.zeros((runs, n_rec - 1), dtype=np.int64)
    x_out = np.empty((runs, d))
    c_hist = np.empty((runs, n_rec))
    t0 = time.perf_counter()
    if _USE_LOCKSTEP and _lockstep_eligible(problem, spec):
        _lockstep_quadratic_1d(
            problem.X, problem.Y, problem.P, x0, states, lrs, spec.c, spec.batch_size,
            spec.expected_batch, rec, bool(record_loss), traj, loss, gnorm, nclip, nseen, x_out, c_hist)
    else:
        engine = _batch_parallel_engine() if _batch_parallel_eligible(problem, spec, runs) else _engine_for(problem)
        engine(
            problem.kind, problem.X, problem.Y, problem.P, _row_norms(problem), x0, states, lrs,
            spec.method, spec.c, spec.noise_multiplier, spec.k, np.asarray(spec.params, dtype=np.float64),
            spec.sampling, log1mq, spec.batch_size, spec.expected_batch, rec, bool(record_loss),
            traj, loss, gnorm, nclip, nseen, x_out, c_hist)
    wall = time.perf_counter() - t0
    return _result(problem, algorithm, spec, steps, runs, seed, rec, traj, loss, gnorm,
                   nclip, nseen, x_out, wall, delta, c_hist, accountant, record_loss)


def _result(problem, algorithm, spec, steps, runs, seed, rec, traj, loss, gnorm, nclip,
            nseen, x_out, wall, delta, c_hist, accountant="pld", record_loss=True):
    _check_finite_iterates(x_out, traj, algorithm, spec, c_hist)
    if record_loss:
        _warn_recorded_overflow(loss, gnorm)
    window = np.diff(rec).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        clip_fraction = np.where(nseen > 0, nclip / np.maximum(nseen, 1), np.nan)
    privacy = None
    if algorithm.private:
        if delta is None:
            delta = min(1e-5, 1.0 / (10.0 * problem.n))
        # the run describes itself as a privacy event; the accountant counts it
        privacy = algorithm.privacy_event(problem.n, steps).report(delta, accountant)
    return Result(
        x=x_out, trajectory=traj, record_steps=rec, loss=loss, grad_norm=gnorm,
        clip_fraction=clip_fraction, mean_batch=nseen / window, seed=seed, steps=steps,
        runs=runs, problem=problem, algorithm=algorithm, privacy=privacy, wall_time=wall,
        clip_threshold=c_hist,
    )


# ---------------------------------------------------------------------------- the twin
def run_numpy(problem, algorithm, steps, runs=1, seed=0, x0=None, record_every=None,
              record_loss=True, delta=None, accountant="pld"):
    """Plain NumPy/Python twin of :func:`run`: the readable definition (slow).

    Uses the same random streams in the same order (:class:`clipsgd.rng.Xoshiro256`), the
    problem's NumPy per-example gradients, :func:`clipsgd.clip.clip_numpy` and
    :func:`clipsgd.updates.dp_sgd_step_numpy`. Agrees with :func:`run` to rounding (the
    kernel forms a GLM's clipped sum in chunks of 32 batch slots, and adds the chunks; the
    twin sums in one pass).
    """
    _check_reporting(delta, accountant)
    steps, runs, x0, spec, seed, states, rec, lrs, log1mq = _prepare(
        problem, algorithm, steps, runs, seed, x0, record_every)
    from .clip import clip_numpy

    n, d = problem.n, problem.dim
    n_rec = rec.shape[0]
    traj = np.empty((runs, n_rec, d))
    loss = np.full((runs, n_rec), np.nan)
    gnorm = np.full((runs, n_rec), np.nan)
    nclip = np.zeros((runs, n_rec - 1), dtype=np.int64)
    nseen = np.zeros((runs, n_rec - 1), dtype=np.int64)
    x_out = np.empty((runs, d))
    c_hist = np.empty((runs, n_rec))
    gamma, c2, target_q, eta_c, z_count = spec.params
    t0 = time.perf_counter()
    for r in range(runs):
        gen = _rng.Xoshiro256(states[r])
        x = x0[r].copy()
        err = np.zeros(d)  # DiceSGD's fed-back error
        c_t = spec.c  # the (adaptive) threshold
        perm, pos, w = np.arange(n), n, -1
        for t in range(steps + 1):
            if w + 1 < n_rec and rec[w + 1] == t:
                w += 1
                traj[r, w] = x
                c_hist[r, w] = c_t
                if record_loss:  # an overflow here is reported once, by _result
                    with np.errstate(over="ignore", invalid="ignore"):
                        G_all = problem.per_example_grads(x)
                        loss[r, w] = problem.loss(x)
                        gnorm[r, w] = np.linalg.norm(G_all.mean(axis=0))
            if t == steps:
                break
            if spec.sampling == 0:
                idx, i = [], gen.geometric_skip(log1mq)
                while i < n:
                    idx.append(i)
                    i += 1 + gen.geometric_skip(log1mq)
            elif spec.sampling == 1:
                idx = []
                for _ in range(spec.batch_size):
                    if pos == n:
                        for a in range(n - 1, 0, -1):
                            jj = gen.randbelow(a + 1)
                            perm[a], perm[jj] = perm[jj], perm[a]
                        pos = 0
                    idx.append(perm[pos])
                    pos += 1
            else:
                idx = [gen.randbelow(n) for _ in range(spec.batch_size)]
            G = problem.per_example_grads(x, idx) if idx else np.zeros((0, d))
            if spec.k > 0 and idx:
                G = G + spec.k * np.array([gen.normal(d) for _ in idx])
            noise = gen.normal(d) if spec.noise_multiplier > 0 else np.zeros(d)
            B = spec.expected_batch
            if spec.method == Method.AUTO:
                C, factors = auto_clip_numpy(G, spec.c, gamma)
                x = x - lrs[t] / B * (C.sum(axis=0) + spec.noise_multiplier * spec.c * noise)
            elif spec.method == Method.DICE:
                _, _, factors = clip_numpy(G, spec.c) if idx else (None, None, np.ones(0))
                x, err = dice_sgd_step_numpy(x, err, G, spec.c, c2, spec.noise_multiplier, lrs[t], B, noise)
            else:
                _, _, factors = clip_numpy(G, c_t) if idx else (None, None, np.ones(0))
                x = dp_sgd_step_numpy(x, G, c_t, spec.noise_multiplier, lrs[t], B, noise)
                if spec.method == Method.QUANTILE:
                    nu = gen.normal(1)[0]
                    c_t = quantile_threshold_update_numpy(
                        c_t, int(np.count_nonzero(factors >= 1.0)), len(idx), B, target_q, eta_c, z_count, nu)
            nclip[r, w] += int(np.count_nonzero(factors < 1.0))
            nseen[r, w] += len(idx)
        x_out[r] = x
    wall = time.perf_counter() - t0
    return _result(problem, algorithm, spec, steps, runs, seed, rec, traj, loss, gnorm,
                   nclip, nseen, x_out, wall, delta, c_hist, accountant, record_loss)
