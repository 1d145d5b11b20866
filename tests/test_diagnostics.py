"""Tests for clipsgd.diagnostics: W_1 to reflection/symmetrisation, clipping bias, statistics.

Every expected number has a reason: a hand computation (in the comment), an independent
library (scipy.stats), a closed form (translations and dilations of a cloud), or a
theorem (triangle inequality, Kantorovich-Rubinstein, Lipschitz bound of Theorem 2 of
arXiv:2006.15429).
"""

from __future__ import annotations

import dataclasses
import doctest
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import clipsgd.diagnostics as dg

SETTINGS = settings(max_examples=40, deadline=None)

finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def clouds(draw, k=1, min_n=1, max_n=7, max_d=3):
    """k point clouds with the same (n, d)."""
    n = draw(st.integers(min_n, max_n))
    d = draw(st.integers(1, max_d))
    return [draw(arrays(np.float64, (n, d), elements=finite)) for _ in range(k)]


@st.composite
def asymmetric_gradients(draw, max_n=8, max_d=3):
    """Per-example gradients: a mean plus skewed noise (exponential-like), seeded."""
    n = draw(st.integers(2, max_n))
    d = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.1, 5.0))
    rng = np.random.default_rng(seed)
    G = rng.normal(size=d) + scale * (rng.exponential(size=(n, d)) - 1.0)
    return G


def symmetric_noise(rng, m, d):
    """2m atoms made of +/- pairs: exactly symmetric."""
    Z = rng.standard_normal((m, d)) * rng.exponential(size=(m, 1))
    return np.concatenate([Z, -Z])


# ---------------------------------------------------------------------------------------
# doctests (hand-checkable numbers in the docstrings)
# ---------------------------------------------------------------------------------------


def test_doctests():
    result = doctest.testmod(dg, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15
    assert result.failed == 0


# ---------------------------------------------------------------------------------------
# noise, reflection
# ---------------------------------------------------------------------------------------


@given(clouds(max_n=6, max_d=4))
@SETTINGS
def test_gradient_noise_has_zero_mean_and_reconstructs(Gs):
    (G,) = Gs
    g, xi = dg.gradient_noise(G)
    np.testing.assert_allclose(xi.mean(axis=0), 0.0, atol=1e-12 * (1 + np.abs(G).max()))
    np.testing.assert_allclose(g + xi, G, rtol=0, atol=1e-12 * (1 + np.abs(G).max()))
    np.testing.assert_array_equal(dg.reflect(xi), -xi)


# ---------------------------------------------------------------------------------------
# cost matrix: kernel vs twin
# ---------------------------------------------------------------------------------------


@given(clouds(k=2, max_n=6, max_d=5), st.one_of(st.none(), st.floats(0.01, 30.0)))
@SETTINGS
def test_pairwise_cost_kernel_matches_numpy_twin(AB, cap):
    A, B = AB
    B = B[: max(1, len(B) - 1)]  # rectangular too
    got = dg.pairwise_cost(A, B, cap=cap)
    want = dg.pairwise_cost_numpy(A, B, cap=cap)
    scale = 1.0 + max(np.abs(A).max(), np.abs(B).max())
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13 * scale)


def test_pairwise_cost_of_identical_atoms_is_exactly_zero():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 200))
    assert np.all(np.diag(dg.pairwise_cost(X, X)) == 0.0)


# ---------------------------------------------------------------------------------------
# W_1: exact values
# ---------------------------------------------------------------------------------------


def test_w1_hand_computed_2d():
    # index pairing costs sqrt(5) each; swapping gives two vertical unit moves: W_1 = 1
    r = dg.wasserstein1([[0.0, 0.0], [2.0, 0.0]], [[2.0, 1.0], [0.0, 1.0]])
    assert r.method == "assignment" and r.exact
    assert r.value == pytest.approx(1.0, abs=1e-15)
    # truncated at 0.5: every pair costs 0.5
    assert dg.wasserstein1([[0.0, 0.0], [2.0, 0.0]], [[2.0, 1.0], [0.0, 1.0]], cap=0.5).value == 0.5


