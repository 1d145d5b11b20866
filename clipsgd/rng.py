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
* ``fill_normal``: the 256-layer ziggurat of Marsaglia & Tsang ("The ziggurat method
  for generating random variables", J. Stat. Softw. 5(8), 2000), in the 52-bit variant
  of NumPy's ``random_standard_normal``. One 64-bit draw ``w`` gives the layer
  ``w & 255``, a sign bit and 52 bits ``a``; :math:`Z = \pm a\,w_i` is returned at once
  when ``a < k_i`` (about 99% of the draws: an integer comparison and one product).
  Otherwise, in layer 0 the tail :math:`|Z| > R = 3.6541\ldots` is sampled by
  Marsaglia's (1964) method, :math:`X = -\log(1-U_1)/R` accepted when
  :math:`-2\log(1-U_2) > X^2`, :math:`Z = \pm(R + X)`; in the other layers the wedge
  test :math:`f_{i-1} + \ldots` compares a uniform height with :math:`e^{-Z^2/2}`.
  One normal costs one 64-bit draw 99% of the time (Box-Muller needed a log, a sqrt,
  a cos and a sin per pair).
* ``randbelow``: :math:`\lfloor w n / 2^{64} \rfloor` for one 64-bit draw :math:`w`
  (Lemire's multiply-shift without rejection, "Fast random integer generation in an
  interval", ACM TOMS 2019, arXiv:1805.10941): each value has probability within
  :math:`2^{-64}` of :math:`1/n`. For :math:`n \le 2^{32}` the high word of the 128-bit
  product is formed from 32-bit halves, :math:`\lfloor (h n + \lfloor l n / 2^{32}
  \rfloor) / 2^{32} \rfloor` with :math:`w = h 2^{32} + l` (exact; integer operations
  only, so it vectorises across runs on AVX2, where a 64-bit integer to double conversion
  does not); larger n use :math:`\lfloor U n \rfloor`.
* ``geometric_skip``: number of failures before a success of rate :math:`q`,
  :math:`\lfloor \log(1-U) / \log(1-q) \rfloor`, used for Poisson subsampling in
  :math:`O(\text{batch})` instead of :math:`O(n)` uniforms.

:class:`Xoshiro256` is the plain-Python twin: same bits for integers and uniforms; the
same bits for the normals whenever the fast path or an integer table decides, and the
same ``math.exp``/``math.log1p`` formulas (equal to rounding) on the rare wedge and tail
paths. The tables (:data:`ZIGGURAT`) are shared by both.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "spawn_states",
    "spawn_states_reference",
    "next_u64",
    "uniform",
    "fill_normal",
    "randbelow",
    "geometric_skip",
    "Xoshiro256",
]

_MASK = (1 << 64) - 1
_INV_2_53 = 1.0 / 9007199254740992.0


def _ziggurat_tables(layers: int = 256, r: float = 3.6541528853610087963519472518):
    r"""Tables of the ``layers``-layer ziggurat for :math:`f(x) = e^{-x^2/2}` (52-bit variant).

    The layers :math:`0 = x_0 < x_1 < \dots < x_{255} = R` have equal area
    :math:`v = R f(R) + \int_R^\infty f = x_i (f(x_{i-1}) - f(x_i))`; the base layer 0
    is the rectangle :math:`[0, v/f(R)] \times [0, f(R)]` whose part beyond R is the tail.
    Returns ``(k, w, f, R, v)``: ``k[i]`` (uint64) is the 52-bit threshold below which a
    draw lies inside the rectangle under layer i, ``w[i] = x_i / 2^{52}`` (``w[0] =
    (v/f(R)) / 2^{52}``), ``f[i] = f(x_i)``.
    """
    f = lambda x: math.exp(-0.5 * x * x)  # noqa: E731
    v = r * f(r) + math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))
    m = 2.0**52
    k = np.zeros(layers, dtype=np.uint64)
    w = np.zeros(layers)
    fv = np.zeros(layers)
    dn = tn = r
    q = v / f(dn)
    k[0] = np.uint64(int((dn / q) * m))
    k[1] = 0
    w[0] = q / m
    w[layers - 1] = dn / m
    fv[0] = 1.0
    fv[layers - 1] = f(dn)
    for i in range(layers - 2, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + f(dn)))
        k[i + 1] = np.uint64(int((dn / tn) * m))
        tn = dn
        fv[i] = f(dn)
        w[i] = dn / m
    return k, w, fv, r, v


