"""Instructor tools: per-student instances, handouts, answer keys and grading.

Every student gets one seed; exercise ``E`` for that student is
``clipsgd.exercises.get(E, seed)``, so a student needs nothing but the seed and the ids.

>>> from clipsgd.exercises import instructor
>>> hw = instructor.assign(["ada", "alan"], ["01.h_at_optimum"], course_seed=2024)
>>> hw.seeds == instructor.assign(["alan", "ada"], ["01.h_at_optimum"], course_seed=2024).seeds
True
>>> key = hw.answer_key()                     # instructor only: {(student, id): answer}
>>> grades = hw.grade({s: {e: key[s, e]} for (s, e) in key})
>>> grades.scores()
{'ada': (1, 1), 'alan': (1, 1)}

Seeds are derived from ``(course_seed, student)`` by SHA-256 and lie in [0, 10**6);
on the (rare) collision of two students' seeds the later student in sorted order is
re-hashed, so the mapping depends only on the course seed and the set of students.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

import numpy as np

from ._core import Feedback, Instance, _check_seed, _instance, exercise, list_exercises

__all__ = ["student_seed", "assign", "Assignment", "grade", "Grades", "GradeRow", "format_answer",
           "read_roster", "read_roster_exercises", "GradingWarning"]


class GradingWarning(UserWarning):
    """A submitted row was graded with a caveat (a duplicate) or not graded (an unknown student)."""

SEED_RANGE = 10**6


def student_seed(course_seed: int, student: str, attempt: int = 0) -> int:
    """The seed of ``student`` in a course (deterministic, in [0, 10**6))."""
    course_seed = _check_seed(course_seed, "course_seed")
    if not isinstance(student, str) or not student.strip():
        raise ValueError(f"student must be a non-empty string (got {student!r})")
    h = hashlib.sha256(f"clipsgd-course:{course_seed}:{student.strip()}:{attempt}".encode()).digest()
    return int.from_bytes(h[:8], "little") % SEED_RANGE


def _seeds(course_seed, students):
    seeds, used = {}, set()
    for s in sorted(set(students)):
        attempt = 0
        while (v := student_seed(course_seed, s, attempt)) in used:
            attempt += 1
        used.add(v)
        seeds[s] = v
    return seeds


def format_answer(value) -> str:
    """An answer as text that :func:`clipsgd.exercises.parse_answer` reads back."""
    if np.ndim(value) == 0:
        return repr(float(value))
    return "[" + ", ".join(repr(float(v)) for v in np.ravel(value)) + "]"


@dataclass(frozen=True)
class GradeRow:
    """One graded (student, exercise), or (``graded=False``) a submitted row that was not graded."""

    student: str
    exercise_id: str
    seed: Optional[int]
    answer: str
    correct: bool
    feedback: str
    graded: bool = True


@dataclass(frozen=True)
class Grades:
    """Result of grading: one :class:`GradeRow` per (student, exercise) of the assignment.

    Rows that could not be graded (``strict=False``: a student not on the roster, an
    exercise not in the assignment) follow with ``graded=False`` and the reason as
    feedback; they count in no score. ``problems`` lists every such row and every
    duplicate submission, one line each (the CLI prints them on stderr).
    """

    rows: tuple
    problems: tuple = ()

    def scores(self) -> dict:
        """``{student: (n_correct, n_exercises)}`` (graded rows only)."""
        out: dict = {}
        for r in self.rows:
            if not r.graded:
                continue
            ok, tot = out.get(r.student, (0, 0))
            out[r.student] = (ok + int(r.correct), tot + 1)
        return dict(sorted(out.items()))

    def by_exercise(self) -> dict:
        """``{exercise_id: fraction of students right}`` (graded rows only)."""
        agg: dict = {}
        for r in self.rows:
            if r.graded:
                agg.setdefault(r.exercise_id, []).append(r.correct)
        return {k: float(np.mean(v)) for k, v in sorted(agg.items())}

    @property
    def ungraded(self) -> tuple:
        """The submitted rows that were not graded (see the class docstring)."""
        return tuple(r for r in self.rows if not r.graded)

    def to_csv(self, path=None) -> str:
        """Write (or return) a CSV: student, exercise, seed, answer, correct, feedback.

        ``correct`` is 1 or 0; it is empty for a row that was not graded, whose feedback
        starts with "not graded:" and gives the reason. A student's text that a spreadsheet
        would run as a formula (it starts with =, +, -, @, a tab or a carriage return and is
        not a plain number, e.g. ``=1+1``) is written with a leading ``'``.
        """
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["student", "exercise", "seed", "answer", "correct", "feedback"])
        for r in self.rows:
            w.writerow([_inert(r.student), _inert(r.exercise_id), "" if r.seed is None else r.seed,
                        _inert(r.answer), int(r.correct) if r.graded else "", _inert(r.feedback)])
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as fh:
                fh.write(text)
        return text

    def summary(self) -> str:
        lines = ["student: score"]
        lines += [f"  {s}: {ok}/{tot}" for s, (ok, tot) in self.scores().items()]
        lines.append("exercise: fraction right")
        lines += [f"  {e}: {frac:.0%}" for e, frac in self.by_exercise().items()]
        if self.ungraded:
            lines.append(f"not graded: {len(self.ungraded)} submitted row(s) (reasons on stderr and in the CSV)")
        return "\n".join(lines)

    def __repr__(self):
        return self.summary()


def _read_rows(answers) -> list:
    """Rows {student, exercise, answer[, seed]} from a CSV path, a nested dict or rows."""
    if isinstance(answers, (str, os.PathLike)):
        with open(answers, newline="") as fh:
            rows = list(csv.DictReader(fh))
    elif isinstance(answers, Mapping):
        rows = [{"student": s, "exercise": e, "answer": a}
                for s, per in answers.items() for e, a in per.items()]
    else:
        rows = [dict(r) for r in answers]
    out = []
    for i, r in enumerate(rows):
        r = {str(k).strip().lower(): v for k, v in r.items() if k is not None}
        missing = {"student", "exercise", "answer"} - set(r)
        if missing:
            raise ValueError(f"answers row {i} lacks column(s) {sorted(missing)}; need student, exercise, answer")
        out.append(r)
    return out


def _is_blank(a) -> bool:
    return a is None or (isinstance(a, str) and not a.strip())


@dataclass(frozen=True)
class Assignment:
    """Exercises ``exercise_ids`` for ``students``, with one seed per student."""

    course_seed: int
    exercise_ids: tuple
    seeds: dict = field(repr=False)

    @property
    def students(self) -> tuple:
        return tuple(self.seeds)

    def seed(self, student: str) -> int:
        try:
            return self.seeds[student]
        except KeyError:
            raise ValueError(f"student {student!r} is not in this assignment") from None

    def instance(self, student: str, exercise_id: str) -> Instance:
        return _instance(exercise(exercise_id).id, self.seed(student))

    def handout(self, student: str) -> str:
        """The questions for one student, as Markdown."""
        seed = self.seed(student)
        parts = [f"# Homework for {student}\n",
                 f"Your seed is **{seed}**. Load each exercise with "
                 f"`clipsgd.exercises.get(\"<id>\", seed={seed})` and check your answer with "
                 "`.check(answer)`.\n"]
        for e in self.exercise_ids:
            inst = self.instance(student, e)
            parts.append(f"## {e}: {inst.title}\n\n```\n{inst.question}\n```\n")
        return "\n".join(parts)

    def answer_key(self) -> dict:
        """``{(student, exercise_id): answer}`` (for the instructor only)."""
        return {(s, e): self.instance(s, e)._ref for s in self.students for e in self.exercise_ids}

    def roster_csv(self) -> str:
        """student, seed, exercises: the exercise ids (space-separated) on every row."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["student", "seed", "exercises"])
        ids = " ".join(self.exercise_ids)
        for s, v in self.seeds.items():
            w.writerow([s, v, ids])
        return buf.getvalue()

    def write(self, folder) -> dict:
        """Write handouts, the roster, an empty answer sheet and (separately) the key.

        Files: ``handouts/<student>.md``, ``roster.csv`` (student, seed, exercises: the
        assignment's exercise ids, so grading from the roster scores all of them),
        ``answers_template.csv`` (student, seed, exercise, answer) and
        ``INSTRUCTOR_answer_key.csv`` (do not distribute). Returns their paths.
        """
        os.makedirs(os.path.join(folder, "handouts"), exist_ok=True)
        paths = {"handouts": []}
        for s in self.students:
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s)
            p = os.path.join(folder, "handouts", f"{safe}.md")
            with open(p, "w") as fh:
                fh.write(self.handout(s))
            paths["handouts"].append(p)
        paths["roster"] = os.path.join(folder, "roster.csv")
        with open(paths["roster"], "w", newline="") as fh:
            fh.write(self.roster_csv())
        paths["answers_template"] = os.path.join(folder, "answers_template.csv")
        key = self.answer_key()
        paths["answer_key"] = os.path.join(folder, "INSTRUCTOR_answer_key.csv")
        with open(paths["answers_template"], "w", newline="") as t, open(paths["answer_key"], "w", newline="") as k:
            wt, wk = csv.writer(t), csv.writer(k)
            wt.writerow(["student", "seed", "exercise", "answer"])
            wk.writerow(["student", "seed", "exercise", "answer"])
            for s in self.students:
                for e in self.exercise_ids:
                    wt.writerow([s, self.seeds[s], e, ""])
                    wk.writerow([s, self.seeds[s], e, format_answer(key[s, e])])
        return paths

    def grade(self, answers, strict: bool = True) -> Grades:
        """Grade answers: a CSV path, ``{student: {exercise_id: answer}}`` or rows.

        Every (student, exercise) of the assignment gets a row; a missing or blank answer
        is wrong with the feedback "no answer.". A row whose ``seed`` column differs from
        the student's seed is graded wrong (it answers someone else's instance).

        Several rows for the same (student, exercise): the *last* one (in file order) is
        graded, and a :class:`GradingWarning` names the student, the exercise and the rows
        (answers rows are counted from 1, the header not counted).

        Rows for a student not on the roster (names are compared exactly, after trimming
        spaces: ``Alan`` is not ``alan``) or an exercise not in the assignment raise
        ValueError when ``strict``; otherwise they are reported (a GradingWarning, and a
        ``graded=False`` row with the reason, after the graded rows) and the rest is graded.
        """
        given, where, problems, ungraded = {}, {}, [], []
        lower = {s.lower(): s for s in self.students}
        for i, r in enumerate(_read_rows(answers)):
            s, e = str(r["student"]).strip(), str(r["exercise"]).strip()
            reason = None
            if s not in self.seeds:
                guess = lower.get(s.lower())
                reason = (f"student {s!r} is not on the roster"
                          + (f" (did you mean {guess!r}? names must match exactly)" if guess else ""))
            elif e not in self.exercise_ids:
                reason = f"exercise {e!r} is not in this assignment {list(self.exercise_ids)}"
            if reason is not None:
                if strict:
                    raise ValueError(f"answers row {i + 1}: {reason}"
                                     + ("" if s in self.seeds else " (student not in this assignment)"))
                problems.append(f"answers row {i + 1} not graded: {reason}")
                a = r.get("answer")
                ungraded.append(GradeRow(s, e, None, "" if a is None else str(a), False,
                                         f"not graded: {reason}.", graded=False))
                continue
            where.setdefault((s, e), []).append(i + 1)
            if len(where[s, e]) > 1:
                rows_ = ", ".join(map(str, where[s, e]))
                problems.append(f"student {s!r} answered {e} more than once (answers rows {rows_}); "
                                f"the last, row {i + 1}, is graded")
            given[s, e] = r
        for msg in problems:
            warnings.warn(msg, GradingWarning, stacklevel=2)
        rows = []
        for s in self.students:
            for e in self.exercise_ids:
                seed = self.seeds[s]
                r = given.get((s, e))
                a = None if r is None else r["answer"]
                if r is not None and not _is_blank(r.get("seed")) and _seed_differs(r["seed"], seed):
                    fb = Feedback(False, f"this answer is for seed {r['seed']}, but {s}'s seed is {seed}.", e, seed)
                elif _is_blank(a):
                    fb = Feedback(False, "no answer.", e, seed, answered=False)
                else:
                    fb = self.instance(s, e).check(a, verbose=False)
                rows.append(GradeRow(s, e, seed, "" if a is None else str(a), fb.correct, fb.message))
        return Grades(tuple(rows) + tuple(ungraded), tuple(problems))