def test_w1_hand_computed_example1_noise():
    # Example 1 (a = -3, -3, 9): xi = (4, 4, -8).  sorted xi (-8, 4, 4) vs sorted -xi
    # (-4, -4, 8): |4| + |8| + |4| over 3 = 16/3; symmetrisation half of it.
    xi = [[4.0], [4.0], [-8.0]]
    assert dg.w1_to_reflection(xi).value == pytest.approx(16 / 3, rel=1e-15)
    assert dg.w1_to_reflection(xi, method="assignment").value == pytest.approx(16 / 3, rel=1e-15)
    assert dg.w1_to_symmetrisation(xi, method="assignment").value == pytest.approx(8 / 3, rel=1e-15)
    # cost truncated at 2 (= 2c for c = 1): pair distances 8, 4, 16 all exceed 2 -> 2
    assert dg.w1_to_reflection(xi, cap=2.0).value == pytest.approx(2.0, rel=1e-15)
    assert dg.w1_to_symmetrisation(xi, cap=2.0, method="assignment").value == pytest.approx(1.0)


@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
@SETTINGS
def test_w1_1d_matches_scipy(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n) * 3
    b = rng.exponential(size=n) - 1
    want = scipy.stats.wasserstein_distance(a, b)
    assert dg.wasserstein1(a, b).value == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert dg.wasserstein1(a, b, method="assignment").value == pytest.approx(want, rel=1e-12, abs=1e-12)
    # reflection in 1-D, against scipy too
    assert dg.w1_to_reflection(a[:, None]).value == pytest.approx(
        scipy.stats.wasserstein_distance(a, -a), rel=1e-12, abs=1e-12
    )


@given(st.integers(1, 30), st.integers(0, 2**32 - 1))
@SETTINGS
def test_w1_to_symmetrisation_1d_matches_scipy_with_weights(n, seed):
    # the symmetrisation as 2n weighted atoms, computed by scipy (independent route)
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=n) - 1
    want = scipy.stats.wasserstein_distance(x, np.concatenate([x, -x]))
    got = dg.w1_to_symmetrisation(x[:, None])
    assert got.value == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_w1_of_symmetric_sample_to_its_reflection_is_zero():
    rng = np.random.default_rng(2)
    for d in (1, 3, 20):
        xi = symmetric_noise(rng, 25, d)
        xi = xi[rng.permutation(len(xi))]
        for method in ("auto", "assignment"):  # "auto" is "sorted" in 1-D
            assert dg.w1_to_reflection(xi, method=method).value == 0.0, (d, method)
        sliced = dg.w1_to_reflection(xi, method="sliced", n_projections=64)
        assert sliced.value <= 1e-14 * np.abs(xi).max()
        assert dg.w1_to_symmetrisation(xi, method="assignment").value == 0.0
        assert dg.w1_to_reflection(xi, cap=0.1).value == 0.0


def test_w1_of_a_cloud_to_itself_is_zero_and_identity_of_indiscernibles():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((30, 4))
    assert dg.wasserstein1(A, A[rng.permutation(30)]).value == 0.0
    B = A.copy()
    B[0, 0] += 1e-3
    # moving one atom by t moves W_1 by at most t/n (and here exactly t/n)
    assert dg.wasserstein1(A, B).value == pytest.approx(1e-3 / 30, rel=1e-9)


# ---------------------------------------------------------------------------------------
# W_1: metric properties (hypothesis)
# ---------------------------------------------------------------------------------------


@given(clouds(k=2), st.one_of(st.none(), st.floats(0.05, 10.0)))
@SETTINGS
def test_w1_assignment_is_symmetric_in_its_arguments(AB, cap):
    A, B = AB
    ab = dg.wasserstein1(A, B, cap=cap, method="assignment").value
    ba = dg.wasserstein1(B, A, cap=cap, method="assignment").value
    assert ab == pytest.approx(ba, rel=1e-12, abs=1e-12)
    assert ab >= 0.0


@given(clouds(k=3), st.one_of(st.none(), st.floats(0.05, 10.0)))
@SETTINGS
def test_w1_assignment_triangle_inequality(ABC, cap):
    A, B, C = ABC
    w = lambda X, Y: dg.wasserstein1(X, Y, cap=cap, method="assignment").value  # noqa: E731
    scale = 1.0 + max(np.abs(A).max(), np.abs(B).max(), np.abs(C).max())
    assert w(A, C) <= w(A, B) + w(B, C) + 1e-12 * scale


