"""The engine: algorithms as data (validation, schedules), the jitted loop against its
plain NumPy twin, reproducibility, limits (c = inf is SGD, z = 0 is clipped SGD), the
DP-SGD noise scale (KS test with a power check), batch sampling, and bad input."""

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

import clipsgd
from clipsgd import DPSGD, SGD, ClippedSGD, Result, Sampling, Schedule, problems, run, run_numpy
from clipsgd.algorithms import AutoClipSGD, DiceSGD, QuantileClipDPSGD


class _UnaccountedDPSGD(DPSGD):
    """DPSGD whose runs skip the privacy accountant (the update is identical).

    Accounting is tested in test_privacy.py; comparing the engine with its twin on many
    drawn noise multipliers would otherwise spend its time in dp_accounting.
    """

    @property
    def private(self):
        return False


# ==================================================================== algorithms
BAD_ALGORITHMS = [
    (SGD, dict(lr=0.0), ValueError, r"^lr must be in \(0, inf\)"),
    (SGD, dict(lr=-1.0), ValueError, r"^lr must be in \(0, inf\)"),
    (SGD, dict(lr=np.inf), ValueError, r"^lr must be in \(0, inf\)"),
    (SGD, dict(lr=np.nan), ValueError, r"^lr must not be NaN"),
    (ClippedSGD, dict(lr=1.0, c=0.0), ValueError, r"^c must be in \(0, inf\]"),
    (ClippedSGD, dict(lr=1.0, c=-2.0), ValueError, r"^c must be in \(0, inf\]"),
    (ClippedSGD, dict(lr=1.0, c=np.nan), ValueError, r"^c must not be NaN"),
    (ClippedSGD, dict(lr=1.0, c=1.0, k=-0.1), ValueError, r"^k must be in \[0, inf\)"),
    (ClippedSGD, dict(lr=1.0, c=1.0, k=np.inf), ValueError, r"^k must be in \[0, inf\)"),
    (DPSGD, dict(lr=1.0, c=1.0, noise_multiplier=-1.0, sample_rate=0.1), ValueError,
     r"^noise_multiplier must be in \[0, inf\)"),
    (DPSGD, dict(lr=1.0, c=1.0, noise_multiplier=1.0, sample_rate=0.0), ValueError,
     r"^sample_rate must be in \(0, 1\]"),
    (DPSGD, dict(lr=1.0, c=1.0, noise_multiplier=1.0, sample_rate=1.5), ValueError,
     r"^sample_rate must be in \(0, 1\]"),
    (DPSGD, dict(lr=1.0, c=1.0, noise_multiplier=1.0, sample_rate=-0.2), ValueError,
     r"^sample_rate must be in \(0, 1\]"),
    (DPSGD, dict(lr=1.0, c=1.0, noise_multiplier=1.0), ValueError,
     r"^sample_rate must be given \(in \(0, 1\]\) for sampling='poisson'"),
    (SGD, dict(lr=1.0, sampling="poisson"), ValueError, r"^sample_rate must be given"),
    (DPSGD, dict(lr=1.0, c=np.inf, noise_multiplier=1.0, sample_rate=0.1), ValueError,
     r"^c must be finite when noise_multiplier > 0"),
    (SGD, dict(lr=1.0, batch_size=0), ValueError, r"^batch_size must be an integer >= 1"),
    (SGD, dict(lr=1.0, sampling="shuffle", batch_size=-3), ValueError, r"^batch_size must be an integer >= 1"),
    (SGD, dict(lr=1.0, batch_size=2.5), TypeError, r"^batch_size must be an integer"),
    (SGD, dict(lr=1.0, sample_rate=0.5), ValueError, r"^sample_rate is only used with sampling='poisson'"),
    (DPSGD, dict(lr=1.0, c=1.0, noise_multiplier=1.0, sample_rate=0.1, batch_size=10), ValueError,
     r"^batch_size is not used with sampling='poisson'"),
    (SGD, dict(lr=1.0, sampling="uniform"), ValueError, r"^sampling must be one of 'poisson', 'shuffle', 'replacement'"),
    (SGD, dict(lr=1.0, schedule="linear"), ValueError, r"^schedule must be one of 'constant'"),
]


@pytest.mark.parametrize("cls, kwargs, exc, pattern", BAD_ALGORITHMS)
def test_bad_algorithm_parameters_are_rejected(cls, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        cls(**kwargs)


def test_dpsgd_noise_multiplier_is_required():
    # a DP-SGD without a stated noise multiplier must not silently run without noise
    with pytest.raises(TypeError, match="noise_multiplier"):
        DPSGD(lr=1.0, c=1.0, sample_rate=0.1)


def test_with_revalidates():
    alg = ClippedSGD(lr=0.1, c=1.0)
    assert alg.with_(c=2.0).c == 2.0
    with pytest.raises(ValueError, match=r"^c must be in"):
        alg.with_(c=-1.0)


def test_enums_and_normalised_fields():
    alg = DPSGD(lr=1, c=2, noise_multiplier=1, sample_rate=0.5)
    assert alg.sampling is Sampling.POISSON and alg.schedule is Schedule.CONSTANT
    assert isinstance(alg.lr, float) and isinstance(alg.c, float)
    assert SGD(lr=1.0).batch_size == 1  # textbook SGD: one example with replacement
    assert ClippedSGD(lr=1.0, c=1.0, sampling="shuffle", batch_size=4).sampling is Sampling.SHUFFLE


def test_expected_batch_and_noise_std():
    # Poisson: B = q n = 0.01 * 60000 = 600; sigma = z c / B = 1.1 / 600
    alg = DPSGD(lr=0.1, c=1.0, noise_multiplier=1.1, sample_rate=0.01)
    assert alg.expected_batch(60000) == 600.0
    assert alg.noise_std(60000) == pytest.approx(1.1 / 600, rel=1e-15)
    # fixed-size batches: B is the batch size whatever n is; sigma = 2 * 0.5 / 8
    alg = DPSGD(lr=0.1, c=0.5, noise_multiplier=2.0, sampling="shuffle", batch_size=8)
    assert alg.expected_batch(100) == 8.0
    assert alg.noise_std(100) == pytest.approx(0.125, rel=1e-15)


@pytest.mark.parametrize("schedule, expected", [
    # alpha_t for lr = 0.8, T = 4, t = 0..3, by hand
    ("constant", [0.8, 0.8, 0.8, 0.8]),
    ("inverse_sqrt", [0.8, 0.8 / math.sqrt(2), 0.8 / math.sqrt(3), 0.4]),
    ("inverse", [0.8, 0.4, 0.8 / 3, 0.2]),
    # 0.8 (1 + cos(pi t / 4)) / 2: cos = 1, 1/sqrt2, 0, -1/sqrt2
    ("cosine", [0.8, 0.4 * (1 + 2**-0.5), 0.4, 0.4 * (1 - 2**-0.5)]),
])
def test_learning_rate_schedules(schedule, expected):
    lrs = SGD(lr=0.8, schedule=schedule).learning_rates(4)
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)