def _seed_differs(text, seed) -> bool:
    try:
        return int(float(text)) != seed
    except (TypeError, ValueError, OverflowError):
        return True


def assign(students: Iterable[str], exercise_ids: Optional[Iterable[str]] = None,
           course_seed: int = 0) -> Assignment:
    """Give each student a seed for the exercises ``exercise_ids`` (default: all).

    Parameters
    ----------
    students : iterable of str
        Student identifiers (names, emails, ids); duplicates are merged.
    exercise_ids : iterable of str, optional
        Ids from :func:`clipsgd.exercises.list_exercises`.
    course_seed : int >= 0
        Different courses (or years) get different seeds.
    """
    students = [str(s).strip() for s in students]
    if not students or any(not s for s in students):
        raise ValueError("students must be a non-empty list of non-empty names")
    ids = tuple(list_exercises() if exercise_ids is None else exercise_ids)
    for e in ids:
        exercise(e)  # validates the id
    if not ids:
        raise ValueError("exercise_ids must contain at least one exercise id")
    return Assignment(_check_seed(course_seed, "course_seed"), ids, _seeds(course_seed, students))


def read_roster(path) -> dict:
    """``{student: seed}`` from a roster CSV (columns student, seed[, exercises])."""
    with open(path, newline="") as fh:
        return {r["student"].strip(): int(r["seed"]) for r in csv.DictReader(fh)}