@given(clouds(k=2), st.floats(0.05, 10.0))
@SETTINGS
def test_truncated_w1_is_at_most_untruncated_and_cap(AB, cap):
    A, B = AB
    full = dg.wasserstein1(A, B, method="assignment").value
    trunc = dg.wasserstein1(A, B, cap=cap).value
    assert trunc <= full + 1e-12 * (1 + full)
    assert trunc <= cap + 1e-12


@given(clouds(max_n=6, max_d=3))
@SETTINGS
def test_w1_to_reflection_at_most_twice_mean_norm(Xs):
    # identity coupling xi -> -xi costs 2 E||xi||
    (X,) = Xs
    _, xi = dg.gradient_noise(X)
    mean_norm = np.linalg.norm(xi, axis=1).mean()
    assert dg.w1_to_reflection(xi).value <= 2 * mean_norm + 1e-12 * (1 + mean_norm)


@given(clouds(max_n=6, max_d=3), st.one_of(st.none(), st.floats(0.05, 10.0)))
@SETTINGS
def test_symmetrisation_is_half_reflection(Xs, cap):
    # convexity gives W_1(p, (p+p^-)/2) <= W_1(p, p^-)/2; Kantorovich-Rubinstein makes it
    # an equality.  The left side is solved directly as a 2n x 2n assignment.
    (xi,) = Xs
    direct = dg.w1_to_symmetrisation(xi, cap=cap, method="assignment").value
    refl = dg.w1_to_reflection(xi, cap=cap, method="assignment").value
    scale = 1e-12 * (1.0 + np.abs(xi).max())
    assert direct <= refl / 2 + scale
    assert direct == pytest.approx(refl / 2, rel=1e-10, abs=scale)
    assert dg.w1_to_symmetrisation(xi, cap=cap).value == pytest.approx(refl / 2, rel=1e-12, abs=scale)


# ---------------------------------------------------------------------------------------
# W_1: sliced estimate
# ---------------------------------------------------------------------------------------


def test_mean_abs_coordinate_closed_forms_and_monte_carlo():
    assert dg._mean_abs_coordinate(1) == pytest.approx(1.0)
    assert dg._mean_abs_coordinate(2) == pytest.approx(2 / math.pi)
    assert dg._mean_abs_coordinate(3) == pytest.approx(0.5)
    U = dg.random_directions(10, 200_000, seed=4)
    # Monte Carlo: sd of |theta_1| <= sqrt(E theta_1^2) = 1/sqrt(10); 5 standard errors
    assert np.abs(U[:, 0]).mean() == pytest.approx(dg._mean_abs_coordinate(10), abs=5 * 0.32 / 447)


@given(clouds(k=2, min_n=2, max_n=8, max_d=4), st.integers(0, 1000))
@SETTINGS
def test_sliced_lower_bound_is_below_exact(AB, seed):
    A, B = AB
    exact = dg.wasserstein1(A, B, method="assignment").value
    s = dg.wasserstein1(A, B, method="sliced", n_projections=16, seed=seed)
    assert s.method == "sliced" and not s.exact
    assert s.lower_bound <= exact + 1e-12 * (1 + exact)
    assert 0.0 <= s.lower_bound


def test_sliced_is_exact_in_expectation_for_a_translated_gaussian_cloud():
    # W_1(mu, mu + t) = ||t|| exactly (Jensen lower bound, identity coupling); the scaled
    # sliced estimate averages |theta . t| / E|theta_1| = ||t|| in expectation.
    rng = np.random.default_rng(5)
    A = rng.standard_normal((300, 10))
    t = rng.standard_normal(10)
    exact = dg.wasserstein1(A, A + t)
    assert exact.value == pytest.approx(np.linalg.norm(t), rel=1e-12)
    s = dg.wasserstein1(A, A + t, method="sliced", n_projections=4000, seed=6)
    assert abs(s.value - exact.value) <= 5 * s.stderr
    assert s.stderr < 0.02 * exact.value  # 4000 directions: relative error ~1%
    assert s.lower_bound <= exact.value


