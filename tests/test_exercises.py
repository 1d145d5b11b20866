"""clipsgd.exercises: every checker accepts the right answer and rejects typical wrong ones.

The right answers here are computed *independently* of the exercises' own solvers: with
plain NumPy (a hand-written clip), by bisection on a monotone h, or from the closed forms
derived in the tutorials. Typical wrong answers are computed the same way and must be
rejected with the matching explanation. No feedback may contain the answer.
"""

from __future__ import annotations

import csv
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipsgd import exercises
from clipsgd.exercises import instructor, parse_answer
from clipsgd.exercises.__main__ import main as cli_main

SEEDS = [0, 1, 2, 3, 1234, 99999]


# ------------------------------------------------------------------ independent oracles
def clip_vec(v, c):
    """clip(v, c) = v min(1, c/||v||), written out again."""
    v = np.asarray(v, dtype=float)
    nv = math.sqrt(float(v @ v))
    return v if nv <= c else v * (c / nv)


def h_quadratic(a, x, c, w=None):
    """(1/n) sum_i clip(w_i (x - a_i), c) in 1-D."""
    w = np.ones_like(a) if w is None else w
    return float(np.mean(np.clip(w * (x - a), -c, c)))


def bisect_zero(fun, lo, hi, tol=1e-12):
    """Zero of a nondecreasing function with fun(lo) < 0 < fun(hi)."""
    assert fun(lo) < 0 < fun(hi)
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if fun(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _p(inst, key):
    v = inst.params[key]
    return np.asarray(v, dtype=float) if isinstance(v, np.ndarray) else v


def right_01_h(inst):
    a, c = _p(inst, "a"), inst.params["c"]
    return h_quadratic(a, a.mean(), c)


def wrong_01_h(inst):
    a, c = _p(inst, "a"), inst.params["c"]
    h = right_01_h(inst)
    return [(0.0, "unclipped gradient"), (len(a) * h, "sum"), (-h, "sign")]


def right_01_sp(inst):
    a, c = _p(inst, "a"), inst.params["c"]
    return bisect_zero(lambda x: h_quadratic(a, x, c), a.min() - c - 1, a.max() + c + 1)


def wrong_01_sp(inst):
    a = _p(inst, "a")
    return [(a.mean(), "zero of the unclipped gradient, x*"), (float(np.median(a)), "median")]


def right_01_iv(inst):
    # the atoms are m +- b_j; all gradients are clipped and cancel while |x - a_i| >= c for
    # the inner pair: [m - (b_1 - c), m + (b_1 - c)]
    a, c = _p(inst, "a"), inst.params["c"]
    m = a.mean()
    b1 = np.min(np.abs(a - m))
    return (m - (b1 - c), m + (b1 - c))


def wrong_01_iv(inst):
    a, c = _p(inst, "a"), inst.params["c"]
    m, b1 = a.mean(), np.min(np.abs(a - a.mean()))
    return [((m - b1, m + b1), "between the atoms"), ((m - c, m + c), "half-width c"),
            (m, "whole interval")]


def ip(g, v, c):
    return float(np.dot(g, clip_vec(v, c)))


def right_02_pair(inst):
    g, xi, c = _p(inst, "g"), _p(inst, "xi"), inst.params["c"]
    return ip(g, g + xi, c) + ip(g, g - xi, c)


def wrong_02_pair(inst):
    g, xi, c = _p(inst, "g"), _p(inst, "xi"), inst.params["c"]
    return [(2 * float(g @ g), "without clipping"), (ip(g, g + xi, c), "first half"),
            (right_02_pair(inst) / 2, "average")]


def _atoms(inst):
    p1 = inst.params["p1"]
    xi1, xi2 = _p(inst, "xi1"), _p(inst, "xi2")
    return [(xi1, p1 / 2), (-xi1, p1 / 2), (xi2, (1 - p1) / 2), (-xi2, (1 - p1) / 2)]


def right_02_prog(inst):
    g, c = _p(inst, "g"), inst.params["c"]
    return sum(w * ip(g, g + xi, c) for xi, w in _atoms(inst))


def wrong_02_prog(inst):
    g, c = _p(inst, "g"), inst.params["c"]
    return [(float(g @ g), "without clipping"),
            (sum(2 * w * ip(g, g + xi, c) for xi, w in _atoms(inst)[::2]), "-xi1 and -xi2"),
            (sum(0.25 * ip(g, g + xi, c) for xi, _ in _atoms(inst)), "equally")]


def right_02_bound(inst):
    g, c, a = _p(inst, "g"), inst.params["c"], inst.params["a"]
    prob = sum(w for xi, w in _atoms(inst) if np.linalg.norm(xi) < a * c)
    ng = np.linalg.norm(g)
    return prob * min(ng**2, (1 - a) * c * ng)


def wrong_02_bound(inst):
    g, c, a = _p(inst, "g"), inst.params["c"], inst.params["a"]
    ng = np.linalg.norm(g)
    return [(min(ng**2, (1 - a) * c * ng), "weight"),
            (right_02_bound(inst) / min(ng**2, (1 - a) * c * ng) * min(ng**2, a * c * ng), "(1 - a) c ||g||")]


def _logcosh_G(inst, x):
    X, y = _p(inst, "X"), _p(inst, "y")
    return np.array([np.tanh(X[i] @ x - y[i]) * X[i] for i in range(len(y))])


def right_07_lc(inst):
    G = _logcosh_G(inst, _p(inst, "x0"))
    return np.mean([clip_vec(g, inst.params["c"]) for g in G], axis=0)


def wrong_07_lc(inst):
    x0, c = _p(inst, "x0"), inst.params["c"]
    X, y = _p(inst, "X"), _p(inst, "y")
    G = _logcosh_G(inst, x0)
    ls = np.mean([clip_vec((X[i] @ x0 - y[i]) * X[i], c) for i in range(len(y))], axis=0)
    return [(G.mean(axis=0), "unclipped"), (ls, "least-squares"), (-right_07_lc(inst), "sign"),
            (len(y) * right_07_lc(inst), "sum")]


def right_07_w(inst):
    a, w, c = _p(inst, "a"), _p(inst, "w"), inst.params["c"]
    return bisect_zero(lambda x: h_quadratic(a, x, c, w), a.min() - 10, a.max() + 10)


def wrong_07_w(inst):
    a, w = _p(inst, "a"), _p(inst, "w")
    return [(float(w @ a / w.sum()), "optimum of f"), (a.mean(), "plain mean")]


def right_03_t1(inst):
    p = inst.params
    return p["D_f"] / (p["alpha"] * p["T"]) + p["G"] * p["alpha"] * p["c"] ** 2 / 2


def wrong_03_t1(inst):
    p = inst.params
    first = p["D_f"] / (p["alpha"] * p["T"])
    return [(first + p["G"] * p["alpha"] * p["c"] ** 2, "forgot the 1/2"), (first, "left out the variance")]


def right_03_step(inst):
    # d/da [D/(aT) + G a c^2/2] = -D/(a^2 T) + G c^2/2 = 0
    p = inst.params
    return math.sqrt(2 * p["D_f"] / (p["G"] * p["c"] ** 2 * p["T"]))


def wrong_03_step(inst):
    p = inst.params
    return [(right_03_step(inst) / math.sqrt(2), "factor 2"),
            (math.sqrt(2 * p["D_f"] * p["G"] * p["c"] ** 2 / p["T"]), "optimal *value*")]


def right_03_t3(inst):
    p = inst.params
    sigma = p["z"] * p["c"] / p["B"]
    return p["D_f"] / (p["alpha"] * p["T"]) + p["G"] * p["alpha"] * (p["c"] ** 2 + p["d"] * sigma**2) / 2


def wrong_03_t3(inst):
    p = inst.params
    first = p["D_f"] / (p["alpha"] * p["T"])
    return [(first + p["G"] * p["alpha"] * (p["c"] ** 2 + p["d"] * (p["z"] * p["c"]) ** 2) / 2, "*averaged*"),
            (first + p["G"] * p["alpha"] * p["c"] ** 2 / 2, "Theorem 1")]


def _noise_1d(inst):
    g = _p(inst, "g")
    return g, g - g.mean()


def sorted_w1(a, b):
    return float(np.mean(np.abs(np.sort(a) - np.sort(b))))


def right_04_w1(inst):
    _, xi = _noise_1d(inst)
    return sorted_w1(xi, -xi)


def wrong_04_w1(inst):
    g, xi = _noise_1d(inst)
    return [(sorted_w1(g, -g), "centre them first"), (sorted_w1(xi, -xi) / 2, "symmetrisation")]


def right_04_sk(inst):
    from scipy.stats import skew

    return float(skew(_noise_1d(inst)[1], bias=True))


def wrong_04_sk(inst):
    from scipy.stats import skew

    _, xi = _noise_1d(inst)
    return [(float(np.mean(xi**3)), "third moment"), (float(skew(xi, bias=False)), "G1")]


def right_04_bias(inst):
    g_i, c = _p(inst, "g"), inst.params["c"]
    g = g_i.mean()
    xi = g_i - g
    under_p = np.mean([g * float(np.clip(g + x, -c, c)) for x in xi])
    under_sym = np.mean([g * float(np.clip(g + s * x, -c, c)) for x in xi for s in (1, -1)])
    return float(under_sym - under_p)


def wrong_04_bias(inst):
    b = right_04_bias(inst)
    return [(-b, "sign"), (2 * b, "reflection")]


def perturbed_clip_quad(m, c, k):
    """E clip(m + kZ, c) by numerical integration (independent of the closed form)."""
    from scipy.integrate import quad
    from scipy.stats import norm

    lo, hi = (-c - m) / k, (c - m) / k  # the kinks split the integral into smooth pieces
    pieces = [(-np.inf, lo, lambda z: -c), (lo, hi, lambda z: m + k * z), (hi, np.inf, lambda z: c)]
    return sum(quad(lambda z, f=f: f(z) * norm.pdf(z), a, b, epsabs=1e-12)[0] for a, b, f in pieces)


def right_05_pk(inst):
    from scipy.optimize import brentq

    a, c, k = _p(inst, "a"), inst.params["c"], inst.params["k"]
    h = lambda x: float(np.mean([perturbed_clip_quad(x - ai, c, k) for ai in a]))  # noqa: E731
    return brentq(h, a.min(), a.max(), xtol=1e-9)


def wrong_05_pk(inst):
    a, c = _p(inst, "a"), inst.params["c"]
    k0 = bisect_zero(lambda x: h_quadratic(a, x, c), a.min() - c - 1, a.max() + c + 1)
    return [(k0, "without the perturbation"), (a.mean(), "that is x*")]


def right_05_law(inst):
    a = _p(inst, "a")
    xi = a.mean() - a
    return float(np.mean(xi**3) / 6)


def wrong_05_law(inst):
    C = right_05_law(inst)
    return [(-C, "sign"), (6 * C, "that is E[xi^3]")]


def right_05_slope(inst):
    from scipy.stats import norm

    a, c, k = _p(inst, "a"), inst.params["c"], inst.params["k"]
    xi = a.mean() - a
    return float(np.mean(norm.cdf((c - xi) / k) - norm.cdf((-c - xi) / k)))


def wrong_05_slope(inst):
    a, c = _p(inst, "a"), inst.params["c"]
    xi = a.mean() - a
    return [(1.0, "without clipping"), (float(np.mean(np.abs(xi) < c)), "k = 0")]


def right_06_std(inst):
    p = inst.params
    return p["z"] * p["c"] / (p["q"] * p["n"])


def wrong_06_std(inst):
    p = inst.params
    B = p["q"] * p["n"]
    return [(p["z"] * p["c"], "on the *sum*"), (p["z"] / B, "proportional to the clip threshold"),
            (p["z"] * p["c"] / p["n"], "q n, not by n")]


def gaussian_delta(mu, eps):
    """Balle & Wang (2018), Thm. 8, written out with scipy.stats."""
    from scipy.stats import norm

    return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2)