def test_schedule_is_used_by_the_engine():
    # one atom a = 0, batch 1, x0 = 1: x_{t+1} = (1 - alpha_t) x_t, alpha_t = 0.5 / (1 + t),
    # so x_T = prod_t (1 - 0.5 / (1 + t)) (no randomness: every index is example 0)
    p = problems.quadratic([0.0])
    res = run(p, SGD(lr=0.5, schedule="inverse"), steps=6, x0=[1.0], record_every=1)
    expected = np.cumprod([1.0] + [1 - 0.5 / (1 + t) for t in range(6)])
    np.testing.assert_allclose(res.trajectory[0, :, 0], expected, rtol=1e-15)


# ============================================================ engine vs NumPy twin
val = st.floats(-2.0, 2.0, allow_nan=False)


@st.composite
def small_setups(draw):
    """A small problem, an algorithm on it, and run arguments."""
    kind = draw(st.sampled_from(["quadratic", "least_squares", "logistic", "softmax"]))
    n = draw(st.integers(1, 6))
    p = draw(st.integers(1, 3))
    X = draw(arrays(np.float64, (n, p), elements=val))
    if kind == "quadratic":
        prob = problems.quadratic(X)
    elif kind == "least_squares":
        prob = problems.least_squares(X, draw(arrays(np.float64, n, elements=val)))
    elif kind == "logistic":
        prob = problems.logistic(X, draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0]))))
    else:
        y = draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0, 2.0])))
        prob = problems.softmax(X, y, n_classes=3)
    sampling = draw(st.sampled_from(["poisson", "shuffle", "replacement"]))
    if sampling == "poisson":
        batch = dict(sample_rate=draw(st.sampled_from([0.2, 0.5, 1.0]) | st.floats(0.05, 1.0)))
    else:
        batch = dict(batch_size=draw(st.integers(1, n if sampling == "shuffle" else n + 3)))
    c = draw(st.floats(0.1, 5.0) | st.just(np.inf))
    k = draw(st.just(0.0) | st.floats(0.05, 2.0))
    z = draw(st.just(0.0) | st.floats(0.1, 3.0)) if math.isfinite(c) else 0.0
    lr = draw(st.floats(0.01, 0.5))
    schedule = draw(st.sampled_from(list(Schedule)))
    alg = _UnaccountedDPSGD(lr=lr, c=c, k=k, noise_multiplier=z, sampling=sampling, schedule=schedule, **batch)
    steps = draw(st.integers(1, 12))
    kw = dict(steps=steps, runs=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**32)),
              record_every=draw(st.integers(1, 5)))
    if draw(st.booleans()):
        kw["x0"] = draw(arrays(np.float64, prob.dim, elements=val))
    return prob, alg, kw


