"""The main job's foundation sections end to end (``clipsgd reproduce --quick``): the
paper's counterexamples and DP-SGD on real data, checked against the exact values and
chance, with the privacy parameters stated in the report."""

import json
import math

import pytest

from clipsgd.cli import main


@pytest.fixture(scope="module")
def quick_job(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    assert main(["reproduce", "--out", str(out), "--quick", "--only", "example", "real_data"]) == 0
    return out, json.loads((out / "results.json").read_text()), (out / "report.md").read_text()


def test_example1_goes_to_the_exact_stall_point_not_the_optimum(quick_job):
    out, res, report = quick_job
    ex1 = res["sections"]["Example 1"]["results"]
    assert ex1["stationary_point"] == -2.5 and ex1["x_star"] == 1.0  # exact (rational arithmetic)
    assert ex1["h_at_x_star"] == pytest.approx(1 / 3, abs=1e-15)   # clipped gradients (1, 1, -1) / 3
    assert ex1["clipped_sgd"]["runs"] >= 1000
    assert abs(ex1["clipped_sgd"]["mean_final"] + 2.5) < 0.05
    assert abs(ex1["sgd"]["mean_final"] - 1.0) < 0.05  # without clipping SGD finds x* = 1
    # the report states both numbers
    assert "**-2.5**" in report and f"{ex1['clipped_sgd']['mean_final']:.4f}" in report
    assert (out / "example1.png").stat().st_size > 10_000


def test_example2_reports_the_stationary_interval(quick_job):
    out, res, report = quick_job
    ex2 = res["sections"]["Example 2"]["results"]
    # h(x) = (clip(x + 3) + clip(x - 3)) / 2 = (1 - 1) / 2 = 0 exactly for |x| <= 2
    assert ex2["stationary_interval"] == [-2.0, 2.0] and "**[-2, 2]**" in report
    assert (out / "example2.png").exists()


def test_real_data_beats_chance_and_states_its_privacy(quick_job):
    out, res, report = quick_job
    for name, r in res["sections"]["Real data"]["results"].items():
        chance = r["majority_class_accuracy"]
        dp_rows = [row for row in r["table"] if row["algorithm"].startswith("DP-SGD")]
        assert dp_rows and max(row["final_test_accuracy_mean"] for row in dp_rows) > chance + 0.2, name
        assert all(math.isfinite(row["epsilon"]) and row["epsilon"] > 0 for row in dp_rows)
        for key in ("delta", "sample_rate", "noise_multiplier", "steps"):
            assert r[key] > 0, key
        assert f"q = {r['sample_rate']:.4f}" in report and f"{r['steps']} steps" in report
        assert f"delta = {r['delta']:g}" in report
        assert f"noise multiplier z = {r['noise_multiplier']:g}" in report
        for row in dp_rows:  # each private row states its epsilon
            assert f"| {row['epsilon']:.2f} |" in report
        assert (out / f"real_{name}.png").exists()
    assert "not hardened against floating-point attacks" in report


def test_only_names_the_sections_and_rejects_unknown_ones(tmp_path, capsys):
    from clipsgd.reproduce import section_name, select_sections, SECTIONS

    assert [section_name(s) for s in SECTIONS] == ["example1", "example2", "real_data", "geometry_study",
                                                  "bias_study"]
    assert select_sections(["example"]) == list(SECTIONS[:2]) and select_sections(None) == list(SECTIONS)
    assert main(["reproduce", "--out", str(tmp_path / "o"), "--only", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "'bogus' matches no section" in err and "real_data" in err
    assert not (tmp_path / "o").exists()  # nothing written


def test_output_folder_that_cannot_be_made_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["reproduce", "--out", str(blocker / "sub"), "--only", "example2", "--quiet"]) == 2
    assert "clipsgd reproduce: error:" in capsys.readouterr().err


def test_a_partial_report_names_the_sections_run_and_omitted(quick_job):
    out, res, report = quick_job  # run with --only example real_data --quick
    header = report.split("Honest scope")[0]
    assert "(quick mode" in header and "full mode" not in header
    assert ("**Partial report**: 3 of 5 sections ran (example1, example2, real_data). "
            "Omitted (not selected by --only): geometry_study, bias_study.") in header
    assert res["sections_run"] == ["example1", "example2", "real_data"]
    assert res["sections_omitted"] == ["geometry_study", "bias_study"]


def test_a_complete_run_says_so_and_an_absent_module_is_named():
    from clipsgd.reproduce import SECTIONS, _coverage

    every = _coverage(list(SECTIONS), {spec: print for spec in SECTIONS})  # any callable: loaded
    assert every["text"].startswith("All 5 sections ran: example1, example2, real_data")
    assert every["sections_omitted"] == every["sections_unavailable"] == []
    missing = _coverage(list(SECTIONS), {spec: (None if "bias" in spec else print) for spec in SECTIONS})
    assert missing["text"].startswith("**Partial report**: 4 of 5 sections ran")
    assert "Not available in this installation: bias_study." in missing["text"]


def test_only_without_a_name_is_an_error_not_everything(capsys):
    from clipsgd.reproduce import select_sections

    with pytest.raises(SystemExit) as exc:  # argparse: --only needs at least one NAME (nargs='+')
        main(["reproduce", "--only"])
    assert exc.value.code == 2 and "--only" in capsys.readouterr().err
    with pytest.raises(ValueError, match="only must name at least one section"):
        select_sections([])
    assert select_sections("example2") == [s for s in select_sections(None) if s.endswith("example2")]


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "seed must be an integer >= 0 (got -1)"),
    (["--seed", "-1", "--only", "example"], "seed must be an integer >= 0 (got -1)"),
])
def test_bad_arguments_are_rejected_before_any_progress_or_file(tmp_path, capsys, argv, message):
    # the seed used to be rejected only by the first simulation, after section progress lines
    out = tmp_path / "o"
    assert main(["reproduce", "--out", str(out), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"clipsgd reproduce: error: {message}\n" and captured.out == ""
    assert not out.exists()


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(seed=1.5), TypeError, "seed"), (dict(quick="yes"), TypeError, "quick"),
    (dict(verbose=None), TypeError, "verbose"), (dict(out=3), TypeError, "out"),
])
def test_reproduce_api_validates_every_argument_first(tmp_path, kwargs, error, name):
    from clipsgd.reproduce import reproduce

    kwargs.setdefault("out", str(tmp_path / "o"))
    with pytest.raises(error, match=rf"^{name} must be"):
        reproduce(only="example2", **kwargs)
    assert not (tmp_path / "o").exists()