def gaussian_eps(mu, delta):
    from scipy.optimize import brentq

    return brentq(lambda e: gaussian_delta(mu, e) - delta, 0.0, 500.0, xtol=1e-12)


def gaussian_mu(eps, delta):
    from scipy.optimize import brentq

    return brentq(lambda m: gaussian_delta(m, eps) - delta, 1e-6, 100.0, xtol=1e-13)


def right_06_gauss(inst):
    p = inst.params
    return gaussian_eps(math.sqrt(p["T"]) / p["z"], p["delta"])


def wrong_06_gauss(inst):
    p = inst.params
    return [(gaussian_eps(1 / p["z"], p["delta"]), "single step"),
            (gaussian_eps(p["T"] / p["z"], p["delta"]), "sqrt(T)/z")]


def rdp_epsilon(z, q, T, delta):
    """dp_accounting's RDP accountant, called directly (the independent library)."""
    import dp_accounting as dpa

    acc = dpa.rdp.RdpAccountant()
    acc.compose(dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(z)), T))
    return acc.get_epsilon(delta)


def right_06_sub(inst):
    p = inst.params
    return rdp_epsilon(p["z"], p["q"], p["T"], p["delta"])


def wrong_06_sub(inst):
    p = inst.params
    return [(rdp_epsilon(p["z"], 1.0, p["T"], p["delta"]), "subsampling"),
            (rdp_epsilon(p["z"], p["q"], 1, p["delta"]), "one step")]


