"""Exact 1-D analysis: h(x) = (1/n) sum_i E clip(g_i(x) + kZ, c) and its zero set.

Oracles: hand computations for the paper's two examples; exact rational arithmetic
(``fractions.Fraction``, written here independently of clipsgd) for k = 0; for k > 0
numerical integration (``scipy.integrate.quad``), 40-digit arithmetic (``mpmath``) and
Monte Carlo; the engine itself for the mean final iterate of clipped SGD.
"""

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from clipsgd import (
    ClippedSGD,
    StationarySet,
    clip_numpy,
    expected_clipped_gradient,
    perturbed_clip_mean,
    problems,
    run,
    stationary_points,
)

# atoms and thresholds on a grid of halves, so that ties and stationary intervals occur
half = st.integers(-16, 16).map(lambda v: v / 2)
atoms_1d = st.lists(half, min_size=1, max_size=7)
grid_c = st.integers(1, 8).map(lambda v: v / 2)


def _h_fraction(atoms, x, c):
    """h(x) = (1/n) sum_i clip(x - a_i, c) in exact rational arithmetic (quadratic f_i)."""
    c = Fraction(c)
    return sum(max(-c, min(c, x - Fraction(a))) for a in atoms) / len(atoms)


# --------------------------------------------------------------- the paper's examples
def test_example1_stationary_point_is_exactly_minus_five_halves():
    # at x = -5/2: g = x - a = (1/2, 1/2, -23/2), clipped (1/2, 1/2, -1), sum 0
    st_ = stationary_points(problems.example1(), c=1)
    assert st_.points == (-2.5,)
    assert st_.rational_points == (Fraction(-5, 2),)
    assert st_.intervals == () and st_.exact
    assert _h_fraction([-3, -3, 9], Fraction(-5, 2), 1) == 0
    # and h(x*) = h(1) = (1 + 1 - 1)/3 = 1/3: the optimum is not stationary for clipped SGD
    assert expected_clipped_gradient(problems.example1(), 1.0, c=1.0) == pytest.approx(1 / 3, rel=1e-15)


def test_example2_stationary_set_is_the_interval_minus_two_two():
    # for |x| <= 2: g = (x + 3, x - 3) clip to (1, -1), sum 0; outside, one term unclips
    st_ = stationary_points(problems.example2(), c=1)
    assert st_.intervals == ((-2.0, 2.0),)
    assert st_.rational_intervals == ((Fraction(-2), Fraction(2)),)
    assert st_.points == ()
    assert 0.0 in st_ and 2.0 in st_ and -2.0 in st_ and 2.0001 not in st_
    h = expected_clipped_gradient(problems.example2(), np.linspace(-2, 2, 9), c=1.0)
    np.testing.assert_array_equal(h, 0.0)


def test_mean_final_iterate_of_clipped_sgd_on_example1_is_minus_two_and_a_half():
    # Must show: >= 1000 runs of clipped SGD (lr 0.01, 3000 steps, B = 1) average within
    # 0.05 of the exact zero -2.5 of h, far from x* = 1
    res = run(problems.example1(), ClippedSGD(lr=0.01, c=1.0), steps=3000, runs=1000, seed=2024,
              record_every=3000, record_loss=False)
    mean = float(res.x.mean())
    assert abs(mean - (-2.5)) < 0.05
    # the spread is the stationary noise of the chain, not a failure to converge: the
    # standard error of the mean is tiny compared with the distance to x* = 1
    assert res.x.std() / math.sqrt(1000) < 0.01


def test_infinite_c_gives_the_mean():
    # c = inf: h(x) = x - mean(a), zero at x* = mean(a) = 1 for Example 1
    st_ = stationary_points(problems.example1(), c=np.inf)
    assert st_.points == (1.0,) and st_.rational_points == (Fraction(1),)


def test_least_squares_1d_exact():
    # f_i = (z_i x - y_i)^2 / 2, g_i = z_i^2 x - z_i y_i; z = (1, 2), y = (1, 2) -> both
    # residuals vanish at x = 1, where no example is clipped: the zero is exactly 1
    p = problems.least_squares(np.array([[1.0], [2.0]]), [1.0, 2.0])
    st_ = stationary_points(p, c=0.5)
    assert st_.rational_points == (Fraction(1),)
    # h is the mean of clip(z_i^2 x - z_i y_i): at x = 2, (1, 4) clip at 0.5 to (0.5, 0.5)
    assert expected_clipped_gradient(p, 2.0, c=0.5) == pytest.approx(0.5, rel=1e-15)