def test_sliced_close_for_a_dilated_gaussian_cloud():
    # W_1(mu, 2 mu) = E||a|| (f = ||.|| is 1-Lipschitz: lower bound; identity coupling)
    rng = np.random.default_rng(7)
    A = rng.standard_normal((400, 8))
    exact = dg.wasserstein1(A, 2 * A).value
    assert exact == pytest.approx(np.linalg.norm(A, axis=1).mean(), rel=1e-12)
    s = dg.wasserstein1(A, 2 * A, method="sliced", n_projections=2000, seed=8)
    assert abs(s.value - exact) <= 5 * s.stderr
    assert s.value == pytest.approx(exact, rel=0.05)


def test_sliced_underestimates_two_independent_high_dimensional_samples():
    # documented limitation: E[sliced] <= W_1, far below for two clouds in 30-D
    rng = np.random.default_rng(9)
    A, B = rng.standard_normal((200, 30)), rng.standard_normal((200, 30))
    exact = dg.wasserstein1(A, B).value
    s = dg.wasserstein1(A, B, method="sliced", n_projections=500, seed=1)
    assert s.value < 0.5 * exact


def test_auto_switches_to_sliced_above_exact_max_and_is_reproducible():
    rng = np.random.default_rng(10)
    xi = rng.standard_normal((60, 3))
    r = dg.w1_to_reflection(xi, exact_max=50, seed=3)
    assert r.method == "sliced" and r.n_projections == dg.N_PROJECTIONS
    r2 = dg.w1_to_reflection(xi, exact_max=50, seed=3)
    assert r == r2
    assert dg.w1_to_reflection(xi, exact_max=50, seed=4) != r
    assert dg.w1_to_reflection(xi, exact_max=60).method == "assignment"
    assert dg.w1_to_symmetrisation(xi, exact_max=50, seed=3).value == r.value / 2
    assert float(r) == r.value


# ---------------------------------------------------------------------------------------
# clipping bias (Theorem 2)
# ---------------------------------------------------------------------------------------


def test_clipping_bias_example1_hand_computed():
    # x = -2.5 in Example 1: g = -3.5, xi = (4, 4, -8), c = 1.
    # clip(g + xi) = (0.5, 0.5, -1) -> E<g, .> = 0 (x is the spurious stationary point)
    # clip(g - xi) = (-1, -1, 1)    -> E<g, .> = -3.5 * (-1/3) = 7/6;  b = 7/12
    r = dg.clipping_bias([[0.5], [0.5], [-11.5]], 1.0)
    assert r.progress == pytest.approx(0.0, abs=1e-15)
    assert r.bias == pytest.approx(7 / 12, rel=1e-14)
    assert r.progress_symmetrised == pytest.approx(7 / 12, rel=1e-14)
    assert r.grad_norm == pytest.approx(3.5)
    assert r.w1.value == pytest.approx(8 / 3) and r.bound == pytest.approx(3.5 * 8 / 3)
    assert r.bound_truncated == pytest.approx(3.5 * 1.0)
    assert r.bound_is_rigorous
    # at the optimum x* = 1 the gradient is 0: no bias, zero bound
    r1 = dg.clipping_bias([[4.0], [4.0], [-8.0]], 1.0)
    assert r1.bias == 0.0 and r1.bound == 0.0


def test_clipping_bias_equals_the_symmetrised_expectation_computed_directly():
    rng = np.random.default_rng(11)
    G = rng.normal(size=3) + 2 * (rng.exponential(size=(40, 3)) - 1)
    c = 1.3
    g, xi = dg.gradient_noise(G)

    def e_progress(noise):
        V = g + noise
        nrm = np.linalg.norm(V, axis=1, keepdims=True)
        return float(np.mean((V * np.minimum(1.0, c / nrm)) @ g))

    sym = np.concatenate([xi, -xi])  # the 2n atoms of (p + p^-)/2, equal weights
    r = dg.clipping_bias(G, c)
    assert r.bias == pytest.approx(e_progress(sym) - e_progress(xi), rel=1e-12)


@given(asymmetric_gradients(), st.floats(0.05, 20.0))
@SETTINGS
def test_bias_bound_holds_on_asymmetric_samples(G, c):
    r = dg.clipping_bias(G, c)
    tol = 1e-12 * (1 + r.grad_norm * (1 + np.abs(G).max()))
    assert abs(r.bias) <= r.bound_truncated + tol
    assert r.bound_truncated <= r.bound + tol
    # Lemma 1: the symmetrised progress is >= 0
    assert r.progress_symmetrised >= -tol