def right_06_cal(inst):
    p = inst.params
    return math.sqrt(p["T"]) / gaussian_mu(p["epsilon"], p["delta"])


def wrong_06_cal(inst):
    p = inst.params
    mu = gaussian_mu(p["epsilon"], p["delta"])
    return [(1 / mu, "one step"), (p["T"] / mu, "sqrt(T)/mu")]


CASES = {
    "01.h_at_optimum": (right_01_h, wrong_01_h),
    "01.stationary_point": (right_01_sp, wrong_01_sp),
    "01.stationary_interval": (right_01_iv, wrong_01_iv),
    "02.pair_sum": (right_02_pair, wrong_02_pair),
    "02.expected_progress": (right_02_prog, wrong_02_prog),
    "02.lemma2_bound": (right_02_bound, wrong_02_bound),
    "03.theorem1_rhs": (right_03_t1, wrong_03_t1),
    "03.optimal_step": (right_03_step, wrong_03_step),
    "03.theorem3_rhs": (right_03_t3, wrong_03_t3),
    "04.w1_reflection": (right_04_w1, wrong_04_w1),
    "04.skewness": (right_04_sk, wrong_04_sk),
    "04.clipping_bias": (right_04_bias, wrong_04_bias),
    "05.perturbed_stationary": (right_05_pk, wrong_05_pk),
    "05.cubic_law": (right_05_law, wrong_05_law),
    "05.slope_at_optimum": (right_05_slope, wrong_05_slope),
    "06.noise_std": (right_06_std, wrong_06_std),
    "06.gaussian_epsilon": (right_06_gauss, wrong_06_gauss),
    "06.subsampled_epsilon": (right_06_sub, wrong_06_sub),
    "06.calibrate": (right_06_cal, wrong_06_cal),
    "07.logcosh_clipped_mean": (right_07_lc, wrong_07_lc),
    "07.weighted_stall": (right_07_w, wrong_07_w),
}


def test_every_exercise_is_tested():
    assert set(exercises.list_exercises()) == set(CASES)


def _leaks(message, ref):
    """True if the feedback shows a number within 0.1% of the answer.

    Numbers of one digit (the 2 of c^2, the 1/2, ...) are formula text, not leaks.
    """
    import re

    vals = [v for v in np.atleast_1d(np.asarray(ref, dtype=float)) if abs(v) > 1e-9]
    for text in re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", message):
        if len(text.lstrip("+-").replace(".", "").lstrip("0")) < 2:
            continue
        x = float(text)
        if any(abs(x - v) <= 1e-3 * abs(v) for v in vals):
            return True
    return False


def test_leak_detector():
    assert _leaks("the answer is 2.5000 here", -2.5) is False
    assert _leaks("the answer is -2.500 here", -2.5)
    assert not _leaks("you forgot the 1/2 of c^2", 1.0001)
    assert _leaks("value 0.3333", 1 / 3)