# ----------------------------------------------------------------- k = 0, exactly
@given(atoms_1d, grid_c)
def test_zero_set_of_random_quadratic_sums_is_exact(atoms, c):
    st_ = stationary_points(problems.quadratic(atoms), c=c)
    assert st_.exact
    # h is nondecreasing from -c to c, so its zero set is one point or one bounded interval
    assert len(st_.points) + len(st_.intervals) == 1
    delta = Fraction(1, 10**9)
    if st_.points:
        (p,) = st_.rational_points
        assert _h_fraction(atoms, p, c) == 0
        assert _h_fraction(atoms, p - delta, c) < 0 < _h_fraction(atoms, p + delta, c)
        assert st_.points[0] == float(p)
        # the float evaluation agrees to rounding
        assert abs(expected_clipped_gradient(problems.quadratic(atoms), st_.points[0], c)) < 1e-14 * (1 + c)
    else:
        ((lo, hi),) = st_.rational_intervals
        assert lo < hi
        for x in (lo, (lo + hi) / 2, hi, lo + (hi - lo) / 3):
            assert _h_fraction(atoms, x, c) == 0
        assert _h_fraction(atoms, lo - delta, c) < 0 < _h_fraction(atoms, hi + delta, c)
        assert st_.intervals == ((float(lo), float(hi)),)


@given(st.lists(st.tuples(st.floats(0.2, 3.0), st.floats(-3.0, 3.0)), min_size=1, max_size=6),
       st.floats(0.1, 3.0))
def test_zero_set_of_random_least_squares_is_exact(rows, c):
    z = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    p = problems.least_squares(z[:, None], y)
    st_ = stationary_points(p, c=c)
    # g_i(x) = s_i x + b_i with s_i = z_i^2, b_i = -z_i y_i, in exact rationals (z^2 and z y
    # are computed in floats by the package, so the test uses the same float products)
    S = [Fraction(float(v)) for v in z * z]
    B = [Fraction(float(v)) for v in -z * y]
    C = Fraction(c)

    def h(x):
        return sum(max(-C, min(C, s * x + b)) for s, b in zip(S, B)) / len(S)

    delta = Fraction(1, 10**9)
    assert len(st_.points) + len(st_.intervals) == 1
    if st_.points:
        (p0,) = st_.rational_points
        assert h(p0) == 0 and h(p0 - delta) < 0 < h(p0 + delta)
    else:
        ((lo, hi),) = st_.rational_intervals
        assert h(lo) == 0 == h(hi) == h((lo + hi) / 2)
        assert h(lo - delta) < 0 < h(hi + delta)


# -------------------------------------------------------------- k > 0: closed form
def _H_quad(m, c, k, power=1, tol=1e-15):
    """E clip(m + kZ, c)^power by adaptive quadrature (scipy), split at the kinks."""
    f = lambda z: max(-c, min(c, m + k * z)) ** power * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    # the normal density is below 1e-300 outside [-38, 38]; integrate piecewise between
    # the kinks (-c - m)/k, (c - m)/k and the mode 0
    kinks = [min(38.0, max(-38.0, t)) for t in ((-c - m) / k, (c - m) / k)]
    edges = sorted({-38.0, 0.0, 38.0, *kinks})
    return sum(integrate.quad(f, lo, hi, epsabs=tol, epsrel=max(tol, 1e-13), limit=200)[0]
               for lo, hi in zip(edges, edges[1:]))


@given(st.floats(-8.0, 8.0), st.floats(0.1, 4.0), st.floats(0.05, 5.0))
def test_perturbed_clip_mean_matches_quadrature(m, c, k):
    assert float(perturbed_clip_mean(m, c, k)) == pytest.approx(_H_quad(m, c, k), abs=1e-11)


def test_perturbed_clip_mean_limits_and_symmetry():
    m = np.linspace(-5, 5, 41)
    # k = 0 is the plain clip; c = inf is the identity (E[m + kZ] = m); H is odd
    np.testing.assert_array_equal(perturbed_clip_mean(m, 1.0, 0.0), np.clip(m, -1, 1))
    np.testing.assert_array_equal(perturbed_clip_mean(m, np.inf, 2.0), m)
    np.testing.assert_allclose(perturbed_clip_mean(-m, 1.0, 0.7), -perturbed_clip_mean(m, 1.0, 0.7), atol=1e-15)
    # m = 0: E clip(kZ, c) = 0 by symmetry (also the doctest)
    assert float(perturbed_clip_mean(0.0, 1.0, 3.0)) == 0.0
    # k -> 0 recovers the clip; large |m| saturates at +-c
    np.testing.assert_allclose(perturbed_clip_mean(m, 1.0, 1e-6), np.clip(m, -1, 1), atol=1e-6)