@given(st.integers(1, 12), st.integers(1, 4), st.floats(0.05, 20.0), st.integers(0, 2**32 - 1))
@SETTINGS
def test_bias_is_zero_for_symmetric_noise(m, d, c, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=d)
    G = g + symmetric_noise(rng, m, d)
    r = dg.clipping_bias(G, c)
    assert abs(r.bias) <= 1e-12 * (1 + np.linalg.norm(g)) * (1 + np.abs(G).max())
    assert r.w1.value <= 1e-12 * (1 + np.abs(G).max())


def test_clipping_bias_without_clipping_is_zero():
    rng = np.random.default_rng(12)
    G = rng.exponential(size=(20, 3))
    r = dg.clipping_bias(G, math.inf)
    assert r.bias == pytest.approx(0.0, abs=1e-12)
    assert r.bound_truncated == r.bound


def test_clipping_bias_above_exact_max_is_flagged_not_rigorous():
    rng = np.random.default_rng(13)
    G = rng.exponential(size=(30, 3))
    r = dg.clipping_bias(G, 1.0, exact_max=10, n_projections=32)
    assert not r.bound_is_rigorous and r.w1.method == "sliced"
    assert r.w1_truncated is None and math.isnan(r.bound_truncated)
    # the bias itself does not depend on the W_1 method
    assert r.bias == dg.clipping_bias(G, 1.0).bias


# ---------------------------------------------------------------------------------------
# scalar statistics
# ---------------------------------------------------------------------------------------


def test_prob_small_noise_and_clip_fraction_hand_values():
    xi = [[0.1, 0.0], [0.0, -0.3], [0.2, 0.0], [3.0, 4.0]]
    assert dg.prob_small_noise(xi, 1.0) == 0.5  # norms 0.1, 0.3, 0.2, 5 vs 0.25
    assert dg.prob_small_noise(xi, 1.0, a=0.5) == 0.75
    assert dg.prob_small_noise(xi, math.inf) == 1.0
    assert dg.clip_fraction(xi, 0.25) == 0.5  # norms above 0.25: 0.3 and 5
    assert dg.clip_fraction(xi, 5.0) == 0.0  # norm exactly c is not clipped
    assert dg.clip_fraction(xi, math.inf) == 0.0
    assert dg.clip_fraction([[0.0, 0.0]], 1e-300) == 0.0


@given(st.integers(3, 40), st.integers(1, 4), st.integers(0, 2**32 - 1))
@SETTINGS
def test_skewness_matches_scipy_along_drawn_directions(n, d, seed):
    rng = np.random.default_rng(seed)
    xi = rng.exponential(size=(n, d)) * rng.normal(size=d)
    U = rng.normal(size=(3, d)) * 7.0  # not unit: skewness is scale-free
    proj = xi @ (U / np.linalg.norm(U, axis=1, keepdims=True)).T
    got = dg.skewness(xi, U)
    for k in range(3):
        s = proj[:, k]
        if np.ptp(s) <= 1e-9 * (1 + np.abs(s).max()):
            continue
        assert got[k] == pytest.approx(scipy.stats.skew(s, bias=True), rel=1e-9, abs=1e-9)


def test_skewness_and_third_moments_of_symmetric_noise_vanish():
    rng = np.random.default_rng(14)
    xi = symmetric_noise(rng, 30, 4)
    U = dg.random_directions(4, 10, seed=1)
    np.testing.assert_allclose(dg.skewness(xi, U), 0.0, atol=1e-12)
    np.testing.assert_allclose(dg.third_moments(xi, U), 0.0, atol=1e-12)
    np.testing.assert_allclose(dg.sliced_disparity(xi, U), 0.0, atol=1e-12)
    # a point mass has no spread: skewness and disparity defined as 0
    assert dg.skewness(np.ones((5, 2)), [[1.0, 0.0]]).tolist() == [0.0]
    assert dg.sliced_disparity(np.zeros((5, 2)), [[1.0, 0.0]]).tolist() == [0.0]