@pytest.mark.parametrize("exercise_id", sorted(CASES))
@pytest.mark.parametrize("seed", SEEDS)
def test_checker_accepts_right_and_rejects_typical_wrong(exercise_id, seed):
    right, wrong = CASES[exercise_id]
    inst = exercises.get(exercise_id, seed=seed, show=False)
    ref = right(inst)
    fb = inst.check(ref, verbose=False)
    assert fb.correct, fb.message
    assert fb.answered
    # right answers written as text (as in a CSV) are accepted too
    assert inst.check(instructor.format_answer(ref), verbose=False).correct
    ex = exercises.exercise(exercise_id)
    seen = []
    for value, fragment in wrong(inst):
        fb = inst.check(value, verbose=False)
        assert not fb.correct, (exercise_id, seed, fragment)
        # two typical mistakes may give the same number on an instance: either explanation
        if not any(ex.close(value, v) for v in seen):
            assert fragment in fb.message, (fragment, fb.message)
        seen.append(value)
        assert not _leaks(fb.message, ref), fb.message


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_far_answers_get_a_hint_without_the_answer(exercise_id):
    right, _ = CASES[exercise_id]
    for seed in SEEDS[:3]:
        inst = exercises.get(exercise_id, seed=seed, show=False)
        ref = right(inst)
        far = np.asarray(ref, dtype=float) + 0.37 * (1 + np.abs(ref))
        far = tuple(far) if isinstance(ref, tuple) else far
        fb = inst.check(far, verbose=False)
        assert not fb.correct and fb.message and not _leaks(fb.message, ref)


@settings(max_examples=15)
@given(seed=st.integers(0, 10**6), exercise_id=st.sampled_from(sorted(CASES)))
def test_checker_accepts_the_right_answer_for_any_seed(seed, exercise_id):
    inst = exercises.get(exercise_id, seed=seed, show=False)
    assert inst.check(CASES[exercise_id][0](inst), verbose=False).correct


def test_tolerance_of_simulated_answer():
    """07.weighted_stall is answered by simulation: +-0.02 passes, 0.1 off fails."""
    inst = exercises.get("07.weighted_stall", seed=5, show=False)
    ref = right_07_w(inst)
    assert inst.check(ref + 0.02, verbose=False).correct
    assert inst.check(ref - 0.02, verbose=False).correct
    assert not inst.check(ref + 0.1, verbose=False).correct


def test_direction_hint_points_the_right_way():
    inst = exercises.get("01.stationary_point", seed=3, show=False)
    ref = right_01_sp(inst)
    assert "to the left" in inst.check(ref + 1.0, verbose=False).message
    assert "to the right" in inst.check(ref - 1.0, verbose=False).message


# ----------------------------------------------------------------------- instances, input
def test_same_seed_same_instance_and_seeds_differ():
    for e in exercises.list_exercises():
        a, b = exercises.get(e, 7, show=False), exercises.get(e, 7, show=False)
        assert a.question == b.question
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
        questions = {exercises.get(e, s, show=False).question for s in range(8)}
        assert len(questions) >= 6  # random instances, not one fixed question


def test_params_are_read_only():
    inst = exercises.get("07.logcosh_clipped_mean", 0, show=False)
    with pytest.raises(TypeError):
        inst.params["c"] = 1.0
    with pytest.raises(ValueError):
        inst.params["X"][0, 0] = 1.0
    with pytest.raises(AttributeError):
        inst.seed = 5
    assert exercises.get("07.logcosh_clipped_mean", 0, show=False).seed == 0


def test_get_prints_the_question_with_its_numbers(capsys):
    inst = exercises.get("01.stationary_point", seed=1234)
    out = capsys.readouterr().out
    assert "01.stationary_point" in out and "seed 1234" in out
    assert all(f"{v:g}" in out for v in inst.params["a"])


def test_check_none_and_unreadable_answers():
    inst = exercises.get("01.stationary_interval", seed=0, show=False)
    fb = inst.check(None, verbose=False)
    assert not fb.correct and not fb.answered and "no answer yet" in fb.message
    assert "could not read" in inst.check("about two", verbose=False).message
    assert "interval" in inst.check(1.0, verbose=False).message
    assert "lo <= hi" in inst.check((2.0, -2.0), verbose=False).message
    lo, hi = right_01_iv(inst)
    assert inst.check(f"[{lo}, {hi}]", verbose=False).correct
    assert "lower endpoint is right" in inst.check((lo, hi + 0.5), verbose=False).message


def test_stationary_set_is_accepted_as_an_answer():
    import clipsgd
    from clipsgd import problems

    inst = exercises.get("01.stationary_point", seed=2, show=False)
    zeros = clipsgd.stationary_points(problems.quadratic(inst.params["a"]), inst.params["c"])
    assert inst.check(zeros, verbose=False).correct


def test_parse_answer():
    assert parse_answer("number", "-2.5") == -2.5
    assert parse_answer("number", np.float32(0.5)) == 0.5
    assert parse_answer("interval", "(-2; 2)") == (-2.0, 2.0)
    assert parse_answer("interval", [-1, 3]) == (-1.0, 3.0)
    np.testing.assert_array_equal(parse_answer("vector", "[1e-1 2]", length=2), [0.1, 2.0])
    with pytest.raises(ValueError, match="one number"):
        parse_answer("number", [1, 2])
    with pytest.raises(ValueError, match="length 3"):
        parse_answer("vector", [1, 2], length=3)
    with pytest.raises(ValueError, match="kind"):
        parse_answer("matrix", 1)
    with pytest.raises(TypeError):
        parse_answer("number", True)
    with pytest.raises(ValueError, match="NaN"):
        parse_answer("number", float("nan"))


