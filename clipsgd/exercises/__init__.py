"""Randomized homework exercises with auto-checkers, one set per tutorial.

A student loads an instance from their seed, reads the question, computes with clipsgd
and checks the answer; the feedback says what is wrong without giving the answer away::

    from clipsgd import exercises
    inst = exercises.get("01.stationary_point", seed=1234)   # prints the question
    inst.check(-2.5)                                         # prints what is wrong, if anything

``exercises.list_exercises()`` gives every id; :mod:`clipsgd.exercises.instructor`
assigns seeds to students, writes handouts and answer keys, and grades a CSV of answers.
Worked solutions are in ``tutorials/solutions/`` (kept apart so an instructor can
withhold them). ``python -m clipsgd.exercises --help`` is the command-line version.
"""

from . import _t01, _t02, _t03, _t04, _t05, _t06, _t07  # noqa: F401  (registers the exercises)
from ._core import (
    INTERVAL,
    NUMBER,
    VECTOR,
    Exercise,
    Feedback,
    Instance,
    Mistake,
    Precision,
    exercise,
    get,
    list_exercises,
    parse_answer,
    register,
)
from . import instructor  # noqa: E402

__all__ = [
    "get",
    "list_exercises",
    "exercise",
    "Instance",
    "Feedback",
    "Exercise",
    "Mistake",
    "Precision",
    "register",
    "parse_answer",
    "instructor",
    "NUMBER",
    "INTERVAL",
    "VECTOR",
]
