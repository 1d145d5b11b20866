r"""The machinery of randomized, auto-checked exercises.

An :class:`Exercise` is a small bundle of pure functions:

* ``generate(rng) -> params``: a random instance (numbers and arrays), drawn from a
  :class:`numpy.random.Generator` seeded by the student's seed and the exercise id;
* ``question(params) -> str``: the question, with the instance's numbers in it;
* ``solve(params) -> answer``: the reference answer (computed with clipsgd);
* ``mistakes(params) -> [Mistake]``: the answers that typical mistakes give, each with
  the explanation a student should read when they give it;
* ``hint(params, answer) -> str``: feedback for a wrong answer that matches no known
  mistake (e.g. "h(your x) > 0, so the stall point lies to the left").

Feedback never contains the reference answer. Instances whose typical mistakes land
within the tolerance of the right answer are rejected at generation time (the next draw
of the same generator is used), so every instance can tell the two apart.

Answers are numbers, intervals ``(lo, hi)`` or vectors; strings such as ``"-2.5"``,
``"[-2, 2]"`` or ``"0.1, 0.3"`` (from a CSV of answers) are parsed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import numbers
import re
import types
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

__all__ = [
    "Exercise",
    "Mistake",
    "Feedback",
    "Instance",
    "register",
    "get",
    "exercise",
    "list_exercises",
    "parse_answer",
    "NUMBER",
    "INTERVAL",
    "VECTOR",
]

NUMBER, INTERVAL, VECTOR = "number", "interval", "vector"
_KINDS = (NUMBER, INTERVAL, VECTOR)
_MAX_DRAWS = 1000

_REGISTRY: dict = {}


@dataclass(frozen=True)
class Mistake:
    """The answer a typical mistake gives, and what to tell a student who gives it."""

    value: Any
    message: str


@dataclass(frozen=True)
class Feedback:
    """Outcome of :meth:`Instance.check`: ``correct`` and an explanation (never the answer)."""

    correct: bool
    message: str
    exercise_id: str = ""
    seed: Optional[int] = None
    answered: bool = True

    def __bool__(self):
        return self.correct

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"Feedback({self.exercise_id}, seed={self.seed}, correct={self.correct})"


@dataclass(frozen=True)
class Exercise:
    """One exercise: how to draw an instance, ask it, solve it and diagnose answers.

    Parameters
    ----------
    id : str
        ``"NN.short_name"``, NN the tutorial number.
    title : str
    kind : {"number", "interval", "vector"}
    generate, question, solve, mistakes, hint : callable
        See the module docstring.
    rtol, atol : float
        An answer ``a`` is right when ``|a - ref| <= atol + rtol |ref|`` (per entry).
    accept : callable, optional
        ``accept(params, answer) -> bool``: overrides the tolerance test (e.g. for
        answers estimated by simulation).
    """

    id: str
    title: str
    kind: str
    generate: Callable
    question: Callable
    solve: Callable
    mistakes: Callable = lambda params: []
    hint: Callable = lambda params, answer: ""
    rtol: float = 1e-6
    atol: float = 1e-6
    length: Optional[Callable] = None  # vector answers: params -> expected length
    separation: float = 3.0  # mistakes must lie this many tolerances from the answer

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS} (got {self.kind!r})")
        if not re.fullmatch(r"\d\d\.[a-z0-9_]+", self.id):
            raise ValueError(f"exercise id must look like '01.short_name' (got {self.id!r})")

    @property
    def tutorial(self) -> str:
        """The two-digit number of the tutorial this exercise belongs to."""
        return self.id[:2]

    # -- comparison -------------------------------------------------------------------
    def close(self, a, b, factor: float = 1.0) -> bool:
        """True when the (parsed) answers ``a`` and ``b`` agree within the tolerance."""
        a = np.atleast_1d(np.asarray(a, dtype=float))
        b = np.atleast_1d(np.asarray(b, dtype=float))
        if a.shape != b.shape:
            return False
        return bool(np.all(np.abs(a - b) <= factor * (self.atol + self.rtol * np.abs(b))))


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _rng_for(exercise_id: str, seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), _stable_int(exercise_id)]))


def register(ex: Exercise) -> Exercise:
    """Add an exercise to the catalogue (ids must be unique)."""
    if ex.id in _REGISTRY:
        raise ValueError(f"exercise {ex.id!r} is already registered")
    _REGISTRY[ex.id] = ex
    return ex


def exercise(exercise_id: str) -> Exercise:
    """The :class:`Exercise` with this id (ValueError listing the ids otherwise)."""
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string such as '01.stationary_point' (got {exercise_id!r})")
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        raise ValueError(
            f"exercise_id must be one of {sorted(_REGISTRY)} (got {exercise_id!r})"
        ) from None


def list_exercises(tutorial: Optional[str] = None) -> list:
    """Ids of all exercises, in order (optionally only those of tutorial ``"NN"``)."""
    ids = sorted(_REGISTRY)
    if tutorial is not None:
        tutorial = f"{int(tutorial):02d}" if str(tutorial).isdigit() else str(tutorial)
        ids = [i for i in ids if i.startswith(tutorial + ".")]
    return ids


def _check_seed(seed, name: str = "seed") -> int:
    """A seed: an integer >= 0 (not a float, not a bool); the errors name ``name``."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer (got {seed!r})")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer (got {seed})")
    return int(seed)