def test_bad_ids_and_seeds():
    with pytest.raises(ValueError, match="01.stationary_point"):
        exercises.get("01.nope", 1, show=False)
    with pytest.raises(TypeError, match="seed"):
        exercises.get("01.stationary_point", 1.5, show=False)
    with pytest.raises(ValueError, match="seed"):
        exercises.get("01.stationary_point", -1, show=False)
    with pytest.raises(TypeError):
        exercises.get(1, 1, show=False)
    assert exercises.list_exercises("01") == ["01.h_at_optimum", "01.stationary_interval", "01.stationary_point"]


# ------------------------------------------------------------------------- instructor
def test_assignment_seeds_are_deterministic_distinct_and_order_free():
    names = [f"student{i}" for i in range(300)]
    hw = instructor.assign(names, ["01.h_at_optimum"], course_seed=11)
    assert len(set(hw.seeds.values())) == 300
    assert hw.seeds == instructor.assign(names[::-1], ["01.h_at_optimum"], course_seed=11).seeds
    assert hw.seeds != instructor.assign(names, ["01.h_at_optimum"], course_seed=12).seeds
    assert 0 <= min(hw.seeds.values()) and max(hw.seeds.values()) < instructor.SEED_RANGE


def test_seed_collisions_are_resolved(monkeypatch):
    """With only 6 possible seeds, 6 students still get 6 different ones."""
    monkeypatch.setattr(instructor, "SEED_RANGE", 6)
    names = ["a", "b", "c", "d", "e", "f"]
    raw = [instructor.student_seed(0, s) for s in names]
    assert len(set(raw)) < 6  # the raw hashes collide ...
    hw = instructor.assign(names, ["01.h_at_optimum"], course_seed=0)
    assert sorted(hw.seeds.values()) == list(range(6))  # ... the assignment does not


def test_handout_write_and_grade_csv_round_trip(tmp_path):
    ids = ["01.h_at_optimum", "01.stationary_interval", "07.logcosh_clipped_mean"]
    hw = instructor.assign(["ada", "alan", "grace"], ids, course_seed=2024)
    text = hw.handout("ada")
    assert str(hw.seed("ada")) in text
    assert hw.instance("ada", ids[0]).question in text
    paths = hw.write(tmp_path)
    assert len(paths["handouts"]) == 3
    assert instructor.read_roster(paths["roster"]) == hw.seeds
    # the answer key, graded, scores full marks; built independently of the key:
    rows = []
    for s in hw.students:
        for e in ids:
            ref = CASES[e][0](hw.instance(s, e))
            rows.append({"student": s, "seed": hw.seed(s), "exercise": e, "answer": instructor.format_answer(ref)})
    answers = tmp_path / "answers.csv"
    with open(answers, "w", newline="") as fh:
        w = csv.DictWriter(fh, ["student", "seed", "exercise", "answer"])
        w.writeheader()
        w.writerows(rows)
    grades = instructor.grade(answers, seeds=paths["roster"])
    assert grades.scores() == {"ada": (3, 3), "alan": (3, 3), "grace": (3, 3)}
    assert instructor.grade(paths["answer_key"], seeds=paths["roster"]).scores() == grades.scores()
    assert instructor.grade(answers, course_seed=2024, students=["ada", "alan", "grace"]).scores() == grades.scores()
    # the empty template scores nothing
    assert all(ok == 0 for ok, _ in instructor.grade(paths["answers_template"], seeds=hw.seeds).scores().values())
    out = grades.to_csv(tmp_path / "grades.csv")
    assert out.splitlines()[0] == "student,exercise,seed,answer,correct,feedback"


def test_grade_explains_wrong_missing_and_foreign_answers():
    hw = instructor.assign(["ada", "alan"], ["01.stationary_point"], course_seed=3)
    inst = hw.instance("ada", "01.stationary_point")
    answers = [
        {"student": "ada", "exercise": "01.stationary_point", "answer": str(inst.params["a"].mean())},
        {"student": "alan", "exercise": "01.stationary_point", "answer": "1.0", "seed": str(hw.seed("ada"))},
    ]
    g = hw.grade(answers)
    by = {r.student: r for r in g.rows}
    assert not by["ada"].correct and "x*" in by["ada"].feedback
    assert not by["alan"].correct and "seed" in by["alan"].feedback
    assert hw.grade({}).rows[0].feedback == "no answer."
    with pytest.raises(ValueError, match="not in this assignment"):
        hw.grade([{"student": "eve", "exercise": "01.stationary_point", "answer": "1"}])
    with pytest.raises(ValueError, match="lacks column"):
        hw.grade([{"student": "ada", "answer": "1"}])
    with pytest.raises(ValueError, match="seeds"):
        instructor.grade(answers)


def test_cli(tmp_path, capsys):
    inst = exercises.get("01.h_at_optimum", 4, show=False)
    ref = right_01_h(inst)
    assert cli_main(["check", "01.h_at_optimum", "--seed", "4", "--", repr(ref)]) == 0
    assert cli_main(["check", "01.h_at_optimum", "--seed", "4", "--", "0"]) == 1
    assert cli_main(["assign", "--course-seed", "1", "--students", "ada,alan",
                     "--exercises", "01.h_at_optimum", "--out", str(tmp_path)]) == 0
    assert cli_main(["grade", "--roster", str(tmp_path / "roster.csv"),
                     str(tmp_path / "INSTRUCTOR_answer_key.csv")]) == 0
    assert "ada: 1/1" in capsys.readouterr().out


