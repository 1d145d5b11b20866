"""Privacy accounting: pinned values, closed forms, independent oracles, properties, CLI.

Where each expected number comes from:

* values that ``dp_accounting`` 0.6's own tests assert (file and test named at each use);
* closed forms: the Gaussian mechanism's RDP :math:`T\\alpha s^2/(2z^2)` and its exact
  privacy profile (Balle & Wang 2018, arXiv:1805.06530), checked in turn against
  numerical integration of the hockey-stick divergence (scipy.integrate.quad);
* hand counts (shuffle participation), checked against a brute-force simulation of the
  engine's stream of permutations.

The PLD accountant takes about a second per run, so it is used on few examples; the
monotonicity properties run on the RDP accountant (hypothesis) with a PLD spot check.
"""

import contextlib
import dataclasses
import doctest
import io
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import norm

from clipsgd import privacy
from clipsgd.privacy import (
    SCOPE_STATEMENT,
    Accountant,
    Neighbouring,
    PrivacyEvent,
    PrivacyReport,
    Sampling,
    averaged_noise_std,
    calibrate_noise_multiplier,
    delta_for,
    epsilon,
    event_for,
    gaussian_mechanism_delta,
    gaussian_mechanism_epsilon,
    privacy_report,
    rdp_curve,
    shuffle_participation,
)

FAST_ORDERS = tuple(float(a) for a in range(2, 33))  # any order grid gives a valid bound


# ------------------------------------------------------------ values pinned by dp_accounting

def test_rdp_curve_pinned_by_dp_accounting():
    # dp_accounting/rdp/rdp_privacy_accountant_test.py::test_compute_rdp_poisson_sampled_gaussian
    # (v0.6): RdpAccountant(orders), SelfComposedDpEvent(PoissonSampledDpEvent(0.01,
    # GaussianDpEvent(2.5)), 50); exactly 50 steps (no rounding), rtol 1e-4 as there.
    orders = [1.5, 2.5, 5, 50, 100, np.inf]
    expected = [6.70579741e-04, 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02, np.inf]
    got = rdp_curve(2.5, 0.01, 50, orders=orders)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_pld_gaussian_pinned_by_dp_accounting():
    # dp_accounting/pld/pld_privacy_accountant_test.py::test_gaussian_basic: the Gaussian
    # with noise multiplier sqrt(3) composed 1 + 2 = 3 times is (1, 0.126936)-DP, tolerance
    # 1e-3 there; it is mu = sqrt(3)/sqrt(3) = 1, so the closed form gives it to 1e-6.
    z = math.sqrt(3.0)
    assert delta_for(z, 1.0, 3, 1.0, "pld") == pytest.approx(0.126936, abs=1e-6)
    assert epsilon(z, 1.0, 3, 0.126936, "pld") == pytest.approx(1.0, abs=1e-5)


def test_pld_poisson_subsampled_gaussian_pinned_by_dp_accounting():
    # dp_accounting/pld/pld_privacy_accountant_test.py::test_self_composed_subsampled_gaussian:
    # SelfComposedDpEvent(PoissonSampledDpEvent(0.2, GaussianDpEvent(0.5)), 3), PLD with the
    # default discretisation 1e-4, add/remove: delta(1) = 0.15594 and epsilon(0.15594) = 1,
    # both to 1e-3 as there.
    assert delta_for(0.5, 0.2, 3, 1.0, "pld") == pytest.approx(0.15594, abs=1e-3)
    assert epsilon(0.5, 0.2, 3, 0.15594, "pld") == pytest.approx(1.0, abs=1e-3)


def test_rdp_conversion_pinned_by_dp_accounting():
    # dp_accounting/rdp/rdp_privacy_accountant_test.py::test_compute_epsilon_delta_gaussian:
    # with orders 1.000, 1.001, ..., 99.999, the Gaussian (q = 1) with noise multiplier
    # 4.530877117 is exactly (1, 1e-6)-DP by the RDP conversion (7 decimals there). One step.
    # (Order 1.000 is dropped here: clipsgd accepts orders > 1 only; it is never optimal.)
    orders = [0.001 * i for i in range(1001, 100000)]
    assert epsilon(4.530877117, 1.0, 1, 1e-6, "rdp", orders=orders) == pytest.approx(1.0, abs=1e-7)
    assert delta_for(4.530877117, 1.0, 1, 1.0, "rdp", orders=orders) == pytest.approx(1e-6, rel=1e-6)


# ------------------------------------------------------------------------------ closed forms

@pytest.mark.parametrize("z, steps", [(0.7, 1), (2.0, 10), (5.0, 1000)])
def test_rdp_without_subsampling_is_the_gaussian_closed_form(z, steps):
    # RDP of the Gaussian mechanism with sensitivity s: alpha s^2 / (2 z^2) per step (Mironov
    # 2017, Prop. 7); s = 1 (add/remove, zero-out), s = 2 (replace-one: the sum changes by
    # clip(g) - clip(g') of norm <= 2c).
    orders = np.array([1.5, 2.0, 3.0, 10.0, 64.0])
    np.testing.assert_allclose(rdp_curve(z, 1.0, steps, orders), steps * orders / (2 * z**2), rtol=1e-12)
    np.testing.assert_allclose(rdp_curve(z, 1.0, steps, orders, neighbouring="zero_out"),
                               steps * orders / (2 * z**2), rtol=1e-12)
    np.testing.assert_allclose(rdp_curve(z, 1.0, steps, orders, neighbouring="replace_one"),
                               steps * orders * 4 / (2 * z**2), rtol=1e-12)


@pytest.mark.parametrize("mu, eps", [(0.5, 0.0), (1.0, 1.0), (2.0, 0.5), (3.0, 4.0), (0.3, 0.05)])
def test_gaussian_profile_matches_numerical_integration(mu, eps):
    # Independent oracle: delta(eps) = int max(0, p(x) - e^eps q(x)) dx with p = N(mu, 1),
    # q = N(0, 1); the integrand is positive exactly for x > eps/mu + mu/2.
    x0 = eps / mu + mu / 2
    oracle, _ = integrate.quad(lambda x: norm.pdf(x, mu) - math.exp(eps) * norm.pdf(x), x0, np.inf,
                               epsabs=1e-14, epsrel=1e-12)
    assert gaussian_mechanism_delta(mu, eps) == pytest.approx(oracle, rel=1e-8, abs=1e-14)
    if oracle > 1e-12:
        assert gaussian_mechanism_epsilon(mu, oracle) == pytest.approx(eps, abs=1e-7)