@settings(derandomize=True)
@given(st.lists(st.floats(-5.0, 5.0), min_size=1, max_size=5), st.floats(-6.0, 6.0),
       st.floats(0.2, 3.0), st.floats(0.1, 3.0), st.integers(0, 2**32 - 1))
def test_h_closed_form_equals_monte_carlo_mean(atoms, x, c, k, seed):
    # h_k(x) = mean_i E clip(x - a_i + k Z, c); the Monte-Carlo mean over N draws per
    # example has standard error sqrt(sum_i var_i / N) / n, with var_i = E clip^2 - (E clip)^2
    # from quadrature (a sample variance is unreliable when clipping is almost sure):
    # accept within 4 of them
    p = problems.quadratic(atoms)
    N = 20_000
    Z = np.random.default_rng(seed).standard_normal((len(atoms), N))
    m = x - np.asarray(atoms)
    mc = np.clip(m[:, None] + k * Z, -c, c).mean()
    var = [max(_H_quad(mi, c, k, 2, 1e-8) - _H_quad(mi, c, k, 1, 1e-8) ** 2, 0.0) for mi in m]
    se = math.sqrt(sum(var) / N) / len(atoms)
    h = float(expected_clipped_gradient(p, x, c, k=k))
    assert abs(h - mc) <= 4 * se + 1e-12


def _h_mp(atoms, x, c, k):
    """h_k(x) in mpmath arithmetic (no underflow: exponents are unbounded).

    H_k is odd and H_k(u) = c - rho(u) for u >= 0, with the shortfall
    rho(u) = E[c - clip(u + kZ, c)] = int_{-c}^{c} Phi((y - u)/k) dy = k (G(beta) - G(alpha)),
    G(t) = t Phi(t) + phi(t). Written this way the saturated parts c cancel exactly and
    the tiny tails that decide the zero keep their precision at any working precision.
    """
    def G(t):
        return t * mp.ncdf(t) + mp.npdf(t)

    saturated, shortfall = 0, mp.mpf(0)
    for a in atoms:
        m = mp.mpf(x) - mp.mpf(a)
        if m == 0:
            continue
        u = abs(m)
        saturated += int(mp.sign(m))
        shortfall += mp.sign(m) * k * (G((c - u) / k) - G((-c - u) / k))
    return (c * saturated - shortfall) / len(atoms)


def _root_mp(atoms, c, k):
    """The zero of the strictly increasing h_k by 90 bisection steps in mpmath."""
    lo, hi = mp.mpf(min(atoms)), mp.mpf(max(atoms))
    if lo == hi:
        return lo
    for _ in range(90):
        mid = (lo + hi) / 2
        if _h_mp(atoms, mid, c, k) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@given(st.lists(st.floats(-6.0, 6.0), min_size=1, max_size=5), st.floats(0.2, 3.0),
       st.floats(0.02, 3.0) | st.floats(0.02, 0.1))
def test_k_positive_root_within_1e_10_of_high_precision_root(atoms, c, k):
    # small k and spread atoms included: near the zero every example may be clipped
    # almost surely, with tails like Phi(-12/0.02) far below the smallest double
    with mp.workdps(40):
        root = float(_root_mp(atoms, mp.mpf(c), mp.mpf(k)))
    st_ = stationary_points(problems.quadratic(atoms), c=c, k=k)
    assert not st_.exact and st_.intervals == () and len(st_.points) == 1
    assert abs(st_.points[0] - root) <= 1e-10 * max(1.0, abs(root))
    assert abs(expected_clipped_gradient(problems.quadratic(atoms), st_.points[0], c, k=k)) < 1e-13


def test_k_positive_root_where_h_underflows():
    # regression: near the zero the shortfalls are ~Phi(-48) ~ 1e-500, so h is 0.0 in
    # floating point on a whole interval; a root finder on the float value returned
    # -1.2127. The zero (40-digit mpmath bisection) is -1.395 = (0.61 - 3.4)/2, where
    # the two nearest atoms' tails balance (the outer atoms' are smaller by > 1e-1000).
    atoms, c, k = [3.79, -3.4, -5.1, 0.61], 0.44936229257583105, 0.032136269687168525
    with mp.workdps(40):
        root = float(_root_mp(atoms, mp.mpf(c), mp.mpf(k)))
    assert abs(root - (-1.395)) < 1e-12
    (x,) = stationary_points(problems.quadratic(atoms), c=c, k=k).points
    assert abs(x - root) < 1e-10