def _assert_same_result(a, b, rtol=1e-12):
    scale = 1.0 + np.max(np.abs(b.trajectory))
    np.testing.assert_allclose(a.x, b.x, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(a.trajectory, b.trajectory, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(a.loss, b.loss, rtol=rtol, atol=rtol * (1 + np.max(np.abs(b.loss))))
    np.testing.assert_allclose(a.grad_norm, b.grad_norm, rtol=rtol, atol=rtol * (1 + np.max(b.grad_norm)))
    np.testing.assert_array_equal(a.clip_fraction, b.clip_fraction)  # NaN == NaN here
    np.testing.assert_array_equal(a.mean_batch, b.mean_batch)
    np.testing.assert_array_equal(a.record_steps, b.record_steps)


@given(small_setups())
def test_engine_equals_numpy_twin(setup):
    prob, alg, kw = setup
    _assert_same_result(run(prob, alg, **kw), run_numpy(prob, alg, **kw))


@pytest.mark.parametrize("sampling, batch", [
    ("poisson", dict(sample_rate=0.5)),
    ("shuffle", dict(batch_size=3)),
    ("replacement", dict(batch_size=2)),
])
def test_engine_equals_numpy_twin_for_accounted_dpsgd(sampling, batch):
    # the public DPSGD (with its privacy report), k > 0 and z > 0, every sampling scheme
    rng = np.random.default_rng(5)
    prob = problems.logistic(rng.standard_normal((7, 3)), (rng.random(7) < 0.5).astype(float))
    alg = DPSGD(lr=0.2, c=0.7, k=0.4, noise_multiplier=1.3, sampling=sampling, **batch)
    a = run(prob, alg, steps=10, runs=3, seed=8, record_every=3)
    b = run_numpy(prob, alg, steps=10, runs=3, seed=8, record_every=3)
    _assert_same_result(a, b)
    assert a.privacy is not None and a.privacy.epsilon == b.privacy.epsilon


def _glm_setup(rng, kind, method, n, common, d=11):
    """A GLM on n random rows (d = 11: the 8-accumulator dot product and its remainder) and
    one algorithm of each method with the shared settings ``common``."""
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(float) if kind == "logistic" else rng.standard_normal(n)
    prob = problems.logistic(X, y) if kind == "logistic" else problems.least_squares(X, y)
    alg = {"clip": lambda: _UnaccountedDPSGD(noise_multiplier=0.9, **common),
           "auto": lambda: AutoClipSGD(gamma=0.05, **common),
           "dice": lambda: DiceSGD(c2=0.5, **common),
           "quantile": lambda: QuantileClipDPSGD(noise_multiplier=0.0, count_noise_multiplier=0.7, **common),
           }[method]()
    return prob, alg


@pytest.mark.parametrize("kind", ["logistic", "least_squares"])
@pytest.mark.parametrize("sampling, batch", [
    ("poisson", dict(sample_rate=0.4)),
    ("shuffle", dict(batch_size=3)),
    ("replacement", dict(batch_size=4)),
])
@pytest.mark.parametrize("method", ["clip", "auto", "dice", "quantile"])
def test_generalised_linear_models_clip_from_norms_like_the_twin(kind, sampling, batch, method):
    # k = 0 on a GLM: the engine clips from |r_i| ||z_i|| without writing g_i = r_i z_i; the
    # twin forms G and clips its rows. d = 11 exercises the 8-accumulator dot product and
    # its remainder; c = 1.2 clips some examples and not others (asserted below)
    rng = np.random.default_rng(17)
    prob, alg = _glm_setup(rng, kind, method, 9, dict(lr=0.1, c=1.2, sampling=sampling, **batch))
    kw = dict(steps=12, runs=2, seed=31, record_every=4, x0=0.3 * rng.standard_normal(11))
    a, b = run(prob, alg, **kw), run_numpy(prob, alg, **kw)
    _assert_same_result(a, b)
    if method != "auto":
        assert 0 < np.nanmean(a.clip_fraction) < 1


@given(d=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_paired_dot_product_has_the_bits_of_two_single_ones(d, seed):
    # the GLM path computes two rows' residuals in one pass (_dot8x2); it must be the same
    # arithmetic per row as _dot8, so that pairing never changes a result
    from clipsgd.engine import _dot8, _dot8x2

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, d)) * 10.0 ** rng.integers(-5, 6, size=(3, d))
    x = rng.standard_normal(d)
    s, s2 = _dot8x2(X, 2, 0, x)
    assert s == _dot8(X, 2, x) and s2 == _dot8(X, 0, x)
    assert _dot8x2(X, 1, 1, x) == (_dot8(X, 1, x),) * 2


def test_row_norms_are_computed_once_per_problem():
    from clipsgd.engine import _row_norms

    X = np.array([[3.0, 4.0], [0.0, 0.0], [1e200, 1e200]])
    prob = problems.least_squares(X, np.zeros(3))
    rn = _row_norms(prob)
    # 5, 0, and sqrt(2) 1e200 without overflow (the squares would be inf)
    np.testing.assert_allclose(rn, [5.0, 0.0, math.sqrt(2) * 1e200], rtol=1e-15)
    assert _row_norms(prob) is rn
    assert _row_norms(problems.example1()).size == 0  # not a GLM: not computed


@st.composite
def lockstep_setups(draw):
    """Clipped SGD (or SGD) on a 1-D quadratic finite sum, batch B with replacement."""
    a = draw(arrays(np.float64, draw(st.integers(1, 6)), elements=st.floats(-5.0, 5.0)))
    c = draw(st.floats(0.05, 4.0) | st.just(np.inf))
    alg = ClippedSGD(lr=draw(st.floats(0.01, 0.9)), c=c, batch_size=draw(st.integers(1, 4)),
                     schedule=draw(st.sampled_from(list(Schedule))))
    if draw(st.booleans()):  # DP-SGD without noise is clipped SGD on the same stream
        alg = _UnaccountedDPSGD(lr=alg.lr, c=c if math.isfinite(c) else 1.0, noise_multiplier=0.0,
                                sampling="replacement", batch_size=alg.batch_size, schedule=alg.schedule)
    kw = dict(steps=draw(st.integers(1, 40)), runs=draw(st.sampled_from([1, 3, 64, 65, 130]) | st.integers(1, 200)),
              seed=draw(st.integers(0, 2**40)), record_every=draw(st.integers(1, 9)),
              record_loss=draw(st.booleans()))
    if draw(st.booleans()):
        kw["x0"] = draw(arrays(np.float64, (kw["runs"], 1), elements=st.floats(-10.0, 10.0)))
    return problems.quadratic(a), alg, kw


@settings(max_examples=60, deadline=None)
@given(lockstep_setups())
def test_lockstep_monte_carlo_path_equals_the_general_kernel_bit_for_bit(setup):
    import clipsgd.engine as engine

    prob, alg, kw = setup
    assert engine._lockstep_eligible(prob, alg.spec(prob.n))
    fast = run(prob, alg, **kw)
    engine._USE_LOCKSTEP = False
    try:
        general = run(prob, alg, **kw)
    finally:
        engine._USE_LOCKSTEP = True
    for key in ("x", "trajectory", "loss", "grad_norm", "clip_fraction", "mean_batch", "clip_threshold"):
        np.testing.assert_array_equal(fast[key], general[key])
        assert np.array_equal(np.signbit(fast[key]), np.signbit(general[key]))  # even zeros' signs


def test_lockstep_path_is_taken_only_when_eligible():
    from clipsgd.engine import _lockstep_eligible

    p1, p2 = problems.example1(), problems.quadratic(np.zeros((3, 2)))
    assert _lockstep_eligible(p1, ClippedSGD(lr=0.1, c=1.0).spec(3))
    assert _lockstep_eligible(p1, SGD(lr=0.1, batch_size=4).spec(3))
    for prob, alg in [
        (p2, ClippedSGD(lr=0.1, c=1.0)),  # d = 2
        (p1, ClippedSGD(lr=0.1, c=1.0, k=0.5)),  # perturbation
        (p1, DPSGD(lr=0.1, c=1.0, noise_multiplier=1.0, sampling="replacement", batch_size=1)),  # noise
        (p1, ClippedSGD(lr=0.1, c=1.0, sampling="shuffle", batch_size=1)),
        (p1, ClippedSGD(lr=0.1, c=1.0, sampling="poisson", sample_rate=0.5)),
        (p1, AutoClipSGD(lr=0.1, c=1.0, sampling="replacement", batch_size=1)),
        (problems.least_squares(np.ones((3, 1)), np.zeros(3)), ClippedSGD(lr=0.1, c=1.0)),
    ]:
        assert not _lockstep_eligible(prob, alg.spec(prob.n))


# ================================================================ reproducibility
_PROB = problems.quadratic(np.random.default_rng(0).standard_normal((9, 2)))
_ALG = _UnaccountedDPSGD(lr=0.1, c=0.5, k=0.3, noise_multiplier=0.8, sample_rate=0.3)


def _bits_equal(a, b):
    for key in ("x", "trajectory", "loss", "grad_norm", "clip_fraction", "mean_batch"):
        np.testing.assert_array_equal(a[key], b[key])


def test_same_seed_same_bits():
    _bits_equal(run(_PROB, _ALG, steps=50, runs=4, seed=3), run(_PROB, _ALG, steps=50, runs=4, seed=3))


def test_same_seed_sequence_object_twice_same_bits():
    ss = np.random.SeedSequence(77)
    _bits_equal(run(_PROB, _ALG, steps=30, runs=2, seed=ss), run(_PROB, _ALG, steps=30, runs=2, seed=ss))
    _bits_equal(run(_PROB, _ALG, steps=30, runs=2, seed=ss), run(_PROB, _ALG, steps=30, runs=2, seed=77))


def test_different_seeds_and_different_runs_differ():
    a = run(_PROB, _ALG, steps=50, runs=4, seed=3)
    b = run(_PROB, _ALG, steps=50, runs=4, seed=4)
    assert not np.array_equal(a.x, b.x)
    # the four runs of one call follow four different streams: all final iterates distinct
    assert len({tuple(r) for r in a.x}) == 4


def test_run_r_does_not_depend_on_how_many_runs_are_launched():
    few = run(_PROB, _ALG, steps=40, runs=2, seed=9, record_every=5)
    many = run(_PROB, _ALG, steps=40, runs=7, seed=9, record_every=5)
    for key in ("x", "trajectory", "loss", "grad_norm", "clip_fraction", "mean_batch"):
        np.testing.assert_array_equal(few[key], many[key][:2])


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
def test_bits_do_not_depend_on_thread_count():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(_PROB, _ALG, steps=60, runs=8, seed=21)
        numba.set_num_threads(min(4, numba.config.NUMBA_NUM_THREADS))
        many = run(_PROB, _ALG, steps=60, runs=8, seed=21)
    finally:
        numba.set_num_threads(before)
    _bits_equal(one, many)


def test_seed_none_is_recorded_and_reproduces():
    a = run(_PROB, _ALG, steps=20, runs=2, seed=None)
    assert isinstance(a.seed, int)
    _bits_equal(a, run(_PROB, _ALG, steps=20, runs=2, seed=a.seed))


# ========================================================================= limits
@pytest.mark.parametrize("sampling, batch", [
    ("replacement", dict(batch_size=2)), ("shuffle", dict(batch_size=3)), ("poisson", dict(sample_rate=0.4)),
])
def test_infinite_c_clipped_sgd_is_sgd_bit_for_bit(sampling, batch):
    a = run(_PROB, ClippedSGD(lr=0.1, c=np.inf, sampling=sampling, **batch), steps=40, runs=3, seed=5)
    b = run(_PROB, SGD(lr=0.1, sampling=sampling, **batch), steps=40, runs=3, seed=5)
    _bits_equal(a, b)
    assert np.all(a.clip_fraction[np.isfinite(a.clip_fraction)] == 0)


@pytest.mark.parametrize("sampling, batch", [("poisson", dict(sample_rate=0.4)), ("shuffle", dict(batch_size=3))])
def test_dpsgd_with_zero_noise_is_clipped_sgd_on_the_same_batches(sampling, batch):
    # z = 0 draws no noise, so the batches (and perturbations) come from the same stream
    a = run(_PROB, DPSGD(lr=0.1, c=0.5, k=0.2, noise_multiplier=0.0, sampling=sampling, **batch),
            steps=40, runs=3, seed=6)
    b = run(_PROB, ClippedSGD(lr=0.1, c=0.5, k=0.2, sampling=sampling, **batch), steps=40, runs=3, seed=6)
    _bits_equal(a, b)
    assert math.isinf(a.privacy.epsilon)  # no noise, no privacy


def test_full_batch_gradient_descent_closed_form():
    # Poisson with q = 1 takes every example: x_{t+1} = x_t - lr (x_t - mean a), so
    # x_T - mean a = (1 - lr)^T (x_0 - mean a)
    a = np.array([[1.0, -2.0], [3.0, 0.0], [-1.0, 5.0]])
    res = run(problems.quadratic(a), SGD(lr=0.3, sampling="poisson", sample_rate=1.0), steps=7, x0=[0.0, 0.0])
    mean = a.mean(axis=0)
    np.testing.assert_allclose(res.x[0], mean + 0.7**7 * (0.0 - mean), rtol=1e-14)
    np.testing.assert_array_equal(res.mean_batch, 3.0)


def test_clipped_gradient_descent_goes_to_the_exact_stationary_point():
    # clipped GD (q = 1) on Example 1: near -2.5, h(x) = (2x + 5)/3, so the error
    # contracts by (1 - 0.1 * 2/3) per step, far below 1e-12 after 2000 steps
    res = run(problems.example1(), ClippedSGD(lr=0.1, c=1.0, sampling="poisson", sample_rate=1.0), steps=2000)
    assert abs(res.x[0, 0] + 2.5) < 1e-12


def test_zero_gradients_give_no_nan():
    # all atoms 0 and x0 = 0: every per-example gradient is 0 (norm 0, factor 1)
    p = problems.quadratic(np.zeros((4, 3)))
    res = run(p, ClippedSGD(lr=0.5, c=1.0, sampling="shuffle", batch_size=2), steps=10, record_every=1)
    np.testing.assert_array_equal(res.x, 0.0)
    np.testing.assert_array_equal(res.loss, 0.0)
    np.testing.assert_array_equal(res.grad_norm, 0.0)
    np.testing.assert_array_equal(res.clip_fraction, 0.0)
    twin = run_numpy(p, ClippedSGD(lr=0.5, c=1.0, sampling="shuffle", batch_size=2), steps=10, record_every=1)
    np.testing.assert_array_equal(twin.x, 0.0)
    np.testing.assert_array_equal(twin.clip_fraction, 0.0)


# ================================================================ DP-SGD noise scale
@pytest.mark.parametrize("sampling, batch, B", [
    ("poisson", dict(sample_rate=0.25), 0.25 * 8),  # expected batch q n
    ("shuffle", dict(batch_size=4), 4),
])
def test_dp_noise_std_is_z_c_over_B(sampling, batch, B):
    # zero gradients (a_i = 0, x0 = 0), lr = 1, one step: x = -(z c / B) nu, nu ~ N(0, I)
    z, c, d, runs = 1.3, 0.7, 3, 2000
    sigma = z * c / B
    p = problems.quadratic(np.zeros((8, d)))
    alg = DPSGD(lr=1.0, c=c, noise_multiplier=z, sampling=sampling, **batch)
    res = run(p, alg, steps=1, runs=runs, seed=12345, record_loss=False)
    x = res.x.ravel()  # 6000 independent N(0, sigma^2) draws
    assert stats.kstest(x, "norm", args=(0.0, sigma)).pvalue > 0.01
    # power check: the same sample rejects 2/3 and 3/2 of the true scale decisively
    assert stats.kstest(x, "norm", args=(0.0, sigma * 2 / 3)).pvalue < 1e-6
    assert stats.kstest(x, "norm", args=(0.0, sigma * 3 / 2)).pvalue < 1e-6
    assert alg.noise_std(p.n) == pytest.approx(sigma, rel=1e-15)
    # different runs got different noise
    assert len(np.unique(x)) == x.size


# ================================================================ batch sampling
def test_shuffle_epochs_are_permutations():
    # lr = 1, B = 1 on f_i = (x - i)^2/2: x_{t+1} = x_t - (x_t - i_t) = i_t, so the
    # trajectory spells out the sampled indices; each epoch of n steps is a permutation
    n = 5
    p = problems.quadratic(np.arange(n, dtype=float))
    res = run(p, SGD(lr=1.0, sampling="shuffle", batch_size=1), steps=4 * n, runs=3, seed=1, record_every=1)
    idx = res.trajectory[:, 1:, 0]
    for r in range(3):
        epochs = idx[r].reshape(4, n)
        for e in epochs:
            assert sorted(e) == list(range(n))
        assert len({tuple(e) for e in epochs}) > 1  # reshuffled, not the same order each epoch


def test_replacement_indices_are_uniform():
    # same trick; indices i.i.d. uniform on {0..n-1}: chi-square test (scipy)
    n = 6
    p = problems.quadratic(np.arange(n, dtype=float))
    res = run(p, SGD(lr=1.0, batch_size=1), steps=3000, runs=4, seed=2, record_every=1, record_loss=False)
    idx = res.trajectory[:, 1:, 0].ravel().astype(int)
    counts = np.bincount(idx, minlength=n)
    assert stats.chisquare(counts).pvalue > 0.01


def test_poisson_batch_sizes_are_binomial():
    # each of n examples joins with probability q: batch size ~ Binomial(n, q), mean q n,
    # variance q (1 - q) n; pooled over runs x steps batches
    n, q, steps, runs = 20, 0.15, 500, 8
    p = problems.quadratic(np.zeros((n, 1)))
    res = run(p, SGD(lr=0.1, sampling="poisson", sample_rate=q), steps=steps, runs=runs, seed=4,
              record_every=1, record_loss=False)
    sizes = res.mean_batch.ravel()  # record_every = 1: one batch per window
    N = sizes.size
    assert abs(sizes.mean() - q * n) < 5 * math.sqrt(q * (1 - q) * n / N)
    assert sizes.var() == pytest.approx(q * (1 - q) * n, rel=0.15)
    # and the distribution: chi-square against Binomial(n, q), tail bins pooled
    K = 8
    obs = np.bincount(np.minimum(sizes.astype(int), K), minlength=K + 1)
    pmf = stats.binom.pmf(np.arange(K), n, q)
    expected = np.append(pmf, 1 - pmf.sum()) * N
    assert stats.chisquare(obs, expected).pvalue > 0.01


# ========================================================================= result
def test_result_fields_and_summary():
    res = run(problems.example1(), ClippedSGD(lr=0.05, c=1.0), steps=10, runs=4, seed=0, record_every=3)
    assert isinstance(res, Result)
    np.testing.assert_array_equal(res.record_steps, [0, 3, 6, 9, 10])  # final step always recorded
    assert res.x.shape == (4, 1) and res.trajectory.shape == (4, 5, 1)
    assert res.loss.shape == res.grad_norm.shape == (4, 5)
    assert res.clip_fraction.shape == res.mean_batch.shape == (4, 4)
    np.testing.assert_array_equal(res.trajectory[:, -1], res.x)
    np.testing.assert_array_equal(res.trajectory[:, 0], 0.0)  # default x0 = 0
    # at x0 = 0: f = 16.5 and |grad f| = 1 (hand computed in test_problems)
    np.testing.assert_allclose(res.loss[:, 0], 16.5)
    np.testing.assert_allclose(res.grad_norm[:, 0], 1.0)
    assert res.steps == 10 and res.runs == 4 and res.seed == 0 and res.privacy is None
    text = res.summary()
    assert "runs=4" in text and "steps=10" in text and "seed=0" in text
    # record_loss=False leaves the loss history as NaN (not computed), x unchanged
    nl = run(problems.example1(), ClippedSGD(lr=0.05, c=1.0), steps=10, runs=4, seed=0, record_every=3,
             record_loss=False)
    assert np.isnan(nl.loss).all()
    np.testing.assert_array_equal(nl.x, res.x)


def test_x0_vector_and_per_run():
    p = problems.example2()
    a = run(p, SGD(lr=0.1), steps=1, runs=3, x0=[0.5], record_every=1)
    np.testing.assert_array_equal(a.trajectory[:, 0, 0], [0.5, 0.5, 0.5])
    b = run(p, SGD(lr=0.1), steps=1, runs=3, x0=[[1.0], [2.0], [3.0]], record_every=1)
    np.testing.assert_array_equal(b.trajectory[:, 0, 0], [1.0, 2.0, 3.0])


# ====================================================================== bad input
@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(steps=0), ValueError, r"^steps must be an integer >= 1"),
    (dict(steps=-5), ValueError, r"^steps must be an integer >= 1"),
    (dict(steps=2.5), TypeError, r"^steps must be an integer"),
    (dict(runs=0), ValueError, r"^runs must be an integer >= 1"),
    (dict(x0=[0.0, 1.0]), ValueError, r"^x0 must have last dimension dim=1"),
    (dict(x0=[[0.0], [1.0]], runs=3), ValueError, r"^x0 must have shape \(1,\) or \(runs=3, 1\)"),
    (dict(x0=np.zeros((2, 2, 1))), ValueError, r"^x0 must have ndim in \(1, 2\)"),
    (dict(x0=[np.nan]), ValueError, r"^x0 contains 1 NaN or inf"),
    (dict(record_every=0), ValueError, r"^record_every must be an integer >= 1"),
    (dict(seed=-1), ValueError, r"^seed must be an integer >= 0"),
    (dict(seed=1.5), TypeError, r"^seed must be an integer"),
])
def test_bad_run_arguments_are_rejected(kwargs, exc, pattern):
    args = dict(steps=5, runs=1, seed=0) | kwargs
    for fn in (run, run_numpy):
        with pytest.raises(exc, match=pattern):
            fn(problems.example1(), SGD(lr=0.1), **args)