def _freeze(params: dict) -> types.MappingProxyType:
    out = {}
    for key, val in params.items():
        if isinstance(val, np.ndarray):
            val = val.copy()
            val.flags.writeable = False
        out[key] = val
    return types.MappingProxyType(out)


def _draw(ex: Exercise, seed: int):
    """Parameters, reference answer and mistakes of instance ``seed`` (rejecting ambiguous draws)."""
    rng = _rng_for(ex.id, seed)
    for _ in range(_MAX_DRAWS):
        params = ex.generate(rng)
        if params is None:
            continue
        ref = _parse(ex, ex.solve(params), params)
        mistakes = [(m, _parse_or_none(ex, m.value, params)) for m in ex.mistakes(params)]
        if all(val is None or not ex.close(val, ref, ex.separation) for _, val in mistakes):
            return params, ref, tuple(mistakes)
    raise RuntimeError(f"could not draw an unambiguous instance of {ex.id} for seed {seed}")


class Instance:
    """A randomized instance of an exercise for one seed.

    Attributes
    ----------
    exercise_id : str
    seed : int
    params : mapping
        The instance's numbers and arrays (read-only).
    question : str
    """

    def __init__(self, ex: Exercise, seed: int):
        self._ex = ex
        self._seed = seed
        params, ref, mistakes = _draw(ex, seed)
        self._params = _freeze(params)
        self._ref = ref
        self._mistakes = mistakes  # (Mistake, parsed value), computed once
        self._question = ex.question(self._params)

    # read-only: instances are shared (cached by get)
    exercise_id = property(lambda self: self._ex.id)
    seed = property(lambda self: self._seed)
    params = property(lambda self: self._params)
    question = property(lambda self: self._question)

    @property
    def title(self) -> str:
        return self._ex.title

    @property
    def data(self):
        """Alias of :attr:`params` (the numbers and arrays of this instance)."""
        return self.params

    def text(self) -> str:
        """Title, seed and question, ready to print or hand out."""
        return f"[{self.exercise_id}] {self._ex.title} (seed {self.seed})\n{self.question}"

    def __str__(self):
        return self.text()

    def __repr__(self):
        return f"<exercise {self.exercise_id} seed={self.seed}>\n{self.question}"

    def check(self, answer, verbose: bool = True) -> Feedback:
        """Check ``answer``; print (``verbose``) and return a :class:`Feedback`.

        ``None`` means "not answered yet" (not an error, so a notebook runs top to
        bottom before the student fills in the answers). An answer that cannot be read
        (text, NaN) or is infinite (``inf``, ``"1e309"``) is a wrong answer whose
        feedback says so, in every exercise; it never raises.

        Parameters
        ----------
        answer : float, sequence of float, str, StationarySet or None
            The answer (see :func:`parse_answer`).
        verbose : bool, default True
            Print the feedback.

        Returns
        -------
        Feedback
        """
        fb = self._feedback(answer)
        if verbose:
            print(("[correct] " if fb.correct else "[not yet] ") + f"{self.exercise_id}: " + fb.message)
        return fb

    def _hint(self, ans) -> str:
        """The exercise's hint for a wrong (parsed, finite) answer; ``""`` when it has none.

        Hints evaluate the instance at the answer (e.g. h(answer)); for an answer near the
        float limit (1e308) that can overflow. Such an answer is still just wrong: the
        overflow is silenced and a hint that cannot be computed gives way to the generic
        "not right yet." instead of an error.
        """
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                return self._ex.hint(self.params, ans)
            except (ValueError, ArithmeticError):
                return ""

    def _feedback(self, answer) -> Feedback:
        ex = self._ex
        mk = lambda ok, msg, answered=True: Feedback(ok, msg, ex.id, self.seed, answered)  # noqa: E731
        if answer is None:
            return mk(False, "no answer yet: replace None with your answer.", answered=False)
        if _has_inf(answer):  # before the hints, which evaluate h(answer) and need it finite
            return mk(False, _INFINITE_ANSWER)
        try:
            ans = _parse(ex, answer, self.params)
        except (TypeError, ValueError) as exc:
            single = _parse_or_none(_as_number, answer, self.params) if ex.kind == INTERVAL else None
            if single is not None:
                hint = self._hint(single)
                return mk(False, "this asks for an interval (lo, hi), not a single number. " + hint)
            return mk(False, f"could not read your answer: {exc}")
        if ex.close(ans, self._ref):
            return mk(True, "right.")
        for m, val in self._mistakes:
            if val is not None and ex.close(ans, val):
                return mk(False, m.message)
        if ex.kind == INTERVAL:
            lo_ok = ex.close(ans[0], self._ref[0])
            hi_ok = ex.close(ans[1], self._ref[1])
            part = ("the lower endpoint is right, the upper one is not. " if lo_ok and not hi_ok else
                    "the upper endpoint is right, the lower one is not. " if hi_ok and not lo_ok else "")
            return mk(False, part + (self._hint(ans) or "not right yet."))
        if ex.kind == VECTOR:
            wrong = np.flatnonzero(~np.isclose(ans, self._ref, rtol=ex.rtol, atol=ex.atol))
            part = f"entries {wrong.tolist()} are off. " if 0 < wrong.size < len(ans) else ""
            return mk(False, part + (self._hint(ans) or "not right yet."))
        return mk(False, self._hint(ans) or "not right yet.")