@pytest.mark.parametrize("k", [0.1, 0.3, 1.0])
def test_symmetric_pair_has_its_root_at_the_centre(k):
    # H_k is odd, so for a = (-3, 3) h_k(-x) = -h_k(x): the unique zero is exactly 0,
    # although every example is clipped almost surely near 0 when k is small
    st_ = stationary_points(problems.example2(), c=1.0, k=k)
    assert abs(st_.points[0]) <= 1e-10


def test_perturbation_moves_example1_towards_the_optimum():
    # the paper's fix: the zero of h_k moves from -2.5 (k = 0) towards x* = 1 as k grows
    roots = [stationary_points(problems.example1(), c=1.0, k=k).points[0] for k in (0.0, 1.0, 3.0, 10.0)]
    assert roots[0] == -2.5
    assert all(a < b for a, b in zip(roots, roots[1:]))
    assert abs(roots[-1] - 1.0) < abs(roots[1] - 1.0)


# ------------------------------------------------------------------ d-D quadratics
@given(st.integers(2, 6), st.integers(2, 3), st.floats(0.3, 3.0), st.integers(0, 2**32 - 1))
def test_dd_quadratic_returned_point_is_a_zero_of_h(n, d, c, seed):
    a = np.random.default_rng(seed).uniform(-3, 3, size=(n, d))
    st_ = stationary_points(problems.quadratic(a), c=c)
    (x,) = st_.points
    x = np.asarray(x)
    assert x.shape == (d,)
    # h(x) = (1/n) sum_i clip(x - a_i, c), evaluated with the NumPy twin of the clip
    h = clip_numpy(x[None, :] - a, c)[0].mean(axis=0)
    assert np.linalg.norm(h) < 1e-12


def test_dd_example_reduces_to_1d():
    # Example 1 embedded in 2-D along the first axis: the zero is (-2.5, 0)
    a = np.array([[-3.0, 0.0], [-3.0, 0.0], [9.0, 0.0]])
    (x,) = stationary_points(problems.quadratic(a), c=1.0).points
    np.testing.assert_allclose(x, [-2.5, 0.0], atol=1e-7)


# ----------------------------------------------------------------------- bad input
def test_non_1d_problem_is_rejected():
    p = problems.least_squares(np.eye(2), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"exact analysis needs a 1-D problem \(problem.dim=2\)"):
        expected_clipped_gradient(p, 0.0, c=1.0)
    with pytest.raises(ValueError, match=r"exact analysis needs a 1-D problem"):
        stationary_points(p, c=1.0)
    with pytest.raises(ValueError, match=r"^k > 0 with dim > 1"):
        stationary_points(problems.quadratic(np.eye(2)), c=1.0, k=0.5)


def test_logistic_problem_is_rejected():
    p = problems.logistic(np.array([[1.0], [2.0]]), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"per-example gradients affine in x"):
        expected_clipped_gradient(p, 0.0, c=1.0)
    with pytest.raises(ValueError, match=r"per-example gradients affine in x"):
        stationary_points(p, c=1.0)


def test_bad_parameters_are_rejected():
    p = problems.example1()
    with pytest.raises(ValueError, match=r"^c must be in \(0, inf\]"):
        expected_clipped_gradient(p, 0.0, c=0.0)
    with pytest.raises(ValueError, match=r"^k must be in \[0, inf\)"):
        expected_clipped_gradient(p, 0.0, c=1.0, k=-1.0)
    with pytest.raises(ValueError, match=r"^x contains 1 NaN or inf"):
        expected_clipped_gradient(p, np.nan, c=1.0)
    with pytest.raises(ValueError, match=r"^c must not be NaN"):
        stationary_points(p, c=np.nan)
    with pytest.raises(TypeError, match=r"^problem must be a clipsgd Problem"):
        expected_clipped_gradient("example1", 0.0, c=1.0)


def test_scalar_and_vector_x():
    p = problems.example1()
    h0 = expected_clipped_gradient(p, 1.0, c=1.0)
    assert np.ndim(h0) == 0
    hv = expected_clipped_gradient(p, [1.0, -2.5], c=1.0)
    # h(1) = 1/3 and h(-2.5) = 0 (hand computed above)
    np.testing.assert_allclose(hv, [1 / 3, 0.0], atol=1e-15)