def test_third_moments_are_odd_and_match_hand_value():
    xi = np.array([[4.0, 1.0], [4.0, -1.0], [-8.0, 0.0]])
    # along e1: (64 + 64 - 512) / 3 = -128
    assert dg.third_moments(xi, [1.0, 0.0]).tolist() == [-128.0]
    U = dg.random_directions(2, 5, seed=2)
    np.testing.assert_allclose(dg.third_moments(xi, -U), -dg.third_moments(xi, U))


@given(st.integers(2, 30), st.integers(1, 4), st.integers(0, 2**32 - 1))
@SETTINGS
def test_sliced_disparity_matches_projected_w1_and_lies_in_0_2(n, d, seed):
    rng = np.random.default_rng(seed)
    xi = rng.exponential(size=(n, d)) - 1
    U = dg.random_directions(d, 3, seed=seed)
    got = dg.sliced_disparity(xi, U)
    for k in range(3):
        s = xi @ U[k]
        den = np.abs(s).mean()
        if den == 0:
            continue
        want = scipy.stats.wasserstein_distance(s, -s) / den
        assert got[k] == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert np.all((got >= 0) & (got <= 2 + 1e-12))


# ---------------------------------------------------------------------------------------
# projections
# ---------------------------------------------------------------------------------------


def test_random_projections_2d_orthonormal_seeded_and_consistent():
    rng = np.random.default_rng(15)
    G = rng.standard_normal((25, 6))
    bases, points = dg.random_projections_2d(G, 5, seed=42)
    assert bases.shape == (5, 6, 2) and points.shape == (5, 25, 2)
    for Q in bases:
        np.testing.assert_allclose(Q.T @ Q, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(points, np.stack([G @ Q for Q in bases]), atol=1e-12)
    b2, p2 = dg.random_projections_2d(G, 5, seed=42)
    assert np.array_equal(bases, b2) and np.array_equal(points, p2)
    b3, _ = dg.random_projections_2d(G, 5, seed=43)
    assert not np.array_equal(bases, b3)
    b4, _ = dg.random_projections_2d(G, 5, seed=np.random.SeedSequence(42))
    assert np.array_equal(bases, b4)


def test_random_directions_are_unit_and_roughly_isotropic():
    U = dg.random_directions(3, 20_000, seed=0)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, atol=1e-14)
    # E[U] = 0, E[U U^T] = I/3; sd of a coordinate mean <= 1/sqrt(3 * 20000) ~ 0.004
    np.testing.assert_allclose(U.mean(axis=0), 0.0, atol=0.025)
    np.testing.assert_allclose(U.T @ U / len(U), np.eye(3) / 3, atol=0.02)


# ---------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------


