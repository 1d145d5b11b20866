"""Per-run xoshiro256** streams: kernel vs Python twin, published test vector, the
distribution of the draws, and independence of the spawned streams."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from clipsgd.rng import (
    Xoshiro256,
    fill_normal,
    geometric_skip,
    next_u64,
    randbelow,
    spawn_states,
    spawn_states_reference,
    uniform,
    ZIGGURAT,
)

seeds = st.integers(0, 2**63 - 1)


def _state(seed):
    return spawn_states(seed, 1)[0].copy()


# ---------------------------------------------------------------- known answers
def test_published_xoshiro256starstar_vector():
    # reference implementation (Blackman & Vigna, xoshiro256starstar.c), state {1, 2, 3, 4};
    # the same ten outputs are the `reference` test of the Rust crate rand_xoshiro
    expected = [
        11520, 0, 1509978240, 1215971899390074240, 1216172134540287360,
        607988272756665600, 16172922978634559625, 8476171486693032832,
        10595114339597558777, 2904607092377533576,
    ]
    s = np.array([1, 2, 3, 4], dtype=np.uint64)
    assert [int(next_u64(s)) for _ in expected] == expected
    twin = Xoshiro256(np.array([1, 2, 3, 4], dtype=np.uint64))
    assert [twin.next_u64() for _ in expected] == expected


def test_first_output_by_hand():
    # result = rotl(s1 * 5, 7) * 9 with s1 = 2: rotl(10, 7) = 1280, times 9 = 11520
    assert int(next_u64(np.array([1, 2, 3, 4], dtype=np.uint64))) == 1280 * 9


# --------------------------------------------------------------- kernel vs twin
@given(seeds, st.integers(1, 200))
def test_u64_and_uniform_bit_equal(seed, m):
    s = _state(seed)
    twin = Xoshiro256(s.copy())
    for _ in range(m):
        assert int(next_u64(s)) == twin.next_u64()
    for _ in range(m):
        assert uniform(s) == twin.uniform()  # same 53 bits times 2^-53: exact
    np.testing.assert_array_equal(s, np.array(twin.s, dtype=np.uint64))


@given(seeds, st.integers(1, 400))
def test_normals_equal_to_rounding(seed, m):
    s = _state(seed)
    twin = Xoshiro256(s.copy())
    out = np.empty(m)
    fill_normal(s, out)
    ref = twin.normal(m)
    # the fast path is an integer comparison and one product: the same bits; the wedge and
    # tail paths use exp/log1p, which may differ by an ulp between libm and LLVM
    np.testing.assert_allclose(out, ref, rtol=1e-15, atol=0)
    # the same number of 64-bit draws was consumed: the streams are still in step
    assert int(next_u64(s)) == twin.next_u64()


def test_normals_twin_through_the_tail_and_wedges():
    # 30,000 draws: about 0.2% of draws take the tail path (|Z| > R = 3.654) and ~1% a
    # wedge test, so both rare paths are exercised; kernel and twin stay in step
    s = _state(20251203)
    twin = Xoshiro256(s.copy())
    out = np.empty(30_000)
    fill_normal(s, out)
    ref = twin.normal(out.size)
    assert np.sum(np.abs(out) > ZIGGURAT["R"]) >= 3  # expected 30,000 * 2.6e-4 = 7.7
    np.testing.assert_allclose(out, ref, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(s, np.array(twin.s, dtype=np.uint64))


def test_ziggurat_tables_have_equal_area_layers():
    # f(x) = exp(-x^2/2); layer i >= 1 is [0, x_i] x [f(x_i), f(x_{i-1})], of area v; the
    # base is R f(R) plus the tail integral sqrt(pi/2) erfc(R/sqrt 2) (scipy, independent)
    from scipy.special import erfc

    k, w, f, R, v = (ZIGGURAT[key] for key in ("k", "w", "f", "R", "v"))
    x = w * 2.0**52
    assert x[-1] == R and f[0] == 1.0
    assert np.all(np.diff(x[1:]) > 0) and np.all(np.diff(f) < 0)
    np.testing.assert_allclose(f[1:], np.exp(-0.5 * x[1:] ** 2), rtol=1e-15)
    np.testing.assert_allclose(x[1:] * (f[:-1] - f[1:]), v, rtol=1e-9)
    assert v == pytest.approx(R * math.exp(-0.5 * R * R) + math.sqrt(math.pi / 2) * erfc(R / math.sqrt(2)), rel=1e-14)
    assert x[0] == pytest.approx(v / math.exp(-0.5 * R * R), rel=1e-15)  # base rectangle width
    # k[i] = 2^52 x_{i-1} / x_i: the fraction of layer i lying under layer i-1's rectangle
    np.testing.assert_allclose(k[2:].astype(float), np.floor(2.0**52 * x[1:-1] / x[2:]), rtol=1e-15)
    assert k[1] == 0  # x_0 = 0: the top layer has no sure part, every draw there takes the wedge test


@given(seeds, st.integers(1, 10**6))
def test_randbelow_twin_and_range(seed, n):
    s = _state(seed)
    twin = Xoshiro256(s.copy())
    for _ in range(20):
        i = randbelow(s, n)
        assert i == twin.randbelow(n)
        assert 0 <= i < n


@given(seeds, st.floats(1e-6, 1.0))
def test_geometric_skip_twin(seed, q):
    log1mq = math.log1p(-q) if q < 1 else -math.inf
    s = _state(seed)
    twin = Xoshiro256(s.copy())
    for _ in range(20):
        v = geometric_skip(s, log1mq)
        assert v == twin.geometric_skip(log1mq)
        assert v >= 0
        if q == 1.0:
            assert v == 0  # rate 1: every example is a success


# ----------------------------------------------------------- distribution tests
def test_fill_normal_is_standard_normal():
    # KS against N(0, 1) (scipy) on 10^6 draws from a fixed seed; also the mean and
    # variance within 5 standard errors (se 1/sqrt(N) and sqrt(2/N))
    s = _state(20240601)
    z = np.empty(1_000_001)
    fill_normal(s, z)
    assert stats.kstest(z, "norm").pvalue > 0.01
    N = z.size
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N)
    # power check: the same sample is clearly not N(0, 1.02^2)
    assert stats.kstest(z, "norm", args=(0, 1.02)).pvalue < 1e-6
    # chi-square on 256 equiprobable bins (edges at the N(0, 1) quantiles j / 256)
    counts = np.bincount(np.searchsorted(stats.norm.ppf(np.arange(1, 256) / 256), z), minlength=256)
    assert stats.chisquare(counts).pvalue > 0.01


def test_fill_normal_tail_frequencies():
    # 2x10^7 draws: the count beyond t (each side) is Binomial(N, Phi(-t)); within 5 s.e.
    # at t = 1, 2, 3, at the ziggurat's tail start R = 3.654 (where the tail algorithm takes
    # over), and at 4, 4.5; beyond 5 (expected 5.7 per side) within the Poisson 1e-4 quantiles
    s = _state(4242)
    z = np.empty(20_000_000)
    fill_normal(s, z)
    N = z.size
    for t in (1.0, 2.0, 3.0, ZIGGURAT["R"], 4.0, 4.5):
        p = stats.norm.sf(t)
        se = math.sqrt(N * p * (1 - p))
        for side in (np.count_nonzero(z > t), np.count_nonzero(z < -t)):
            assert abs(side - N * p) < 5 * se, (t, side, N * p)
    lam = N * stats.norm.sf(5.0)
    lo, hi = stats.poisson.ppf([1e-4, 1 - 1e-4], lam)
    assert lo <= np.count_nonzero(z > 5) <= hi and lo <= np.count_nonzero(z < -5) <= hi
    assert np.abs(z).max() < 7.0  # P(|Z| > 7) N = 5e-5


def test_uniform_is_uniform():
    # KS against U[0, 1) on 100 000 draws
    s = _state(7)
    u = np.array([uniform(s) for _ in range(100_000)])
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 0.01


def test_geometric_skip_distribution():
    # failures before a success at rate q: P(K = j) = (1 - q)^j q (chi-square test,
    # scipy), mean (1 - q)/q
    q = 0.3
    s = _state(99)
    K = np.array([geometric_skip(s, math.log1p(-q)) for _ in range(50_000)])
    J = 12
    obs = np.bincount(np.minimum(K, J), minlength=J + 1)
    p = (1 - q) ** np.arange(J) * q
    p = np.append(p, (1 - q) ** J)  # tail P(K >= J)
    assert stats.chisquare(obs, p * K.size).pvalue > 0.01
    assert abs(K.mean() - (1 - q) / q) < 5 * math.sqrt((1 - q) / q**2 / K.size)


# --------------------------------------------------------------------- spawning
def test_spawn_states_shape_dtype_and_distinct_rows():
    S = spawn_states(0, 64)
    assert S.shape == (64, 4) and S.dtype == np.uint64
    assert len({tuple(r) for r in S}) == 64
    assert not np.any(np.all(S == 0, axis=1))  # the forbidden all-zero state


def test_spawn_states_prefix_stability():
    # stream r does not depend on how many runs are spawned together
    np.testing.assert_array_equal(spawn_states(5, 3), spawn_states(5, 10)[:3])


def test_spawn_states_same_seed_same_states_and_seed_sequence_reusable():
    np.testing.assert_array_equal(spawn_states(123, 4), spawn_states(123, 4))
    ss = np.random.SeedSequence(123)
    a = spawn_states(ss, 4)
    b = spawn_states(ss, 4)  # reusing the object must not advance anything
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, spawn_states(123, 4))  # int seed == SeedSequence(seed)
    # the children are exactly NumPy's SeedSequence.spawn children
    ref = np.array([ch.generate_state(4, dtype=np.uint64) for ch in np.random.SeedSequence(123).spawn(4)])
    np.testing.assert_array_equal(a, ref)


def test_different_seeds_differ():
    assert not np.array_equal(spawn_states(1, 4), spawn_states(2, 4))


def test_streams_are_uncorrelated():
    # normals from different runs' streams: sample correlation within 5/sqrt(N) of 0
    # (se of Pearson r under independence is 1/sqrt(N)); pairwise for 4 streams
    N = 50_000
    S = spawn_states(31415, 4)
    Z = np.empty((4, N))
    for r in range(4):
        fill_normal(S[r], Z[r])
    C = np.corrcoef(Z)
    off = C[~np.eye(4, dtype=bool)]
    assert np.all(np.abs(off) < 5 / math.sqrt(N))
    # and the streams are not shifted copies of one another (lag-1 cross-correlation)
    for a in range(4):
        for b in range(4):
            if a != b:
                assert abs(np.corrcoef(Z[a, 1:], Z[b, :-1])[0, 1]) < 5 / math.sqrt(N)


big_ints = st.integers(0, 2**32 - 1) | st.integers(0, 2**130)


@st.composite
def seed_sequences(draw):
    """An int seed, or a SeedSequence with drawn entropy (int or sequence), spawn key and pool size."""
    if draw(st.booleans()):
        return draw(big_ints)
    entropy = draw(big_ints | st.lists(big_ints, min_size=1, max_size=6))
    key = tuple(draw(st.lists(big_ints, max_size=3)))
    pool = draw(st.sampled_from([4, 4, 5, 8]))
    return np.random.SeedSequence(entropy, spawn_key=key, pool_size=pool)


@given(seed_sequences(), st.integers(1, 300))
def test_vectorised_spawn_equals_one_seed_sequence_per_run(seed, runs):
    np.testing.assert_array_equal(spawn_states(seed, runs), spawn_states_reference(seed, runs))


def test_vectorised_spawn_for_many_runs_and_spawned_parents():
    # 70,000 runs (the run index crosses 2^16); a parent that is itself a spawned child
    S = spawn_states(11, 70_000)
    for r in (65_535, 65_536, 69_999):
        ref = np.random.SeedSequence(11, spawn_key=(r,)).generate_state(4, dtype=np.uint64)
        np.testing.assert_array_equal(S[r], ref)
    child = np.random.SeedSequence(2024).spawn(3)[2]
    np.testing.assert_array_equal(spawn_states(child, 40), spawn_states_reference(child, 40))
    ref = np.array([c.generate_state(4, dtype=np.uint64) for c in np.random.SeedSequence(2024).spawn(3)[2].spawn(5)])
    np.testing.assert_array_equal(spawn_states(child, 5), ref)


def test_spawn_states_none_uses_fresh_entropy():
    assert not np.array_equal(spawn_states(None, 2), spawn_states(None, 2))


@given(seeds, st.sampled_from([1, 2, 3, 7, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**40 + 3])
       | st.integers(1, 2**33))
def test_randbelow_is_the_high_word_of_w_times_n(seed, n):
    # for n <= 2^32, randbelow(n) = floor(w n / 2^64) for the next 64-bit word w (Lemire's
    # multiply-shift); Python's exact integers are the independent oracle. Larger n fall
    # back to floor(U n) with U the 53-bit uniform
    s = _state(seed)
    ref = Xoshiro256(s.copy())
    for _ in range(10):
        w = ref.next_u64()
        expect = (w * n) >> 64 if n <= 2**32 else min(int(float(w >> 11) * 2.0**-53 * n), n - 1)
        assert randbelow(s, n) == expect
        assert 0 <= expect < n


def test_randbelow_is_uniform():
    # chi-square on 7 cells (n = 7 does not divide 2^64): 70,000 draws, p > 1e-3
    from scipy.stats import chisquare

    s = _state(12345)
    counts = np.bincount([randbelow(s, 7) for _ in range(70_000)], minlength=7)
    assert counts.sum() == 70_000 and chisquare(counts).pvalue > 1e-3