def test_bad_problem_or_algorithm_type_is_rejected():
    with pytest.raises(TypeError, match=r"^problem must be a clipsgd Problem"):
        run("example1", SGD(lr=0.1), steps=5)
    with pytest.raises(TypeError, match=r"^algorithm must be a clipsgd algorithm description"):
        run(problems.example1(), {"lr": 0.1}, steps=5)


def test_shuffle_batch_larger_than_n_is_rejected():
    with pytest.raises(ValueError, match=r"^batch_size must be <= n=3 for sampling='shuffle'"):
        run(problems.example1(), SGD(lr=0.1, sampling="shuffle", batch_size=4), steps=5)


# ============================================= empty Poisson batches, privacy events, divergence
@pytest.mark.parametrize("engine", [run, run_numpy])
def test_empty_poisson_batch_still_adds_noise_and_counts_the_step(engine):
    # q = 1e-9 on n = 1: essentially every batch is empty (P(any of the 3000 run-steps
    # samples the example) ~ 3e-6), yet every step adds N(0, (z c)^2) / (q n) noise to
    # the sum, and every step is a step for the accountant. lr = q n makes x the plain
    # sum of the noise: after T steps x ~ N(0, T (z c)^2) (the gradient 0 - a = 0 never
    # enters since a = 0).
    z, c, q, T = 1.5, 0.8, 1e-9, 3
    runs = 1000
    p = problems.quadratic(np.zeros((1, 1)))
    alg = DPSGD(lr=q, c=c, noise_multiplier=z, sample_rate=q)
    res = engine(p, alg, steps=T, runs=runs, seed=3, record_every=1, record_loss=False)
    assert (res.mean_batch == 0).all()
    sigma = z * c * math.sqrt(T)
    x = res.x.ravel()
    assert stats.kstest(x, "norm", args=(0.0, sigma)).pvalue > 0.01
    assert stats.kstest(x, "norm", args=(0.0, sigma * 2 / 3)).pvalue < 1e-4
    assert res.privacy.steps == T
    assert np.isnan(res.clip_fraction).all()  # 0 clipped of 0 processed: undefined, documented


