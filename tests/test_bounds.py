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


# ------------------------------------------------------------ quantities along a run
from clipsgd import ClippedSGD, DPSGD, diagnostics, run  # noqa: E402


def _problem_zoo(seed=0):
    """One problem of each vectorised kind (quadratic, least squares, logistic) and a
    softmax (the generic point-by-point path)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(9, 3))
    return [
        problems.quadratic(rng.normal(size=(7, 2))),
        problems.least_squares(Z, rng.normal(size=9)),
        problems.logistic(Z, (rng.random(9) < 0.5).astype(float)),
        problems.softmax(Z, rng.integers(0, 3, 9).astype(float), n_classes=3),
    ]


@settings(max_examples=20)
@given(st.integers(0, 3), arrays(np.float64, (2, 3, 9), elements=st.floats(-4, 4, **finite)))
def test_gradients_along_equals_per_example_twin(which, pts):
    prob = _problem_zoo()[which]
    traj = pts[..., :prob.dim]
    got = bounds.gradients_along(prob, traj)
    assert got.shape == traj.shape[:-1] + (prob.n, prob.dim)
    for idx in np.ndindex(*traj.shape[:-1]):
        assert np.allclose(got[idx], prob.per_example_grads(traj[idx]), rtol=1e-12, atol=1e-12)


def test_along_quantities_equal_pointwise_definitions():
    """Vectorised P(|xi| < ac), b_t, W_1, W_2c and the measures vs the one-point functions
    (bounds.stationarity_measure, diagnostics.prob_small_noise / clipping_bias /
    w1_to_symmetrisation), at random points of each problem."""
    rng = np.random.default_rng(1)
    for prob in _problem_zoo():
        traj = rng.normal(size=(2, 2, prob.dim)) * 2
        for c in (0.3, 2.0):
            P = bounds.small_noise_probability_along(prob, traj, c, a=0.3)
            B = bounds.clipping_bias_along(prob, traj, c)
            M = bounds.stationarity_along(prob, traj, c, a=0.3)
            S = bounds.stationarity_along(prob, traj, c, sharp=True)
            bb = bounds.bias_bound_along(prob, traj, c)
            for idx in np.ndindex(2, 2):
                G = prob.per_example_grads(traj[idx])
                xi = G - G.mean(axis=0)
                assert P[idx] == diagnostics.prob_small_noise(xi, c, a=0.3)
                ref = diagnostics.clipping_bias(G, c)
                assert B[idx] == pytest.approx(ref.bias, rel=1e-9, abs=1e-12)
                assert bb.bias[idx] == B[idx]
                assert bb.grad_norm[idx] == pytest.approx(ref.grad_norm, rel=1e-12)
                assert bb.w1[idx] == pytest.approx(diagnostics.w1_to_symmetrisation(xi).value, rel=1e-9)
                assert bb.w1_truncated[idx] == pytest.approx(
                    diagnostics.w1_to_symmetrisation(xi, cap=2 * c).value, rel=1e-9)
                assert M[idx] == pytest.approx(bounds.stationarity_measure(G, c, 0.3), rel=1e-12, abs=1e-15)
                assert S[idx] == pytest.approx(bounds.sharp_stationarity_measure(G, c), rel=1e-12, abs=1e-15)


def test_bias_bound_along_hand_values():
    # Example 2 (a = (-3, 3)) is symmetric: b = 0 and both distances 0 at any x
    bb = bounds.bias_bound_along(problems.example2(), [[0.5], [4.0]], 1.0)
    assert np.all(bb.bias == 0.0) and np.all(bb.w1 == 0.0) and np.all(bb.w1_truncated == 0.0)
    assert bb.grad_norm.tolist() == [0.5, 4.0]
    # Example 1 at x = 1: xi = (4, 4, -8), g = 0, so b = 0 although W_1 = 8/3
    bb = bounds.bias_bound_along(problems.example1(), [[1.0]], 1.0)
    assert bb.bias[0] == 0.0 and bb.w1[0] == pytest.approx(8 / 3) and bb.bound[0] == 0.0


def test_smoothness_and_infimum():
    # least squares: G = lambda_max(Z^T Z / n); Z = diag(2, 1) -> diag(4, 1)/2 -> 2
    Z = np.array([[2.0, 0.0], [0.0, 1.0]])
    assert bounds.smoothness(problems.least_squares(Z, [1.0, 1.0])) == pytest.approx(2.0)
    assert bounds.infimum(problems.least_squares(Z, [1.0, 1.0])) == pytest.approx(0.0, abs=1e-20)  # exact fit
    # logistic: sigma' <= 1/4 -> G = 2/4
    lg = problems.logistic(Z, [1.0, 0.0])
    assert bounds.smoothness(lg) == pytest.approx(0.5)
    # overlapping labels (same row, both labels): inf f = log 2 at x = 0, attained
    lg2 = problems.logistic([[1.0], [1.0]], [1.0, 0.0])
    assert bounds.infimum(lg2) == pytest.approx(math.log(2.0), rel=1e-12)
    # a non-trivial logistic: the returned value is attained (an upper bound on inf f)
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(40, 3))
    lg3 = problems.logistic(Z, (rng.random(40) < 0.5).astype(float))
    v = bounds.infimum(lg3)
    assert v <= lg3.loss(np.zeros(3))
    from scipy.optimize import minimize  # an independent minimiser (BFGS, no bounds)

    other = minimize(lg3.loss, np.ones(3), jac=lg3.full_grad, method="BFGS", options={"gtol": 1e-10})
    assert v == pytest.approx(other.fun, abs=1e-9)
    assert bounds.infimum(problems.example1()) == 16.0
    with pytest.raises(ValueError, match="smoothness"):
        bounds.smoothness(_problem_zoo()[3])
    with pytest.raises(ValueError, match="f_inf"):
        bounds.infimum(_problem_zoo()[3])


def _brute_force_margin(res, a=0.25, sharp=False, K=None, G=1.0, f_inf=0.0):
    """Theorem 1-3 margin per run from the one-point definitions, step by step."""
    alg, prob = res.algorithm, res.problem
    T = res.steps
    q = []
    for r in range(res.runs):
        L = B = 0.0
        for t in range(T):
            Gt = prob.per_example_grads(res.trajectory[r, t])
            L += bounds.sharp_stationarity_measure(Gt, alg.c) if sharp else bounds.stationarity_measure(Gt, alg.c, a)
            B += diagnostics.clipping_bias(Gt, alg.c, truncated=False).bias
        D = prob.loss(res.trajectory[r, 0]) - f_inf
        q.append(bounds.descent_rhs(D, G, alg.lr, T, K) + B / T - L / T)
    return np.array(q)


def test_evaluate_run_equals_brute_force_definition():
    rng = np.random.default_rng(5)
    prob = problems.quadratic(rng.exponential(size=(6, 2)))  # skewed: b_t != 0
    f_inf = prob.loss(prob.x_star)
    res = run(prob, ClippedSGD(lr=0.1, c=0.8), steps=15, runs=4, seed=2, x0=[3.0, -1.0], record_every=1)
    for sharp in (False, True):
        ev = bounds.evaluate_run(res, sharp=sharp)
        q = _brute_force_margin(res, sharp=sharp, K=0.64, f_inf=f_inf)
        assert ev.K == pytest.approx(0.64) and ev.kappa == 1.0 and ev.sigma == 0.0
        assert ev.margin == pytest.approx(q.mean(), rel=1e-10)
        assert ev.se == pytest.approx(q.std(ddof=1) / 2, rel=1e-8)
        assert np.any(np.abs(ev.bias) > 1e-3)  # the asymmetric case really has a bias
        assert ev.rhs == pytest.approx(ev.descent_term.mean() + ev.variance_term + ev.bias.mean())
        assert ev.holds()


def test_evaluate_run_dp_constants():
    # Poisson: kappa = 1 + (1 - q)/(q n) = 1 + 0.5/5 = 1.1; sigma = z c/(q n) = 2 * 0.5 / 5 = 0.2
    prob = problems.quadratic(np.arange(20.0).reshape(10, 2))
    res = run(prob, DPSGD(lr=0.05, c=0.5, noise_multiplier=2.0, sample_rate=0.5), steps=10, runs=3,
              record_every=1, accountant="rdp")
    ev = bounds.evaluate_run(res)
    assert ev.kappa == pytest.approx(1.1) and ev.sigma == pytest.approx(0.2)
    assert ev.K == pytest.approx(1.1 * 0.25 + 2 * 0.04)
    assert ev.variance_term == pytest.approx(1.0 * 0.05 * ev.K / 2)
    # fixed-size batches: kappa = 1, sigma = z c / B
    res = run(prob, DPSGD(lr=0.05, c=0.5, noise_multiplier=2.0, sampling="replacement", batch_size=4),
              steps=10, runs=2, record_every=1, accountant="rdp")
    ev = bounds.evaluate_run(res)
    assert ev.kappa == 1.0 and ev.sigma == pytest.approx(0.25)


@pytest.mark.parametrize("alg, kw, match", [
    (ClippedSGD(lr=0.1, c=1.0, k=0.5), {}, "k"),
    (ClippedSGD(lr=0.1, c=1.0, schedule="inverse_sqrt"), {}, "schedule"),
    (ClippedSGD(lr=0.1, c=1.0, sampling="shuffle", batch_size=2), {}, "shuffle"),
    (ClippedSGD(lr=0.1, c=1.0), {"record_every": 2}, "record_every"),
    (ClippedSGD(lr=0.1, c=math.inf), {}, "c must be finite"),
])
def test_evaluate_run_refuses_uncovered_runs(alg, kw, match):
    res = run(problems.example1(), alg, steps=6, runs=2, **kw)
    with pytest.raises(ValueError, match=match):
        bounds.evaluate_run(res)


def test_evaluate_run_bad_f_inf_and_theorem2_rhs():
    res = run(problems.example1(), ClippedSGD(lr=0.1, c=1.0), steps=5, runs=2, record_every=1)
    with pytest.raises(ValueError, match="f_inf"):
        bounds.evaluate_run(res, f_inf=1e6)
    with pytest.raises(TypeError, match="problem"):
        bounds.gradients_along("not a problem", [[0.0]])
    with pytest.raises(ValueError, match="trajectory"):
        bounds.gradients_along(problems.example1(), [[0.0, 1.0]])
    assert bounds.theorem2_rhs(2.0, 1.0, 0.1, 1.0, 100, -0.05) == pytest.approx(0.2)
