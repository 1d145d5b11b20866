"""``python -m clipsgd.exercises``: exercises from the command line.

Students::

    python -m clipsgd.exercises list
    python -m clipsgd.exercises show 01.stationary_point --seed 1234
    python -m clipsgd.exercises check 01.stationary_point --seed 1234 -- -2.5

Instructors::

    python -m clipsgd.exercises assign --course-seed 2024 --students roster.txt --out hw1 \\
        --exercises 01.h_at_optimum 01.stationary_point
    python -m clipsgd.exercises grade --roster hw1/roster.csv answers.csv --out grades.csv
"""

from __future__ import annotations

import argparse
import sys

from .._cli._parser import ArgumentParser, describe_error, error_line
from . import exercise, get, instructor, list_exercises

PROG = "python -m clipsgd.exercises"


def _students(spec: str) -> list:
    """Names from a file (one per line, or a CSV with a 'student' column) or a comma list."""
    import csv
    import os

    if os.path.exists(spec):
        with open(spec, newline="") as fh:
            text = fh.read()
        first = text.splitlines()[0] if text.strip() else ""
        if "student" in first.lower().split(","):
            return [r["student"] for r in csv.DictReader(text.splitlines())]
        return [line.strip() for line in text.splitlines() if line.strip()]
    return [s.strip() for s in spec.split(",") if s.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m clipsgd.exercises`` (``-1e-3`` is a number, not an option).

    Returns
    -------
    argparse.ArgumentParser
    """
    ap = ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="list the exercise ids")
    p.add_argument("--tutorial", help="only this tutorial's exercises (e.g. 01)")
    p = sub.add_parser("show", help="print an instance's question")
    p.add_argument("id")
    p.add_argument("--seed", type=int, required=True)
    p = sub.add_parser("check", help="check an answer (-2.5 or -1e-3 is an answer, not an option)")
    p.add_argument("id")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("answer", nargs="+")
    p = sub.add_parser("assign", help="seeds, handouts, answer template and key for a class")
    p.add_argument("--course-seed", type=int, required=True)
    p.add_argument("--students", required=True, help="file (one name a line, or CSV with 'student') or a,b,c")
    p.add_argument("--exercises", nargs="*", help="exercise ids (default: all)")
    p.add_argument("--out", required=True, help="folder to write into")
    p = sub.add_parser("grade", help="grade a CSV of answers (student, exercise, answer[, seed])")
    p.add_argument("answers")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--roster", help="roster.csv written by 'assign' (student, seed, exercises): every "
                   "(student, exercise) it lists is graded, unanswered ones as 'no answer.'")
    g.add_argument("--course-seed", type=int)
    p.add_argument("--students", help="with --course-seed: the full class list")
    p.add_argument("--exercises", nargs="*",
                   help="exercise ids (default: those recorded in --roster, else those in the answers)")
    p.add_argument("--out", help="write per-answer grades and feedback to this CSV")
    return ap


def main(argv=None) -> int:
    """Run the exercises command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success (``check``: a right answer), 1 for a wrong answer to ``check``, 2 for
        bad input (an unknown id, a negative seed, a missing file): one line
        ``python -m clipsgd.exercises <command>: error: ...`` on stderr, no traceback.
        ``grade`` grades what it can and exits 0 even when some rows were not graded
        (an unknown student, an exercise not assigned) or were submitted twice: each
        such row is one ``... grade: warning: ...`` line on stderr and, for ungraded
        rows, a row with an empty ``correct`` and the reason in the output CSV.
    """
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, TypeError, OSError) as exc:
        error_line(f"{PROG} {args.cmd}", describe_error(exc))
        return 2


def _run(args) -> int:
    if args.cmd == "list":
        for e in list_exercises(args.tutorial):
            print(f"{e:28s} {exercise(e).title}")
    elif args.cmd == "show":
        get(args.id, args.seed)
    elif args.cmd == "check":
        fb = get(args.id, args.seed, show=False).check(" ".join(args.answer))
        return 0 if fb.correct else 1
    elif args.cmd == "assign":
        hw = instructor.assign(_students(args.students), args.exercises, args.course_seed)
        paths = hw.write(args.out)
        print(f"wrote {len(paths['handouts'])} handouts, {paths['roster']}, {paths['answers_template']}")
        print(f"and the answer key {paths['answer_key']} (do not distribute)")
    elif args.cmd == "grade":
        import warnings

        students = _students(args.students) if args.students else None
        with warnings.catch_warnings():  # reported below, once, in the CLI's own format
            warnings.simplefilter("ignore", instructor.GradingWarning)
            grades = instructor.grade(args.answers, args.exercises, course_seed=args.course_seed,
                                      students=students, seeds=args.roster, strict=False)
        for msg in grades.problems:
            print(f"{PROG} grade: warning: {msg}", file=sys.stderr)
        print(grades.summary())
        if args.out:
            grades.to_csv(args.out)
            print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