@pytest.mark.parametrize("alg", [
    DPSGD(lr=0.1, c=1.0, noise_multiplier=1.1, sample_rate=0.5),
    DPSGD(lr=0.1, c=1.0, noise_multiplier=1.1, sampling="shuffle", batch_size=2),
    DPSGD(lr=0.1, c=1.0, noise_multiplier=1.1, sampling="replacement", batch_size=2),
    QuantileClipDPSGD(lr=0.1, c=1.0, noise_multiplier=1.1, count_noise_multiplier=2.0, sample_rate=0.5),
])
def test_result_privacy_is_the_algorithms_own_event(alg):
    p = problems.example1()
    res = run(p, alg, steps=20, runs=2, seed=0, delta=1e-4, accountant="rdp")
    want = alg.privacy_event(p.n, 20).report(1e-4, "rdp")
    assert res.privacy.epsilon == want.epsilon and res.privacy.sampling == want.sampling
    assert res.privacy.warnings == want.warnings
    if alg.sampling == "shuffle":  # said in the result, with the honest alternative
        assert any("is not Poisson sampling" in w and "sampling='poisson'" in w for w in res.privacy.warnings)
        assert "is not Poisson sampling" in res.summary()


def test_quantile_clipping_without_count_noise_reports_infinite_epsilon():
    # noise on the sum but none on the count: the count is released exactly, epsilon = inf
    alg = QuantileClipDPSGD(lr=0.1, c=1.0, noise_multiplier=1.1, count_noise_multiplier=0.0, sample_rate=0.5)
    res = run(problems.example1(), alg, steps=5, seed=0, accountant="rdp")
    assert res.privacy is not None and math.isinf(res.privacy.epsilon)