@pytest.mark.parametrize("z, steps, delta", [(1.0, 1, 1e-5), (2.0, 10, 1e-5), (5.0, 3, 1e-3)])
@pytest.mark.parametrize("neighbouring, s", [("add_remove", 1.0), ("replace_one", 2.0)])
def test_pld_matches_exact_gaussian_at_q1(z, steps, delta, neighbouring, s):
    # q = 1: T Gaussian releases = one Gaussian with mu = s sqrt(T) / z, exact profile
    # (Balle & Wang 2018, Thm. 8). dp_accounting's own PLD accountant, run directly on the
    # event, agrees with the closed form to 1e-6; clipsgd's PLD path evaluates the closed
    # form; RDP is an upper bound above it.
    import dp_accounting as dpa
    from dp_accounting.pld import PLDAccountant

    rel = {"add_remove": dpa.NeighboringRelation.ADD_OR_REMOVE_ONE,
           "replace_one": dpa.NeighboringRelation.REPLACE_ONE}[neighbouring]
    library = PLDAccountant(rel).compose(dpa.GaussianDpEvent(z), steps).get_epsilon(delta)
    exact = gaussian_mechanism_epsilon(s * math.sqrt(steps) / z, delta)
    assert library == pytest.approx(exact, abs=1e-6)
    assert epsilon(z, 1.0, steps, delta, "pld", neighbouring) == pytest.approx(exact, abs=1e-9)
    assert epsilon(z, 1.0, steps, delta, "rdp", neighbouring) > exact


@pytest.mark.parametrize("z, q, steps", [(1.0, 0.01, 1000), (2.0, 0.05, 100)])
def test_rdp_is_looser_than_pld(z, q, steps):
    # Both are upper bounds; RDP loses in the conversion (typically 10-30 % in epsilon).
    e_pld = epsilon(z, q, steps, 1e-5, "pld")
    e_rdp = epsilon(z, q, steps, 1e-5, "rdp")
    assert e_pld < e_rdp < 1.5 * e_pld


def test_pld_replace_one_is_add_remove_with_double_shift_at_q1():
    # dp_accounting's PLD and RDP accountants disagree on GaussianDpEvent under REPLACE_ONE
    # (PLD: shift 2, RDP: alpha/(2 z^2)). clipsgd normalises; both accountants must say that
    # replace-one at z equals add/remove at z/2 when nothing is subsampled.
    for acc in ("pld", "rdp"):
        assert epsilon(2.0, 1.0, 5, 1e-5, acc, "replace_one") == pytest.approx(
            epsilon(1.0, 1.0, 5, 1e-5, acc, "add_remove"), rel=1e-12)


def test_zero_out_equals_add_remove_for_poisson():
    # dp_accounting: REPLACE_SPECIAL and ADD_OR_REMOVE_ONE give the same PLD and RDP for
    # the Poisson-subsampled Gaussian.
    for acc in ("pld", "rdp"):
        assert epsilon(2.0, 0.05, 100, 1e-5, acc, "zero_out") == pytest.approx(
            epsilon(2.0, 0.05, 100, 1e-5, acc, "add_remove"), rel=1e-12)


def test_poisson_replace_one_needs_pld():
    with pytest.raises(ValueError, match="pld"):
        epsilon(2.0, 0.1, 10, 1e-5, "rdp", "replace_one")
    e_pld = epsilon(2.0, 0.1, 10, 1e-5, "pld", "replace_one")
    assert e_pld > epsilon(2.0, 0.1, 10, 1e-5, "pld", "add_remove")
    rep = privacy_report(2.0, 0.1, 10, 1e-5, accountant="rdp", neighbouring="replace_one")
    assert rep.accountant is Accountant.PLD and rep.epsilon == e_pld
    assert any("replace-one" in w for w in rep.warnings)


# ------------------------------------------------------------------ edge cases of the model

@pytest.mark.parametrize("q, z", [(0.3, 2.0), (0.05, 1.5), (1.0, 2.0)])
def test_empty_poisson_batch_adds_noise_and_is_counted(q, z):
    # One step at epsilon = 0: delta is the total variation between (1-q) N(0, z^2) +
    # q N(1, z^2) and N(0, z^2) (in units of c), i.e. q (2 Phi(1/(2z)) - 1). The "record not
    # sampled" branch is pure noise: the empty batch still releases N(0, z^2 c^2). Had empty
    # batches been skipped, "a step happened" would separate the empty dataset from a
    # one-record dataset with probability q, so delta(0) >= q; the accountant's value (noise
    # on every step) is strictly below q.
    tv = q * (2 * norm.cdf(1 / (2 * z)) - 1)
    assert delta_for(z, q, 1, 0.0, "pld") == pytest.approx(tv, rel=1e-6)
    assert delta_for(z, q, 1, 0.0, "rdp") >= tv  # an upper bound
    assert tv < q
    # and the step is counted: one more step (whatever its batch) costs privacy
    assert epsilon(z, q, 2, 1e-3, "rdp", orders=FAST_ORDERS) > epsilon(z, q, 1, 1e-3, "rdp", orders=FAST_ORDERS)


@pytest.mark.parametrize("accountant", ["pld", "rdp"])
def test_no_noise_is_infinite_epsilon(accountant):
    # z = 0: delta(eps) = P[record sampled at least once] = 1 - (1 - q)^T for every eps.
    q, t = 0.01, 100
    failure = 1 - (1 - q) ** t
    assert epsilon(0.0, q, t, 1e-5, accountant) == math.inf
    assert epsilon(0.0, 1.0, 1, 0.5, accountant) == math.inf
    assert delta_for(0.0, q, t, 10.0, accountant) == pytest.approx(failure, rel=1e-12)
    # a delta at least the catastrophic probability is (honestly) met with epsilon 0
    assert epsilon(0.0, 1e-3, 1, 0.01, accountant) == 0.0
    assert calibrate_noise_multiplier(1.0, 0.01, 1e-3, 1, accountant) == 0.0
    assert np.all(np.isinf(rdp_curve(0.0, q, t, FAST_ORDERS)))
    rep = privacy_report(0.0, q, t, 1e-5, accountant=accountant)
    assert rep.epsilon == math.inf and any("no privacy" in w for w in rep.warnings)
    assert json.loads(json.dumps(rep.to_dict()))["epsilon"] == "inf"


@pytest.mark.parametrize("accountant", ["pld", "rdp"])
def test_zero_steps_spend_nothing(accountant):
    assert epsilon(1.0, 0.5, 0, 1e-5, accountant) == 0.0
    assert delta_for(1.0, 0.5, 0, 0.0, accountant) == 0.0
    assert calibrate_noise_multiplier(1.0, 1e-5, 0.5, 0, accountant) == 0.0
    np.testing.assert_array_equal(rdp_curve(1.0, 0.5, 0, FAST_ORDERS), 0.0)