def test_symmetry_report_bundles_the_individual_functions():
    rng = np.random.default_rng(16)
    G = rng.normal(size=4) + (rng.exponential(size=(80, 4)) - 1) * 2
    c = 1.5
    rep = dg.symmetry_report(G, c, seed=3, n_directions=16)
    g, xi = dg.gradient_noise(G)
    w1 = dg.w1_to_reflection(xi).value
    cb = dg.clipping_bias(G, c)
    U = dg.random_directions(4, 16, np.random.default_rng(3))
    assert rep.w1_reflection == pytest.approx(w1, rel=1e-12)
    assert rep.w1_symmetrisation == pytest.approx(w1 / 2, rel=1e-12)
    assert rep.disparity == pytest.approx(w1 / np.linalg.norm(xi, axis=1).mean(), rel=1e-12)
    assert 0.0 <= rep.disparity <= 2.0
    assert rep.bias == cb.bias and rep.bias_bound == pytest.approx(cb.bound)
    assert rep.bias_bound_truncated == pytest.approx(cb.bound_truncated)
    assert abs(rep.bias) <= rep.bias_bound_truncated <= rep.bias_bound
    assert rep.p_small_noise == dg.prob_small_noise(xi, c)
    assert rep.clip_fraction == dg.clip_fraction(G, c)
    assert rep.mean_abs_skewness == pytest.approx(np.abs(dg.skewness(xi, U)).mean())
    assert rep.sliced_disparity == pytest.approx(dg.sliced_disparity(xi, U).mean())
    assert rep.w1_method == "assignment" and rep.w1_exact
    d = rep.as_dict()
    assert d["n"] == 80 and d["d"] == 4 and d["seed"] == 3
    assert set(d) == {f.name for f in dataclasses.fields(rep)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.bias = 0.0  # type: ignore[misc]
    assert dg.symmetry_report(G, c, seed=3, n_directions=16) == rep


def test_symmetry_report_symmetric_sample_and_no_noise():
    rng = np.random.default_rng(17)
    G = rng.normal(size=3) + symmetric_noise(rng, 20, 3)
    rep = dg.symmetry_report(G, 1.0)
    assert rep.w1_reflection <= 1e-12 and rep.disparity <= 1e-12
    assert abs(rep.bias) <= 1e-12
    # all gradients equal: no noise, disparity defined as 0, bias 0
    rep0 = dg.symmetry_report(np.tile([1.0, 2.0], (5, 1)), 1.0)
    assert rep0.mean_noise_norm == 0.0 and rep0.disparity == 0.0 and rep0.bias == 0.0
    assert rep0.clip_fraction == 1.0 and rep0.p_small_noise == 1.0


# ---------------------------------------------------------------------------------------
# bad input: errors name the parameter
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, exc, name",
    [
        (lambda: dg.gradient_noise([1.0, 2.0]), ValueError, "G"),
        (lambda: dg.gradient_noise([[1.0, np.nan]]), ValueError, "G"),
        (lambda: dg.gradient_noise(np.zeros((0, 3))), ValueError, "G"),
        (lambda: dg.gradient_noise([["a"]]), TypeError, "G"),
        (lambda: dg.reflect([[np.inf]]), ValueError, "xi"),
        (lambda: dg.wasserstein1([1.0, 2.0], [1.0]), ValueError, "B"),
        (lambda: dg.wasserstein1([1.0], [np.nan]), ValueError, "B"),
        (lambda: dg.wasserstein1([1.0], [1.0], method="exact"), ValueError, "method"),
        (lambda: dg.wasserstein1([1.0], [1.0], cap=0.0), ValueError, "cap"),
        (lambda: dg.wasserstein1([1.0], [1.0], exact_max=0), ValueError, "exact_max"),
        (lambda: dg.wasserstein1([1.0], [1.0], n_projections=0), ValueError, "n_projections"),
        (lambda: dg.wasserstein1([1.0], [1.0], n_projections=2.5), TypeError, "n_projections"),
        (lambda: dg.wasserstein1([[1.0, 0]], [[1.0, 0]], cap=1.0, method="sliced"), ValueError, "cap"),
        (lambda: dg.wasserstein1([[1.0, 0]], [[1.0, 0]], method="sorted"), ValueError, "sorted"),
        (lambda: dg.wasserstein1([[1.0, 0]], [[1.0, 0]], method="sliced", seed="x"), TypeError, "seed"),
        (lambda: dg.pairwise_cost([[1.0, 0]], [[1.0]]), ValueError, "B"),
        (lambda: dg.clipping_bias([[1.0]], -1.0), ValueError, "c"),
        (lambda: dg.clipping_bias([[1.0]], np.nan), ValueError, "c"),
        (lambda: dg.clipping_bias([[1.0]], 1.0, reference="gaussian"), ValueError, "reference"),
        (lambda: dg.prob_small_noise([[1.0]], 1.0, a=1.0), ValueError, "a"),
        (lambda: dg.prob_small_noise([[1.0]], 0.0), ValueError, "c"),
        (lambda: dg.clip_fraction([[1.0]], "1"), TypeError, "c"),
        (lambda: dg.skewness([[1.0, 2.0]], [[0.0, 0.0]]), ValueError, "directions"),
        (lambda: dg.skewness([[1.0, 2.0]], [[1.0, 0.0, 0.0]]), ValueError, "directions"),
        (lambda: dg.third_moments([[1.0, 2.0]], [[np.nan, 1.0]]), ValueError, "directions"),
        (lambda: dg.random_projections_2d([[1.0], [2.0]]), ValueError, "G"),
        (lambda: dg.random_projections_2d([[1.0, 2.0]], n_directions=0), ValueError, "n_directions"),
        (lambda: dg.random_directions(0, 3), ValueError, "d"),
        (lambda: dg.symmetry_report([[1.0]], 1.0, n_directions=0), ValueError, "n_directions"),
    ],
)
def test_bad_input_errors_name_the_parameter(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


# ---------------------------------------------------------------------------------------
# homogeneity: huge and tiny gradients (exact power-of-two rescaling, no overflow)
# ---------------------------------------------------------------------------------------


def _skewed_cloud():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((30, 3)) + np.array([1.0, 0.0, 0.0])
    G[:5] *= 6.0
    return G


@pytest.mark.parametrize("s", [2.0**600, 2.0**-600])
@pytest.mark.parametrize("method", ["assignment", "sliced"])
def test_w1_is_positively_homogeneous_exactly(s, method):
    G = _skewed_cloud()
    for f in (dg.w1_to_reflection, dg.w1_to_symmetrisation):
        a, b = f(s * G, method=method), f(G, method=method)
        assert (a.value, a.lower_bound, a.stderr) == (s * b.value, s * b.lower_bound, s * b.stderr)
    a, b = dg.wasserstein1(s * G, -s * G, cap=s), dg.wasserstein1(G, -G, cap=1.0)
    assert a.value == s * b.value and a.cap == s
    a, b = dg.wasserstein1(s * G[:, 0], s * G[::-1, 0]), dg.wasserstein1(G[:, 0], G[::-1, 0])
    assert a.value == s * b.value and a.method == "sorted"


@pytest.mark.parametrize("s", [2.0**500, 2.0**-500])  # s^2 (bias, bound) stays within float64
def test_clipping_bias_and_symmetry_report_scale_with_the_gradients(s, recwarn):
    G = _skewed_cloud()
    a, b = dg.clipping_bias(s * G, s), dg.clipping_bias(G, 1.0)  # c scales with G
    assert (a.bias, a.bound, a.bound_truncated, a.grad_norm) == (s * s * b.bias, s * s * b.bound,
                                                                 s * s * b.bound_truncated, s * b.grad_norm)
    assert a.w1.value == s * b.w1.value and a.w1_truncated.cap == 2 * s
    r, q = dg.symmetry_report(s * G, s), dg.symmetry_report(G, 1.0)
    assert (r.disparity, r.clip_fraction, r.mean_abs_skewness) == (q.disparity, q.clip_fraction, q.mean_abs_skewness)
    assert (r.mean_noise_norm, r.w1_reflection) == (s * q.mean_noise_norm, s * q.w1_reflection)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_clipping_bias_on_huge_gradients_is_finite_or_warned():
    # G * 1e200: scipy's "cost matrix is infeasible" before; now W_1 ~ 1e200 exactly, and
    # ||g|| W_1 ~ 1e400 (beyond float64) comes back as inf with a warning that names it
    G = _skewed_cloud()
    with pytest.warns(RuntimeWarning, match=r"^clipping_bias: bound exceed\(s\) the float64 range"):
        r = dg.clipping_bias(G * 1e200, 1.0)
    ref = dg.clipping_bias(G, 1.0)
    assert math.isclose(r.w1.value, 1e200 * ref.w1.value, rel_tol=1e-13)
    assert math.isfinite(r.bias) and math.isfinite(r.bound_truncated) and math.isinf(r.bound)
    assert math.isclose(dg.w1_to_reflection(G * 1e200).value, 1e200 * dg.w1_to_reflection(G).value, rel_tol=1e-13)


def test_sliced_estimate_is_never_below_its_own_lower_bound():
    # audit case: 500 skewed points in 8-D; the plain average of the projected W_1 (0.46) was
    # below the guaranteed max over directions (0.66); exact W_1 (assignment) is larger than both
    rng = np.random.default_rng(5)
    xi = np.column_stack([rng.lognormal(0, 1, (500, 1)), rng.normal(size=(500, 7))])
    xi -= xi.mean(0)
    s = dg.w1_to_reflection(xi, method="sliced")
    assert s.value == s.lower_bound  # here the guaranteed bound is the better estimate
    exact = dg.w1_to_reflection(xi, method="assignment").value
    assert s.lower_bound <= s.value <= exact
    # clipping_bias above exact_max uses the estimate, so its bound is at least ||g|| lower_bound
    r = dg.clipping_bias(xi + 0.3, 1.0, exact_max=100)
    assert not r.bound_is_rigorous and r.bound >= r.grad_norm * r.w1.lower_bound