def test_dicesgd_result_says_it_is_not_accounted():
    res = run(problems.example1(), DiceSGD(lr=0.1, c=1.0, c2=1.0, sampling="replacement"), steps=5)
    assert res.privacy is None and "NON-PRIVATE" in res.summary()


def test_diverging_run_is_an_error_naming_lr_not_nan():
    # SGD on f_i = (x - a_i)^2 / 2 with lr = 3: x_{t+1} - x* = (1 - 3)(x_t - x*) + noise, |.| doubles
    with pytest.raises(clipsgd.DivergenceError, match=r"lr = 3\.0 is too large"):
        run(problems.example1(), SGD(lr=3.0), steps=3000)


@pytest.mark.parametrize("kw, match", [(dict(delta=0.0), "^delta must be in"), (dict(accountant="bogus"), "^accountant")])
def test_reporting_arguments_are_checked_before_simulating(kw, match, monkeypatch):
    import clipsgd.engine as E

    def boom(*a, **k):  # the simulation must not start
        raise AssertionError("simulated before validating")

    monkeypatch.setattr(E, "_engine_for", lambda problem: boom)
    monkeypatch.setattr(E, "_USE_LOCKSTEP", False)
    with pytest.raises(ValueError, match=match):
        run(problems.example1(), DPSGD(lr=0.1, c=1.0, noise_multiplier=1.0, sample_rate=0.5), steps=3, **kw)


