"""The perturbation fix: Theorem B on random instances, exact vs simulated limits, the
d-dimensional expected dynamics, the price, and the privacy labelling of every method.

Reasons for the expected numbers: Theorem B (proved in clipsgd.bias_study's docstring),
oddness of H_k (symmetric sums), the closed-form O(lr) shift of the stationary mean, the
1-D closed form and adaptive quadrature (radial integral), Monte Carlo within its error,
and dp_accounting's composition of Gaussian mechanisms (quantile clipping's multiplier).
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy import integrate

from clipsgd import problems, run
from clipsgd.algorithms import DPSGD, AutoClipSGD, ClippedSGD, DiceSGD, QuantileClipDPSGD
from clipsgd.bias_study import (
    PerturbedDrift,
    _dice_settle_phrase,
    _price_table,
    _privacy_table,
    _settle_step,
    asymptotic_shift,
    mean_field_steps_to_target,
    perturbation_bound,
    perturbed_clip_second_moment,
    quantile_noise_split,
    radial_perturbed_clip,
    rival_methods,
    rivals_at_equal_privacy,
    simulate_stationary_mean,
    skewed_quadratic,
    stationary_mean_shift,
)
from clipsgd.exact import perturbed_clip_mean, stationary_points

EX1 = problems.example1()
X_TOL = 1e-10  # documented accuracy of clipsgd.exact.stationary_points for k > 0

skewed_atoms = st.builds(
    lambda e, scale, sign: sign * scale * np.round(np.array(e), 3),
    st.lists(st.floats(0.0, 4.0), min_size=3, max_size=8),
    st.floats(0.5, 3.0),
    st.sampled_from([-1.0, 1.0]),
)


def _xi(a):
    return a.mean() - a


def _plain_distance(p, c, xs):
    """Smallest distance from x* to the zero set of h_0 (plain clipping's limit)."""
    z = stationary_points(p, c)
    ends = list(z.points) + [e for iv in z.intervals for e in iv]
    if any(lo <= xs <= hi for lo, hi in z.intervals):
        return 0.0
    return min(abs(e - xs) for e in ends)


# ====================================================================== Theorem B
@given(skewed_atoms, st.floats(0.2, 3.0), st.floats(0.05, 400.0))
def test_theorem_b_holds_on_every_instance(a, c, k):
    assume(np.ptp(a) > 1e-3)
    b = perturbation_bound(problems.quadratic(a), c, k)
    assert b.distance <= b.sharp + X_TOL
    assert b.sharp <= b.explicit * (1 + 1e-9) or math.isinf(b.explicit)


@settings(max_examples=15)
@given(skewed_atoms, st.floats(0.2, 3.0))
def test_perturbation_moves_the_limit_towards_x_star(a, c):
    """The proved envelope decreases to 0 and the limit obeys it, so from the first k where
    the bound beats plain clipping the perturbed limit is strictly closer; and in the
    asymptotic regime (k >= max|xi| + c, clearly skewed noise) the distance itself decreases
    with k (x_k - x* = E xi^3/(6k^2) + O(k^-4)) and has the sign of E xi^3."""
    assume(np.ptp(a) > 1e-2)
    p = problems.quadratic(a)
    xi = _xi(a)
    M = np.abs(xi).max()
    ks = (M + c) * np.geomspace(0.05, 64, 16)
    bnds = [perturbation_bound(p, c, k) for k in ks]
    expl = np.array([b.explicit for b in bnds])
    dist = np.array([b.distance for b in bnds])
    assert np.all(np.diff(expl) <= 1e-12 * expl[1:])  # the envelope decreases in k
    assert np.all(dist <= np.array([b.sharp for b in bnds]) + X_TOL)
    # the envelope is O(1/k^2): k^2 explicit = lim / mean(exp(-(c + M_i)^2/(2k^2))), M_i <= 2M
    lim = np.mean(np.maximum(2 * c, np.abs(xi) - c) * np.abs(xi) ** 3) / (12 * c)
    assert lim <= ks[-1] ** 2 * expl[-1] <= lim * math.exp((c + 2 * M) ** 2 / (2 * ks[-1] ** 2)) * (1 + 1e-12)
    d0 = _plain_distance(p, c, a.mean())
    sharp = np.array([b.sharp for b in bnds])
    assert np.all(dist[sharp + X_TOL < d0] < d0)  # wherever the bound beats plain clipping, so does x_k
    m3 = np.mean(xi**3)
    if abs(m3) >= 0.1 * np.mean(np.abs(xi) ** 3):
        big = ks >= M + c
        assert np.all(np.diff(dist[big]) <= X_TOL)
        xk = np.array([b.x_k for b in bnds])[big]
        assert np.all(np.sign(xk - a.mean()) == np.sign(m3))


def test_theorem_b_example1_numbers():
    # |x_k - x*| -> 64/(3k^2); explicit constant mean(max(2c,|xi|-c)|xi|^3)/(12c) = 3968/36
    for k in (32.0, 128.0):
        b = perturbation_bound(EX1, 1.0, k)
        assert b.asymptotic == pytest.approx(-64 / (3 * k * k), rel=1e-14)
        assert b.distance == pytest.approx(64 / (3 * k * k), rel=3 * 16 / k**2)
        M = 12.0
        assert b.explicit == pytest.approx(3968 / 36 / (k * k * math.exp(-((1 + M) ** 2) / (2 * k * k))), rel=1e-12)
        assert b.sharp <= 1.001 * b.distance + X_TOL  # sharp for large k
    assert asymptotic_shift(EX1, 8.0) == pytest.approx(-1 / 3, rel=1e-14)


@st.composite
def symmetric_sums(draw):
    """x* = m, atoms m +/- d_j, and at least one |d_j| < c (mass near 0)."""
    m = draw(st.integers(-20, 20)) / 4
    d = draw(st.lists(st.integers(0, 40), min_size=1, max_size=4)) + [draw(st.integers(0, 3))]
    c8 = draw(st.integers(d[-1] + 1, 32))  # |d_last| < c: mass near 0
    a = [m + v / 8 for v in d] + [m - v / 8 for v in d]
    return np.array(a), c8 / 8


@given(symmetric_sums(), st.one_of(st.just(0.0), st.floats(1e-6, 50.0)))
def test_symmetric_sums_are_unbiased_for_every_k(sym, k):
    a, c = sym
    p = problems.quadratic(a)
    xs = a.mean()
    z = stationary_points(p, c, k)
    if k == 0:  # exact rational: the zero set is exactly {x*}
        assert z.rational_points == (Fraction(xs),) and z.intervals == ()
    else:
        assert abs(z.points[0] - xs) <= X_TOL
        assert perturbation_bound(p, c, k).sharp <= 1e-13  # h_k(x*) = 0 by oddness


# ================================================================ O(lr) shift, moments
@pytest.mark.parametrize("m,c,k", [(0.3, 1.0, 0.5), (2.0, 1.0, 1.5), (-4.0, 2.0, 3.0), (0.0, 0.5, 10.0)])
def test_second_moment_closed_form_vs_quadrature(m, c, k):
    f = lambda z: np.clip(m + k * z, -c, c) ** 2 * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    ref = integrate.quad(f, -40, 40, points=[(-c - m) / k, (c - m) / k], epsabs=1e-14, limit=200)[0]
    assert float(perturbed_clip_second_moment(m, c, k)) == pytest.approx(ref, abs=1e-12)


def test_stationary_shift_matches_two_step_sizes():
    """k = 2: the shift is O(lr); the simulated means at two step sizes differ by the
    difference of the predicted shifts (independent runs, 4 standard errors)."""
    k, xk = 2.0, stationary_points(EX1, 1.0, 2.0).points[0]
    means, ses, preds = [], [], []
    for i, lr in enumerate((0.08, 0.02)):
        tau = 1.0 / (lr * 0.2034)  # h'(x_2) = 0.2034 (closed form, see bias_study)
        est = simulate_stationary_mean(EX1, ClippedSGD(lr=lr, c=1.0, k=k), int(10 * tau), int(60 * tau), 1000,
                                       seed=40 + i)
        means.append(est.mean[0])
        ses.append(est.se[0])
        preds.append(stationary_mean_shift(EX1, 1.0, k, lr))
    assert preds[0] > 3 * preds[1] > 0
    assert abs((means[0] - means[1]) - (preds[0] - preds[1])) < 4 * math.hypot(*ses)
    assert abs(means[0] - xk) > 4 * ses[0]  # power: at lr 0.08 the shift is visible


@pytest.mark.parametrize("k", [0.0, 2.0, 8.0, 32.0])
def test_monte_carlo_agrees_with_exact_fixed_points(k):
    """>= 1000 runs of clipped SGD on Example 1: the mean of the per-run tail averages is
    within 4 standard errors of x_k + (its closed-form O(lr) shift); the neglected O(lr^2)
    terms are below 10 % of the shift (2.5e-4 at most here)."""
    xk = stationary_points(EX1, 1.0, k).points[0]
    lr = 0.02 * max(1.0, k / 8.0)
    slope = {0.0: 2 / 3, 2.0: 0.2034, 8.0: 0.0791, 32.0: 0.0245}[k]  # h'(x_k), see bias_study
    tau = 1.0 / (lr * slope)
    shift = stationary_mean_shift(EX1, 1.0, k, lr)
    est = simulate_stationary_mean(EX1, ClippedSGD(lr=lr, c=1.0, k=k), int(10 * tau), max(20000, int(40 * tau)),
                                   1000, seed=50 + int(k))
    assert abs(est.mean[0] - (xk + shift)) < 4 * est.se[0] + 0.1 * abs(shift)
    if k > 0:  # power: the simulation resolves the gap to the plain-clipping limit and, up to k = 8, to x*
        assert abs(est.mean[0] + 2.5) > 10 * est.se[0]
        if k <= 8:
            assert abs(est.mean[0] - 1.0) > 10 * est.se[0]


# ========================================================= exact d-D expected dynamics
@given(st.floats(0.0, 12.0), st.floats(0.1, 10.0), st.floats(0.2, 3.0))
def test_radial_d1_is_the_closed_form(rho, k, c):
    assert float(radial_perturbed_clip(rho, c, k, 1)[0]) == pytest.approx(float(perturbed_clip_mean(rho, c, k)),
                                                                         abs=1e-12)


@pytest.mark.parametrize("d", [2, 3, 10])
@pytest.mark.parametrize("rho,k", [(0.5, 1.0), (3.0, 2.0), (1.0, 8.0), (6.0, 0.3)])
def test_radial_vs_adaptive_quadrature_and_monte_carlo(d, rho, k):
    from scipy.special import ive

    c = 1.0
    nu, lam = d / 2 - 1, rho / k

    def dens(r):
        x = r / k
        return x ** (d / 2) * lam ** (-nu) * np.exp(-0.5 * (x - lam) ** 2) * ive(nu, lam * x) / k

    A = lambda r: ive(d / 2, r * rho / k**2) / ive(nu, r * rho / k**2)  # noqa: E731
    hi = rho + k * (math.sqrt(d) + 14)
    ref = (integrate.quad(lambda r: r * A(r) * dens(r), 0, c, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
           + c * integrate.quad(lambda r: A(r) * dens(r), c, hi, epsabs=1e-14, epsrel=1e-13, limit=200)[0])
    val = float(radial_perturbed_clip(rho, c, k, d)[0])
    assert val == pytest.approx(ref, abs=1e-11)
    rng = np.random.default_rng(int(100 * rho + 10 * k + d))
    Y = k * rng.standard_normal((400_000, d))
    Y[:, 0] += rho
    v = Y[:, 0] * np.minimum(1.0, c / np.linalg.norm(Y, axis=1))
    assert abs(val - v.mean()) < 4.5 * v.std() / math.sqrt(len(v))


def test_perturbed_drift_1d_and_dd_fixed_points():
    for k in (0.5, 8.0):
        x, res = PerturbedDrift(EX1, 1.0, k).fixed_point()
        assert abs(x[0] - stationary_points(EX1, 1.0, k).points[0]) < 1e-10 and res < 1e-12
    p = skewed_quadratic(n=300, d=6, seed=1)
    xi = p.x_star - p.X
    lead = np.mean(np.sum(xi**2, axis=1)[:, None] * xi, axis=0) / (2 * (6 + 2))
    rel = []
    for k in (4.0, 16.0):
        x, res = PerturbedDrift(p, 1.0, k).fixed_point()
        rel.append(np.linalg.norm((x - p.x_star) - lead / k**2) / np.linalg.norm(lead / k**2))
    assert rel[1] < rel[0] / 8  # the relative error of the 1/k^2 term is O(k^-2)
    assert rel[1] < 0.02


def test_perturbed_drift_zero_is_where_simulation_stalls_dd():
    """d = 6, k = 2: the simulated stationary mean (quadratic: O(lr) shift negligible at
    lr 0.05) is within chi^2 error of the exact d-D zero."""
    p = skewed_quadratic(n=300, d=6, seed=1)
    x2, _ = PerturbedDrift(p, 1.0, 2.0).fixed_point()
    est = simulate_stationary_mean(p, ClippedSGD(lr=0.05, c=1.0, k=2.0), 3000, 20000, 200, seed=60)
    chi2 = float(np.sum(((est.mean - x2) / est.se) ** 2))
    assert chi2 < 27.9  # chi^2_6 quantile 0.9999
    assert np.linalg.norm(x2 - p.x_star) > 8 * est.noise_floor  # power: x* itself is rejected


# ============================================================================ the price
def test_mean_field_steps_exact_without_clipping():
    # c huge, k = 0: x_t - x* = (1 - lr)^t (x0 - x*), so t = ceil(log(target/|x0 - x*|)/log(1 - lr))
    p = problems.quadratic([-1.0, 3.0])  # x* = 1
    t = mean_field_steps_to_target(p, 1e9, [0.0], 0.1, -3.0, 0.01)
    assert t[0] == math.ceil(math.log(0.01 / 4.0) / math.log(0.9))


def test_mean_field_steps_match_the_ode_and_grow_with_k():
    ks = np.array([0.0, 4.0, 16.0, 64.0])
    t = mean_field_steps_to_target(EX1, 1.0, ks, 0.01, 0.0, 0.1)
    assert np.isinf(t[0]) and np.isinf(t[1])  # |x_k - x*| > 0.1 for k <= 4
    assert t[2] < t[3] < np.inf
    T = PerturbedDrift(EX1, 1.0, 64.0).time_to_target([0.0], [1.0], 0.1)
    assert abs(T / 0.01 - t[3]) < 0.01 * t[3]  # the ODE time / lr approximates the step count


def test_settle_step_ignores_paths_that_pass_by():
    steps = np.array([0, 10, 20, 30])
    assert _settle_step(steps, [2.0, 0.05, 0.5, 0.5], 0.1) == math.inf
    assert _settle_step(steps, [2.0, 0.5, 0.05, 0.01], 0.1) == 20


# ============================================================================ privacy
def test_quantile_effective_multiplier_is_a_gaussian_composition():
    """q = 1: releasing the clipped sum (multiplier z_g) and the centred count (sensitivity
    1/2, std sigma_b) is two Gaussian mechanisms; their composition (dp_accounting, PLD)
    has the epsilon of one Gaussian with z_eff = (z_g^-2 + (2 sigma_b)^-2)^-1/2."""
    import dp_accounting
    from dp_accounting.pld import PLDAccountant

    zg, sb = quantile_noise_split(1.3, 0.2)
    alg = QuantileClipDPSGD(lr=0.1, c=1.0, noise_multiplier=zg, count_noise_multiplier=sb, sample_rate=1.0)
    assert alg.effective_noise_multiplier == pytest.approx(1.3, rel=1e-12)

    def eps(event):
        acc = PLDAccountant()
        acc.compose(event)
        return acc.get_epsilon(1e-5)

    two = dp_accounting.ComposedDpEvent([dp_accounting.GaussianDpEvent(zg), dp_accounting.GaussianDpEvent(2 * sb)])
    assert eps(two) == pytest.approx(eps(dp_accounting.GaussianDpEvent(1.3)), rel=2e-3)


def test_every_method_is_accounted_or_labelled_non_private():
    from clipsgd.privacy import epsilon

    replicate_ex1 = problems.quadratic(np.repeat([-3.0, -3.0, 9.0], 100))
    z, q, T = 1.5, 0.05, 200
    methods = rival_methods(1.0, 0.05, q, z, ks=(4.0,))
    ref = epsilon(z, q, T, 1e-5)
    for m in methods:
        r = run(replicate_ex1, m.algorithm, steps=T, runs=2, seed=0, record_loss=False, delta=1e-5)
        if isinstance(m.algorithm, DiceSGD):
            assert not m.private and not m.algorithm.private and r.privacy is None
            assert "non-private" in m.note.lower()
        else:
            assert m.private and r.privacy is not None
            assert r.privacy.epsilon == pytest.approx(ref, rel=1e-6)  # one budget for all
    kinds = {type(m.algorithm) for m in methods}
    assert kinds == {DPSGD, AutoClipSGD, QuantileClipDPSGD, DiceSGD}
    # the DiceSGD docstring says so too
    assert "not accounted" in DiceSGD.__doc__ and "non-private" in DiceSGD.__doc__
    # a quantile method without count noise is not private (its threshold leaks the exact
    # count): it is accounted, and its epsilon is inf
    leaky = QuantileClipDPSGD(lr=0.1, c=1.0, noise_multiplier=1.0, sample_rate=0.1)
    assert leaky.private and leaky.effective_noise_multiplier == 0.0
    assert math.isinf(run(replicate_ex1, leaky, steps=5, seed=0, accountant="rdp").privacy.epsilon)


def test_rivals_at_equal_privacy_table_labels():
    p = problems.quadratic(np.repeat([-3.0, -3.0, 9.0], 100))
    out = rivals_at_equal_privacy(p, [1.0], epsilon=4.0, delta=1e-5, sample_rate=0.05, steps=300, lr=0.05, c=1.0,
                                  runs=4, seed=1, ks=(4.0,), target=0.5, accountant="rdp")
    for r in out["rows"]:
        if r["private"]:
            assert r["epsilon"] <= 4.0
        else:
            assert r["epsilon"] is None and r["method"].startswith("DiceSGD")
    md = _privacy_table(out)
    assert md.count("**non-private**") == 1 and "none (not accounted)" in md


def _priv_result(settles, steps=5000, target=0.1):
    """A synthetic rivals_at_equal_privacy result: one row per (method, steps_to_target)."""
    rows = [{"method": m, "private": not m.startswith("DiceSGD"), "epsilon": None if m.startswith("DiceSGD") else 0.9,
             "note": "", "bias": 0.01, "noise_floor": 0.01, "rms": 0.05, "steps_to_target": v, "last_record": steps,
             "score": None} for m, v in settles]
    return {"target": target, "steps": steps, "rows": rows}


def _cells(md, col):
    return [ln.split(" | ")[col].strip(" |") for ln in md.splitlines() if ln.startswith("| ") and "---" not in ln][1:]


def test_privacy_table_says_not_settled_when_only_the_last_step_is_within_target():
    md = _privacy_table(_priv_result([("DP-SGD (k = 0)", None), ("quantile", 1200), ("DiceSGD (C2 = 1)", 5000)]))
    assert _cells(md, 5) == ["> 5,000 (not within the target at the end)", "1,200",
                             "not settled (within the target only at the last step, 5,000)"]
    assert "| 5000 |" not in md and "never" not in md
    foot = md.split("\n\n", 1)[1]
    assert '"not settled": within the target at the last recorded step only' in foot and '"> N"' in foot
    # the footnote explains only the symbols that occur
    md2 = _privacy_table(_priv_result([("DP-SGD (k = 0)", 100), ("DiceSGD (C2 = 1)", 280)], steps=2000))
    assert _cells(md2, 5) == ["100", "280"] and "\n\n" not in md2
    # results saved before last_record existed: the run's length is the last record
    old = _priv_result([("DiceSGD (C2 = 1)", 4000)], steps=4000)
    del old["rows"][0]["last_record"]
    assert "not settled" in _privacy_table(old)


def test_dice_verdict_agrees_with_the_table():
    for v, words in [(5000, "not settled within 0.1 (below it only at the last step, 5,000)"),
                     (None, "not within 0.1 of x* at the end (5,000 steps)"), (280, "within 0.1 from step 280 on")]:
        pr = _priv_result([("DP-SGD (k = 0)", None), ("DiceSGD (C2 = 1)", v)])
        assert _dice_settle_phrase(pr, "Ex") == f"on Ex, {words}"
    assert _dice_settle_phrase(_priv_result([("DP-SGD (k = 0)", 3)]), "Ex") == ""


def test_price_table_explains_dashes_from_the_data():
    ex1 = {"price": {"k": [0.0, 8.0, 16.0, 32.0, 64.0], "steps": [math.inf, math.inf, 4348.0, 5125.0, 9465.0],
                     "lr": 0.02, "target": 0.1, "simulated": {"32.0": 5750}, "simulated_last_step": {"32.0": 9687},
                     "sim_runs": 200},
           "simulated": [{"k": 0.0, "lr": 0.02, "steps_to_target": math.inf, "last_record": 4751, "runs": 200,
                          "burn": 751, "tail": 4000},
                         {"k": 8.0, "lr": 0.02, "steps_to_target": 31614, "last_record": 31614, "runs": 200,
                          "burn": 6323, "tail": 25291},
                         {"k": 16.0, "lr": 0.04, "steps_to_target": 100, "runs": 200, "burn": 1, "tail": 1}]}
    md = _price_table(ex1)
    assert _cells(md, 2) == ["> 4,751 (not within the target at the end)",
                             "not settled (within the target only at the last step, 31,614)", "-", "5,750", "-"]
    foot = md.split("\n\n", 1)[1]
    # the simulated ks are read off the results (k = 16 ran at another lr: not in the column)
    assert '"-": not simulated at lr 0.02 (runs exist only for k = 0, 8, 32;' in foot
    assert '"never" (mean field)' in foot and '"not settled"' in foot and '"> N"' in foot
    # everything simulated: no "-" and no note about it
    ex1["price"].update(k=[32.0], steps=[5125.0])
    md = _price_table(ex1)
    assert "-" not in _cells(md, 2) and "not simulated" not in md and "never" not in md


def test_bad_input():
    with pytest.raises(ValueError, match="k"):
        perturbation_bound(EX1, 1.0, 0.0)
    with pytest.raises(ValueError, match="c"):
        perturbation_bound(EX1, -1.0, 1.0)
    with pytest.raises(ValueError, match="count_share"):
        quantile_noise_split(1.0, 1.0)
    with pytest.raises(ValueError, match="ks"):
        mean_field_steps_to_target(EX1, 1.0, [-1.0], 0.1, 0.0, 0.1)
    with pytest.raises(ValueError, match="d"):
        radial_perturbed_clip(1.0, 1.0, 1.0, 0)


# ============================================================================ the section
def test_section_smoke(tmp_path, monkeypatch):
    """The reproduce section end to end at toy sizes: tables, labels and figures exist."""
    import clipsgd.bias_study as bs
    from clipsgd.reproduce import Context

    full = bs._config(True)

    def tiny(quick):
        cfg = {k: dict(v) for k, v in full.items()}
        cfg["ex1"].update(ks_exact=2.0 ** np.arange(-1.0, 6.0), sim_ks=(0.0, 8.0), sim_runs=20, min_tail=500,
                          tail_tau=2, burn_tau=2, price_ks=(0.0, 32.0), price_sim_ks=(32.0,), price_sim_runs=10,
                          rival_runs=10, rival_steps=500)
        cfg["ex1"]["privacy"] = dict(full["ex1"]["privacy"], steps=300, runs=3)
        cfg["quad"].update(n=100, d=3, ks_exact=(2.0, 4.0), sim_ks=(0.0, 2.0), sim_runs=6, min_tail=500, tail_tau=2)
        cfg["quad"]["privacy"] = dict(full["quad"]["privacy"], steps=300, runs=3)
        cfg["logistic"].update(ks_exact=(1.0, 2.0, 4.0), sim_runs=4, sim_steps_tau=0.05)
        cfg["logistic"]["privacy"] = dict(full["logistic"]["privacy"], steps=300, runs=3)
        return cfg

    monkeypatch.setattr(bs, "_config", tiny)
    out = bs.section(Context(out=str(tmp_path), quick=True, verbose=False))
    md = out["markdown"]
    assert md.count("**non-private**") == 3 and "Theorem B" in md and "Richardson" in md
    # the DiceSGD verdict is read off the equal-privacy tables, problem by problem
    assert "at equal noise (tables above) its mean iterate is on Example 1 x 1000, " in md
    assert "| 0 | never | " in md and "| 32 |" in md  # the price table, with its simulated k
    assert all((tmp_path / f).exists() for f in ("bias_vs_k.png", "price_vs_k.png", "rivals_equal_privacy.png",
                                                  "example1_rival_drifts.png"))
    r = out["results"]["example1"]
    assert r["plain_clipping_limit"] == -2.5 and r["exact"]["slope_k_ge_16"] == pytest.approx(-2, abs=0.05)