def test_stationary_set_repr():
    assert repr(StationarySet((-2.5,), (), True)) == "StationarySet{-2.5}"
    assert repr(StationarySet((), ((-2.0, 2.0),), True)) == "StationarySet{[-2, 2]}"


def test_dd_stationary_set_repr_and_membership():
    # Example 2 embedded in 2-D: the zero set is the segment [-2, 2] x {0}; the solver
    # returns one point of it, here the centre (0, 0) by symmetry of the start (the mean)
    st_ = stationary_points(problems.quadratic(np.array([[-3.0, 0.0], [3.0, 0.0]])), c=1.0)
    assert repr(st_) == "StationarySet{(0, 0)}"
    assert (0.0, 0.0) in st_ and (5.0, 0.0) not in st_


def _H_mpmath(m, c, k):
    """The closed form of E clip(m + kZ, c) in 60-digit arithmetic (independent oracle)."""
    import mpmath as mp

    with mp.workdps(60):
        m, c, k = mp.mpf(m), mp.mpf(c), mp.mpf(k)
        a, b = (c - m) / k, (-c - m) / k
        return float(m * (mp.ncdf(a) - mp.ncdf(b)) + c * (mp.ncdf(-a) - mp.ncdf(b)) + k * (mp.npdf(b) - mp.npdf(a)))


@given(m=st.floats(-50, 50).filter(lambda v: abs(v) > 1e-3), c=st.floats(0.1, 5.0),
       log_k=st.floats(0.0, 14.0))
def test_perturbed_clip_mean_keeps_its_precision_at_large_k(m, c, log_k):
    # the closed form's terms are ~k and cancel to ~cm/k; from c/k <= 1e-2 on the small-c series
    # takes over. Both sides of the switch agree with 60-digit arithmetic to 1e-10 relative
    k = 10.0**log_k
    got = float(perturbed_clip_mean(m, c, k))
    assert got == pytest.approx(_H_mpmath(m, c, k), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("k", [1e3, 1e4, 1e5, 1e6])
def test_example1_stationary_point_at_large_k_follows_the_expansion(k):
    # x_k - x* = mu3/(6k^2) + d2/k^4 + O(k^-6) (theory/perturbation.py): mu3 = -128,
    # moments of xi = (4, 4, -8); at k >= 1e3 the remainder is
    # far below the bisection tolerance. Cancellation used to give 0.9999 at k = 1e6, -3 at 1e20
    xi = np.array([4.0, 4.0, -8.0])
    mu2, mu3, mu5 = (np.mean(xi**j) for j in (2, 3, 5))
    d2 = mu3 * (3 * mu2 + 1.0) / 36.0 - (mu5 + 10.0 * mu3 / 3.0) / 40.0
    x = stationary_points(problems.example1(), c=1.0, k=k).points[0]
    assert x == pytest.approx(1.0 + mu3 / (6 * k * k) + d2 / k**4, abs=1e-12)
    assert x < 1.0  # the skew still pulls it below x* = 1


def test_extreme_k_and_x_give_limits_without_warnings():
    import warnings

    ex1 = problems.example1()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stationary_points(ex1, c=1.0, k=1e-300).points[0] == pytest.approx(-2.5, abs=1e-12)
        np.testing.assert_allclose(expected_clipped_gradient(ex1, [-1e300, 0.0, 1e300], c=1.0, k=1e-300),
                                   [-1.0, 1.0 / 3.0, 1.0])
        assert abs(stationary_points(ex1, c=1.0, k=1e20).points[0] - 1.0) < 1e-12
        assert abs(float(expected_clipped_gradient(ex1, 0.0, c=1.0, k=1e20))) < 1e-19


@pytest.mark.parametrize("scale, c", [(1e6, 1.0), (1.0, 1e-7), (1.0, 1e-9), (1.0, 1.0), (1.0, 5.0)])
def test_dd_stationary_point_of_example1_embedded_in_the_plane(scale, c):
    # a = scale * (-3, -3, 9) on the x-axis: the 1-D analysis gives the exact zero of h
    # (rational arithmetic); the d-D solver must find the same point whatever the ratio of the
    # atoms' spread to c (a quasi-Newton line search used to stop at the mean, (1e6, 0))
    a = np.array([-3.0, -3.0, 9.0]) * scale
    want = stationary_points(problems.quadratic(a), c=c).points[0]
    x = stationary_points(problems.quadratic(np.c_[a, np.zeros(3)]), c=c).points[0]
    assert x[0] == pytest.approx(want, rel=1e-12, abs=1e-12 * scale) and x[1] == 0.0


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 4), log_c=st.floats(-3, 1))
def test_dd_stationary_point_zeroes_h(seed, d, log_c):
    rng = np.random.default_rng(seed)
    A = rng.standard_exponential((int(rng.integers(2, 30)), d)) * 10.0 ** rng.uniform(-1, 3)
    c = 10.0**log_c
    x = np.array(stationary_points(problems.quadratic(A), c=c).points[0])
    R = x - A
    r = np.linalg.norm(R, axis=1)
    h = (R * np.minimum(1.0, c / np.maximum(r, 1e-300))[:, None]).mean(axis=0)
    assert np.linalg.norm(h) <= 1e-9 * c + 1e-13 * np.abs(A).max()