def _fake_section(ctx):
    """A stand-in section (instant): the tests below are about the progress lines around it."""
    return {"title": "Fake", "markdown": "", "results": {}, "figures": []}


@pytest.mark.parametrize("cold", [True, False])
def test_a_cold_numba_cache_is_announced_once_before_the_first_section(tmp_path, monkeypatch, capsys, cold):
    # a first run compiles for ~40 s without output; the progress must say why, up front
    import clipsgd.reproduce as rep

    monkeypatch.setattr(rep, "numba_cache_is_cold", lambda: cold)
    monkeypatch.setattr(rep, "_load_section", lambda spec: _fake_section)
    rep.reproduce(str(tmp_path), only=["example1", "example2"])
    err = capsys.readouterr().err
    assert err.count("compiling Numba kernels on first use") == (1 if cold else 0)
    if cold:
        assert err.index("compiling Numba kernels") < err.index("section 1/2")
    rep.reproduce(str(tmp_path), only="example2", verbose=False)  # --quiet: nothing at all
    assert capsys.readouterr().err == ""


def test_cache_probe_finds_a_fresh_cache_cold_and_never_compiles(tmp_path):
    # with an empty NUMBA_CACHE_DIR nothing is cached: cold, answered in well under a second
    import os
    import subprocess
    import sys

    code = ("import time; t = time.perf_counter(); from clipsgd.reproduce import numba_cache_is_cold as f;"
            "t = time.perf_counter(); print(f(), time.perf_counter() - t)")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    cold, seconds = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout.split()
    assert cold == "True" and float(seconds) < 0.5


def test_cache_probe_says_cold_when_it_cannot_tell(monkeypatch):
    # unreadable Numba internals: better an unneeded note than a silent minute
    import clipsgd.reproduce as rep

    monkeypatch.setattr(rep, "_KERNELS", (("clipsgd.engine", "no_such_kernel"),))
    assert rep.numba_cache_is_cold() is True
