"""Tests for clipsgd.geometry_study: the diagnostics recorder along real DP-SGD runs.

What each expected value rests on:

* Theorem 2 of arXiv:2006.15429 (|b_t| <= ||g_t|| W_1(p_t, p~_t), also with the cost
  truncated at 2c), checked on every recorded point of real DP-SGD runs on scikit-learn's
  bundled datasets (convex softmax / logistic, non-convex MLP);
* an independent recomputation (NumPy twin of the per-example gradients +
  clipsgd.diagnostics directly) of what the recorder stored;
* the Gram-matrix formula of flipped_clipping_bias against clipping_bias of each
  flipped sample;
* linearity of projections; the sign-flip test's validity (symmetric data) and power
  (skewed data) at fixed seeds;
* the class with the largest score has the smallest cross-entropy loss (MLP predictions).
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clipsgd.diagnostics as dg
import clipsgd.geometry_study as gs
from clipsgd import DPSGD, datasets, problems, run


# ---------------------------------------------------------------------------------------
# shared small real runs (module scope: trained once)
# ---------------------------------------------------------------------------------------


def _real_run(dataset, model, epochs, subset, seed=0, record_every=None):
    spec = gs.ModelSpec(dataset, model, batch=64 if dataset == "digits" else 32,
                        lr=1.0 if dataset == "digits" else 0.5, epochs=epochs)
    data = datasets.load(dataset, seed=seed)
    prob = spec.problem(data)
    x0 = problems.mlp_init(prob, seed) if model == "mlp" else np.zeros(prob.dim)
    q = spec.batch / prob.n
    spe = int(round(prob.n / spec.batch))
    res = run(prob, DPSGD(lr=spec.lr, c=spec.c, noise_multiplier=1.0, sample_rate=q), steps=epochs * spe,
              seed=seed, x0=x0, record_every=record_every or spe, record_loss=False)
    return prob, res, subset


@pytest.fixture(scope="module")
def runs():
    return {
        # recorded every 7 steps (a third of an epoch) on digits, every epoch on breast cancer;
        # the sampling rates and step counts of the quick reproduce section, so the privacy
        # accountant (cached per setting) runs twice, not five times
        "digits_softmax": _real_run("digits", "softmax", 3, 250, record_every=7),
        "digits_mlp": _real_run("digits", "mlp", 3, 250, record_every=7),
        "breast_cancer_logistic": _real_run("breast_cancer", "logistic", 5, None),
    }


@pytest.fixture(scope="module")
def recordings(runs):
    return {name: gs.record_diagnostics(prob, res, 1.0, subset=subset, seed=3, n_flips=19)
            for name, (prob, res, subset) in runs.items()}


# ---------------------------------------------------------------------------------------
# doctests
# ---------------------------------------------------------------------------------------


def test_doctests():
    result = doctest.testmod(gs)
    assert result.attempted >= 2 and result.failed == 0
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for fn in (datasets.predict_problem, datasets.problem_accuracy):
        for t in finder.find(fn, globs=dict(vars(datasets))):
            runner.run(t)
    assert runner.failures == 0 and runner.tries >= 4


# ---------------------------------------------------------------------------------------
# Theorem 2 on real runs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digits_softmax", "digits_mlp", "breast_cancer_logistic"])
def test_bias_bound_holds_on_every_recorded_step_of_a_real_run(runs, recordings, name):
    prob, res, _ = runs[name]
    rec = recordings[name]
    assert len(rec.reports) == len(res.record_steps) >= 6  # every recorded step
    np.testing.assert_array_equal(rec.steps, res.record_steps)
    assert all(r.w1_exact for r in rec.reports)  # exact assignment: the bound is rigorous
    b = np.abs(rec.series("bias"))
    bound, bound_t = rec.series("bias_bound"), rec.series("bias_bound_truncated")
    assert np.all(b <= bound) and np.all(b <= bound_t * (1 + 1e-12))
    assert np.all(bound_t <= bound * (1 + 1e-12))
    assert rec.bound_holds.all()
    # the check has teeth: clipping is active and the bias is not zero on these runs
    assert b.max() > 1e-4 and rec.series("clip_fraction")[0] > 0.9


def test_recorder_matches_an_independent_recomputation(runs, recordings):
    """NumPy twin of the gradients + diagnostics directly, at the last record."""
    prob, res, _ = runs["digits_mlp"]
    rec = recordings["digits_mlp"]
    x = res.trajectory[0, -1]
    G = prob.per_example_grads(x, idx=rec.subset)  # NumPy twin
    g = G.mean(axis=0)
    cb = dg.clipping_bias(G, 1.0)
    r = rec.reports[-1]
    assert r.n == 250 and rec.subset.shape == (250,) and np.all(np.diff(rec.subset) > 0)
    np.testing.assert_allclose([r.bias, r.bias_bound, r.bias_bound_truncated, r.grad_norm],
                               [cb.bias, cb.bound, cb.bound_truncated, np.linalg.norm(g)], rtol=1e-9)
    assert r.clip_fraction == dg.clip_fraction(G, 1.0)
    # per-direction statistics average to the report's (same directions)
    np.testing.assert_allclose(rec.sliced_disparity_by_direction.mean(axis=1), rec.series("sliced_disparity"),
                               rtol=1e-12)
    np.testing.assert_allclose(np.abs(rec.skewness_by_direction).mean(axis=1), rec.series("mean_abs_skewness"),
                               rtol=1e-12)
    np.testing.assert_allclose(rec.sliced_disparity_by_direction[-1], dg.sliced_disparity(G - g, rec.directions),
                               rtol=1e-9, atol=1e-12)
    # projections are G @ basis; their mean is the projected mean gradient (linearity)
    np.testing.assert_allclose(rec.projections[-1, 1], G @ rec.bases[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rec.projections[:, :].mean(axis=2), rec.projected_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.einsum("kdi,kdj->kij", rec.bases, rec.bases), np.broadcast_to(np.eye(2), (3, 2, 2)),
                               atol=1e-12)


def test_recorder_is_reproducible_for_the_same_seed(runs):
    prob, res, _ = runs["digits_softmax"]
    kw = dict(records=[0, 4], subset=120, n_flips=9)
    a = gs.record_diagnostics(prob, res, 1.0, seed=11, **kw)
    b = gs.record_diagnostics(prob, res, 1.0, seed=11, **kw)
    c = gs.record_diagnostics(prob, res, 1.0, seed=12, **kw)
    sa, sb = a.summary(), b.summary()
    sa.pop("seconds"), sb.pop("seconds")
    assert sa == sb  # every number, bit for bit
    for f in ("subset", "directions", "bases", "projections", "sliced_disparity_by_direction"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert all(np.array_equal(x.bias, y.bias) for x, y in zip(a.null, b.null))
    assert not np.array_equal(a.subset, c.subset) and not np.array_equal(a.directions, c.directions)
    # the same subset, directions and bases at every record
    assert a.projections.shape == (2, 3, 120, 2)


def test_trajectory_forms_agree(runs):
    prob, res, _ = runs["breast_cancer_logistic"]
    kw = dict(records=[0, 3], seed=1, n_flips=5, w1_null=False)
    a = gs.record_diagnostics(prob, res, 1.0, **kw)
    b = gs.record_diagnostics(prob, res.trajectory, 1.0, **kw)
    c = gs.record_diagnostics(prob, res.trajectory[0], 1.0, **kw)
    assert a.series("bias").tolist() == b.series("bias").tolist() == c.series("bias").tolist()
    np.testing.assert_array_equal(a.steps, res.record_steps[[0, 3]])
    np.testing.assert_array_equal(b.steps, [0, 3])  # bare arrays: record indices
    assert math.isnan(a.null[0].disparity)


def test_summary_is_strict_json_with_p_values(recordings):
    s = recordings["breast_cancer_logistic"].summary()
    text = json.dumps(s, allow_nan=False)
    assert "null_sliced_disparity_mean" in text and "p_value_bias" in text
    k = len(s["steps"])
    assert all(len(s[key]) == k for key in ("bias", "bias_bound", "p_value_sliced_disparity", "null_disparity_mean"))
    p = np.array(s["p_value_sliced_disparity"])
    assert np.all((p >= 1 / 20) & (p <= 1))  # 19 flips: p in [1/20, 1]


# ---------------------------------------------------------------------------------------
# the sign-flip baseline
# ---------------------------------------------------------------------------------------


def test_symmetrised_resample_identities():
    rng = np.random.default_rng(0)
    xi = rng.exponential(size=(9, 3))
    xi -= xi.mean(axis=0)
    np.testing.assert_allclose(gs.symmetrised_resample(xi, np.ones(9)), xi, atol=1e-15)
    np.testing.assert_allclose(gs.symmetrised_resample(xi, -np.ones(9)), -xi, atol=1e-15)
    s = rng.choice([-1.0, 1.0], 9)
    np.testing.assert_allclose(gs.symmetrised_resample(xi, s).mean(axis=0), 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="signs"):
        gs.symmetrised_resample(xi, np.full(9, 0.5))
    with pytest.raises(ValueError, match="signs"):
        gs.symmetrised_resample(xi, np.ones(8))


@given(n=st.integers(2, 12), d=st.integers(1, 4), seed=st.integers(0, 2**31),
       c=st.sampled_from([0.3, 1.0, 4.0, math.inf]))
@settings(max_examples=30, deadline=None)
def test_flipped_clipping_bias_equals_clipping_bias_of_each_flip(n, d, seed, c):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=d) + 2.0 * (rng.exponential(size=(n, d)) - 1.0)
    g, xi = dg.gradient_noise(G)
    signs = rng.choice([-1.0, 1.0], size=(4, n))
    got = gs.flipped_clipping_bias(g, xi, c, signs)
    want = [dg.clipping_bias(g + gs.symmetrised_resample(xi, s), c, truncated=False).bias for s in signs]
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12 * (1 + np.abs(G).max() ** 2))


def test_sign_flip_test_power_and_validity():
    """Skewed noise: smallest p at n = 400; symmetric noise: p-values not concentrated near 0."""
    rng = np.random.default_rng(5)
    d, R = 6, 39
    U = dg.random_directions(d, 16, 1)
    skewed = rng.exponential(size=(400, d))
    nl = gs.sign_flip_null(skewed, 1.0, U, n_flips=R, seed=2, w1=False)
    _, xi = dg.gradient_noise(skewed)
    obs_sd = np.mean(dg.sliced_disparity(xi, U))
    obs_sk = np.mean(np.abs(dg.skewness(xi, U)))
    assert gs.sign_flip_p_value(obs_sd, nl.sliced_disparity) == 1 / (R + 1)
    assert gs.sign_flip_p_value(obs_sk, nl.mean_abs_skewness) == 1 / (R + 1)
    # symmetric (Gaussian) populations: over 30 data sets, about 10% of p-values <= 0.1
    small = 0
    for s in range(30):
        Gs = np.random.default_rng(100 + s).standard_normal((200, d))
        _, xs = dg.gradient_noise(Gs)
        nls = gs.sign_flip_null(Gs, 1.0, U, n_flips=R, seed=s, w1=False)
        small += gs.sign_flip_p_value(np.mean(dg.sliced_disparity(xs, U)), nls.sliced_disparity) <= 0.1
    assert small <= 8  # Binomial(30, 0.1): P(>= 9) < 0.001


def test_sign_flip_p_value_hand_values():
    assert gs.sign_flip_p_value(5.0, [1.0, 2.0, 3.0]) == 0.25
    assert gs.sign_flip_p_value(0.0, [1.0, 2.0, 3.0]) == 1.0
    assert gs.sign_flip_p_value(2.0, [1.0, 2.0, 3.0]) == 0.75  # ties count against the data


# ---------------------------------------------------------------------------------------
# MLP-aware predictions
# ---------------------------------------------------------------------------------------


def test_predictions_are_the_smallest_loss_class():
    data = datasets.load("iris", seed=0)
    K = data.n_classes
    for make in (lambda y: problems.mlp(data.X_train, y, hidden=5, n_classes=K),
                 lambda y: problems.softmax(data.X_train, y, K)):
        prob = make(data.y_train)
        x = np.random.default_rng(1).normal(size=prob.dim)
        # loss of every row under every hypothetical label (NumPy twin of the oracle)
        L = np.stack([make(np.full(prob.n, float(k))).losses(x) for k in range(K)], axis=1)
        np.testing.assert_array_equal(datasets.predict_problem(prob, x, data.X_train), np.argmin(L, axis=1))
    bc = datasets.load("breast_cancer", seed=0)
    prob = datasets.make_problem(bc)
    x = np.random.default_rng(2).normal(size=prob.dim)
    np.testing.assert_array_equal(datasets.predict_problem(prob, x, bc.X_test), datasets.predict(x, bc.X_test, 2))
    assert datasets.problem_accuracy(prob, x, bc.X_test, bc.y_test) == datasets.accuracy(x, bc.X_test, bc.y_test, 2)
    with pytest.raises(ValueError, match="problem"):
        datasets.predict_problem(problems.example1(), [0.0], [[1.0]])
    with pytest.raises(ValueError, match="X must have"):
        datasets.predict_problem(prob, x, bc.X_test[:, :3])


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


def test_bad_input_errors_name_the_parameter(runs):
    prob, res, _ = runs["breast_cancer_logistic"]
    cases = [
        (dict(c=0.0), ValueError, "c must"),
        (dict(records=[0, 99]), ValueError, "records"),
        (dict(records=[]), ValueError, "records"),
        (dict(subset=10_000), ValueError, "subset"),
        (dict(subset=[1, 1, 2]), ValueError, "subset"),
        (dict(run=1), ValueError, "run"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(n_flips=0), ValueError, "n_flips"),
    ]
    for kw, exc, msg in cases:
        args = dict(c=1.0, records=[0])
        args.update(kw)
        with pytest.raises(exc, match=msg):
            gs.record_diagnostics(prob, res, **args)
    with pytest.raises(ValueError, match="problem.dim"):
        gs.record_diagnostics(prob, np.zeros((2, 3)), 1.0)
    with pytest.raises(TypeError, match="problem"):
        gs.record_diagnostics("digits", res, 1.0)
    with pytest.raises(ValueError, match="n_projections_2d"):
        gs.record_diagnostics(problems.example1(), np.zeros((2, 1)), 1.0)
    with pytest.raises(ValueError, match="dataset"):
        gs.ModelSpec("mnist", "softmax")
    with pytest.raises(ValueError, match="model"):
        gs.ModelSpec("digits", "cnn")
    with pytest.raises(ValueError, match="diag_epochs"):
        gs.ModelSpec("digits", "softmax", epochs=2, diag_epochs=(0, 3))
    with pytest.raises(ValueError, match="name"):
        gs.GeometryRecording.series(gs.record_diagnostics(prob, res, 1.0, records=[0], n_flips=2), "nope")


# ---------------------------------------------------------------------------------------
# the reproduce section (quick mode)
# ---------------------------------------------------------------------------------------


def test_section_quick_writes_figures_and_numbers(tmp_path):
    from clipsgd.reproduce import Context

    out = gs.section(Context(out=str(tmp_path), quick=True, verbose=False))
    names = sorted(p.split("/")[-1] for p in out["figures"])
    assert names == sorted(["geometry_curves_digits_softmax.png", "geometry_grid_digits_softmax.png",
                            "geometry_curves_digits_mlp.png", "geometry_grid_digits_mlp.png",
                            "geometry_curves_breast_cancer_logistic.png"])
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names)
    json.dumps(out["results"], allow_nan=False, default=float)
    for label, res in out["results"].items():
        assert all(res["diagnostics"]["bound_holds"])
        assert res["epsilon"] is not None and res["epsilon"] > 0
        assert f"{res['diagnostics']['sliced_disparity'][0]:.3g}" in out["markdown"]
    assert out["markdown"].count("held at all") == 3
    md = out["markdown"]
    assert not any(k in md for k in ("sliced_disparity", "mean_abs_skewness"))  # readable names only
    assert md.count(gs._overview_header()) == 1 and md.count(gs._model_table_header()) == 3
    assert md.count("- **Projected disparity** ") == 3 and md.count("- **Mean |skewness|** ") == 3


@given(R=st.integers(1, 4), n=st.integers(2, 15), k=st.integers(1, 5), seed=st.integers(0, 2**31),
       flat=st.booleans())
@settings(max_examples=30, deadline=None)
def test_projected_asymmetry_matches_the_diagnostics_definitions(R, n, k, seed, flat):
    rng = np.random.default_rng(seed)
    T = rng.exponential(size=(R, n, k)) * rng.choice([-1.0, 1.0], size=(1, 1, k))
    if flat:
        T[:, :, 0] = 3.0  # a direction without spread (after centring): statistics 0
    T -= T.mean(axis=1, keepdims=True)
    sd, sk = gs.projected_asymmetry(T)
    eye = np.eye(k)
    want_sd = [np.mean(dg.sliced_disparity(T[r], eye)) for r in range(R)]
    want_sk = [np.mean(np.abs(dg.skewness(T[r], eye))) for r in range(R)]
    np.testing.assert_allclose(sd, want_sd, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sk, want_sk, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------
# readable labels: one mapping for the figures and the tables
# ---------------------------------------------------------------------------------------
RAW_KEYS = ("sliced_disparity", "mean_abs_skewness")


def _geometry_stats(m=4):
    st = {}
    for name in ("sliced_disparity", "mean_abs_skewness", "disparity", "bias"):
        st[name], st[name + "_null"] = np.linspace(1, 2, m), np.linspace(0.5, 1, m)
        st[name + "_null_q95"] = np.linspace(0.6, 1.2, m)
    for name in ("bias_bound", "bias_bound_truncated", "grad_norm", "clip_fraction", "p_small_noise",
                 "test_accuracy"):
        st[name] = np.linspace(0.1, 0.9, m)
    return st


def test_geometry_figure_legends_use_the_readable_labels(monkeypatch):
    from clipsgd import plots

    figs = []
    monkeypatch.setattr(plots, "save", lambda fig, path: figs.append(fig) or path)
    plots.plot_geometry_curves(np.arange(4.0), _geometry_stats(), "unused.png", "t")
    fig = figs[0]
    texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    texts += [ax.get_title() for ax in fig.axes]
    assert not any(k in t for t in texts for k in RAW_KEYS + ("disparity_null",))
    ratio_ax = next(ax for ax in fig.axes if ax.get_title().startswith("data / symmetric baseline"))
    legend = [t.get_text() for t in ratio_ax.get_legend().get_texts()]
    L = gs.STATISTIC_LABELS
    assert legend == [L[k].legend for k in ("sliced_disparity", "mean_abs_skewness", "disparity")]
    assert legend == list(plots.geometry_ratio_labels().values())
    assert legend[0].startswith("projected disparity: $") and legend[1].startswith("mean |skewness|: $")
    assert [ax.get_title() for ax in fig.axes[:3]] == legend  # the top panels carry the same labels
    fig.canvas.draw()  # the mathtext parses
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_geometry_tables_use_the_same_labels():
    L = gs.STATISTIC_LABELS
    assert set(gs.NULL_STATISTICS) <= set(L)
    for header in (gs._model_table_header(), gs._overview_header()):
        assert not any(k in header for k in RAW_KEYS)
        assert L["sliced_disparity"].name in header and "mean \\|skewness\\|" in header
        first = header.splitlines()[0]
        assert first.replace("\\|", "").count("|") - 1 == header.splitlines()[1].count("---")  # bars escaped
    assert gs.md_label("bias", " (baseline mean)") == "clipping bias \\|b_t\\| (baseline mean)"
    assert gs._cap("sliced_disparity") == "Projected disparity"


def test_findings_say_stayed_the_same_when_the_printed_values_agree():
    # the full report once read "the clipping-bias ratio rose (3.5x -> 3.5x)"
    from clipsgd.geometry_study import _findings

    stats = {"sliced_disparity": np.array([0.2, 0.4]), "sliced_disparity_null": np.array([0.1, 0.4]),
          "bias": np.array([3.5, 3.52]), "bias_null": np.array([1.0, 1.0])}
    text = _findings([("m", stats)])
    assert "rose in absolute terms (0.200 -> 0.400)" in text
    assert "ratio to the symmetric baseline fell (2.00x -> 1.00x)" in text
    assert "clipping-bias ratio stayed the same (to the digits shown) (3.5x -> 3.5x)" in text