@pytest.mark.parametrize("kind", ["logistic", "least_squares"])
@pytest.mark.parametrize("sampling, batch", [
    ("poisson", dict(sample_rate=0.5)),
    ("shuffle", dict(batch_size=150)),
    ("replacement", dict(batch_size=170)),
])
@pytest.mark.parametrize("method", ["clip", "auto", "dice", "quantile"])
def test_one_run_parallel_over_its_batch_has_the_bits_of_the_general_kernel(kind, sampling, batch, method, monkeypatch):
    # one run of a GLM with a batch of >= 128 splits the batch over threads in chunks of 32
    # summed in chunk order, as the general kernel sums them one after another: the same bits,
    # which are also run 0 of a call with more runs (where the runs are parallel instead)
    import numba

    import clipsgd.engine as E

    rng = np.random.default_rng(23)
    prob, alg = _glm_setup(rng, kind, method, 300, dict(lr=0.05, c=1.5, sampling=sampling, **batch))
    kw = dict(steps=9, seed=5, record_every=4, x0=0.3 * rng.standard_normal(11))
    assert E._batch_parallel_eligible(prob, alg.spec(prob.n), 1) == (numba.get_num_threads() > 1)
    a = run(prob, alg, runs=1, **kw)
    monkeypatch.setattr(E, "_USE_BATCH_PARALLEL", False)
    b = run(prob, alg, runs=1, **kw)
    c = run(prob, alg, runs=2, **kw)
    for key in ("x", "trajectory", "loss", "grad_norm", "clip_fraction", "mean_batch", "clip_threshold"):
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key][0], c[key][0])
    assert 0 < np.nanmean(a.clip_fraction) < 1 or method == "auto"
    _assert_same_result(a, run_numpy(prob, alg, runs=1, **kw))  # and the readable definition