# ------------------------------------------- c tiny against k, m tiny against c and k
# H_k(m) = E clip(m + kZ, c); mu = m/k, p = c/k. The closed form's terms (size k, m or c)
# cancel when c << k (result ~ c) or m << c, k (result ~ m); exact.py switches to series
# there (p <= 1e-2, resp. |mu| <= 1e-2; for the shortfall rho = c - H, p max(1, mu) <= 1e-2).


def _rho_mp(u, c, k, dps=80):
    """rho(u) = c - H(u) = k int_alpha^beta Phi = k (G(beta) - G(alpha)) at dps digits (an mpf).

    alpha and beta differ by 2p: at 80 digits the difference keeps > 40 digits for p >= 1e-20
    and mu p >= 1e-20, and mpmath's unbounded exponent keeps Phi(-mu) for any mu.
    """
    with mp.workdps(dps):
        u, c, k = mp.mpf(u), mp.mpf(c), mp.mpf(k)
        G = lambda t: t * mp.ncdf(t) + mp.npdf(t)  # noqa: E731
        return k * (G((c - u) / k) - G((-c - u) / k))


def _H_quad_mp(m, c, k):
    """H by 50-digit quadrature, independent of any closed form.

    clip(Y, c) = int_{-c}^{c} (1{Y > y} - 1/2) dy, so H = int_{m-c}^{m+c} psi with
    psi(s) = P(kZ < s) - 1/2 = erf(s/(k sqrt 2))/2 odd; equivalently (psi odd)
    H = int_{c-m}^{c+m} psi. Integrate over whichever interval keeps psi of one sign.
    """
    with mp.workdps(50):
        m, c, k = mp.mpf(m), mp.mpf(c), mp.mpf(k)
        psi = lambda s: mp.erf(s / (k * mp.sqrt(2))) / 2  # noqa: E731
        lo, hi = (m - c, m + c) if abs(m) >= c else (c - m, c + m)
        return mp.quad(psi, [lo, hi])


@pytest.mark.parametrize("m, c, k", [(0.7, 1e-20, 1.0), (-2.3, 1e-12, 0.8), (5.0, 1e-3, 1.5), (1e-15, 1.0, 1.0),
                                     (-3e-9, 0.4, 2.0), (2e-4, 30.0, 1.0), (0.9, 0.7, 1.3)])
def test_perturbed_clip_mean_matches_quadrature_where_the_closed_form_cancels(m, c, k):
    # regression: perturbed_clip_mean(1e-15, 1, 1) was 8% off, (0.7, 1e-20, 1) was c, not 0.52 c
    want = _H_quad_mp(m, c, k)
    assert float(perturbed_clip_mean(m, c, k)) == pytest.approx(float(want), rel=1e-13, abs=0.0)
    assert want == pytest.approx(mp.mpf(_H_mpmath(m, c, k)), rel=1e-15, abs=0.0)  # the two oracles agree


@settings(max_examples=60, deadline=None)
@given(m=st.floats(-8.0, 8.0), log_c=st.floats(-20.0, -3.0), k=st.floats(0.5, 2.0))
def test_perturbed_clip_mean_at_tiny_c(m, log_c, k):
    c = 10.0**log_c
    assert float(perturbed_clip_mean(m, c, k)) == pytest.approx(_H_mpmath(m, c, k), rel=1e-12, abs=0.0)


@settings(max_examples=60, deadline=None)
@given(log_m=st.floats(-15.0, -3.0), sign=st.sampled_from([-1.0, 1.0]), c=st.floats(0.03, 30.0),
       k=st.floats(0.5, 2.0))