def test_full_batch_works_for_every_combination():
    for acc in ("pld", "rdp"):
        for nb in ("add_remove", "replace_one", "zero_out"):
            e = epsilon(3.0, 1.0, 20, 1e-5, acc, nb)
            assert 0.0 < e < math.inf
            assert calibrate_noise_multiplier(e, 1e-5, 1.0, 20, acc, nb) <= 3.0 * 1.01


# ------------------------------------------------------------------------------ properties

zs = st.floats(0.5, 5.0)
qs = st.floats(1e-3, 1.0)
ts = st.integers(1, 1000)
deltas = st.sampled_from([1e-6, 1e-5, 1e-3])


def _rdp_eps(z, q, t, d):
    return epsilon(z, q, t, d, "rdp", orders=FAST_ORDERS)


@settings(max_examples=8)
@given(z=zs, q=qs, t=ts, d=deltas, ratio=st.floats(1.1, 3.0))
def test_epsilon_decreases_in_noise_multiplier(z, q, t, d, ratio):
    assert _rdp_eps(z * ratio, q, t, d) < _rdp_eps(z, q, t, d)


@settings(max_examples=8)
@given(z=zs, q=st.floats(1e-3, 0.5), t=ts, d=deltas, ratio=st.floats(1.1, 2.0))
def test_epsilon_increases_in_sample_rate(z, q, t, d, ratio):
    assert _rdp_eps(z, q * ratio, t, d) > _rdp_eps(z, q, t, d)


@settings(max_examples=8)
@given(z=zs, q=qs, t=ts, d=deltas, extra=st.integers(1, 1000))
def test_epsilon_increases_in_steps(z, q, t, d, extra):
    assert _rdp_eps(z, q, t + extra, d) > _rdp_eps(z, q, t, d)


def test_pld_monotone_spot_check():
    base = epsilon(2.0, 0.02, 200, 1e-5)
    assert epsilon(2.4, 0.02, 200, 1e-5) < base
    assert epsilon(2.0, 0.03, 200, 1e-5) > base
    assert epsilon(2.0, 0.02, 300, 1e-5) > base


@settings(max_examples=5)
@given(target=st.floats(0.3, 10.0), q=st.floats(1e-3, 1.0), t=st.integers(1, 2000), d=deltas)
def test_calibration_meets_target_within_one_percent_rdp(target, q, t, d):
    kw = dict(accountant="rdp", orders=FAST_ORDERS)
    z = calibrate_noise_multiplier(target, d, q, t, **kw)
    assert epsilon(z, q, t, d, **kw) <= target  # never overshoots
    assert epsilon(z / 1.01, q, t, d, **kw) > target  # so z < 1.01 z_min


@pytest.mark.parametrize("target, q, t", [(2.0, 0.05, 100), (1.0, 1.0, 1)])
def test_calibration_meets_target_within_one_percent_pld(target, q, t):
    z = calibrate_noise_multiplier(target, 1e-5, q, t)
    assert epsilon(z, q, t, 1e-5) <= target
    assert epsilon(z / 1.01, q, t, 1e-5) > target


def test_calibration_at_q1_is_the_closed_form():
    # q = 1, one step, target (1, 0.126936): mu = 1, i.e. z = 1 (Balle & Wang closed form).
    z = calibrate_noise_multiplier(1.0, gaussian_mechanism_delta(1.0, 1.0), 1.0, 1, rtol=1e-4)
    assert 1.0 <= z <= 1.0001 + 1e-12


# ------------------------------------------------------------------------- bad input, enums