@pytest.mark.parametrize("kind", ["logistic", "least_squares"])
@pytest.mark.parametrize("runs, k, sample_rate", [(1, 0.0, 0.5), (3, 0.0, 0.1), (2, 0.7, 0.1)])
def test_float32_storage_changes_the_bytes_not_the_math(kind, runs, k, sample_rate):
    # dtype="float32" rounds X once; every product is then formed in float64 from the exactly
    # converted entry, so a run equals, bit for bit, the run on float64 storage of the rounded
    # data (one run with a large batch: batch-parallel path; several: parallel over runs; k > 0:
    # the fused perturbation), and agrees with the NumPy twin
    rng = np.random.default_rng(41)
    X = rng.standard_normal((300, 13)) * 0.7
    y = (rng.random(300) < 0.5).astype(float) if kind == "logistic" else rng.standard_normal(300)
    make = problems.logistic if kind == "logistic" else problems.least_squares
    p32 = make(X, y, dtype="float32")
    p64 = make(X.astype(np.float32).astype(np.float64), y)
    assert p32.X.dtype == np.float32 and p32.X.nbytes * 2 == p64.X.nbytes
    alg = _UnaccountedDPSGD(lr=0.1, c=0.8, k=k, noise_multiplier=0.6, sample_rate=sample_rate)
    kw = dict(steps=12, runs=runs, seed=9, record_every=5)
    a, b = run(p32, alg, **kw), run(p64, alg, **kw)
    for key in ("x", "trajectory", "loss", "grad_norm", "clip_fraction"):
        np.testing.assert_array_equal(a[key], b[key])
    _assert_same_result(a, run_numpy(p32, alg, **kw))


def test_float32_storage_rejects_values_beyond_its_range():
    with pytest.raises(ValueError, match="float32 range"):
        problems.logistic(np.array([[1e39, 0.0], [0.0, 1.0]]), [0.0, 1.0], dtype="float32")
    with pytest.raises(ValueError, match="dtype must be"):
        problems.least_squares(np.eye(2), [0.0, 1.0], dtype="float16")


@pytest.mark.parametrize("target", [0.0, 1.0, -0.1, 1.5])
def test_quantile_target_outside_the_open_unit_interval_is_rejected_with_the_reason(target):
    # target 1: the update c <- c exp(-eta (b - 1)) with b <= 1 can only grow c (x ~ 4.6e33 after
    # 200 steps of Example 1 at quantile_lr = 5); target 0 can only shrink it
    with pytest.raises(ValueError, match=r"^target_quantile must be in \(0, 1\) .*only grow c"):
        QuantileClipDPSGD(lr=0.1, c=1.0, noise_multiplier=1.0, sample_rate=0.5, target_quantile=target)


@pytest.mark.parametrize("target, eta, steps", [(0.9, 1e6, 200), (0.99, 50.0, 400)])
def test_quantile_divergence_blames_the_threshold_not_lr(target, eta, steps):
    alg = QuantileClipDPSGD(lr=0.1, c=1.0, noise_multiplier=1.0, sample_rate=0.5, target_quantile=target,
                            quantile_lr=eta)
    with pytest.raises(clipsgd.DivergenceError, match=r"clip threshold blew up.*quantile_lr = ") as exc:
        run(problems.example1(), alg, steps=steps, record_every=10, accountant="rdp")
    assert "lr = 0.1 is too large" not in str(exc.value)



@pytest.mark.parametrize("kw, names", [
    (dict(steps=10**12, record_loss=False), r"steps=1000000000000, runs=1, record_every=10000000000"),
    (dict(steps=10, runs=10**9), r"steps=10, runs=1000000000, record_every=1"),
    (dict(steps=10**9, record_every=1), r"steps=1000000000, runs=1, record_every=1"),
])
def test_a_run_too_large_for_memory_is_a_value_error_before_allocating(kw, names):
    # estimated from the sizes alone (the test allocates nothing: no MemoryError for 7 TiB)
    with pytest.raises(ValueError, match=names + r" would allocate about .* GiB .*record_every.*fewer runs"):
        run(problems.example1(), ClippedSGD(lr=0.1, c=1.0), **kw)


def test_the_memory_bound_is_the_machines_memory(monkeypatch):
    import clipsgd.engine as E

    assert E._memory_limit() > 2**20  # physical memory, read by os.sysconf
    monkeypatch.setattr(E, "_memory_limit", lambda: 10_000)
    with pytest.raises(ValueError, match=r"runs=100, record_every=1 would allocate"):
        run_numpy(problems.example1(), SGD(lr=0.1), steps=10, runs=100, record_every=1)
    run(problems.example1(), SGD(lr=0.1), steps=10, runs=1, record_every=5)  # small enough


@pytest.mark.parametrize("runner", [run, run_numpy])
@pytest.mark.parametrize("make, kw, names", [
    (lambda: problems.quadratic([1e200, -1e200]), dict(alg=ClippedSGD(lr=0.1, c=1.0)), "loss"),
    (lambda: problems.example1(), dict(alg=SGD(lr=0.1), x0=[1e200]), "loss .* and grad_norm"),
    (lambda: problems.logistic(1e300 * np.array([[1.0, 2.0], [3.0, -1.0], [2.0, 2.0]]), [0.0, 1.0, 1.0]),
     dict(alg=ClippedSGD(lr=0.1, c=1.0)), "grad_norm"),
])
def test_recorded_overflow_warns_once_naming_the_quantity(runner, make, kw, names):
    kw = dict(kw)
    alg = kw.pop("alg")
    with pytest.warns(RuntimeWarning) as rec:
        res = runner(make(), alg, steps=3, **kw)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RuntimeWarning)]
    if runner is run_numpy:  # the twin's NumPy steps may also say "overflow encountered in ..."
        msgs = [m for m in msgs if m.startswith("recorded")]
    assert len(msgs) == 1 and "beyond the float64 range" in msgs[0]
    assert __import__("re").search(f"^recorded {names} ", msgs[0])
    assert np.isfinite(res.x).all() and not np.isfinite(np.c_[res.loss, res.grad_norm]).all()


def test_no_overflow_warning_when_loss_is_not_recorded(recwarn):
    run(problems.quadratic([1e200, -1e200]), ClippedSGD(lr=0.1, c=1.0), steps=3, record_loss=False)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