# ------------------------------------------------------------ non-finite and extreme answers
def _shaped(inst, value):
    """``value`` in the shape the instance asks for (one number, an interval, a vector)."""
    n = np.size(inst._ref)
    return value if n == 1 else [value] * n


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_infinite_answers_are_wrong_with_feedback_in_every_exercise(exercise_id):
    # inf used to reach the hint (h(inf)) and raise "x contains ... NaN or inf" from the
    # library, a parameter the student never gave; now, like NaN, it is feedback. 1e309 is
    # what float() makes of an answer beyond the float range.
    inst = exercises.get(exercise_id, seed=0, show=False)
    for value in (math.inf, -math.inf, 1e309):
        fb = inst.check(_shaped(inst, value), verbose=False)
        assert not fb.correct and fb.answered and "infinite" in fb.message, (value, fb.message)
    fb = inst.check(", ".join(["1e309"] * np.size(inst._ref)), verbose=False)  # as text (CLI, CSV)
    assert not fb.correct and "infinite" in fb.message
    assert "could not read" in inst.check(_shaped(inst, math.nan), verbose=False).message


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_huge_finite_answers_get_feedback_without_warnings(exercise_id, recwarn):
    # 1e308 is finite: a hint evaluating h(1e308) may overflow; the answer is still just
    # wrong (07.weighted_stall used to raise ValueError from its hint here)
    inst = exercises.get(exercise_id, seed=0, show=False)
    for value in (1e308, -1e308):
        fb = inst.check(_shaped(inst, value), verbose=False)
        assert not fb.correct and fb.message and not _leaks(fb.message, inst._ref)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def _one_error_line(capsys, command):
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith(f"python -m clipsgd.exercises {command}: error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("argv, names", [
    (["show", "01.stationary_point", "--seed", "-3"], "seed must be a non-negative integer"),
    (["check", "bogus", "--seed", "1", "--", "5"], "exercise_id must be one of"),
    (["assign", "--course-seed", "-1", "--students", "ada,alan", "--out", "OUT"],
     "course_seed must be a non-negative integer (got -1)"),
    (["grade", "--course-seed", "-2", "--students", "ada", "ANSWERS"],
     "course_seed must be a non-negative integer (got -2)"),
    (["grade", "--roster", "/nonexistent/roster.csv", "ANSWERS", "--out", "OUT/g.csv"],
     "No such file or directory"),
])
def test_cli_user_errors_are_one_line_and_status_2(tmp_path, capsys, argv, names):
    # these used to print a traceback and exit 1
    argv = [a.replace("OUT", str(tmp_path / "out")).replace("ANSWERS", str(tmp_path / "answers.csv"))
            for a in argv]
    assert cli_main(argv) == 2
    assert names in _one_error_line(capsys, argv[0])
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize("answer", ["inf", "1e309", "-inf"])
def test_cli_check_of_an_infinite_answer_is_feedback_not_an_error(capsys, answer):
    # a wrong answer (status 1) with the explanation, as for any other wrong number
    assert cli_main(["check", "01.stationary_point", "--seed", "1234", "--", answer]) == 1
    captured = capsys.readouterr()
    assert "[not yet]" in captured.out and "infinite" in captured.out and captured.err == ""


def test_cli_reads_negative_scientific_answers_without_double_dash(capsys):
    # '-1e-3' is a number, not an unknown option (the shared parser, clipsgd._cli._parser)
    assert cli_main(["check", "01.h_at_optimum", "--seed", "4", "-1e-3"]) == 1
    assert "[not yet]" in capsys.readouterr().out


# ------------------------------------------------------- stated precision, close answers
def _sig(x, n):
    return float(f"{x:.{n - 1}e}")


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_every_question_states_the_precision_its_checker_applies(exercise_id):
    ex = exercises.exercise(exercise_id)
    inst = exercises.get(exercise_id, seed=1, show=False)
    assert ex.precision.phrase() in inst.question.replace("each endpoint ", "").replace("each entry ", "")
    assert inst.question.count("Precision:") == 1


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_answers_rounded_to_the_stated_precision_are_accepted(exercise_id):
    ex = exercises.exercise(exercise_id)
    pr = ex.precision
    for seed in SEEDS[:4]:
        inst = exercises.get(exercise_id, seed=seed, show=False)
        ref = np.atleast_1d(np.asarray(CASES[exercise_id][0](inst), dtype=float))
        if pr.kind == "sig":
            rounded, coarse = ([_sig(x, pr.n) for x in ref], [_sig(x, pr.n - 1) for x in ref])
        elif pr.kind == "dec":
            rounded, coarse = [round(x, pr.n) for x in ref], [x + 3 * pr.atol for x in ref]
        elif pr.kind == "rel":
            rounded, coarse = [x * (1 + 0.999 * pr.n) for x in ref], [x * (1 + 1.4 * pr.n) for x in ref]
        else:
            rounded, coarse = [x + 0.999 * pr.n for x in ref], [x + 1.5 * pr.n for x in ref]
        shape = (lambda v: tuple(v)) if ex.kind == exercises.INTERVAL else (lambda v: v[0] if len(v) == 1 else v)
        assert inst.check(shape(rounded), verbose=False).correct, (seed, rounded)
        if ex.close(shape(coarse), shape(list(ref))):
            continue  # one digit fewer happens to be as good (e.g. 0.5 to 3 digits)
        fb = inst.check(shape(coarse), verbose=False)
        assert not fb.correct
        d_ref = ex.distance(shape(coarse), shape(list(ref)))
        if all(v is None or ex.distance(shape(coarse), v) > d_ref for _, v in inst._mistakes):
            assert fb.message.startswith("close, but not to the precision asked"), fb.message
            assert pr.ask() in fb.message
        assert not _leaks(fb.message, ref)


