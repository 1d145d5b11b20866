"""The clipping rule clip(v, c) = v min(1, c/||v||): properties, kernel vs twin, edge cases.

Every expected value is either a property of the Euclidean projection onto the ball of
radius c (norm bound, identity inside, homogeneity, rotation equivariance), a hand
computation (the optax case), or an independent library (``math.hypot`` for norms that
would overflow a naive sum of squares).
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import clipsgd
from clipsgd.clip import ClipInfo, clip_factor, clip_numpy, clip_rows_inplace, l2_norm

# Entries up to 1e6 in magnitude (extreme magnitudes get their own tests below).
entry = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
dims = st.integers(1, 6)
thresholds = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def vectors(draw, min_dim=1):
    d = draw(st.integers(min_dim, 6))
    return draw(arrays(np.float64, d, elements=entry))


@st.composite
def matrices(draw):
    n = draw(st.integers(1, 8))
    d = draw(st.integers(1, 10))  # d >= 8 exercises NumPy's pairwise summation in the twin
    return draw(arrays(np.float64, (n, d), elements=entry))


def _norm(v):
    # independent reference: math.hypot never overflows or underflows for finite input
    return math.hypot(*np.asarray(v, dtype=float).ravel())


# ----------------------------------------------------------------------- properties
@given(vectors(), thresholds)
def test_norm_of_clip_is_at_most_c(v, c):
    # projection onto the ball of radius c: output norm <= c (up to one rounding of c/||v||)
    assert _norm(clipsgd.clip(v, c)) <= c * (1 + 1e-14)


@given(vectors(), st.floats(0.0, 10.0))
def test_identity_inside_the_ball(v, slack):
    # ||v|| <= c  =>  factor 1, v returned unchanged bit for bit
    c = _norm(v) * (1.0 + 1e-9) * (1.0 + slack) + 1e-300
    out = clipsgd.clip(v, c)
    np.testing.assert_array_equal(out, v)


@given(vectors(), thresholds)
def test_clip_outside_the_ball_lands_on_the_sphere_in_the_same_direction(v, c):
    nrm = _norm(v)
    if nrm <= c * (1 + 1e-9):
        return
    out = clipsgd.clip(v, c)
    # ||clip(v, c)|| = c and clip(v, c) = (c / ||v||) v when ||v|| > c
    assert _norm(out) == pytest.approx(c, rel=1e-13)
    np.testing.assert_allclose(out, v * (c / nrm), rtol=1e-13, atol=1e-300)


@given(vectors(), thresholds)
def test_homogeneity(v, c):
    # clip(v, c) = c clip(v / c, 1): both are v min(1, c/||v||)
    lhs = clipsgd.clip(v, c)
    rhs = c * clipsgd.clip(v / c, 1.0)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12 * c)


@given(vectors(min_dim=2), thresholds, st.integers(0, 2**32 - 1))
def test_rotation_equivariance(v, c, seed):
    # the ball is rotation invariant, so clip(Q v) = Q clip(v) for orthogonal Q
    d = v.shape[0]
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    np.testing.assert_allclose(Q.T @ Q, np.eye(d), atol=1e-12)  # Q is orthogonal
    lhs = clipsgd.clip(Q @ v, c)
    rhs = Q @ clipsgd.clip(v, c)
    scale = max(min(_norm(v), c), 1e-300)
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-12 * scale)


@given(st.integers(1, 5), st.integers(1, 6), thresholds)
def test_zero_stays_zero(n, d, c):
    info = clipsgd.clip(np.zeros((n, d)), c, return_info=True)
    # clip(0, c) = 0 with factor 1 and norm 0, never 0/0 = NaN
    np.testing.assert_array_equal(info.clipped, np.zeros((n, d)))
    np.testing.assert_array_equal(info.norms, np.zeros(n))
    np.testing.assert_array_equal(info.factors, np.ones(n))
    assert not info.was_clipped.any()
    assert np.all(np.isfinite(info.clipped))


def test_zero_rows_among_others():
    # the zero row stays zero; (3, 4) has norm 5, clipped at 1 to (0.6, 0.8) (hand computed)
    G = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    out = clipsgd.clip(G, 1.0)
    np.testing.assert_allclose(out, [[0, 0], [0.6, 0.8], [0, 0]], rtol=1e-15)
    assert np.all(np.isfinite(out))


@given(matrices())
def test_infinite_c_is_the_identity(G):
    # c = inf: min(1, inf/||g||) = 1 for every row, including huge ones
    info = clipsgd.clip(G, np.inf, return_info=True)
    np.testing.assert_array_equal(info.clipped, G)
    np.testing.assert_array_equal(info.factors, np.ones(G.shape[0]))
    assert not info.was_clipped.any()


# ------------------------------------------------------------------ kernel vs twin
@given(matrices(), thresholds)
def test_kernel_equals_numpy_twin(G, c):
    ref, ref_norms, ref_factors = clip_numpy(G, c)
    out = G.copy()
    norms = np.empty(G.shape[0])
    factors = np.empty(G.shape[0])
    count = clip_rows_inplace(out, c, norms, factors)
    np.testing.assert_allclose(norms, ref_norms, rtol=1e-14, atol=0)
    np.testing.assert_allclose(factors, ref_factors, rtol=1e-14, atol=0)
    np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-300)
    # the count is the number of rows with ||g_i|| > c; away from ties it is unambiguous
    away = np.abs(ref_norms - c) > 1e-12 * c
    assert np.sum((ref_norms > c) & away) <= count <= np.sum((ref_norms > c) | ~away)
    # the twin's norms are the definition sqrt(sum g^2) (checked against math.hypot)
    np.testing.assert_allclose(ref_norms, [_norm(g) for g in G], rtol=1e-14)


@given(matrices(), thresholds)
def test_public_clip_matches_twin_and_does_not_modify_input(G, c):
    G0 = G.copy()
    info = clipsgd.clip(G, c, return_info=True)
    np.testing.assert_array_equal(G, G0)
    ref, norms, factors = clip_numpy(G, c)
    np.testing.assert_allclose(info.clipped, ref, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(info.norms, norms, rtol=1e-14)
    np.testing.assert_array_equal(info.was_clipped, info.factors < 1.0)


@given(st.floats(0.0, 1e300), thresholds)
def test_clip_factor_is_min_one_c_over_norm(nrm, c):
    f = clip_factor(nrm, c)
    # factor = min(1, c / ||v||), with factor 1 for ||v|| = 0
    expected = 1.0 if nrm <= c else c / nrm
    assert f == expected


# ------------------------------------------------------------- extreme magnitudes
@pytest.mark.parametrize("scale", [1e150, 1e200, 1e300, 1e-150, 1e-200, 1e-300])
@given(v=arrays(np.float64, st.integers(1, 6), elements=st.floats(-1.0, 1.0, allow_nan=False)))
def test_norm_has_no_overflow_or_underflow(scale, v):
    # the naive sum of squares overflows above ~1e154 and underflows below ~1e-154;
    # math.hypot (an independent, scaled implementation) does neither
    w = v * scale
    if not np.all(np.isfinite(w)):
        return
    ref = _norm(w)
    assert l2_norm(w) == pytest.approx(ref, rel=1e-14, abs=0)
    assert clip_numpy(w[None, :], 1.0)[1][0] == pytest.approx(ref, rel=1e-14, abs=0)


@pytest.mark.parametrize("use_kernel", [True, False])
def test_huge_vector_is_clipped_in_its_direction_not_to_zero(use_kernel):
    # (1e200, 1e200) has finite norm sqrt(2) 1e200: clipped at 1 it is (1, 1)/sqrt(2)
    G = np.array([[1e200, 1e200]])
    out = clipsgd.clip(G, 1.0) if use_kernel else clip_numpy(G, 1.0)[0]
    np.testing.assert_allclose(out, [[2**-0.5, 2**-0.5]], rtol=1e-15)


@pytest.mark.parametrize("use_kernel", [True, False])
def test_tiny_vector_is_clipped_at_a_tiny_threshold(use_kernel):
    # ||(1e-200, 1e-200)|| = sqrt(2) 1e-200 > c = 1e-250, so the output has norm exactly c
    G = np.array([[1e-200, 1e-200]])
    out = clipsgd.clip(G, 1e-250) if use_kernel else clip_numpy(G, 1e-250)[0]
    assert _norm(out) == pytest.approx(1e-250, rel=1e-14)
    np.testing.assert_allclose(out / 1e-250, [[2**-0.5, 2**-0.5]], rtol=1e-14)


# ------------------------------------------------------------------ hand examples
def test_optax_doctest_case():
    # rows of norm 0, 5, 5, 5; clipped at 1.25 each nonzero row becomes row / 4, so the
    # column sums are (0+0+4+3)/4 = 1.75, (0+3+0+4)/4 = 1.75, (0+4+3+0)/4 = 1.75
    G = np.array([[0.0, 0, 0], [0, 3, 4], [4, 0, 3], [3, 4, 0]])
    info = clipsgd.clip(G, 1.25, return_info=True)
    assert isinstance(info, ClipInfo)
    np.testing.assert_allclose(info.clipped.sum(axis=0), [1.75, 1.75, 1.75], rtol=1e-15)
    assert int(info.was_clipped.sum()) == 3
    np.testing.assert_allclose(info.norms, [0, 5, 5, 5], rtol=1e-15)
    np.testing.assert_allclose(info.factors, [1, 0.25, 0.25, 0.25], rtol=1e-15)


def test_vector_input_returns_vector_and_scalar_info():
    # (3, 4) has norm 5; clipped at 1 it is (0.6, 0.8) with factor 1/5
    info = clipsgd.clip([3.0, 4.0], 1.0, return_info=True)
    assert info.clipped.shape == (2,)
    np.testing.assert_allclose(info.clipped, [0.6, 0.8], rtol=1e-15)
    assert info.norms.shape == () and float(info.norms) == 5.0
    assert float(info.factors) == pytest.approx(0.2, rel=1e-15)
    assert bool(info.was_clipped)


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize("c", [0.0, -1.0, -np.inf])
def test_nonpositive_c_is_rejected(c):
    with pytest.raises(ValueError, match=r"^c must be in \(0, inf\]"):
        clipsgd.clip([1.0, 2.0], c)


def test_nan_c_is_rejected():
    with pytest.raises(ValueError, match=r"^c must not be NaN"):
        clipsgd.clip([1.0, 2.0], float("nan"))


def test_non_numeric_c_is_rejected():
    with pytest.raises(TypeError, match=r"^c must be a real number"):
        clipsgd.clip([1.0, 2.0], "1")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_g_is_rejected(bad):
    with pytest.raises(ValueError, match=r"^g contains 1 NaN or inf"):
        clipsgd.clip(np.array([[1.0, bad], [0.0, 1.0]]), 1.0)


def test_three_dimensional_g_is_rejected():
    with pytest.raises(ValueError, match=r"^g must have ndim in \(1, 2\)"):
        clipsgd.clip(np.zeros((2, 2, 2)), 1.0)


@pytest.mark.parametrize("c", [1 + 1j, 1j, np.complex128(2.0), np.array(2 + 0j)])
def test_complex_c_is_rejected_naming_c(c):
    # a complex threshold used to reach float() and give Python's message without the name;
    # even a zero imaginary part is refused (a complex c is a bug, not a number to round)
    with pytest.raises(TypeError, match=r"^c must be a real number \(got"):
        clipsgd.clip([3.0, 4.0], c)


@pytest.mark.parametrize("flag", ["yes", 1, None, np.array([True])])
def test_return_info_must_be_a_bool(flag):
    # 'yes' or 1 silently meant True before; a non-bool flag is a typo worth reporting
    with pytest.raises(TypeError, match=r"^return_info must be True or False"):
        clipsgd.clip([3.0, 4.0], 1.0, return_info=flag)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_numpy_twin_rejects_non_finite_rows_like_clip(bad):
    # the twin used to return NaN silently; it must refuse what clip() refuses, with its name G
    with pytest.raises(ValueError, match=r"^G contains 1 NaN or inf"):
        clip_numpy(np.array([[bad, 1.0], [0.0, 1.0]]), 1.0)


def test_numpy_twin_rejects_complex_input_and_bad_c_like_clip():
    # complex rows used to give only a ComplexWarning (the imaginary part dropped)
    with pytest.raises(TypeError, match=r"^G must be an array of real numbers"):
        clip_numpy(np.array([[1j, 1.0]]), 1.0)
    with pytest.raises(TypeError, match=r"^c must be a real number"):
        clip_numpy(np.ones((1, 2)), 1 + 1j)
    with pytest.raises(ValueError, match=r"^c must be in \(0, inf\]"):
        clip_numpy(np.ones((1, 2)), 0.0)


def test_numpy_twin_wants_rows():
    # G is (n, d); a lone vector is clip()'s job (or v[None, :])
    with pytest.raises(ValueError, match=r"^G must have ndim in \(2,\)"):
        clip_numpy(np.ones(3), 1.0)



@given(d=st.integers(1, 37), scale=st.sampled_from([1e-200, 1e-3, 1.0, 1e3, 1e200]), seed=st.integers(0, 2**32 - 1))
def test_fused_perturbed_glm_gradient_is_the_perturbation_and_its_norm(d, scale, seed):
    # g = r z_i + k zeta entry by entry with the two roundings of perturb_inplace (same bits),
    # and ||g|| to rounding, also where the plain sum of squares over/underflows
    from clipsgd.updates import perturb_inplace, perturbed_glm_gradient

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, d)) * scale
    zeta = rng.standard_normal(d)
    r, k = float(rng.standard_normal()), float(rng.uniform(0.1, 3.0)) * scale
    g = np.empty(d)
    nrm = perturbed_glm_gradient(r, X, 1, k, zeta, g)
    ref = r * X[1]
    perturb_inplace(ref, k, zeta)
    np.testing.assert_array_equal(g, ref)
    big = np.max(np.abs(ref))
    assert nrm == pytest.approx(big * np.linalg.norm(ref / big), rel=1e-14)