def read_roster_exercises(path) -> Optional[tuple]:
    """The assignment's exercise ids recorded in a roster CSV (``None`` for an old roster without them)."""
    with open(path, newline="") as fh:
        found = {tuple((r.get("exercises") or "").split()) for r in csv.DictReader(fh)}
    found.discard(())
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"roster {os.fspath(path)!r} lists different exercises on different rows")
    return found.pop()


def grade(answers, exercise_ids=None, *, course_seed=None, students=None, seeds=None,
          strict: bool = True) -> Grades:
    """Grade answers without building an :class:`Assignment` first.

    Give either ``seeds`` (``{student: seed}`` or a roster CSV path), or ``course_seed``
    (with ``students``, default: the students found in ``answers``). ``exercise_ids``
    defaults to the exercises recorded in the roster CSV (written by
    :meth:`Assignment.write`), else to the exercises found in ``answers``. ``strict``:
    see :meth:`Assignment.grade`.
    """
    if course_seed is not None and seeds is None:  # a bad seed is reported before any file is read
        course_seed = _check_seed(course_seed, "course_seed")
    rows = _read_rows(answers)
    if exercise_ids is None and isinstance(seeds, (str, os.PathLike)):
        exercise_ids = read_roster_exercises(seeds)
    if exercise_ids is None:
        exercise_ids = sorted({str(r["exercise"]).strip() for r in rows})
        if not strict:  # a mistyped id in the answers is an ungraded row, not the end of grading
            known = set(list_exercises())
            exercise_ids = [e for e in exercise_ids if e in known]
    if seeds is not None:
        if isinstance(seeds, (str, os.PathLike)):
            seeds = read_roster(seeds)
        seeds = {str(k): _check_seed(v) for k, v in seeds.items()}
        for e in exercise_ids:
            exercise(e)
        hw = Assignment(-1 if course_seed is None else course_seed, tuple(exercise_ids), dict(sorted(seeds.items())))
    elif course_seed is not None:
        if students is None:
            students = sorted({str(r["student"]).strip() for r in rows})
        hw = assign(students, exercise_ids, course_seed)
    else:
        raise ValueError("give seeds (dict or roster CSV) or course_seed")
    return hw.grade(rows, strict=strict)


def _inert(cell):
    """``cell`` as a spreadsheet shows it without running it: text starting with =, +, -, @,
    a tab or a carriage return gets a leading ``'`` unless it is a plain number (``-2.5``)."""
    text = "" if cell is None else str(cell)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text