@pytest.mark.parametrize("exercise_id", sorted(CASES))
def test_no_recognised_mistake_is_accepted_under_the_stated_precision(exercise_id):
    """Each typical mistake lies more than 3 tolerances from the answer, so the mistake
    rounded to the stated precision still gets its own feedback, never 'right' or 'close'."""
    ex = exercises.exercise(exercise_id)
    for seed in range(12):
        inst = exercises.get(exercise_id, seed=seed, show=False)
        vals = [v for _, v in inst._mistakes if v is not None]
        for m, val in inst._mistakes:
            if val is None:
                continue
            assert not ex.close(val, inst._ref, 3.0), (seed, m.message)
            fb = inst.check(val, verbose=False)
            assert not fb.correct
            if ex.precision.kind == "sig" and ex.kind == exercises.NUMBER and val != 0:
                fb = inst.check(f"{_sig(val, ex.precision.n):.12g}", verbose=False)
                assert not fb.correct and not fb.message.startswith("close")
                if sum(ex.close(val, v) for v in vals) == 1:
                    assert fb.message == m.message, (seed, fb.message, m.message)


@pytest.mark.parametrize("exercise_id, seed, answer", [
    ("05.slope_at_optimum", 1234, "0.009411"),
    ("01.h_at_optimum", 2, "-0.5556"),
    ("01.h_at_optimum", 2, "-5/9"),
    ("01.h_at_optimum", 2, "-(10/18)"),
    ("03.optimal_step", 1, "0.1054"),
    ("05.cubic_law", 5, "-1.765"),
    ("05.cubic_law", 1273, "-14.1235"),  # exact -14.123457, graded 0 before
    ("02.lemma2_bound", 1, "0.8421"),
    ("02.expected_progress", 1, "0.6612"),
    ("06.gaussian_epsilon", 3, "11.6"),
])
def test_audit_examples_are_accepted(exercise_id, seed, answer, capsys):
    assert cli_main(["check", exercise_id, "--seed", str(seed), "--", answer]) == 0
    assert "[correct]" in capsys.readouterr().out


def test_too_coarse_answers_are_told_to_give_more_digits(capsys):
    # exact -5/9: three digits are "close", never "not right yet" plus a method hint
    assert cli_main(["check", "01.h_at_optimum", "--seed", "2", "--", "-0.556"]) == 1
    out = capsys.readouterr().out
    assert "close, but not to the precision asked" in out and "4 significant digits" in out
    assert "5556" not in out


def test_calibrate_within_one_percent_means_one_percent():
    for seed in range(4):
        inst = exercises.get("06.calibrate", seed=seed, show=False)
        ref = right_06_cal(inst)
        assert inst.check(ref * 1.0099, verbose=False).correct
        assert inst.check(ref * 0.9901, verbose=False).correct
        for off in (1.014, 0.986):
            fb = inst.check(ref * off, verbose=False)
            assert not fb.correct


def test_fractions_and_expressions_are_read_safely():
    assert parse_answer("number", "-5/9") == pytest.approx(-5 / 9, rel=1e-15)
    assert parse_answer("number", "(1 + 2/3) * 1e-2") == pytest.approx(5 / 300)
    assert parse_answer("number", "2^-3") == 0.125
    assert parse_answer("number", "-2**2") == -4.0
    assert parse_answer("interval", "(-1/2, 3/4)") == (-0.5, 0.75)
    np.testing.assert_allclose(parse_answer("vector", "[1/3; -2/3]", length=2), [1 / 3, -2 / 3])
    np.testing.assert_array_equal(parse_answer("vector", "0.5 -1e-1", length=2), [0.5, -0.1])
    assert math.isinf(parse_answer("number", "1e999999999"))  # fast: no huge integer is built
    assert math.isinf(parse_answer("number", "((1e399^64)^64)^64"))  # nor here
    for bad in ("__import__('os')", "1/0", "inf-inf", "0^-1", "(-8)^(1/3)", "abs(-1)", "2 3 +", "((1)", "1e5e5", "x", "()"):
        with pytest.raises(ValueError):
            parse_answer("number", bad)
    with pytest.raises(ValueError, match="nested"):
        parse_answer("number", "(" * 60 + "1" + ")" * 60)
    inst = exercises.get("01.h_at_optimum", seed=2, show=False)
    assert "could not read" in inst.check("1/0", verbose=False).message


# ----------------------------------------------------------------- grading from the CLI
def _write_answers(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "exercise", "answer"])
        w.writerows(rows)


def _graded_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_cli_grade_from_the_roster_scores_every_assigned_exercise(tmp_path, capsys):
    ids = ["01.stationary_point", "01.h_at_optimum", "05.cubic_law"]
    assert cli_main(["assign", "--course-seed", "7", "--students", "ada,alan", "--exercises", *ids,
                     "--out", str(tmp_path / "hw1")]) == 0
    roster = tmp_path / "hw1" / "roster.csv"
    assert instructor.read_roster_exercises(roster) == tuple(ids)
    hw = instructor.assign(["ada", "alan"], ids, course_seed=7)
    ref = right_01_sp(hw.instance("ada", "01.stationary_point"))
    _write_answers(tmp_path / "partial.csv", [["ada", "01.stationary_point", instructor.format_answer(ref)]])
    capsys.readouterr()
    assert cli_main(["grade", "--roster", str(roster), str(tmp_path / "partial.csv"),
                     "--out", str(tmp_path / "g.csv")]) == 0
    out = capsys.readouterr().out
    assert "ada: 1/3" in out and "alan: 0/3" in out
    rows = _graded_csv(tmp_path / "g.csv")
    assert len(rows) == 6
    assert sum(r["feedback"] == "no answer." for r in rows) == 5
    # the same as the Python grader of the assignment
    assert instructor.grade(tmp_path / "partial.csv", seeds=roster).scores() == hw.grade(
        tmp_path / "partial.csv").scores() == {"ada": (1, 3), "alan": (0, 3)}