def test_perturbed_clip_mean_at_tiny_m(log_m, sign, c, k):
    m = sign * 10.0**log_m
    assert float(perturbed_clip_mean(m, c, k)) == pytest.approx(_H_mpmath(m, c, k), rel=1e-12, abs=0.0)


@given(m=st.floats(-20.0, 20.0), c=st.floats(1e-6, 20.0), k=st.floats(0.05, 20.0))
def test_perturbed_clip_mean_is_symmetric_in_m_and_c(m, c, k):
    # H = Psi(m + c) - Psi(m - c), Psi even: the documented symmetry behind the tiny-m series
    if m > 0:
        want = float(perturbed_clip_mean(c, m, k))
        assert float(perturbed_clip_mean(m, c, k)) == pytest.approx(want, rel=1e-12, abs=0.0)


def _both_sides(v):
    return np.nextafter(v, -np.inf), np.nextafter(v, np.inf)


@pytest.mark.parametrize("mu", [-30.0, -3.0, -0.4, 1e-3, 0.7, 2.0, 9.0])
def test_tiny_c_threshold_is_continuous(mu):
    # p = c/k = 1e-2 is the switch: both sides agree with 60 digits and with each other
    k = 1.7
    vals = [float(perturbed_clip_mean(mu * k, c, k)) for c in _both_sides(1e-2 * k)]
    for v, c in zip(vals, _both_sides(1e-2 * k)):
        assert v == pytest.approx(_H_mpmath(mu * k, c, k), rel=1e-12, abs=0.0)
    assert vals[0] == pytest.approx(vals[1], rel=1e-12, abs=0.0)


@pytest.mark.parametrize("p", [0.011, 0.1, 1.0, 4.0, 40.0])
def test_tiny_m_threshold_is_continuous(p):
    k = 0.9
    for sign in (-1.0, 1.0):
        ms = [sign * v for v in _both_sides(1e-2 * k)]
        vals = [float(perturbed_clip_mean(m, p * k, k)) for m in ms]
        for v, m in zip(vals, ms):
            assert v == pytest.approx(_H_mpmath(m, p * k, k), rel=1e-12, abs=0.0)
        assert vals[0] == pytest.approx(vals[1], rel=1e-12, abs=0.0)


@pytest.mark.parametrize("mu", [0.0, 0.3, 1.0, 5.0, 30.0, 300.0, 3e4])
def test_shortfall_threshold_is_continuous(mu):
    # the shortfall switches at p max(1, mu) = 1e-2: u = mu k fixed, c on both sides
    from clipsgd.exact import _clip_shortfall, _log_clip_shortfall

    k = 1.3
    u = mu * k
    for c in _both_sides(1e-2 * k / max(1.0, mu)):
        want = _rho_mp(u, c, k)
        with mp.workdps(30):
            assert float(_log_clip_shortfall(u, c, k)) == pytest.approx(float(mp.log(want)), rel=1e-13, abs=1e-13)
        if want > 1e-290:
            assert float(_clip_shortfall(u, c, k)) == pytest.approx(float(want), rel=1e-12, abs=0.0)


def _assert_shortfall_matches_mpmath(u, c, k):
    """rho_k(u) and log rho_k(u) against mpmath: log rho ~ -mu^2/2 is exact only to its own
    rounding (and log_ndtr's), so 1e-13 relative; rho itself to 1e-12 where it is a normal double."""
    from clipsgd.exact import _clip_shortfall, _log_clip_shortfall

    want = _rho_mp(u, c, k)
    with mp.workdps(30):
        logw = float(mp.log(want))
    assert float(_log_clip_shortfall(u, c, k)) == pytest.approx(logw, rel=1e-13, abs=1e-13)
    if want > 1e-290:
        assert float(_clip_shortfall(u, c, k)) == pytest.approx(float(want), rel=1e-12, abs=0.0)


@settings(max_examples=40, deadline=None)
@given(log_mu=st.floats(-3.0, 6.0), log_c=st.floats(-20.0, -3.0), k=st.floats(0.5, 2.0))
def test_shortfall_at_tiny_c_and_large_mu(log_mu, log_c, k):
    # rho = c - H = 2c Phi(-mu)(1 + eps): the closed form k (G(beta) - G(alpha)) cancelled to 0
    # (alpha, beta differ by 2p); the log form stays finite for mu up to 1e6 (Phi(-mu) ~ 1e-10^11)
    c, u = 10.0**log_c, k * 10.0**log_mu
    _assert_shortfall_matches_mpmath(u, c, k)