@functools.lru_cache(maxsize=4096)
def _instance(exercise_id: str, seed: int) -> Instance:
    """Instances are immutable and some cost an accountant call to draw: cache them."""
    return Instance(exercise(exercise_id), seed)


def get(exercise_id: str, seed: int, show: bool = True) -> Instance:
    """The instance of ``exercise_id`` for a student's ``seed``; prints its question.

    Parameters
    ----------
    exercise_id : str
        E.g. ``"01.stationary_point"``; see :func:`list_exercises`.
    seed : int >= 0
        The student's seed: the same seed always gives the same instance.
    show : bool, default True
        Print the question.

    Examples
    --------
    >>> from clipsgd import exercises
    >>> inst = exercises.get("01.stationary_point", seed=1234, show=False)
    >>> inst.check(None, verbose=False).correct
    False
    """
    inst = _instance(exercise(exercise_id).id, _check_seed(seed))
    if show:
        print(inst.text())
    return inst


# ------------------------------------------------------------------------- answer parsing
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf(?:inity)?"


def _numbers_in(text: str) -> list:
    text = text.strip()
    if not text:
        raise ValueError("the answer is empty")
    pieces = re.findall(_NUM, text, flags=re.IGNORECASE)
    rest = re.sub(_NUM, " ", text, flags=re.IGNORECASE)
    if re.search(r"[^\s,;()\[\]]", rest):
        raise ValueError(f"expected numbers separated by commas, got {text!r}")
    return [float(p) for p in pieces]