def _assign_one_exercise(tmp_path):
    """``assign`` 01.stationary_point to ada and alan (course seed 7) into tmp_path/hw1; return the
    assignment, the ids and ada's right answer."""
    ids = ["01.stationary_point"]
    assert cli_main(["assign", "--course-seed", "7", "--students", "ada,alan", "--exercises", *ids,
                     "--out", str(tmp_path / "hw1")]) == 0
    hw = instructor.assign(["ada", "alan"], ids, course_seed=7)
    return hw, ids, right_01_sp(hw.instance("ada", ids[0]))


def test_cli_grade_warns_about_duplicates_and_grades_the_last(tmp_path, capsys):
    hw, ids, ref = _assign_one_exercise(tmp_path)
    _write_answers(tmp_path / "a.csv", [["ada", ids[0], "1e5"], ["ada", ids[0], instructor.format_answer(ref)]])
    capsys.readouterr()
    assert cli_main(["grade", "--roster", str(tmp_path / "hw1" / "roster.csv"), str(tmp_path / "a.csv")]) == 0
    captured = capsys.readouterr()
    assert "ada: 1/1" in captured.out
    warn = [ln for ln in captured.err.splitlines() if "more than once" in ln]
    assert len(warn) == 1 and "'ada'" in warn[0] and ids[0] in warn[0] and "rows 1, 2" in warn[0]
    with pytest.warns(instructor.GradingWarning, match="more than once"):
        hw.grade(tmp_path / "a.csv")


def test_cli_grade_reports_unknown_students_and_grades_the_rest(tmp_path, capsys):
    hw, ids, ref = _assign_one_exercise(tmp_path)
    _write_answers(tmp_path / "a.csv", [["ada", ids[0], instructor.format_answer(ref)], ["bob", ids[0], "1"],
                                        ["Alan", ids[0], "2"], ["ada", "01.h_at_optimum", "0.5"]])
    capsys.readouterr()
    assert cli_main(["grade", "--roster", str(tmp_path / "hw1" / "roster.csv"), str(tmp_path / "a.csv"),
                     "--out", str(tmp_path / "g.csv")]) == 0
    captured = capsys.readouterr()
    assert "ada: 1/1" in captured.out and "alan: 0/1" in captured.out and "not graded: 3" in captured.out
    err = captured.err.splitlines()
    assert any("'bob' is not on the roster" in ln for ln in err)
    assert any("'Alan'" in ln and "did you mean 'alan'" in ln for ln in err)
    assert any("01.h_at_optimum" in ln and "not in this assignment" in ln for ln in err)
    rows = _graded_csv(tmp_path / "g.csv")
    ungraded = [r for r in rows if r["correct"] == ""]
    assert [r["student"] for r in ungraded] == ["bob", "Alan", "ada"]
    assert all(r["feedback"].startswith("not graded: ") for r in ungraded)
    # the Python API stays strict unless asked
    with pytest.raises(ValueError, match="not on the roster"):
        hw.grade(tmp_path / "a.csv")
    with pytest.warns(instructor.GradingWarning):
        g = hw.grade(tmp_path / "a.csv", strict=False)
    assert g.scores() == {"ada": (1, 1), "alan": (0, 1)} and len(g.ungraded) == 3


def test_cli_grade_with_course_seed_reports_a_mistyped_exercise(tmp_path, capsys):
    _write_answers(tmp_path / "a.csv", [["ada", "01.stationary_point", "1"], ["ada", "01.stationary_pt", "2"]])
    assert cli_main(["grade", "--course-seed", "3", "--students", "ada,alan", str(tmp_path / "a.csv")]) == 0
    captured = capsys.readouterr()
    assert "ada: 0/1" in captured.out and "alan: 0/1" in captured.out
    assert "'01.stationary_pt' is not in this assignment" in captured.err


@pytest.mark.parametrize("answer", ["-" * 990 + "1", "2^" * 500 + "1", "2^-" * 600 + "1", "(" * 60 + "1" + ")" * 60])
def test_long_chains_of_signs_or_powers_are_unreadable_not_a_crash(answer):
    # audit: ~990 chained signs hit Python's recursion limit inside check(), and one such row
    # stopped grading for the whole class; chains count like parentheses (at most 50 deep)
    fb = exercises.get("01.stationary_point", seed=1, show=False).check(answer)
    assert not fb.correct and "too deeply nested" in str(fb)


def test_numbers_beyond_the_float_range_are_infinite_answers():
    # 10**400 and Fraction(10**400, 3) raised OverflowError in numpy's float conversion
    inst = exercises.get("01.stationary_point", seed=1, show=False)
    for answer in (10**400, -(10**400), Fraction(10**400, 3)):
        fb = inst.check(answer)
        assert not fb.correct and "infinite" in str(fb)
    assert inst.check("-" * 20 + "3").correct == inst.check("3").correct  # 20 signs still read


def test_grades_csv_neutralises_spreadsheet_formulas_but_keeps_negative_numbers():
    from clipsgd.exercises.instructor import _inert

    assert [_inert(v) for v in ("=1+1", "@SUM(1)", "+cmd", "-2.5", "-1e-3", "3", None)] == [
        "'=1+1", "'@SUM(1)", "'+cmd", "-2.5", "-1e-3", "3", ""]
