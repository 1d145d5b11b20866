"""clipsgd verify: the quick run passes and lists every result; each check can fail (a
wrong constant is caught); Theorems 1-3 hold on simulated runs at the stated confidence;
|b_t| <= ||grad f|| W_1 at every recorded step; reproducibility; bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipsgd import ClippedSGD, DPSGD, bounds, diagnostics, problems, run
from clipsgd import verify as V
from clipsgd.cli import main

# every row of the table, by key (the Theorem 1-3, perturbation and privacy results of
# theory/README.md, with the sharper forms verified alongside)
ALL_KEYS = [
    "lemma1", "lemma1_sharp", "lemma2", "lemma2_pointwise", "lemma2_tight",
    "theorem1", "theorem1_sharp", "theorem2", "theorem2_sharp", "theorem2_w1", "theorem2_w2c",
    "theorem3", "theorem3_sharp", "theorem3_kappa",
    "perturb_closed_form", "perturb_speed", "perturb_shift", "perturb_slope",
    "calibration", "privacy_utility",
]
SIMULATED = ["theorem1", "theorem1_sharp", "theorem2", "theorem2_sharp", "theorem3", "theorem3_sharp"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """`clipsgd verify --quick --json PATH` run once, in process: (exit code, stdout, report)."""
    path = tmp_path_factory.mktemp("verify") / "report.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["verify", "--quick", "--json", str(path)])
    return rc, out.getvalue(), json.loads(path.read_text())


def test_quick_passes_and_table_has_every_result(quick):
    rc, text, report = quick
    assert rc == 0
    assert report["passed"] and report["quick"] and report["seed"] == 0
    keys = [r["key"] for r in report["rows"]]
    assert keys == ALL_KEYS
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(ALL_KEYS)  # header + one line per result
    for r in report["rows"]:
        line = next(ln for ln in table if ln.startswith("| " + r["result"].replace("|", "\\|") + " |"))
        assert len(line.replace("\\|", "").split("|")) == 9  # 7 cells: bars inside cells are escaped
        assert line.rstrip().endswith("| pass |")
        assert f"| {r['instances']} |" in line
        assert r["instances"] >= 1 and r["verdict"] == "pass" and r["details"]["failures"] == 0
    assert f"{len(ALL_KEYS)} results: {len(ALL_KEYS)} pass, 0 FAIL" in text


def test_simulated_theorems_hold_within_mc_error(quick):
    """Theorems 1-3 on simulated runs: margin >= -3 s.e. on every instance, the margins are
    real Monte-Carlo estimates (s.e. > 0 somewhere), and the nearly tight instances make
    the bound close (worst relative margin of the (L2') forms below 5%)."""
    _, _, report = quick
    rows = {r["key"]: r for r in report["rows"]}
    for key in SIMULATED:
        r = rows[key]
        m = np.array(r["details"]["margins"], dtype=float)
        se = np.array(r["details"]["se"], dtype=float)
        assert r["rule"] == "MC >= -3se" and r["instances"] >= 6
        assert min(r["details"]["lhs"]) > 0  # no trivial instance (weight 0 or c ~ 0 all along)
        assert np.all(m >= -V.Z_ONE_SIDED * se - V.RTOL * np.abs(r["details"]["rhs"]))
        assert np.any(se > 0)
    for key in ("theorem1_sharp", "theorem2_sharp", "theorem3_sharp"):
        assert 0 <= rows[key]["relative"] < 0.05


@pytest.mark.parametrize("change, only, must_fail", [
    (dict(descent=0.5), ["theorem1"], ["theorem1", "theorem1_sharp"]),
    (dict(variance=0.25), ["theorem1"], ["theorem1", "theorem1_sharp"]),
    (dict(kappa=False), ["theorem3_kappa"], ["theorem3_kappa"]),
    (dict(lemma2_a=0.5), ["lemma2", "lemma2_tight"], ["lemma2", "lemma2_tight"]),
    (dict(lemma2_a=1.05), ["lemma2_tight"], ["lemma2_tight"]),  # a weaker lemma is not tight
    (dict(speed=1.0), ["perturbation"], ["perturb_speed"]),
    (dict(shift_denominator=3.0), ["perturbation"], ["perturb_shift"]),
    (dict(closed_form_k=1.05), ["perturbation"], ["perturb_closed_form"]),
    (dict(calibration=1.0), ["privacy"], ["calibration"]),
])
def test_wrong_constant_fails(quick, change, only, must_fail):
    rep = V.verify(quick=True, only=only, constants=V.Constants(**change))
    failed = {r.key for r in rep.rows if not r.passed}
    assert set(must_fail) <= failed
    assert not rep.passed
    # the same instances (same seed, own streams) pass with the derived constants
    verdicts = {r["key"]: r["verdict"] for r in quick[2]["rows"]}
    assert all(verdicts[k] == "pass" for k in must_fail)


def test_default_constants_reproduce_bounds_margin():
    """verify recomputes the right side from bounds.evaluate_run's terms so that a
    constant can be changed; with the derived constants it is bounds' own margin."""
    rng = np.random.default_rng(2)
    prob = problems.quadratic(rng.exponential(size=(8, 2)))
    res = run(prob, DPSGD(lr=0.1, c=0.7, noise_multiplier=1.0, sample_rate=0.4), steps=40, runs=20,
              record_every=1, accountant="rdp")
    for ev in bounds.evaluate_run(res, sharp="both"):
        m, se, rhs = V._mc(ev, V.Constants())
        assert m == pytest.approx(ev.margin, rel=1e-12) and se == pytest.approx(ev.se, rel=1e-12)
        assert rhs == pytest.approx(ev.rhs, rel=1e-12)
        assert ev.holds() == (ev.margin >= -3 * ev.se)


def test_theorem3_catches_a_missing_poisson_kappa():
    # the kappa-regime instance (n = 2, q = 0.1, kappa = 5.5) attains kappa c^2: with
    # c^2 instead of kappa c^2 the simulated runs violate the bound by many s.e.
    rep = V.verify(quick=True, only=["theorem3"], constants=V.Constants(kappa=False))
    row = next(r for r in rep.rows if r.key == "theorem3")
    assert not row.passed
    assert row.margin < -10 * row.se


def test_cli_exit_code_is_nonzero_on_failure(monkeypatch):
    def broken_privacy(rng, quick, constants):
        return V.check_privacy(rng, quick, dataclasses.replace(constants, calibration=1.0))

    monkeypatch.setattr(V, "CHECKS", (("privacy", broken_privacy),))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["verify", "--quick"])
    assert rc == 1
    assert "**FAIL**" in out.getvalue() and "1 FAIL" in out.getvalue()


def test_bias_bounded_by_w1_at_every_recorded_step():
    """|b_t| <= ||grad f(x_t)|| W_2c(p_t, p~_t) <= ||grad f(x_t)|| W_1(p_t, p~_t) at every
    recorded step of clipped SGD and DP-SGD on a skewed least-squares problem, where the
    noise law p_t changes with x_t. The bias is not trivially 0, and the numbers agree with
    clipsgd.diagnostics at some steps."""
    rng = np.random.default_rng(11)
    Z = rng.normal(size=(20, 3))
    prob = problems.least_squares(Z, Z @ [1.0, -1.0, 0.5] + rng.exponential(size=20) * 2)
    for alg in (ClippedSGD(lr=0.05, c=1.0),
                DPSGD(lr=0.05, c=1.0, noise_multiplier=1.0, sample_rate=0.3)):
        res = run(prob, alg, steps=300, runs=3, seed=4, record_every=3, accountant="rdp")
        bb = bounds.bias_bound_along(prob, res.trajectory, alg.c)
        assert bb.bias.shape == res.trajectory.shape[:2]
        slack = 1e-12 * (1 + bb.grad_norm)
        assert np.all(np.abs(bb.bias) <= bb.bound_truncated + slack)
        assert np.all(bb.bound_truncated <= bb.bound + slack)
        assert np.abs(bb.bias).max() > 1e-3
        assert np.any(bb.w1_truncated < bb.w1 - 1e-9)  # the truncation at 2c binds somewhere
        for r, j in [(0, 0), (1, 50), (2, -1)]:
            G = prob.per_example_grads(res.trajectory[r, j])
            ref = diagnostics.clipping_bias(G, alg.c)
            assert bb.bias[r, j] == pytest.approx(ref.bias, rel=1e-9, abs=1e-13)
            assert bb.bound[r, j] == pytest.approx(ref.bound, rel=1e-9)
            assert bb.bound_truncated[r, j] == pytest.approx(ref.bound_truncated, rel=1e-9)


def test_reproducible_and_seed_dependent():
    a = V.verify(quick=True, seed=3, only=["lemma1", "perturbation"])
    b = V.verify(quick=True, seed=3, only=["perturbation"])
    c = V.verify(quick=True, seed=4, only=["perturbation"])
    pa = [r for r in a.rows if r.key.startswith("perturb")]
    # check j draws from its own stream: running other checks first changes nothing
    assert [r.margin for r in pa] == [r.margin for r in b.rows]
    assert pa[0].margin != c.rows[0].margin  # another seed, other instances


def test_table_format_and_json(tmp_path):
    rep = V.verify(quick=True, only=["perturbation"])
    text = V.format_table(rep)
    assert text.splitlines()[0].startswith("| result | instance family | n | worst margin")
    assert "+/- " in text  # Monte-Carlo rows carry their standard error
    rep.to_json(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["constants"] == dataclasses.asdict(V.Constants())
    assert [r["key"] for r in d["rows"]] == ["perturb_closed_form", "perturb_speed", "perturb_shift", "perturb_slope"]


def test_zero_se_rows_are_exact_not_a_zero_error(quick):
    """The (L2') rows of Theorems 1-2 have s.e. 0 at their worst instance, the 2-cycle: every
    per-example gradient is clipped to the same vector, so every run follows the same path
    and the margin is exact. The table prints that instead of "+/- 0.0e+00", and says why."""
    _, text, report = quick
    assert "0.0e+00" not in text
    rows = {r["key"]: r for r in report["rows"]}
    for key in ("theorem1_sharp", "theorem2_sharp"):
        r = rows[key]
        worst = r["details"]["margins"].index(r["margin"])
        assert r["se"] == 0 and r["details"]["instances"][worst] == "2-cycle"
        line = next(ln for ln in text.splitlines() if ln.startswith("| " + r["result"] + " |"))
        assert f"| {r['margin']:+.3e} ({V.EXACT_MC}) |" in line
    assert '"exact: all runs equal" (MC rows): the worst instance (2-cycle) gave the same margin on every run' in text
    # genuinely deterministic, not a wrongly computed s.e.: the runs coincide step by step
    tiny = problems.quadratic([[0.01, 0.0], [-0.01, 0.0]])
    res = run(tiny, ClippedSGD(lr=3.0, c=1.0), steps=50, runs=7, seed=3, x0=[1.5, 0.0], record_every=1)
    assert np.all(res.trajectory == res.trajectory[:1])
    assert np.array_equal(np.abs(res.trajectory[0, :, 0]), np.full(51, 1.5))
    ev = bounds.evaluate_run(res, sharp=True)
    assert ev.se == 0 and np.ptp(V._margins(ev, V.Constants())[0]) == 0


def test_table_marks_only_zero_se_mc_rows_exact():
    def row(key, rule, se, names=None):
        det = {"margins": [0.5, 0.25], "instances": names} if names else {"margins": [0.25]}
        return V.CheckResult(key, key, "fam", 2, 0.25, se, 0.1, "RHS", True, rule, details=det)

    rep = V.Report((row("a", "MC >= -3se", 0.0, ["x", "2-cycle"]), row("b", "MC >= -3se", 1e-3),
                    row("c", "exact", 0.0)), True, 0, 1.0, V.Constants())
    text = V.format_table(rep)
    lines = text.splitlines()
    assert "| +2.500e-01 (exact: all runs equal) |" in lines[2]
    assert "| +2.500e-01 +/- 1.0e-03 |" in lines[3]
    assert "| +2.500e-01 |" in lines[4]
    assert '"exact: all runs equal" (MC rows): the worst instance (2-cycle) gave' in lines[-1]
    # no such row, no legend for it
    assert V.EXACT_MC not in V.format_table(V.Report(rep.rows[1:], True, 0, 1.0, V.Constants()))


def test_doctests():
    import doctest

    result = doctest.testmod(V)
    assert result.attempted >= 4 and result.failed == 0


def test_bad_input():
    with pytest.raises(ValueError, match="seed"):
        V.verify(seed=-1, only=["lemma1"])
    with pytest.raises(TypeError, match="seed"):
        V.verify(seed=1.5, only=["lemma1"])
    with pytest.raises(ValueError, match="only"):
        V.verify(only=["theorem9"])
    with pytest.raises(TypeError, match="constants"):
        V.verify(only=["lemma1"], constants={"descent": 1.0})
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["verify", "--quick", "--only", "nope"]) == 2
    assert "only" in err.getvalue()


def _table_rows(text):
    """The result/family/n/rule/verdict cells of a verify table (margins left out: they are
    Monte-Carlo numbers whose last digits may move with library versions)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| result ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.replace("\\|", "\u2016").strip().strip("|").split("|")]
            rows.append((cells[0], cells[1], cells[2], cells[5], cells[6]))
    return rows


def test_theory_readme_shows_the_quick_table(quick):
    # theory/README.md carries the output of `clipsgd verify --quick`: same results, instance
    # families, instance counts, rules and verdicts as the run today
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "theory" / "README.md").read_text()
    section = readme.split("Output of `clipsgd verify --quick`", 1)[1]
    _, text, _ = quick
    assert _table_rows(section)[:len(ALL_KEYS)] == _table_rows(text)


@pytest.mark.parametrize("check", ["check_theorem1", "check_theorem2", "check_theorem3"])
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=3)
def test_simulated_theorems_hold_on_drawn_instance_families(check, seed):
    # Theorems 1-3 on freshly drawn random finite sums (symmetric +/- pairs, skewed atoms,
    # least squares, logistic; the families of clipsgd.verify) and their simulated runs:
    # every instance's margin RHS - LHS >= -3 Monte-Carlo s.e. (one-sided, 99.87%)
    rows = getattr(V, check)(np.random.default_rng(seed), True, V.Constants())
    for r in rows:
        assert r.passed, (r.key, r.margin, r.se, r.details.get("instances"))
        assert r.instances >= 5
