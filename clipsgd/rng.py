r"""Per-run random streams that do not depend on the number of threads.

Every run owns a xoshiro256** generator (Blackman & Vigna, "Scrambled linear
pseudorandom number generators", ACM TOMS 2021, arXiv:1805.01407) whose 256-bit state is
seeded from ``numpy.random.SeedSequence(seed).spawn(runs)``. A run draws only from its
own stream, in a fixed order, so results are bit-identical whatever the thread count
and whichever runs are launched together (run ``r`` of a call with ``runs=R`` equals run
``r`` of any call with more runs and the same seed).

Draws
-----
* ``uniform``: :math:`U = (x \gg 11) \cdot 2^{-53} \in [0, 1)`.
* ``fill_normal``: Box-Muller on pairs,
  :math:`Z_1 = \sqrt{-2\log(1-U_1)}\cos(2\pi U_2)`,
  :math:`Z_2 = \sqrt{-2\log(1-U_1)}\sin(2\pi U_2)`; an odd length discards the last
  :math:`Z_2`.
* ``randbelow``: :math:`\lfloor U n \rfloor` (bias below :math:`n 2^{-53}`).
* ``geometric_skip``: number of failures before a success of rate :math:`q`,
  :math:`\lfloor \log(1-U) / \log(1-q) \rfloor`, used for Poisson subsampling in
  :math:`O(\text{batch})` instead of :math:`O(n)` uniforms.

:class:`Xoshiro256` is the plain-Python twin (same bits for integers and uniforms, same
floating-point formulas for the Gaussians).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "spawn_states",
    "next_u64",
    "uniform",
    "fill_normal",
    "randbelow",
    "geometric_skip",
    "Xoshiro256",
]

_MASK = (1 << 64) - 1
_TWO_PI = 2.0 * math.pi
_INV_2_53 = 1.0 / 9007199254740992.0


def spawn_states(seed, runs: int) -> np.ndarray:
    """Independent xoshiro256** states, shape (runs, 4), from one seed.

    ``seed`` may be an int, a :class:`numpy.random.SeedSequence` or None (fresh entropy).

    Child ``r`` is ``SeedSequence(entropy, spawn_key=spawn_key + (r,))``, which is what
    ``ss.spawn(runs)[r]`` gives for a fresh ``ss``; building the children directly (rather
    than calling ``ss.spawn``, which advances a counter inside ``ss``) means passing the
    same SeedSequence twice gives the same states.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    states = np.empty((runs, 4), dtype=np.uint64)
    for r in range(runs):
        child = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (r,), pool_size=ss.pool_size)
        st = child.generate_state(4, dtype=np.uint64)
        if not st.any():  # the all-zero state is the one forbidden state
            st[0] = np.uint64(1)
        states[r] = st
    return states


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def next_u64(s):
    """Advance state ``s`` (uint64[4]) and return the next 64-bit output."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True)
def uniform(s):
    """Uniform double in [0, 1) with 53 random bits."""
    return float(next_u64(s) >> np.uint64(11)) * _INV_2_53


@njit(cache=True)
def fill_normal(s, out):
    """Fill ``out`` (1-D float64) with independent N(0, 1) draws (Box-Muller pairs)."""
    m = out.shape[0]
    j = 0
    while j < m:
        u1 = uniform(s)
        u2 = uniform(s)
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        out[j] = r * math.cos(_TWO_PI * u2)
        if j + 1 < m:
            out[j + 1] = r * math.sin(_TWO_PI * u2)
        j += 2


@njit(cache=True)
def randbelow(s, n):
    """Integer uniform on {0, ..., n-1}."""
    i = int(uniform(s) * n)
    return i if i < n else n - 1


@njit(cache=True)
def geometric_skip(s, log1mq):
    """Failures before the next success, P(success) = q, given ``log1mq = log(1 - q)``.

    ``log1mq = -inf`` (q = 1) returns 0.
    """
    u = uniform(s)
    if log1mq == -np.inf:
        return 0
    v = math.log(1.0 - u) / log1mq
    if v > 4.0e18:
        return 4000000000000000000
    return int(v)


class Xoshiro256:
    """Plain-Python twin of the kernel generator (readable definition, slow)."""

    def __init__(self, state):
        self.s = [int(v) for v in np.asarray(state, dtype=np.uint64)]

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & _MASK

    def next_u64(self) -> int:
        s = self.s
        result = (self._rotl((s[1] * 5) & _MASK, 7) * 9) & _MASK
        t = (s[1] << 17) & _MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def uniform(self) -> float:
        return float(self.next_u64() >> 11) * _INV_2_53

    def normal(self, m: int) -> np.ndarray:
        out = np.empty(m)
        for j in range(0, m, 2):
            u1, u2 = self.uniform(), self.uniform()
            r = math.sqrt(-2.0 * math.log(1.0 - u1))
            out[j] = r * math.cos(_TWO_PI * u2)
            if j + 1 < m:
                out[j + 1] = r * math.sin(_TWO_PI * u2)
        return out

    def randbelow(self, n: int) -> int:
        return min(int(self.uniform() * n), n - 1)

    def geometric_skip(self, log1mq: float) -> int:
        u = self.uniform()
        if log1mq == -math.inf:
            return 0
        return int(min(math.log(1.0 - u) / log1mq, 4.0e18))
