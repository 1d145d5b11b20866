"""clipsgd.bounds: hand-checked values, agreement with the sympy-checked theory/, the
inequalities of Lemma 2 on random symmetric finite sums, and bad input."""

from __future__ import annotations

import doctest
import math
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clipsgd import bounds, problems

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from theory import perturbation as p1  # noqa: E402
from theory import perturbation_nd as pnd  # noqa: E402
from theory import rates, theorem3  # noqa: E402

finite = dict(allow_nan=False, allow_infinity=False)


def test_doctests():
    result = doctest.testmod(bounds, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 14 and result.failed == 0


@st.composite
def symmetric_gradients(draw):
    """Per-example gradients g + xi_i with xi from +-pairs (symmetric), d in 1..4."""
    d = draw(st.integers(1, 4))
    m = draw(st.integers(1, 5))
    c = draw(st.floats(0.1, 10.0, **finite))
    g = draw(arrays(np.float64, d, elements=st.floats(-3, 3, **finite))) * c
    half = draw(arrays(np.float64, (m, d), elements=st.floats(-3, 3, **finite))) * c
    g[np.abs(g) < 1e-6 * c] = 0.0
    half[np.abs(half) < 1e-6 * c] = 0.0
    return g + np.vstack([half, -half]), c


@settings(max_examples=150)
@given(symmetric_gradients(), st.floats(0.01, 0.99, **finite))
def test_lemma2_chain_on_symmetric_sums(inst, a):
    G, c = inst
    prog = bounds.descent_progress(G, c)
    sharp = bounds.sharp_stationarity_measure(G, c)
    weak = bounds.stationarity_measure(G, c, a)
    slack = 1e-9 * (np.abs(G).max() * c + 1e-300)
    assert prog >= sharp - slack
    assert sharp >= weak - slack
    assert weak >= 0.0


def test_asymmetric_noise_can_break_lemma2():
    # Example 1 at x = 0.5 (hand: gradients 3.5, 3.5, -8.5 -> clipped mean 1/3, g = -0.5)
    G = np.array([3.5, 3.5, -8.5])
    assert bounds.descent_progress(G, 1.0) == pytest.approx(-1 / 6)
    assert bounds.stationarity_measure(G, 1.0) == 0.0  # P(|xi| < 1/4) = 0 here


def test_rhs_values_and_theory_agreement():
    assert bounds.theorem1_rhs(3.0, 2.0, 0.05, 1.5, 400) == pytest.approx(3 / 20 + 2 * 0.05 * 2.25 / 2)
    assert bounds.theorem3_rhs(3.0, 2.0, 0.05, 1.5, 400, dim=10, sigma=0.2, kappa=1.1) == pytest.approx(
        3 / 20 + 2 * 0.05 * (1.1 * 2.25 + 10 * 0.04) / 2)
    for D, G, K, T in [(1.0, 1.0, 1.0, 10), (3.0, 0.5, 7.0, 1000)]:
        assert bounds.optimal_step_size(D, G, T, K) == pytest.approx(rates.optimal_step(D, G, K, T))
        assert bounds.optimal_rate(D, G, T, K) == pytest.approx(rates.optimal_rate(D, G, K, T))
        a = bounds.optimal_step_size(D, G, T, K)
        assert bounds.descent_rhs(D, G, a, T, K) == pytest.approx(bounds.optimal_rate(D, G, T, K))
    for q, n in [(0.01, 1000), (0.5, 7), (1.0, 3)]:
        assert bounds.poisson_kappa(q, n) == pytest.approx(theorem3.kappa_poisson(q, n))
    for eps, delta, T in rates.CALIBRATION_CASES:
        z = bounds.zcdp_noise_multiplier(eps, delta, T)
        assert z == pytest.approx(rates.full_batch_noise_multiplier(eps, delta, T))


def test_privacy_utility_bound_matches_optimised_theorem3():
    # at T = T0 with the calibrated sigma = z c / n the optimal Theorem 3 rate is <= the bound
    D, G, c, d, n, eps, delta = 2.0, 3.0, 0.7, 20, 5000, 1.0, 1e-5
    bound, T0 = bounds.privacy_utility_bound(D, G, c, d, n, eps, delta)
    for T in (T0, 3 * T0):
        sigma = bounds.zcdp_noise_multiplier(eps, delta, T) * c / n
        rate = bounds.optimal_rate(D, G, T, c * c + d * sigma * sigma)
        assert rate <= bound * (1 + 1e-12)
    # and it is tight up to sqrt(2) at T0 (hand: the two terms of R*^2 are equal there)
    sigma = bounds.zcdp_noise_multiplier(eps, delta, T0) * c / n
    assert bounds.optimal_rate(D, G, T0, c * c + d * sigma * sigma) >= bound / math.sqrt(2) * (1 - 1e-3)
    L = math.log(1 / delta)
    assert bound <= 4 * c * math.sqrt(D * G * d * L) / (n * eps)  # eps <= log(1/delta)


def test_perturbation_constants_agree_with_theory():
    for k in (0.5, 4.0, 16.0):
        assert bounds.perturbed_speed_bound(k, 1.3) == pytest.approx(p1.speed_bound(k, 1.3))
        for d in (1, 2, 3, 7):
            assert bounds.perturbed_slope(k, 1.3, d) == pytest.approx(1.3 / k * pnd.slope_constant(d))
    a = np.array([-3.0, -3.0, 9.0])
    assert bounds.perturbed_shift(a, 16.0) == pytest.approx(p1.shift_first_order(a, 16.0))
    A = np.array([[-2.0, -1.0], [-2.0, 1.0], [1.0, 3.0], [3.0, -3.0]])
    assert np.allclose(bounds.perturbed_shift(A, 16.0), pnd.shift_first_order_nd(A, 16.0))
    # the shift follows the exact stationary point of Example 1 (theory/perturbation.py)
    xk = p1.perturbed_stationary_point(a, 32.0, 1.0)
    assert xk - 1.0 == pytest.approx(bounds.perturbed_shift(a, 32.0), rel=0.01)


def test_stationarity_along_trajectory():
    prob = problems.example1()
    traj = np.array([[[1.0], [-2.5], [0.5]], [[3.0], [1.0], [1.0]]])
    got = bounds.stationarity_along(prob, traj, 1.0)
    assert got.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        G = prob.per_example_grads(traj[idx])
        assert got[idx] == bounds.stationarity_measure(G, 1.0)
    # Example 1: the noise (4, 4, -8) never has norm < 1/4, so the weighted measure is 0
    assert np.all(got == 0.0)
    sharp = bounds.stationarity_along(prob, traj, 10.0, sharp=True)
    # c = 10 at x = 3 (g = 2, |xi| = 4, 4, 8): mean of min(4, 2(10 - |xi|)) = (4 + 4 + 4)/3
    assert sharp[1, 0] == pytest.approx(4.0)


@pytest.mark.parametrize("call, match", [
    (lambda: bounds.descent_progress([[1.0, np.nan]], 1.0), "G"),
    (lambda: bounds.descent_progress([1.0], -1.0), "c"),
    (lambda: bounds.stationarity_measure([1.0, 2.0], 1.0, a=1.0), "a"),
    (lambda: bounds.stationarity_measure(np.zeros((0, 2)), 1.0), "G"),
    (lambda: bounds.descent_rhs(-1.0, 1.0, 0.1, 10, 1.0), "D_f"),
    (lambda: bounds.descent_rhs(1.0, 1.0, 0.0, 10, 1.0), "alpha"),
    (lambda: bounds.descent_rhs(1.0, 1.0, 0.1, 0, 1.0), "T"),
    (lambda: bounds.theorem3_rhs(1.0, 1.0, 0.1, 1.0, 10, 0, 1.0), "dim"),
    (lambda: bounds.theorem3_rhs(1.0, 1.0, 0.1, 1.0, 10, 2, 1.0, kappa=0.5), "kappa"),
    (lambda: bounds.poisson_kappa(0.0, 10), "q"),
    (lambda: bounds.zcdp_noise_multiplier(1.0, 1.0, 10), "delta"),
    (lambda: bounds.perturbed_shift([1.0, 2.0], 0.0), "k"),
    (lambda: bounds.perturbed_slope(1.0, 1.0, dim=0), "dim"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types():
    with pytest.raises(TypeError, match="T"):
        bounds.descent_rhs(1.0, 1.0, 0.1, 2.5, 1.0)
    with pytest.raises(TypeError, match="c"):
        bounds.theorem1_rhs(1.0, 1.0, 0.1, "1", 10)