_ZK, _ZW, _ZF, _ZR, _ZV = _ziggurat_tables()
ZIGGURAT = {"k": _ZK, "w": _ZW, "f": _ZF, "R": _ZR, "v": _ZV}
_ZK.flags.writeable = _ZW.flags.writeable = _ZF.flags.writeable = False


def spawn_states_reference(seed, runs: int) -> np.ndarray:
    """Independent xoshiro256** states, shape (runs, 4), one SeedSequence per run (readable).

    ``seed`` may be an int, a :class:`numpy.random.SeedSequence` or None (fresh entropy).

    Child ``r`` is ``SeedSequence(entropy, spawn_key=spawn_key + (r,))``, which is what
    ``ss.spawn(runs)[r]`` gives for a fresh ``ss``; building the children directly (rather
    than calling ``ss.spawn``, which advances a counter inside ``ss``) means passing the
    same SeedSequence twice gives the same states. This is the definition;
    :func:`spawn_states` computes the same states for all runs at once.
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


# NumPy's SeedSequence hash (O'Neill 2015, "seed_seq"; numpy/random/bit_generator.pyx)
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_M32 = 0xFFFFFFFF


def _words32(value):
    """``value`` as little-endian uint32 words, as SeedSequence coerces entropy and spawn
    keys (0 is one word [0]; a sequence is the concatenation of its items' words).
    None for inputs this function does not coerce (the caller falls back to the loop)."""
    if isinstance(value, np.ndarray) and value.dtype == np.uint32:
        return [int(v) for v in value.ravel()]
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        v = int(value)
        if v < 0:
            return None
        out = [v & _M32]
        v >>= 32
        while v > 0:
            out.append(v & _M32)
            v >>= 32
        return out
    if isinstance(value, (list, tuple, np.ndarray)):
        out = []
        for item in value:
            w = _words32(item)
            if w is None:
                return None
            out.extend(w)
        return out
    return None


def spawn_states(seed, runs: int) -> np.ndarray:
    r"""Independent xoshiro256** states, shape (runs, 4), from one seed (vectorised).

    Bit-identical to :func:`spawn_states_reference` (child ``r`` is
    ``SeedSequence(entropy, spawn_key=spawn_key + (r,))``), but NumPy's SeedSequence
    hash runs on uint32 arrays over all runs at once: every child hashes the same words
    (entropy padded to ``pool_size``, then the parent's spawn-key words) followed by one
    word ``r``, so only the data differ, never the hash constants. About 500x faster
    than one SeedSequence per run (10,000 runs in about a millisecond).

    ``seed`` may be an int, a :class:`numpy.random.SeedSequence` or None (fresh entropy).

    Examples
    --------
    >>> import numpy as np
    >>> ref = [c.generate_state(4, np.uint64) for c in np.random.SeedSequence(7).spawn(3)]
    >>> bool(np.array_equal(spawn_states(7, 3), ref))
    True
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    entropy = _words32(ss.entropy)
    key = _words32(tuple(ss.spawn_key))
    pool = ss.pool_size
    if entropy is None or key is None or runs >= 2**32:  # exotic input: the readable loop
        return spawn_states_reference(ss, runs)
    fixed = entropy + [0] * max(0, pool - len(entropy)) + key  # padded: the child has a spawn key
    words = [np.full(runs, w, dtype=np.uint32) for w in fixed]
    words.append(np.arange(runs, dtype=np.uint32))  # the run's own spawn-key word
    hc = _INIT_A  # the hash constant evolves the same way for every child

    def hashmix(value):
        nonlocal hc
        value = value ^ np.uint32(hc)
        hc = (hc * _MULT_A) & _M32
        value = value * np.uint32(hc)
        return value ^ (value >> np.uint32(16))

    def mix(x, y):
        res = _MIX_L * x - _MIX_R * y
        return res ^ (res >> np.uint32(16))

    zero = np.zeros(runs, dtype=np.uint32)
    mixer = [hashmix(words[i] if i < len(words) else zero) for i in range(pool)]
    for i_src in range(pool):
        for i_dst in range(pool):
            if i_src != i_dst:
                mixer[i_dst] = mix(mixer[i_dst], hashmix(mixer[i_src]))
    for i_src in range(pool, len(words)):
        for i_dst in range(pool):
            mixer[i_dst] = mix(mixer[i_dst], hashmix(words[i_src]))
    # generate_state(4, uint64): 8 uint32 words cycling over the pool, paired little-endian
    out32 = np.empty((runs, 8), dtype="<u4")
    hb = _INIT_B
    for i in range(8):
        v = mixer[i % pool] ^ np.uint32(hb)
        hb = (hb * _MULT_B) & _M32
        v = v * np.uint32(hb)
        out32[:, i] = v ^ (v >> np.uint32(16))
    states = out32.view("<u8").astype(np.uint64)
    states[~states.any(axis=1), 0] = 1  # the all-zero state is the one forbidden state
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
def fill_normal(s, out):
    """Fill ``out`` (1-D float64) with independent N(0, 1) draws (ziggurat, see module doc).

    The state is kept in registers during the fill and written back at the end.
    """
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for j in range(out.shape[0]):
        while True:
            r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            i = np.int64(r & np.uint64(0xFF))
            r >>= np.uint64(8)
            a = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
            x = float(a) * _ZW[i]
            if r & np.uint64(1):
                x = -x
            if a < _ZK[i]:  # inside the rectangle under layer i: ~99% of draws
                break
            if i == 0:  # the tail beyond R (Marsaglia 1964)
                while True:
                    u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                    xx = -math.log1p(-float(u >> np.uint64(11)) * _INV_2_53) / _ZR
                    u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                    yy = -math.log1p(-float(u >> np.uint64(11)) * _INV_2_53)
                    if yy + yy > xx * xx:
                        break
                x = -(_ZR + xx) if (a >> np.uint64(8)) & np.uint64(1) else _ZR + xx
                break
            u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            if (_ZF[i - 1] - _ZF[i]) * (float(u >> np.uint64(11)) * _INV_2_53) + _ZF[i] < math.exp(-0.5 * x * x):
                break  # under the density in the wedge
        out[j] = x
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3


_TWO_32 = 4294967296


@njit(cache=True, inline="always")
def mulhi_below(w, n):
    r"""``(w * n) >> 64`` for a uint64 ``w`` and ``1 <= n <= 2**32`` (see module doc).

    With :math:`w = h 2^{32} + l` and :math:`l n = L_h 2^{32} + L_l`:
    :math:`w n = (h n + L_h) 2^{32} + L_l` with :math:`L_l < 2^{32}`, so
    :math:`\lfloor w n / 2^{64} \rfloor = \lfloor (h n + L_h) / 2^{32} \rfloor`, and
    :math:`h n + L_h < 2^{64}` does not overflow.
    """
    nn = np.uint64(n)
    hi = w >> np.uint64(32)
    lo = w & np.uint64(0xFFFFFFFF)
    return np.int64((hi * nn + ((lo * nn) >> np.uint64(32))) >> np.uint64(32))


@njit(cache=True)
def randbelow(s, n):
    r"""Integer uniform on {0, ..., n-1}: :math:`\lfloor w n / 2^{64} \rfloor` (module doc)."""
    if n <= _TWO_32:
        return mulhi_below(next_u64(s), n)
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

    def standard_normal(self) -> float:
        """One N(0, 1) draw by the ziggurat (the readable definition of ``fill_normal``)."""
        k, w, f, R = _ZK, _ZW, _ZF, _ZR
        while True:
            r = self.next_u64()
            i = r & 0xFF  # the layer
            r >>= 8
            a = (r >> 1) & 0x000FFFFFFFFFFFFF  # 52 bits: the position along the layer
            x = float(a) * float(w[i])
            if r & 1:
                x = -x
            if a < int(k[i]):
                return x
            if i == 0:  # tail
                while True:
                    xx = -math.log1p(-self.uniform()) / R
                    yy = -math.log1p(-self.uniform())
                    if yy + yy > xx * xx:
                        return -(R + xx) if (a >> 8) & 1 else R + xx
            if (float(f[i - 1]) - float(f[i])) * self.uniform() + float(f[i]) < math.exp(-0.5 * x * x):
                return x

    def normal(self, m: int) -> np.ndarray:
        return np.array([self.standard_normal() for _ in range(m)], dtype=float)

    def randbelow(self, n: int) -> int:
        if n <= _TWO_32:
            return (self.next_u64() * n) >> 64  # exact 128-bit product in Python
        return min(int(self.uniform() * n), n - 1)

    def geometric_skip(self, log1mq: float) -> int:
        u = self.uniform()
        if log1mq == -math.inf:
            return 0
        return int(min(math.log(1.0 - u) / log1mq, 4.0e18))
