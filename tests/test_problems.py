"""Objectives as per-example gradient oracles: kernels vs NumPy twins, gradients vs
finite differences of the losses, closed-form minimisers, the custom-oracle route into
the engine, and bad input."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import clipsgd
from clipsgd import ClippedSGD, problems, run
from clipsgd.problems import CUSTOM, LEAST_SQUARES, LOGISTIC, MLP, QUADRATIC, SOFTMAX

val = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)


@st.composite
def data(draw, kind):
    """A problem of the given kind on drawn data and a drawn point x."""
    n = draw(st.integers(1, 7))
    p = draw(st.integers(1, 4))
    X = draw(arrays(np.float64, (n, p), elements=val))
    if kind == QUADRATIC:
        prob = problems.quadratic(X)
    elif kind == LEAST_SQUARES:
        prob = problems.least_squares(X, draw(arrays(np.float64, n, elements=val)))
    elif kind == LOGISTIC:
        prob = problems.logistic(X, draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0]))))
    else:
        K = draw(st.integers(2, 4))
        y = draw(arrays(np.float64, n, elements=st.integers(0, K - 1).map(float)))
        if kind == MLP:  # a random x (at 0 every hidden unit would get the same gradient)
            prob = problems.mlp(X, y, hidden=draw(st.integers(1, 3)), n_classes=K)
        else:
            prob = problems.softmax(X, y, n_classes=K)
    x = draw(arrays(np.float64, prob.dim, elements=val))
    return prob, x


KINDS = [QUADRATIC, LEAST_SQUARES, LOGISTIC, SOFTMAX, MLP]


# ---------------------------------------------------------------- kernel vs twin
@pytest.mark.parametrize("kind", KINDS)
@given(st.data())
def test_kernel_equals_numpy_twin(kind, dat):
    prob, x = dat.draw(data(kind))
    G_np, L_np = prob.per_example_grads(x), prob.losses(x)
    G_k, L_k = prob.per_example_grads(x, use_kernel=True), prob.losses(x, use_kernel=True)
    assert G_np.shape == G_k.shape == (prob.n, prob.dim)
    np.testing.assert_allclose(G_k, G_np, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(L_k, L_np, rtol=1e-12, atol=1e-12)
    # a subset of examples, in a given order, with repeats
    idx = dat.draw(st.lists(st.integers(0, prob.n - 1), min_size=1, max_size=6))
    np.testing.assert_allclose(prob.per_example_grads(x, idx, use_kernel=True), G_np[idx], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(prob.per_example_grads(x, idx), G_np[idx], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@given(st.data())
def test_gradients_match_finite_differences_of_losses(kind, dat):
    prob, x = dat.draw(data(kind))
    G = prob.per_example_grads(x, use_kernel=True)
    h = 1e-5
    for j in range(prob.dim):
        e = np.zeros(prob.dim)
        e[j] = h
        # central difference: error O(h^2 f''') + O(eps |f| / h); losses here are O(100)
        fd = (prob.losses(x + e, use_kernel=True) - prob.losses(x - e, use_kernel=True)) / (2 * h)
        np.testing.assert_allclose(G[:, j], fd, rtol=1e-6, atol=1e-6)


def test_full_grad_and_loss_are_means():
    # Example 1 at x = 0: g_i = x - a_i = (3, 3, -9), mean -1; f_i = (9, 9, 81)/2, mean 16.5
    p = problems.example1()
    np.testing.assert_allclose(p.per_example_grads([0.0]).ravel(), [3, 3, -9])
    assert p.full_grad([0.0])[0] == pytest.approx(-1.0)
    assert p.loss([0.0]) == pytest.approx(16.5)


def test_hand_values_logistic_and_softmax():
    # logistic at x = 0: sigma(0) = 1/2, so g_i = (1/2 - y_i) z_i and f_i = log 2
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    p = problems.logistic(X, [1.0, 0.0])
    np.testing.assert_allclose(p.per_example_grads(np.zeros(2), use_kernel=True), [[-0.5, -1.0], [1.5, -0.5]])
    np.testing.assert_allclose(p.losses(np.zeros(2), use_kernel=True), [np.log(2)] * 2)
    # softmax at W = 0 with K = 3: p = (1/3, 1/3, 1/3), g = z (p - e_y), f = log 3
    q = problems.softmax(np.array([[2.0]]), [1.0], n_classes=3)
    np.testing.assert_allclose(q.per_example_grads(np.zeros(3), use_kernel=True), [[2 / 3, -4 / 3, 2 / 3]])
    np.testing.assert_allclose(q.losses(np.zeros(3), use_kernel=True), [np.log(3)])


def test_logistic_is_stable_for_large_scores():
    # s = +-800: softplus(800) - 800 = 0 for y = 1, softplus(-800) = 0 for y = 0; no NaN/inf
    p = problems.logistic(np.array([[800.0], [-800.0]]), [1.0, 0.0])
    for use_kernel in (True, False):
        L = p.losses([1.0], use_kernel=use_kernel)
        G = p.per_example_grads([1.0], use_kernel=use_kernel)
        assert np.all(np.isfinite(L)) and np.all(np.isfinite(G))
        np.testing.assert_allclose(L, [0.0, 0.0], atol=1e-300)


# ------------------------------------------------------------------ minimisers
@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 4)), elements=val))
def test_quadratic_minimiser_is_the_mean(a):
    p = problems.quadratic(a)
    # grad f(x) = x - mean(a): zero exactly at the mean of the atoms
    np.testing.assert_array_equal(p.x_star, a.mean(axis=0))
    np.testing.assert_allclose(p.full_grad(p.x_star), 0.0, atol=1e-14)


def test_example_atoms_and_optima():
    # paper: Example 1 a = (-3, -3, 9), x* = (-3 - 3 + 9)/3 = 1; Example 2 a = (-3, 3), x* = 0
    p1, p2 = problems.example1(), problems.example2()
    np.testing.assert_array_equal(p1.X.ravel(), [-3, -3, 9])
    np.testing.assert_array_equal(p1.x_star, [1.0])
    np.testing.assert_array_equal(p2.X.ravel(), [-3, 3])
    np.testing.assert_array_equal(p2.x_star, [0.0])
    assert p1.dim == p2.dim == 1 and (p1.n, p2.n) == (3, 2)


def test_least_squares_minimiser_solves_normal_equations():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    p = problems.least_squares(X, y)
    # x* solves X^T X x = X^T y (independent: numpy.linalg.solve)
    np.testing.assert_allclose(p.x_star, np.linalg.solve(X.T @ X, X.T @ y), rtol=1e-10)
    np.testing.assert_allclose(p.full_grad(p.x_star), 0.0, atol=1e-12)


# --------------------------------------------------------------------- custom
@numba.njit(cache=True)
def _quadratic_oracle(x, i, X, Y, P, out):
    loss = 0.0
    for j in range(x.shape[0]):
        r = x[j] - X[i, j]
        out[j] = r
        loss += r * r
    return 0.5 * loss


def test_custom_oracle_per_example_grads():
    a = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 0.0]])
    pc = problems.custom(_quadratic_oracle, 2, a)
    assert pc.kind == CUSTOM and pc.n == 3 and pc.dim == 2
    ref = problems.quadratic(a)
    x = np.array([0.3, -0.2])
    np.testing.assert_array_equal(pc.per_example_grads(x), ref.per_example_grads(x, use_kernel=True))
    np.testing.assert_array_equal(pc.losses(x), ref.losses(x, use_kernel=True))


def test_custom_oracle_runs_through_the_engine_bit_identically():
    # the same oracle as the built-in quadratic, same seed, same draws -> same bits
    a = np.random.default_rng(1).standard_normal((6, 2))
    alg = ClippedSGD(lr=0.1, c=0.8, k=0.3, sampling="shuffle", batch_size=2)
    r_custom = run(problems.custom(_quadratic_oracle, 2, a), alg, steps=40, runs=3, seed=11, record_every=7)
    r_builtin = run(problems.quadratic(a), alg, steps=40, runs=3, seed=11, record_every=7)
    for key in ("x", "trajectory", "loss", "grad_norm", "clip_fraction", "mean_batch"):
        np.testing.assert_array_equal(r_custom[key], r_builtin[key])


def test_builtin_engine_unaffected_by_a_compiled_custom_oracle():
    # regression: the custom engine is a re-bound copy of the built-in kernel; its Numba
    # symbols once collided with the cached built-in's, so built-in runs recorded the
    # custom oracle's losses. Compile a custom engine, then check a built-in run's
    # recorded losses against the NumPy twin (f = (x z - y)^2 / 2 here, not the quadratic).
    run(problems.custom(_quadratic_oracle, 1, np.zeros((2, 1))), ClippedSGD(lr=0.1, c=1.0), steps=2)
    p = problems.least_squares(np.array([[1.0], [2.0]]), [0.0, 1.0])
    res = run(p, ClippedSGD(lr=0.1, c=1.0), steps=3, x0=[1.0], record_every=1, seed=0)
    for r, x in enumerate(res.trajectory[0, :, 0]):
        assert res.loss[0, r] == pytest.approx(p.loss([x]), rel=1e-14)
    # at x0 = 1: residuals (1, 1), f = (1/2 + 1/2)/2 = 0.5 (by hand)
    assert res.loss[0, 0] == pytest.approx(0.5, rel=1e-15)


# -------------------------------------------------------------------- bad input
def test_nan_in_data_is_rejected():
    X = np.array([[1.0, np.nan], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"^X contains 1 NaN or inf"):
        problems.least_squares(X, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^X contains"):
        problems.logistic(X, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^a contains"):
        problems.quadratic([1.0, np.inf])
    with pytest.raises(ValueError, match=r"^y contains"):
        problems.least_squares(np.eye(2), [1.0, np.nan])


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match=r"^y must have one entry per row of X"):
        problems.least_squares(np.eye(3), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^y must have one entry per row of X"):
        problems.logistic(np.eye(3), [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^Y must have one entry per row of X"):
        problems.custom(_quadratic_oracle, 1, np.zeros((3, 1)), Y=[1.0])


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match=r"^y must contain only the labels 0 and 1"):
        problems.logistic(np.eye(3), [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"^y must contain only the labels 0 and 1"):
        problems.logistic(np.eye(2), [-1.0, 1.0])
    with pytest.raises(ValueError, match=r"^y must contain integer class labels"):
        problems.softmax(np.eye(2), [0.5, 1.0])
    with pytest.raises(ValueError, match=r"^y has label 3 >= n_classes=3"):
        problems.softmax(np.eye(2), [0.0, 3.0], n_classes=3)
    with pytest.raises(ValueError, match=r"^n_classes must be an integer >= 2"):
        problems.softmax(np.eye(2), [0.0, 0.0], n_classes=1)


def test_non_jitted_oracle_is_rejected():
    def plain(x, i, X, Y, P, out):
        return 0.0

    with pytest.raises(TypeError, match=r"^grad_fn must be a numba-jitted function"):
        problems.custom(plain, 1, np.zeros((2, 1)))


def test_bad_custom_arguments_are_rejected():
    with pytest.raises(ValueError, match=r"^dim must be an integer >= 1"):
        problems.custom(_quadratic_oracle, 0, np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"^x_star must have length dim=2"):
        problems.custom(_quadratic_oracle, 2, np.zeros((2, 2)), x_star=[0.0])


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"^X must have ndim in \(2,\)"):
        problems.least_squares([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^X must have at least one row and one column"):
        problems.least_squares(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match=r"^a must contain at least one atom"):
        problems.quadratic(np.zeros((3, 0)))
    with pytest.raises(ValueError, match=r"^a must contain at least one atom"):
        problems.quadratic([])


def test_bad_points_and_indices_are_rejected():
    p = problems.example1()
    with pytest.raises(ValueError, match=r"^x must have length dim=1"):
        p.per_example_grads([0.0, 1.0])
    with pytest.raises(ValueError, match=r"^x contains 1 NaN or inf"):
        p.per_example_grads([np.nan])
    # the kernel does not bounds-check, so an index outside [0, n) must never reach it
    for idx in ([3], [-1]):
        with pytest.raises(ValueError, match=r"^idx must contain indices in \[0, n=3\)"):
            p.per_example_grads([0.0], idx, use_kernel=True)
    with pytest.raises(ValueError, match=r"^idx must be a 1-D array of integer"):
        p.per_example_grads([0.0], [0.5])


def test_custom_oracle_with_a_wrong_contract_fails_at_construction():
    import numba

    @numba.njit
    def no_return(x, i, X, Y, P, out):
        out[0] = x[0] - X[i, 0]

    @numba.njit
    def wrong_arity(x, i, out):
        out[0] = 1.0
        return 0.0

    @numba.njit
    def leaves_out_unset(x, i, X, Y, P, out):
        return 0.0

    X = np.array([[0.0], [2.0]])
    with pytest.raises(TypeError, match=r"grad_fn\(x, i, X, Y, P, out\) -> float.*missing return"):
        problems.custom(no_return, 1, X)
    with pytest.raises(TypeError, match=r"grad_fn\(x, i, X, Y, P, out\) -> float.*failed"):
        problems.custom(wrong_arity, 1, X)
    with pytest.warns(RuntimeWarning, match="unset or NaN"):
        problems.custom(leaves_out_unset, 1, X)


def test_custom_oracle_typing_error_is_a_contract_error():
    import numba

    @numba.njit
    def len_of_int(x, i, X, Y, P, out):  # len(int) does not type: a Numba TypingError
        out[0] = len(i)
        return 0.0

    with pytest.raises(TypeError, match=r"grad_fn\(x, i, X, Y, P, out\) -> float.*TypingError"):
        problems.custom(len_of_int, 1, np.array([[1.0]]))


def test_custom_oracle_undefined_at_the_probe_point_is_a_warning_not_an_error():
    import numba

    @numba.njit
    def inverse(x, i, X, Y, P, out):  # f_i(x) = X_i / x, undefined at the probe point x = 0
        out[0] = -X[i, 0] / (x[0] * x[0])
        return X[i, 0] / x[0]

    X = np.array([[1.0], [3.0]])
    with pytest.warns(RuntimeWarning, match=r"could not evaluate grad_fn at x = 0.*ZeroDivisionError"):
        prob = problems.custom(inverse, 1, X)
    # built, and right where it is defined: at x = 2, gradients -X_i / 4 and losses X_i / 2
    np.testing.assert_array_equal(prob.per_example_grads([2.0]).ravel(), [-0.25, -0.75])
    np.testing.assert_array_equal(prob.losses([2.0]), [0.5, 1.5])


def test_datasets_and_small_helpers_reject_bad_input_naming_the_parameter():
    from clipsgd import datasets, exact

    with pytest.raises(ValueError, match="test_fraction"):
        datasets.load("breast_cancer", test_fraction=0.999)  # would leave no training example
    d = datasets.load("breast_cancer")
    p = d.X_test.shape[1]
    with pytest.raises(ValueError, match="x must have length 31"):
        datasets.accuracy(np.zeros(5), d.X_test, d.y_test, 2)
    with pytest.raises(ValueError, match="y must have one label per row"):
        datasets.accuracy(np.zeros(p), d.X_test, d.y_test[:3], 2)
    with pytest.raises(ValueError, match="n_classes"):
        datasets.accuracy(np.zeros(p), d.X_test, d.y_test, 0)
    with pytest.raises(ValueError, match="no rows"):
        datasets.accuracy(np.zeros(p), d.X_test[:0], d.y_test[:0], 2)
    with pytest.raises(TypeError, match="Dataset"):
        datasets.make_problem(None)
    with pytest.raises(ValueError, match="seed"):
        problems.mlp_init(problems.mlp(d.X_train, d.y_train, hidden=4), seed=-1)
    with pytest.raises(ValueError, match="^m "):
        exact.perturbed_clip_mean(np.nan, 1.0, 1.0)
    with pytest.raises(ValueError, match="xtol"):
        exact.stationary_points(problems.example1(), 1.0, k=1.0, xtol=0.0)
    with pytest.raises(TypeError, match="complex"):
        clipsgd.clip(np.array([3 + 4j]), 1.0)
    # and the right answer still comes out for good input
    assert datasets.accuracy(np.zeros(p), d.X_test, d.y_test, 2) == pytest.approx(np.mean(d.y_test == 0))


def test_datasets_reject_labels_out_of_range_one_class_splits_and_non_bool_intercept():
    from clipsgd import datasets

    d = datasets.load("iris")  # 3 classes
    p = d.X_test.shape[1]
    x = np.zeros(p * 3)
    # a label the model cannot predict (3, -1, 0.5) would silently count as a wrong prediction
    for bad in (3.0, -1.0, 0.5):
        y = d.y_test.copy()
        y[0] = bad
        with pytest.raises(ValueError, match=r"^y must contain integer labels in \{0, \.\.\., 2\}"):
            datasets.accuracy(x, d.X_test, y, 3)
    prob = datasets.make_problem(d)
    with pytest.raises(ValueError, match=r"^y must contain integer labels in \{0, \.\.\., 2\}"):
        datasets.problem_accuracy(prob, x, d.X_test, d.y_test + 1)
    # breast_cancer at 0.998: round(0.998 * 212) = 212 of class 0 go to test, so the training set
    # would be 1 example of class 1 only
    with pytest.raises(ValueError, match=r"test_fraction=0.998 leaves 1 training.*class\(es\) \[0\]"):
        datasets.load("breast_cancer", test_fraction=0.998)
    for bad in ("no", 0, None):
        with pytest.raises(TypeError, match=r"^intercept must be True or False"):
            datasets.load("iris", intercept=bad)
    # good input still works: 0.97 keeps 2 of each 50-example iris class for training
    small = datasets.load("iris", test_fraction=0.97, intercept=False)
    assert np.bincount(small.y_train.astype(int)).tolist() == [2, 2, 2] and small.X_train.shape[1] == 4