@pytest.mark.parametrize("kwargs, name", [
    (dict(sample_rate=0.0), "sample_rate"),
    (dict(sample_rate=1.5), "sample_rate"),
    (dict(sample_rate=-0.1), "sample_rate"),
    (dict(sample_rate=float("nan")), "sample_rate"),
    (dict(delta=0.0), "delta"),
    (dict(delta=1.0), "delta"),
    (dict(delta=-1e-5), "delta"),
    (dict(noise_multiplier=-1.0), "noise_multiplier"),
    (dict(noise_multiplier=float("inf")), "noise_multiplier"),
    (dict(steps=-1), "steps"),
    (dict(accountant="moments"), "accountant"),
    (dict(neighbouring="swap"), "neighbouring"),
    (dict(orders=[1.0, 2.0]), "orders"),
    (dict(pld_discretization=0.0), "pld_discretization"),
])
def test_bad_input_raises_naming_the_parameter(kwargs, name):
    args = dict(noise_multiplier=1.0, sample_rate=0.1, steps=10, delta=1e-5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        epsilon(**args)


def test_bad_input_other_entry_points():
    with pytest.raises(TypeError, match="steps"):
        epsilon(1.0, 0.1, 2.5, 1e-5)
    with pytest.raises(ValueError, match="epsilon"):
        delta_for(1.0, 0.1, 10, -1.0)
    with pytest.raises(ValueError, match="target_epsilon"):
        calibrate_noise_multiplier(0.0, 1e-5, 0.1, 10)
    with pytest.raises(ValueError, match="rtol"):
        calibrate_noise_multiplier(1.0, 1e-5, 0.1, 10, rtol=0.0)
    with pytest.raises(ValueError, match="sample_rate"):
        calibrate_noise_multiplier(1.0, 1e-5, 2.0, 10)
    with pytest.raises(ValueError, match="sampling"):
        privacy_report(1.0, 0.1, 10, 1e-5, sampling="stratified")
    with pytest.raises(ValueError, match="sample_rate"):
        privacy_report(1.0, None, 10, 1e-5)  # poisson needs q
    with pytest.raises(ValueError, match="batch_size and n"):
        privacy_report(1.0, None, 10, 1e-5, sampling="shuffle")
    with pytest.raises(ValueError, match="n "):
        privacy_report(1.0, 0.1, 10, 1e-5, sampling="replacement")
    with pytest.raises(ValueError, match="batch_size"):
        privacy_report(1.0, None, 10, 1e-5, sampling="shuffle", batch_size=20, n=10)
    with pytest.raises(ValueError, match="sample_rate"):
        privacy_report(1.0, 0.5, 10, 1e-5, sampling="shuffle", batch_size=2, n=10)
    with pytest.raises(ValueError, match="delta"):
        privacy_report(1.0, 0.1, 10, 0.0)
    with pytest.raises(ValueError, match="rdp_screen"):
        privacy_report(1.0, 0.1, 10, 1e-5, rdp_screen=-1.0)


def test_enums_accept_strings_and_members():
    a = epsilon(1.0, 0.1, 10, 1e-5, Accountant.RDP, Neighbouring.ZERO_OUT)
    b = epsilon(1.0, 0.1, 10, 1e-5, "RDP", "zero-out")
    assert a == b
    rep = privacy_report(1.0, 0.1, 10, 1e-5, sampling=Sampling.POISSON, accountant="rdp")
    assert rep.sampling is Sampling.POISSON and rep.accountant is Accountant.RDP
    assert rep.neighbouring is Neighbouring.ADD_REMOVE


# --------------------------------------------------------------- events and reports

def test_poisson_event_is_the_self_composed_subsampled_gaussian():
    import dp_accounting as dpa

    ev = event_for(1.1, 0.01, 1000)
    assert ev.dp_event == dpa.SelfComposedDpEvent(
        dpa.PoissonSampledDpEvent(0.01, dpa.GaussianDpEvent(1.1)), 1000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.steps = 5
    # the event, counted by dp_accounting directly, gives what clipsgd reports
    from dp_accounting.rdp import RdpAccountant

    direct = RdpAccountant().compose(ev.dp_event).get_epsilon(1e-5)
    assert ev.report(1e-5, "rdp").epsilon == pytest.approx(direct, rel=1e-12)
    assert privacy_report(1.1, 0.01, 1000, 1e-5, accountant="rdp") == ev.report(1e-5, "rdp")


def test_privacy_event_validates_on_construction():
    assert PrivacyEvent(1, 0.5, 3, "shuffle").sampling is Sampling.SHUFFLE
    assert PrivacyEvent(1, 0.5, 3).noise_multiplier == 1.0
    with pytest.raises(ValueError, match="noise_multiplier"):
        PrivacyEvent(-1.0, 0.1, 10)
    with pytest.raises(ValueError, match="sample_rate"):
        PrivacyEvent(1.0, 0.0, 10)
    with pytest.raises(ValueError, match="steps"):
        PrivacyEvent(1.0, 0.1, -2)
    with pytest.raises(ValueError, match="batch_size and n"):
        PrivacyEvent(1.0, 0.1, 10, "replacement")
    with pytest.raises(ValueError, match="batch_size"):
        PrivacyEvent(1.0, 1.0, 10, "shuffle", batch_size=11, n=10)


def test_other_schemes_describe_themselves_honestly():
    import dp_accounting as dpa

    rep_ev = event_for(1.0, None, 10, "replacement", batch_size=5, n=50)
    assert rep_ev.dp_event == dpa.SelfComposedDpEvent(
        dpa.SampledWithReplacementDpEvent(50, 5, dpa.GaussianDpEvent(1.0)), 10)
    assert rep_ev.sample_rate == 0.1
    # no dp_accounting event exists for a stream of shuffled batches
    assert isinstance(event_for(1.0, 0.1, 10, "shuffle").dp_event, dpa.UnsupportedDpEvent)


def test_report_summary_states_scope_and_serialises():
    rep = privacy_report(1.1, 0.01, 1000, 1e-5, accountant="rdp")
    assert isinstance(rep, PrivacyReport)
    text = str(rep)
    assert text == rep.summary()
    assert SCOPE_STATEMENT in text
    assert "not hardened against floating-point attacks (e.g. Mironov 2012)" in text
    assert "rdp accountant" in text and "poisson sampling" in text
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["epsilon"] == rep.epsilon and d["accountant"] == "rdp" and d["sampling"] == "poisson"
    assert d["warnings"] == [] and d["scope"] == SCOPE_STATEMENT
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.epsilon = 0.0


def test_report_screens_out_pld_when_there_is_no_privacy():
    # z = 0.5, q = 0.5, 1000 steps: RDP epsilon ~ 2000. PLD would take ~10 s for a number
    # that is meaningless; the report gives the RDP upper bound and says so.
    rep = privacy_report(0.5, 0.5, 1000, 1e-5)
    assert rep.accountant is Accountant.RDP
    assert rep.epsilon == pytest.approx(epsilon(0.5, 0.5, 1000, 1e-5, "rdp"), rel=1e-12)
    assert any("PLD" in w for w in rep.warnings)
    assert privacy_report(1.1, 0.01, 1000, 1e-5).accountant is Accountant.PLD


# ------------------------------------------------------------------------- shuffle sampling

def _simulated_worst_weight(steps, batch_size, n, trials, rng):
    """Brute force over the engine's stream of permutations: max over records of
    sum over steps of (occurrences of the record in the batch)^2."""
    worst = 0
    passes = -(-steps * batch_size // n) + 1
    for _ in range(trials):
        stream = np.concatenate([rng.permutation(n) for _ in range(passes)])[: steps * batch_size]
        counts = np.zeros((steps, n), dtype=np.int64)
        for t in range(steps):
            np.add.at(counts[t], stream[t * batch_size:(t + 1) * batch_size], 1)
        worst = max(worst, int((counts**2).sum(axis=0).max()))
    return worst


@pytest.mark.parametrize("steps, batch_size, n", [(3, 2, 3), (10, 300, 1000), (25, 100, 1000),
                                                  (7, 3, 5), (12, 4, 6), (9, 5, 5)])
def test_shuffle_participation_bounds_the_simulated_stream(steps, batch_size, n):
    e, d = shuffle_participation(steps, batch_size, n)
    assert e == math.ceil(steps * batch_size / n)
    worst = _simulated_worst_weight(steps, batch_size, n, trials=60, rng=np.random.default_rng(7))
    assert worst <= e + 2 * d


def test_shuffle_participation_hand_counts_and_tightness():
    # n = 1000, B = 300, 10 steps: 3000 records read -> 3 permutations; the boundaries at
    # 1000 and 2000 both fall inside batches, but one record can use only one of them
    # (the pairs (0, 1) and (1, 2) share permutation 1) -> D = 1.
    assert shuffle_participation(10, 300, 1000) == (3, 1)
    assert shuffle_participation(25, 100, 1000) == (3, 0)  # boundaries on batch boundaries
    assert shuffle_participation(0, 2, 3) == (0, 0)
    # n = 3, B = 2, 3 steps: the stream a b c | a' b' c' puts c and a' in batch 2; with
    # probability 1/3 they are the same record, which then has weight 2^2 + ... = E + 2D = 4.
    assert _simulated_worst_weight(3, 2, 3, trials=200, rng=np.random.default_rng(0)) == 4


@pytest.mark.parametrize("accountant", ["pld", "rdp"])
def test_shuffle_report_is_the_gaussian_bound_with_warnings(accountant):
    z, d = 1.0, 1e-5
    rep = privacy_report(z, None, 25, d, sampling="shuffle", batch_size=100, n=1000,
                         accountant=accountant)
    # E = 3 passes, D = 0: one Gaussian mechanism with mu = sqrt(3) / z (zero-out relation)
    exact = gaussian_mechanism_epsilon(math.sqrt(3) / z, d)
    if accountant == "pld":
        assert rep.epsilon == pytest.approx(exact, abs=1e-9)
    else:
        assert rep.epsilon > exact
    assert rep.sampling is Sampling.SHUFFLE and rep.neighbouring is Neighbouring.ZERO_OUT
    assert rep.sample_rate == 0.1 and rep.batch_size == 100 and rep.n == 1000
    text = " ".join(rep.warnings)
    assert "not Poisson sampling" in text and "arXiv:2403.17673" in text and "zero-out" in text
    # the Poisson number at the same rate would have been far smaller: that is the trap
    assert epsilon(z, 0.1, 25, d, accountant) < rep.epsilon
    # replace-one doubles the sensitivity: mu = 2 sqrt(3) / z
    rep2 = privacy_report(z, None, 25, d, sampling="shuffle", batch_size=100, n=1000,
                          accountant=accountant, neighbouring="replace_one")
    assert rep2.neighbouring is Neighbouring.REPLACE_ONE
    exact2 = gaussian_mechanism_epsilon(2 * math.sqrt(3) / z, d)
    assert rep2.epsilon == pytest.approx(exact2, abs=1e-9) if accountant == "pld" else rep2.epsilon > exact2


def test_shuffle_report_from_sample_rate_alone_is_conservative():
    # Only q = B/n known: E = ceil(T q) = 3 and every boundary may straddle (D = 1).
    rep = privacy_report(1.0, 0.1, 25, 1e-5, sampling="shuffle")
    assert rep.epsilon == pytest.approx(gaussian_mechanism_epsilon(math.sqrt(3 + 2), 1e-5), abs=1e-9)


# ---------------------------------------------------------------------- replacement sampling

def test_replacement_bound_closed_forms():
    orders = np.array([1.5, 2.0, 5.0, 20.0])
    # n = 1, B = 1: the record is drawn every step: the plain Gaussian, T alpha / (2 z^2)
    np.testing.assert_allclose(privacy._replacement_rdp(1.3, 1, 1, 7, orders),
                               7 * orders / (2 * 1.3**2), rtol=1e-12)
    # B = 1, n: k ~ Bernoulli(1/n); by joint convexity the revealed-count bound is above the
    # Poisson-subsampled Gaussian with q = 1/n (which hides k), and equals the formula
    # log(1 - p + p e^{(a-1) a / (2 z^2)}) / (a - 1) per step.
    n, z, t = 50, 1.0, 10
    p = 1.0 / n
    formula = t * np.log(1 - p + p * np.exp((orders - 1) * orders / (2 * z**2))) / (orders - 1)
    got = privacy._replacement_rdp(z, n, 1, t, orders)
    np.testing.assert_allclose(got, formula, rtol=1e-10)
    assert np.all(got >= rdp_curve(z, p, t, orders))


def test_replacement_report_is_rdp_with_warnings():
    rep = privacy_report(1.0, None, 100, 1e-5, sampling="replacement", batch_size=10, n=1000)
    assert rep.accountant is Accountant.RDP and rep.neighbouring is Neighbouring.ZERO_OUT
    assert 0 < rep.epsilon < math.inf
    text = " ".join(rep.warnings)
    assert "Binomial" in text and "pld" in text and "zero-out" in text
    # looser than the Poisson number at the same rate (no amplification beyond P[k = 0])
    assert rep.epsilon > epsilon(1.0, 0.01, 100, 1e-5, "rdp")
    # replace-one doubles the per-occurrence sensitivity
    rep2 = privacy_report(1.0, None, 100, 1e-5, sampling="replacement", batch_size=10, n=1000,
                          neighbouring="replace_one", accountant="rdp")
    assert rep2.epsilon > rep.epsilon


# ------------------------------------------------------------------ noise on sum vs on mean

def test_noise_on_the_mean_is_z_c_over_expected_batch():
    assert averaged_noise_std(1.1, 0.5, 600) == pytest.approx(1.1 * 0.5 / 600, rel=1e-15)
    with pytest.raises(ValueError, match="expected_batch_size"):
        averaged_noise_std(1.0, 1.0, 0)
    from clipsgd.algorithms import DPSGD

    alg = DPSGD(lr=0.1, c=0.5, noise_multiplier=1.1, sample_rate=0.01)
    assert alg.noise_std(60000) == pytest.approx(averaged_noise_std(1.1, 0.5, 0.01 * 60000), rel=1e-15)


# ---------------------------------------------------------------------------------- CLI

def _cli(argv):
    from clipsgd.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_cli_epsilon_prints_the_library_value():
    args = ["epsilon", "--noise-multiplier", "1.1", "--sample-rate", "0.01", "--steps", "1000",
            "--delta", "1e-5", "--accountant", "rdp"]
    expected = epsilon(1.1, 0.01, 1000, 1e-5, "rdp")
    code, out, _ = _cli(args + ["--json"])
    assert code == 0
    d = json.loads(out)
    assert d["epsilon"] == expected and d["accountant"] == "rdp" and d["sampling"] == "poisson"
    code, out, _ = _cli(args)
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("epsilon = ") and float(first.split()[2]) == expected
    assert "Mironov 2012" in out


def test_cli_epsilon_pld_and_shuffle():
    code, out, _ = _cli(["epsilon", "-z", "2", "-q", "0.05", "-T", "100", "-d", "1e-5", "--json"])
    assert code == 0 and json.loads(out)["epsilon"] == epsilon(2.0, 0.05, 100, 1e-5)
    code, out, _ = _cli(["epsilon", "-z", "1", "--sampling", "shuffle", "-B", "100", "--n", "1000",
                         "-T", "25", "-d", "1e-5", "--json"])
    d = json.loads(out)
    assert code == 0 and d["neighbouring"] == "zero_out" and len(d["warnings"]) == 2
    assert d["epsilon"] == pytest.approx(gaussian_mechanism_epsilon(math.sqrt(3), 1e-5), abs=1e-9)


def test_cli_calibrate():
    code, out, _ = _cli(["calibrate", "--epsilon", "2", "--delta", "1e-5", "--sample-rate", "0.01",
                         "--steps", "1000", "--accountant", "rdp", "--json"])
    assert code == 0
    d = json.loads(out)
    assert d["noise_multiplier"] == calibrate_noise_multiplier(2.0, 1e-5, 0.01, 1000, "rdp")
    assert d["epsilon"] <= 2.0
    code, out, _ = _cli(["calibrate", "-e", "2", "-d", "1e-5", "-q", "0.01", "-T", "1000",
                         "--accountant", "rdp"])
    assert code == 0 and float(out.splitlines()[0].split("=")[1]) == d["noise_multiplier"]


def test_cli_calibrate_labels_a_screened_result_rdp_and_warns_once(recwarn):
    # a target of 200 is above the screen: the calibrated run's epsilon is the RDP bound,
    # and the output says so (it used to say "pld" and warn three times)
    code, out, err = _cli(["calibrate", "-e", "200", "-d", "1e-5", "-q", "0.01", "-T", "100", "--json"])
    d = json.loads(out)
    assert code == 0 and d["accountant"] == "rdp" and d["requested_accountant"] == "pld"
    assert d["epsilon"] == epsilon(d["noise_multiplier"], 0.01, 100, 1e-5, "rdp") <= 200
    assert len(d["warnings"]) == 1 and "rdp_screen" in d["warnings"][0]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    code, out, _ = _cli(["calibrate", "-e", "200", "-d", "1e-5", "-q", "0.01", "-T", "100"])
    assert "[rdp accountant" in out and out.count("warning: ") == 1


def test_cli_bad_input_names_the_parameter():
    code, out, err = _cli(["epsilon", "-z", "1", "-q", "1.5", "-T", "10", "-d", "1e-5"])
    assert code == 2 and "sample_rate" in err and out == ""
    code, _, err = _cli(["calibrate", "-e", "1", "-d", "2", "-q", "0.1", "-T", "10"])
    assert code == 2 and "delta" in err


# ----------------------------------------------------------------------------- doctests

def test_docstring_examples():
    failures, tried = doctest.testmod(privacy, optionflags=doctest.ELLIPSIS)
    assert tried > 10 and failures == 0


@pytest.mark.parametrize("call", [
    lambda: privacy.epsilon(0.03, 0.01, 100, 1e-5),
    lambda: privacy.epsilon(1e-3, 0.01, 100, 1e-5),
    lambda: privacy.epsilon(0.03, 0.01, 100, 1e-5, neighbouring="replace_one"),
    lambda: privacy.delta_for(0.03, 0.01, 100, 5.0),
    lambda: privacy.delta_for(0.03, 0.01, 100, 5.0, neighbouring="replace_one"),
    lambda: privacy.calibrate_noise_multiplier(1e6, 1e-5, 0.01, 100),
])
def test_pld_without_meaningful_privacy_returns_the_rdp_bound_with_a_warning(call):
    # there the PLD accountant needs tens of GB (z = 1e-3: a 38 GiB allocation; replace-one
    # at z = 0.03 ran out of memory); the RDP upper bound is returned, said in a
    # RuntimeWarning, in well under a second
    with pytest.warns(RuntimeWarning, match="rdp_screen = 50"):
        val = call()
    assert math.isfinite(val) and val > 0


def test_pld_screen_returns_exactly_the_reported_rdp_numbers():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        e = privacy.epsilon(0.03, 0.01, 100, 1e-5)
        dl = privacy.delta_for(0.03, 0.01, 100, 5.0)
        z = privacy.calibrate_noise_multiplier(1e3, 1e-5, 0.01, 100)
    # the screen uses the RDP accountant on its default orders: the number it returns is
    # exactly what accountant="rdp" reports (not a coarser grid's looser bound)
    assert e == privacy.epsilon(0.03, 0.01, 100, 1e-5, accountant="rdp")
    assert e > privacy.RDP_SCREEN
    assert dl == privacy.delta_for(0.03, 0.01, 100, 5.0, accountant="rdp")
    # calibration against the screened (RDP) epsilon still never overshoots the target
    assert privacy.epsilon(z, 0.01, 100, 1e-5, accountant="rdp") <= 1e3


def test_the_screen_does_not_replace_pld_below_it():
    import warnings

    # z = 0.4, q = 0.01, 1000 steps: RDP (default orders) 31.9 < 50, so PLD's 27.7 is
    # reported; a screen on integer orders only (60.5) used to return the looser RDP number
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = privacy.epsilon(0.4, 0.01, 1000, 1e-5)
    e_rdp = privacy.epsilon(0.4, 0.01, 1000, 1e-5, accountant="rdp")
    assert e_rdp < privacy.RDP_SCREEN and e < e_rdp


def test_rdp_screen_none_always_uses_pld_and_a_low_screen_always_rdp():
    args = (1.0, 0.01, 100, 1e-5)
    e_rdp = privacy.epsilon(*args, accountant="rdp")
    e_pld = privacy.epsilon(*args, rdp_screen=None)
    assert e_pld < e_rdp  # PLD is tighter here; RDP above 0.5 (checked below)
    with pytest.warns(RuntimeWarning, match="rdp_screen = 0.5"):
        assert privacy.epsilon(*args, rdp_screen=0.5) == e_rdp > 0.5
    rep = privacy_report(*args, rdp_screen=0.5)
    assert rep.accountant is Accountant.RDP and rep.epsilon == e_rdp
    assert any("rdp_screen = 0.5" in w for w in rep.warnings)
    rep = privacy_report(*args, rdp_screen=None)  # passes through: no inner screen at all
    assert rep.accountant is Accountant.PLD and rep.epsilon == e_pld and rep.warnings == ()
    with pytest.raises(ValueError, match="rdp_screen"):
        privacy.epsilon(*args, rdp_screen=0.0)


def test_replace_one_bound_is_valid_where_pld_is_affordable():
    # group privacy (weak triangle inequality of Renyi divergence): the replace-one RDP bound
    # lies above the PLD replace-one epsilon and above the zero-out one (a special case)
    for z, q, t in [(1.0, 0.01, 100), (2.0, 0.1, 50)]:
        bound = privacy._rdp_epsilon(z, q, t, 1e-5, privacy.Neighbouring.REPLACE_ONE)
        pld = privacy.epsilon(z, q, t, 1e-5, neighbouring="replace_one", rdp_screen=None)
        zero_out = privacy.epsilon(z, q, t, 1e-5, neighbouring="zero_out", rdp_screen=None)
        assert zero_out <= pld <= bound


def test_calibration_is_monotone_in_the_target_across_the_screen():
    import warnings

    q, t, d, r = 0.01, 100, 1e-5, 0.01
    zs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for target in (20.0, 45.0, 55.0, 200.0):
            z = privacy.calibrate_noise_multiplier(target, d, q, t, rtol=r)
            # never overshoots, and within rtol of the smallest z of the same epsilon()
            assert privacy.epsilon(z, q, t, d) <= target < privacy.epsilon(z / (1 + r), q, t, d)
            zs.append(z)
    assert zs == sorted(zs, reverse=True)


def test_calibration_to_a_tiny_epsilon_without_subsampling():
    # q = 1, one step: the Gaussian mechanism in closed form. The first guess used to come
    # from RDP on integer orders <= 256, which cannot reach epsilon = 0.01 (the conversion
    # term log(1/delta)/(alpha - 1) alone is 0.045 there), and PLD raised naming itself
    z = privacy.calibrate_noise_multiplier(0.01, 1e-5, 1.0, 1)
    assert privacy.gaussian_mechanism_epsilon(1.0 / z, 1e-5) <= 0.01
    assert privacy.gaussian_mechanism_epsilon(1.01 / z, 1e-5) > 0.01
    # RDP (an upper bound on the exact epsilon) needs at least as much noise
    assert privacy.calibrate_noise_multiplier(0.01, 1e-5, 1.0, 1, accountant="rdp") >= z


def test_a_negligible_noise_multiplier_is_no_noise():
    # 1/z^2 overflows dp_accounting's RDP series (it raised ZeroDivisionError); below
    # Z_NEGLIGIBLE the run is accounted as z = 0, whose numbers are valid upper bounds
    z = 1e-300
    assert privacy.epsilon(z, 0.01, 100, 1e-5) == math.inf
    assert privacy.epsilon(z, 0.01, 100, 1e-5, accountant="rdp") == math.inf
    assert privacy.delta_for(z, 0.01, 100, 1.0) == pytest.approx(1 - 0.99**100, rel=1e-12)
    assert np.all(np.isinf(privacy.rdp_curve(z, 0.01, 100, orders=[2.0, 8.0])))
    assert privacy_report(z, 0.01, 100, 1e-5).epsilon == math.inf


def test_sample_rate_one_is_the_limit_of_poisson():
    # epsilon increases in q, and q -> 1 meets the closed form at q = 1 from below
    e1 = privacy.epsilon(2.0, 1.0, 10, 1e-5)
    e_near = privacy.epsilon(2.0, 0.9999, 10, 1e-5)
    assert e_near <= e1 and e_near == pytest.approx(e1, rel=1e-3)


def test_pld_below_the_screen_is_untouched():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no screen warning in a meaningful regime
        e = privacy.epsilon(1.0, 0.01, 1000, 1e-5)
    assert e < privacy.epsilon(1.0, 0.01, 1000, 1e-5, accountant="rdp")


@pytest.mark.parametrize("accountant, neighbouring, q", [
    ("pld", "add_remove", 0.5), ("pld", "replace_one", 0.5), ("pld", "add_remove", 1.0),
    ("pld", "replace_one", 1.0), ("rdp", "add_remove", 0.5), ("rdp", "zero_out", 0.5),
    ("rdp", "add_remove", 1.0), ("rdp", "replace_one", 1.0),
])
def test_a_huge_noise_multiplier_is_accounted_at_the_cap(accountant, neighbouring, q):
    # dp_accounting squares z (overflow near 1.3e154: it raised OverflowError); epsilon and
    # delta are non-increasing in z, so the numbers at Z_HUGE bound those of any larger z
    kw = dict(accountant=accountant, neighbouring=neighbouring)
    for z in (1e155, 1e300):
        e = privacy.epsilon(z, q, 10, 1e-5, **kw)
        assert 0.0 <= e <= privacy.epsilon(privacy.Z_HUGE, q, 10, 1e-5, **kw) < 1e-6
        dl = privacy.delta_for(z, q, 10, 0.0, **kw)
        assert 0.0 <= dl <= privacy.delta_for(privacy.Z_HUGE, q, 10, 0.0, **kw) < 1e-6
    assert privacy_report(1e200, q, 10, 1e-5, **kw).epsilon < 1e-6


def test_rdp_delta_for_a_tiny_rdp_curve_is_a_finite_upper_bound():
    # q = 1e-6, z = 1e5: RDP ~ T q^2 alpha / z^2 ~ 1e-16 alpha, below which dp_accounting's
    # conversion took log1p(-1) (ValueError); RDP values are floored at 1e-15, giving the
    # KL bound delta(0) = sqrt(1 - exp(-1e-15)) = 3.16e-8, still an upper bound (evaluated as
    # dp_accounting does, exp(log1p(-exp(-r)) / 2): 1 - exp(-r) rounds to 0.9992e-15)
    dl = privacy.delta_for(1e5, 1e-6, 10**6, 0.0, accountant="rdp")
    assert dl == pytest.approx(math.exp(0.5 * math.log1p(-math.exp(-1e-15))), rel=1e-12)
    assert 3.1e-8 < dl < 3.2e-8
    assert privacy.epsilon(1e5, 1e-6, 10**6, 1e-5, accountant="rdp") == 0.0


@pytest.mark.filterwarnings("ignore:recorded loss:RuntimeWarning")  # iterates ~1e200
def test_cli_and_engine_accept_a_huge_noise_multiplier():
    import clipsgd
    from clipsgd import problems
    from clipsgd.algorithms import DPSGD

    code, out, _ = _cli(["epsilon", "--noise-multiplier", "1e200", "--sample-rate", "0.01",
                         "--steps", "1000", "--delta", "1e-5", "--json"])
    assert code == 0 and json.loads(out)["epsilon"] < 1e-6
    res = clipsgd.run(problems.example1(), DPSGD(lr=0.1, c=1.0, noise_multiplier=1e200,
                                                 sample_rate=0.5), steps=10)
    assert res.privacy.epsilon < 1e-6


def test_calibration_to_a_small_target_is_within_one_percent_of_the_fine_optimum():
    # with the fixed interval 1e-4, PLD's epsilon at target 1e-3 was inflated ~2.4x and z came
    # out 2378 (4.3x the 548 needed). The default interval now scales with the target
    # (target / 1000 = 1e-6). Reference: PLD at a 10x finer interval (1e-7): z_cal / 1.01 must
    # miss the target there (so z_cal <= 1.01 z*), and z_cal must meet it (never overshoots)
    q, t, d, target = 0.01, 1000, 1e-5, 1e-3
    z = calibrate_noise_multiplier(target, d, q, t)
    assert privacy.calibration_discretization(target) == pytest.approx(1e-6, rel=1e-12)
    assert epsilon(z, q, t, d, pld_discretization=1e-6) <= target
    assert epsilon(z, q, t, d, pld_discretization=1e-7) <= target
    assert epsilon(z / 1.01, q, t, d, pld_discretization=1e-7) > target
    with pytest.warns(RuntimeWarning, match="pld_discretization=0.0001 is coarse"):
        z_coarse = calibrate_noise_multiplier(target, d, q, t, pld_discretization=1e-4)
    assert z_coarse > 2 * z  # what the warning is about
    code, out, _ = _cli(["calibrate", "-e", "1e-3", "-d", "1e-5", "-q", "0.01", "-T", "1000",
                         "--json"])
    rep = json.loads(out)
    assert code == 0 and rep["noise_multiplier"] == z and rep["epsilon"] <= target


def test_pld_below_its_resolvable_delta_returns_the_rdp_bound_with_a_warning():
    # dp_accounting's PLD counts its truncated tails (mass ~1e-15) pessimistically: its
    # epsilon is inf for delta = 1e-300 at any z, so calibrating to epsilon 3 used to fail
    # with "PLD cannot resolve epsilon much below pld_discretization"; RDP is finite there
    e_rdp = epsilon(3.0, 0.01, 1000, 1e-300, accountant="rdp")
    with pytest.warns(RuntimeWarning, match="PLD cannot resolve this delta"):
        assert epsilon(3.0, 0.01, 1000, 1e-300) == e_rdp < math.inf
    rep = privacy_report(3.0, 0.01, 1000, 1e-300)
    assert rep.accountant is Accountant.RDP and rep.epsilon == e_rdp
    assert any("PLD cannot resolve this delta" in w for w in rep.warnings)
    with pytest.warns(RuntimeWarning, match="PLD cannot resolve this delta"):
        z = calibrate_noise_multiplier(3.0, 1e-300, 0.01, 1000)
    assert epsilon(z, 0.01, 1000, 1e-300, accountant="rdp") <= 3.0


def test_more_steps_than_pld_max_steps_use_rdp_with_a_warning():
    # one PLD evaluation took 31 s at 1e7 steps and calibration needs 10-20: above
    # PLD_MAX_STEPS the RDP accountant (an upper bound on PLD) is used and said so; 1e9
    # steps calibrated in 0.2 s (it ran > 60 s without output)
    q, d, t = 0.01, 1e-5, 10**9
    with pytest.warns(RuntimeWarning, match="PLD_MAX_STEPS"):
        z = calibrate_noise_multiplier(3.0, d, q, t)
    e_rdp = epsilon(z, q, t, d, accountant="rdp")
    assert e_rdp <= 3.0 < epsilon(z / 1.01, q, t, d, accountant="rdp")
    with pytest.warns(RuntimeWarning, match="PLD_MAX_STEPS"):
        assert epsilon(z, q, t, d) == e_rdp
    rep = privacy_report(z, q, t, d)
    assert rep.accountant is Accountant.RDP and rep.epsilon == e_rdp
    assert any("PLD_MAX_STEPS" in w for w in rep.warnings)
    with pytest.warns(RuntimeWarning, match="PLD_MAX_STEPS"):
        assert privacy.delta_for(z, q, t, 3.0) == privacy.delta_for(z, q, t, 3.0, accountant="rdp")


def test_default_pld_interval_is_refined_for_small_epsilon():
    # z = 548, q = 0.01, 1000 steps, delta = 1e-5: the fixed 1e-4 interval gives 0.0024 (PLD
    # overestimates by up to about the interval), 2.4x the 0.00099 of a 1e-7 interval. The
    # default refines at epsilon / 1000 and keeps the smaller of two upper bounds
    args = (548.0, 0.01, 1000, 1e-5)
    coarse = epsilon(*args, pld_discretization=1e-4)
    e = epsilon(*args)
    assert e == min(coarse, epsilon(*args, pld_discretization=coarse / 1000))
    assert e < coarse / 2 and e >= epsilon(*args, pld_discretization=1e-7) * (1 - 1e-2)
    assert privacy_report(*args).epsilon == e
    # above 0.1 the default interval is used as given
    assert epsilon(1.1, 0.01, 1000, 1e-5) == epsilon(1.1, 0.01, 1000, 1e-5, pld_discretization=1e-4)


def test_calibration_to_a_tiny_target_stays_bounded_and_within_one_percent():
    # audit: target 1e-4 (q = 0.1, 10,000 steps) probed small z at the interval 1e-7 and ran
    # out of memory (6 GB) after 41 s; and the squared growth of the upper end jumped past
    # z_max = 1e6 although z ~ 9.4e4 meets the target
    z = privacy.calibrate_noise_multiplier(1e-4, 1e-5, 0.1, 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the coarsening note of the check below
        assert privacy.epsilon(z, 0.1, 10_000, 1e-5, pld_discretization=1e-7) <= 1e-4
        assert privacy.epsilon(z / 1.01, 0.1, 10_000, 1e-5, pld_discretization=1e-8) > 1e-4


def test_a_too_fine_pld_interval_is_coarsened_with_a_warning():
    # z = 1, q = 0.01, 1000 steps: 1e-8 needed a 4.2 GiB allocation; coarsened to
    # epsilon_RDP / PLD_MAX_RESOLUTION it is still an upper bound, at most the default's
    args = (1.0, 0.01, 1000, 1e-5)
    with pytest.warns(RuntimeWarning, match="pld_discretization=1e-08"):
        fine = privacy.epsilon(*args, pld_discretization=1e-8)
    default = privacy.epsilon(*args, pld_discretization=privacy.PLD_DISCRETIZATION)
    assert fine <= default
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # 5e-5 is above epsilon_RDP / 1e5: used as given
        reference = privacy.epsilon(*args, pld_discretization=5e-5)
    assert fine <= reference and fine == pytest.approx(reference, rel=1e-3)


def test_unreachable_target_names_epsilon_at_the_largest_noise():
    with pytest.raises(ValueError, match=r"noise_multiplier <= 1e\+06 .*epsilon there is") as info:
        privacy.calibrate_noise_multiplier(1e-6, 1e-5, 1.0, 1000)  # q = 1: closed form, z ~ 1.3e6
    assert "cannot resolve" not in str(info.value)


def test_delta_for_coarsens_a_too_fine_interval_like_epsilon():
    # delta_for at an interval of 1e-8 ran out of memory (z = 1, q = 0.01, 1000 steps);
    # coarsened, it is still an upper bound: at most the default's, and near an unchanged 5e-5
    args = (1.0, 0.01, 1000, 1.0)
    with pytest.warns(RuntimeWarning, match="delta_for: pld_discretization=1e-08"):
        fine = privacy.delta_for(*args, pld_discretization=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        reference = privacy.delta_for(*args, pld_discretization=5e-5)
    assert fine <= privacy.delta_for(*args) and fine <= reference
    assert fine == pytest.approx(reference, rel=1e-2)
