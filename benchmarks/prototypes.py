r"""Prototypes of engine optimisations, measured by ``bench.py`` (not used by clipsgd).

All four are now adopted in the package (P4: :func:`clipsgd.rng.spawn_states`; P2: the
engine's clip from norms for GLMs; P3: :func:`clipsgd.rng.fill_normal`; P1:
``clipsgd.engine._lockstep_quadratic_1d``); they stay here as the measured references the
benchmark races the engine against (the fused perturbation of P2 + P3 is not adopted).
The kernels below call :func:`clipsgd.rng.fill_normal`: Numba's disk cache does not
notice a change in another module, so edit this file (or clear its ``__pycache__``)
after changing ``clipsgd/rng.py``.

Each prototype reproduces one piece of :mod:`clipsgd.engine` / :mod:`clipsgd.rng` with the
same random streams where possible, so the benchmark can check that it gives the same
numbers (bit-identical, or equal to rounding) before it reports a speed-up.

* :func:`spawn_states_vectorised`: the per-run xoshiro256** seeds of
  :func:`clipsgd.rng.spawn_states` (``SeedSequence(entropy, spawn_key + (r,))
  .generate_state(4, uint64)``), computed for all runs at once with NumPy uint32
  arithmetic (NumPy's SeedSequence hash, O'Neill 2015 "seed_seq"), bit-identical.
* :func:`mc_quadratic_lockstep`: clipped SGD on a 1-D quadratic finite sum (Example 1),
  batch 1 with replacement, 64 runs advanced in lock-step so that LLVM vectorises
  xoshiro256** and the clip across runs (AVX-512); bit-identical to the engine.
* :func:`glm_dpsgd`: DP-SGD on logistic regression that clips from norms
  (:math:`\lVert g_i\rVert = |r_i|\,\lVert z_i\rVert`, row norms computed once), with an
  8-way unrolled dot product; same draws as the engine (equal to rounding). With
  ``k > 0`` it fuses the perturbation: :math:`\lVert r z + k\zeta\rVert^2 = r^2\lVert
  z\rVert^2 + 2rk\,z\cdot\zeta + k^2\lVert\zeta\rVert^2`, accumulated while
  :math:`\zeta` is drawn, with a choice of Gaussian generator.
* :func:`fill_normal_ziggurat`: a 256-layer ziggurat (Marsaglia & Tsang 2000, the
  variant of NumPy's ``random_standard_normal``) on the same xoshiro256** stream:
  one 64-bit draw per normal 99% of the time, instead of Box-Muller's log, sqrt,
  cos and sin per pair.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from clipsgd.rng import fill_normal, geometric_skip

# ------------------------------------------------------------------ seeding (P4)
_INIT_A, _MULT_A = np.uint32(0x43B0D7E5), np.uint32(0x931E8875)
_INIT_B, _MULT_B = np.uint32(0x8B51F9DD), np.uint32(0x58F38DED)
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_XSHIFT = np.uint32(16)


def _words32(value) -> list:
    """An int (or sequence of ints) as little-endian uint32 words, as SeedSequence does."""
    out = []
    vals = value if isinstance(value, (list, tuple)) else [value]
    for v in vals:
        v = int(v)
        if v == 0:
            out.append(0)
        while v > 0:
            out.append(v & 0xFFFFFFFF)
            v >>= 32
    return out


def spawn_states_vectorised(seed, runs: int) -> np.ndarray:
    """Same output as :func:`clipsgd.rng.spawn_states` for an int seed, without a Python loop.

    Child ``r`` hashes the entropy words (padded to ``pool_size = 4``) followed by the
    spawn key ``(r,)``; all children share every step but the last word, so the hash
    runs on uint32 arrays of length ``runs``.
    """
    ss = np.random.SeedSequence(seed)
    run_entropy = _words32(ss.entropy)
    run_entropy += [0] * max(0, ss.pool_size - len(run_entropy))
    if ss.spawn_key:
        raise NotImplementedError("prototype handles a plain integer seed")
    with np.errstate(over="ignore"):
        r = np.arange(runs, dtype=np.uint64)
        # spawn key word(s) of r: r < 2^32 gives one word (0 -> [0])
        if runs > 2**32:
            raise NotImplementedError
        key = r.astype(np.uint32)
        words = [np.full(runs, w, dtype=np.uint32) for w in run_entropy] + [key]
        pool = ss.pool_size
        hc = np.full(runs, _INIT_A, dtype=np.uint32)

        def hashmix(value):
            nonlocal hc
            value = value ^ hc
            hc = hc * _MULT_A
            value = value * hc
            return value ^ (value >> _XSHIFT)

        def mix(x, y):
            res = _MIX_L * x - _MIX_R * y
            return res ^ (res >> _XSHIFT)

        mixer = [hashmix(words[i]) if i < len(words) else hashmix(np.zeros(runs, np.uint32))
                 for i in range(pool)]
        for i_src in range(pool):
            for i_dst in range(pool):
                if i_src != i_dst:
                    mixer[i_dst] = mix(mixer[i_dst], hashmix(mixer[i_src]))
        for i_src in range(pool, len(words)):
            for i_dst in range(pool):
                mixer[i_dst] = mix(mixer[i_dst], hashmix(words[i_src]))
        out32 = np.empty((runs, 8), dtype=np.uint32)
        hb = _INIT_B
        for i in range(8):
            v = mixer[i % pool] ^ hb
            hb = np.uint32(hb * _MULT_B)
            v = v * hb
            out32[:, i] = v ^ (v >> _XSHIFT)
    states = out32.view(np.uint64).copy()  # little-endian pairs, as generate_state(uint64)
    zero = ~states.any(axis=1)
    states[zero, 0] = 1
    return states


# --------------------------------------------------------- lock-step Monte Carlo (P1)
_W = 64
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, parallel=True, error_model="numpy")
def _mc_quadratic_lockstep(a, states, lrs, c, x0, x_out):
    """Blocks of ``_W`` runs per thread; each step in three passes over the block:
    (1) xoshiro256** and the index for every lane (vectorised: AVX-512 rotates and
    conversions), (2) the gather ``a[i]`` (scalar: a gather in the same loop stops
    LLVM from vectorising it), (3) clip and update (vectorised ``vdivpd``/``vsqrtpd``).
    ``error_model="numpy"`` removes the zero-division branch (no division by 0 can
    happen: ``c / nrm`` only runs when ``nrm > c > 0``)."""
    R = states.shape[0]
    n = a.shape[0]
    T = lrs.shape[0]
    nblk = (R + _W - 1) // _W
    for blk in prange(nblk):
        lo = blk * _W
        s0 = np.ones(_W, np.uint64)  # padding lanes: a valid state, results dropped
        s1 = np.zeros(_W, np.uint64)
        s2 = np.zeros(_W, np.uint64)
        s3 = np.zeros(_W, np.uint64)
        x = np.zeros(_W)
        ai = np.empty(_W)
        idx = np.empty(_W, np.int64)
        for j in range(_W):
            if lo + j < R:
                s0[j], s1[j], s2[j], s3[j] = states[lo + j, 0], states[lo + j, 1], states[lo + j, 2], states[lo + j, 3]
                x[j] = x0[lo + j]
        for t in range(T):
            lr = lrs[t]
            for j in range(_W):
                v = s1[j] * np.uint64(5)
                res = ((v << np.uint64(7)) | (v >> np.uint64(57))) * np.uint64(9)
                tt = s1[j] << np.uint64(17)
                s2[j] ^= s0[j]
                s3[j] ^= s1[j]
                s1[j] ^= s2[j]
                s0[j] ^= s3[j]
                s2[j] ^= tt
                s3[j] = (s3[j] << np.uint64(45)) | (s3[j] >> np.uint64(19))
                # the engine's randbelow: (res * n) >> 64 from 32-bit halves (it was
                # floor(U n) with a uint64 -> double conversion, scalar on AVX2)
                nn = np.uint64(n)
                idx[j] = np.int64(((res >> np.uint64(32)) * nn
                                   + (((res & np.uint64(0xFFFFFFFF)) * nn) >> np.uint64(32))) >> np.uint64(32))
            for j in range(_W):
                ai[j] = a[idx[j]]
            for j in range(_W):
                g = x[j] - ai[j]
                nrm = math.sqrt(g * g)  # l2_norm of a 1-vector (its rescaling fallback omitted)
                f = c / nrm if nrm > c else 1.0
                x[j] -= lr * (f * g)
        for j in range(_W):
            if lo + j < R:
                x_out[lo + j] = x[j]


def mc_quadratic_lockstep(a, states, lrs, c, x0):
    """Final iterates of clipped SGD (batch 1, replacement) on f_i = (x - a_i)^2/2, d = 1."""
    x_out = np.empty(states.shape[0])
    _mc_quadratic_lockstep(np.ascontiguousarray(a, float), states, lrs, float(c),
                           np.ascontiguousarray(x0, float), x_out)
    return x_out


# ------------------------------------------------------------------- ziggurat (P3)
def _ziggurat_tables():
    """256-layer ziggurat tables for exp(-x^2/2) (Marsaglia & Tsang 2000, 52-bit variant)."""
    from scipy.special import erfc

    r = 3.6541528853610087963519472518
    f = lambda x: math.exp(-0.5 * x * x)  # noqa: E731
    v = r * f(r) + math.sqrt(math.pi / 2) * erfc(r / math.sqrt(2))  # area of each layer
    m = 2.0 ** 52
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = r
    q = v / f(dn)
    ki[0] = np.uint64(int((dn / q) * m))
    ki[1] = 0
    wi[0] = q / m
    wi[255] = dn / m
    fi[0] = 1.0
    fi[255] = f(dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + f(dn)))
        ki[i + 1] = np.uint64(int((dn / tn) * m))
        tn = dn
        fi[i] = f(dn)
        wi[i] = dn / m
    return ki, wi, fi, r


_KI, _WI, _FI, _ZR = _ziggurat_tables()


@njit(cache=True, inline="always")
def _xoshiro(s0, s1, s2, s3):
    """One xoshiro256** step on a state held in registers: (output, new state)."""
    v = s1 * np.uint64(5)
    res = ((v << np.uint64(7)) | (v >> np.uint64(57))) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
    return res, s0, s1, s2, s3


@njit(cache=True)
def _fill_zig(s, out, ki, wi, fi, rr):
    """Ziggurat normals; the xoshiro state lives in registers during the loop."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for j in range(out.shape[0]):
        while True:
            r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            idx = np.int64(r & np.uint64(0xFF))
            r >>= np.uint64(8)
            rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
            x = float(rabs) * wi[idx]
            if r & np.uint64(1):
                x = -x
            if rabs < ki[idx]:
                break
            if idx == 0:  # the tail beyond rr (Marsaglia 1964)
                while True:
                    u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                    xx = -math.log1p(-float(u >> np.uint64(11)) * _INV53) / rr
                    u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                    yy = -math.log1p(-float(u >> np.uint64(11)) * _INV53)
                    if yy + yy > xx * xx:
                        break
                x = -(rr + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else rr + xx
                break
            u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            if (fi[idx - 1] - fi[idx]) * (float(u >> np.uint64(11)) * _INV53) + fi[idx] < math.exp(-0.5 * x * x):
                break
        out[j] = x
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3


@njit(cache=True)
def _fill_bm_registers(s, out):
    """clipsgd.rng.fill_normal (Box-Muller, same bits) with the state in registers."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    m = out.shape[0]
    j = 0
    while j < m:
        a, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        b, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
        u1 = float(a >> np.uint64(11)) * _INV53
        u2 = float(b >> np.uint64(11)) * _INV53
        rad = math.sqrt(-2.0 * math.log(1.0 - u1))
        out[j] = rad * math.cos(2.0 * math.pi * u2)
        if j + 1 < m:
            out[j + 1] = rad * math.sin(2.0 * math.pi * u2)
        j += 2
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3


def fill_normal_box_muller_registers(state, out):
    """Same numbers as :func:`clipsgd.rng.fill_normal`, state kept in registers."""
    _fill_bm_registers(state, out)


def fill_normal_ziggurat(state, out):
    """Fill ``out`` with N(0, 1) draws from the xoshiro256** ``state`` (ziggurat)."""
    _fill_zig(state, out, _KI, _WI, _FI, _ZR)


# ------------------------------------------------------------- GLM DP-SGD kernel (P2)
@njit(cache=True, inline="always")
def _dot8(X, i, x):
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
def _dots4(zeta, X, i):
    """(zeta . zeta, zeta . X[i]) with 4 accumulators each (breaks the add latency chain)."""
    d = zeta.shape[0]
    p0 = p1 = p2 = p3 = 0.0
    q0 = q1 = q2 = q3 = 0.0
    j = 0
    while j + 4 <= d:
        p0 += zeta[j] * zeta[j]
        p1 += zeta[j + 1] * zeta[j + 1]
        p2 += zeta[j + 2] * zeta[j + 2]
        p3 += zeta[j + 3] * zeta[j + 3]
        q0 += zeta[j] * X[i, j]
        q1 += zeta[j + 1] * X[i, j + 1]
        q2 += zeta[j + 2] * X[i, j + 2]
        q3 += zeta[j + 3] * X[i, j + 3]
        j += 4
    zz = (p0 + p1) + (p2 + p3)
    zx = (q0 + q1) + (q2 + q3)
    while j < d:
        zz += zeta[j] * zeta[j]
        zx += zeta[j] * X[i, j]
        j += 1
    return zz, zx


@njit(cache=True, error_model="numpy")
def _glm_dpsgd(X, Y, rownorm, x, state, lrs, c, z, k, log1mq, eb, gen, ki, wi, fi, rr):
    n, d = X.shape
    T = lrs.shape[0]
    acc = np.empty(d)
    zeta = np.empty(d)
    noise = np.zeros(d)
    idx = np.empty(n, dtype=np.int64)
    seen = 0
    for t in range(T):
        m = 0
        i = geometric_skip(state, log1mq)
        while i < n:
            idx[m] = i
            m += 1
            i += 1 + geometric_skip(state, log1mq)
        seen += m
        for j in range(d):
            acc[j] = 0.0
        for b in range(m):
            i = idx[b]
            sc = _dot8(X, i, x)
            if sc >= 0:
                r = 1.0 / (1.0 + math.exp(-sc)) - Y[i]
            else:
                e = math.exp(sc)
                r = e / (1.0 + e) - Y[i]
            if k > 0:
                if gen == 0:
                    fill_normal(state, zeta)
                else:
                    _fill_zig(state, zeta, ki, wi, fi, rr)
                zz, zx = _dots4(zeta, X, i)
                nrm = math.sqrt(r * r * rownorm[i] * rownorm[i] + 2.0 * r * k * zx + k * k * zz)
                f = c / nrm if nrm > c else 1.0
                fr, fk = f * r, f * k
                for j in range(d):
                    acc[j] += fr * X[i, j] + fk * zeta[j]
            else:
                nrm = abs(r) * rownorm[i]
                f = c / nrm if nrm > c else 1.0
                fr = f * r
                for j in range(d):
                    acc[j] += fr * X[i, j]
        if z > 0:
            fill_normal(state, noise)
        a = lrs[t] / eb
        for j in range(d):
            x[j] -= a * (acc[j] + z * c * noise[j])
    return seen


def glm_dpsgd(X, Y, x0, state, lrs, c, z, k, sample_rate, generator="box-muller", rownorm=None):
    """DP-SGD (Poisson rate ``sample_rate``) on logistic regression, clipping from norms.

    Returns (final x, number of examples processed).
    """
    if rownorm is None:
        rownorm = np.sqrt(np.einsum("ij,ij->i", X, X))
    x = np.array(x0, dtype=float)
    log1mq = math.log1p(-sample_rate)
    seen = _glm_dpsgd(X, Y, rownorm, x, state, lrs, float(c), float(z), float(k), log1mq,
                      sample_rate * X.shape[0], 0 if generator == "box-muller" else 1, _KI, _WI, _FI, _ZR)
    return x, seen