def _erf_root(atoms):
    """The c -> 0 limit of the zero of h: clip(Y, c)/c -> sgn Y, so h/c -> mean_i erf((x - a_i)/(k sqrt 2))."""
    with mp.workdps(50):
        return mp.findroot(lambda x: sum(mp.erf((x - a) / mp.sqrt(2)) for a in atoms), -2.3)


def test_example1_stationary_point_at_tiny_c_is_the_erf_root():
    # regression: c = 1e-20, k = 1 gave -2.99 (every shortfall cancelled to 0, so h = c/3 > 0)
    x0 = _erf_root([-3, -3, 9])
    (x,) = stationary_points(problems.example1(), c=1e-20, k=1.0).points
    assert abs(x - float(x0)) <= 1e-10
    # and h has the right sign on both sides (it was + everywhere) and its 60-digit value
    for xv in (-2.5, -2.4, -2.3, 0.0):
        with mp.workdps(60):
            want = _h_mp([-3, -3, 9], xv, mp.mpf(1e-20), mp.mpf(1))
        assert float(expected_clipped_gradient(problems.example1(), xv, c=1e-20, k=1.0)) == pytest.approx(
            float(want), rel=1e-12, abs=0.0)


def test_example1_stationary_point_converges_as_c_decreases():
    # x_c - x_0 = delta p^2 + O(p^4), delta = sum mu_i phi(mu_i) / (6 sum phi(mu_i)), mu_i = x_0 - a_i
    # (from H = c[erf(mu/sqrt 2) - p^2 mu phi(mu)/3 + ...], d erf(mu/sqrt 2)/dmu = 2 phi(mu))
    atoms = [-3, -3, 9]
    x0 = _erf_root(atoms)
    with mp.workdps(50):
        delta = float(sum((x0 - a) * mp.npdf(x0 - a) for a in atoms) / (6 * sum(mp.npdf(x0 - a) for a in atoms)))
    cs = (1e-2, 1e-3, 1e-4, 1e-8, 1e-20)
    xs = [stationary_points(problems.example1(), c=c, k=1.0).points[0] for c in cs]
    for c, x in zip(cs, xs):
        assert abs(x - float(x0) - delta * c * c) <= 10 * c**4 + 1e-12
    dist = [abs(x - float(x0)) for x in xs]
    assert dist[0] > dist[1] > dist[2] and max(dist[3:]) <= 1e-12


def test_tiny_c_root_where_every_shortfall_underflows():
    # atoms (-3, 4), k = 0.05: near the zero rho ~ 2c Phi(-70) ~ 1e-1090 c, so only the sign in
    # log space decides; by symmetry of the two tails the zero is the midpoint 0.5
    for c in (1e-20, 1e-8, 1e-3):
        (x,) = stationary_points(problems.quadratic([-3.0, 4.0]), c=c, k=0.05).points
        assert abs(x - 0.5) <= 1e-10


def test_h_with_an_atom_at_tiny_m():
    # an atom with m = x - a tiny: H = m erf(p/sqrt 2) + O(m^3) must keep its relative precision
    # (c - rho(|m|) loses it); an atom alone, and two of opposite signs
    for atoms, x in (([0.0], 1e-15), ([0.0], -3e-12), ([0.0, 2e-12], 5e-13)):
        with mp.workdps(60):
            want = float(_h_mp(atoms, x, mp.mpf(1), mp.mpf(1)))
        assert float(expected_clipped_gradient(problems.quadratic(atoms), x, c=1.0, k=1.0)) == pytest.approx(
            want, rel=1e-12, abs=0.0)


@settings(max_examples=40, deadline=None)
@given(mu=st.floats(3.0, 37.0) | st.floats(37.0, 1e4), log_p=st.floats(-4.0, 0.5), k=st.floats(0.1, 3.0))
def test_shortfall_keeps_its_precision_in_the_far_tail(mu, log_p, k):
    # beyond the small-c series, rho = k G(beta)(1 - G(alpha)/G(beta)): G in the left tail by a
    # continued fraction (1 - |t| Mills(|t|) lost eps t^2) and log(G(alpha)/G(beta)) with
    # alpha^2 - beta^2 = 4 c u / k^2 exact (the difference of two t^2/2 lost eps t^2 absolutely)
    c = k * 10.0**log_p
    u = c + k * mu  # beta = -mu: both kinks in the left tail
    _assert_shortfall_matches_mpmath(u, c, k)