def _as_floats(value) -> np.ndarray:
    if isinstance(value, str):
        return np.asarray(_numbers_in(value), dtype=float)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a boolean is not a number")
    # a StationarySet (or anything like it) answers with its points or intervals
    if hasattr(value, "points") and hasattr(value, "intervals"):
        pts, ivs = tuple(value.points), tuple(value.intervals)
        if len(pts) == 1 and not ivs:
            return np.atleast_1d(np.asarray(pts[0], dtype=float)).ravel()
        if len(ivs) == 1 and not pts:
            return np.asarray(ivs[0], dtype=float)
        raise ValueError("this stationary set has several pieces; give one number or one interval")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"expected a number or a sequence of numbers (got {type(value).__name__})") from None
    return arr.ravel()


def parse_answer(kind: str, value, length: Optional[int] = None):
    """Read an answer of the given kind from a number, a sequence or a string.

    Returns a float (number), a ``(lo, hi)`` tuple (interval) or a 1-D array (vector).

    Examples
    --------
    >>> parse_answer("number", " -2.5 ")
    -2.5
    >>> parse_answer("interval", "[-2, 2]")
    (-2.0, 2.0)
    >>> parse_answer("vector", "0.5; 1e-1", length=2)
    array([0.5, 0.1])
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS} (got {kind!r})")
    arr = _as_floats(value)
    if np.any(np.isnan(arr)):
        raise ValueError("the answer contains NaN")
    if kind == NUMBER:
        if arr.size != 1:
            raise ValueError(f"expected one number, got {arr.size}")
        return float(arr[0])
    if kind == INTERVAL:
        if arr.size == 1:
            raise ValueError("expected an interval (two numbers lo, hi), got a single number")
        if arr.size != 2:
            raise ValueError(f"expected an interval (two numbers lo, hi), got {arr.size} numbers")
        if arr[0] > arr[1]:
            raise ValueError("an interval is written (lo, hi) with lo <= hi")
        return (float(arr[0]), float(arr[1]))
    if length is not None and arr.size != length:
        raise ValueError(f"expected a vector of length {length}, got {arr.size} numbers")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the answer must be finite")
    return arr


_INFINITE_ANSWER = ("your answer is infinite (inf, or a number beyond the largest float, about "
                    "1.8e308); every answer here is finite.")


def _has_inf(value) -> bool:
    """True when the answer reads as numbers of which one is +-inf (``"inf"``, ``1e309``, ...).

    Unreadable answers are False here: :func:`parse_answer` explains what is wrong with them.
    """
    try:
        arr = _as_floats(value)
    except (TypeError, ValueError):
        return False
    return bool(np.any(np.isinf(arr)))


class _AsNumber:  # stands in for an Exercise when reading a single number
    kind = NUMBER
    length = None


_as_number = _AsNumber()


def _parse(ex: Exercise, value, params):
    length = ex.length(params) if ex.length is not None else None
    return parse_answer(ex.kind, value, length)


def _parse_or_none(ex: Exercise, value, params):
    try:
        return _parse(ex, value, params)
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------- text helpers
def fmt(x, digits: int = 4) -> str:
    """A number for a question: integers without decimals, others with ``digits``."""
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == round(x) and abs(x) < 1e12:
        return str(int(round(x)))
    return f"{x:.{digits}g}"


def fmt_vec(v, digits: int = 4) -> str:
    return "(" + ", ".join(fmt(x, digits) for x in np.ravel(v)) + ")"


def direction_hint(value: float, name: str = "h", at: str = "your answer") -> str:
    """'h(your answer) = +0.12 > 0: ...' for 1-D root-finding exercises."""
    sign = "> 0" if value > 0 else "< 0"
    side = "left" if value > 0 else "right"
    return (f"{name}({at}) = {value:+.4g} {sign}: the expected update still moves x to the {side}, "
            f"so the point you want lies to the {side} of your answer.")
