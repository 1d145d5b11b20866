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
within ``separation`` (3) tolerances of the right answer are rejected at generation time
(the next draw of the same generator is used), so every instance can tell the two apart.

Precision. Every exercise has a :class:`Precision` (default: 4 significant digits); the
question states it in one shared phrase (added here, after the exercise's own text) and
the checker applies exactly that tolerance:

* ``Precision.sig(N)``: relative error at most ``5 * 10**-N`` (what rounding to N
  significant digits can cost), plus an absolute ``floor`` (default 0) for answers that
  can be 0;
* ``Precision.dec(N)``: absolute error at most ``0.5 * 10**-N`` (N decimal places);
* ``Precision.rel(r)``: relative error at most ``r`` ("within 1%");
* ``Precision.abs(t)``: absolute error at most ``t`` (simulated answers).

An answer that matches no known mistake but is *near* the right one (within 20 tolerances
for digits, 3 for ``rel``/``abs``, and nearer to it than to any known mistake) gets
"close, but not to the precision asked: give ..." instead of a method hint.

Answers are numbers, intervals ``(lo, hi)`` or vectors; strings such as ``"-2.5"``,
``"-5/9"``, ``"[-2, 2]"``, ``"0.1, 0.3"`` or arithmetic of numbers such as
``"(1 + 2/3) * 1e-2"`` (no functions, no names) (from the CLI or a CSV of answers) are parsed by a small parser of
numbers, ``+ - * / ^ **`` and parentheses, with exact fractions (never ``eval``).
"""

from __future__ import annotations

import functools
import hashlib
import math
import numbers
import re
import types
import warnings
from fractions import Fraction
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

__all__ = [
    "Exercise",
    "Mistake",
    "Precision",
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
class Precision:
    """The precision an exercise asks for: what its question says and what its checker accepts.

    Build with :meth:`sig`, :meth:`dec`, :meth:`rel` or :meth:`abs`; ``note`` is appended
    to the phrase (e.g. why an exercise asks for less than the default).
    """

    kind: str  # "sig", "dec", "rel", "abs"
    n: float
    floor: float = 0.0
    note: str = ""

    @classmethod
    def sig(cls, digits: int = 4, floor: float = 0.0, note: str = "") -> "Precision":
        return cls("sig", int(digits), float(floor), note)

    @classmethod
    def dec(cls, places: int, note: str = "") -> "Precision":
        return cls("dec", int(places), 0.0, note)

    @classmethod
    def rel(cls, fraction: float, note: str = "") -> "Precision":
        return cls("rel", float(fraction), 0.0, note)

    @classmethod
    def abs(cls, tol: float, note: str = "") -> "Precision":
        return cls("abs", float(tol), 0.0, note)

    @property
    def rtol(self) -> float:
        return {"sig": 5.0 * 10.0 ** -self.n, "rel": self.n}.get(self.kind, 0.0)

    @property
    def atol(self) -> float:
        if self.kind == "dec":
            return 0.5 * 10.0 ** -self.n
        if self.kind == "abs":
            return self.n
        return self.floor

    @property
    def near_factor(self) -> float:
        """Answers within this many tolerances (but not within one) are 'close'."""
        return 20.0 if self.kind in ("sig", "dec") else 3.0

    def _bound(self) -> str:
        if self.kind in ("sig", "rel"):
            text = f"relative error at most {self.rtol:.2g}"
            if self.floor:
                text += f", or absolute error at most {self.floor:.2g}"
            return text
        return f"absolute error at most {self.atol:.2g}"

    def ask(self) -> str:
        """'to 4 significant digits', 'to 3 decimal places', 'within 1%', 'within +-0.03'."""
        if self.kind == "sig":
            return f"to {self.n} significant digits"
        if self.kind == "dec":
            return f"to {self.n} decimal places"
        if self.kind == "rel":
            return f"within {self.n * 100:g}%"
        return f"within +-{self.n:g}"

    def phrase(self) -> str:
        """The sentence every question ends with."""
        text = f"Precision: {self.ask()} (accepted: {self._bound()})"
        return text + (f"; {self.note}" if self.note else "") + "."

    def near_message(self) -> str:
        return (f"close, but not to the precision asked: give your answer {self.ask()} "
                f"({self._bound()}). Keep full precision in the intermediate steps and round only at the end.")


DEFAULT_PRECISION = Precision.sig(4)


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
    precision : Precision, default 4 significant digits
        Stated in the question; an answer ``a`` is right when
        ``|a - ref| <= atol + rtol |ref|`` (per entry), with ``rtol``/``atol`` from it.
    """

    id: str
    title: str
    kind: str
    generate: Callable
    question: Callable
    solve: Callable
    mistakes: Callable = lambda params: []
    hint: Callable = lambda params, answer: ""
    precision: Precision = DEFAULT_PRECISION
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

    @property
    def rtol(self) -> float:
        return self.precision.rtol

    @property
    def atol(self) -> float:
        return self.precision.atol

    # -- comparison -------------------------------------------------------------------
    def distance(self, a, b) -> float:
        """Largest entrywise ``|a - b|`` in tolerances of ``b`` (inf when shapes differ)."""
        a = np.atleast_1d(np.asarray(a, dtype=float))
        b = np.atleast_1d(np.asarray(b, dtype=float))
        if a.shape != b.shape:
            return math.inf
        with np.errstate(all="ignore"):  # 1e308 - (-1e308) is inf: as far as it gets
            tol = (self.atol + self.rtol * np.abs(b)) * (1 + 1e-9)  # 1e-9: decimal-to-binary slack
            err = np.abs(a - b)
            ratio = np.where(err == 0, 0.0, err / tol)
        return float(np.max(ratio))

    def close(self, a, b, factor: float = 1.0) -> bool:
        """True when the (parsed) answers ``a`` and ``b`` agree within ``factor`` tolerances."""
        return self.distance(a, b) <= factor


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
        self._question = _with_precision(ex, ex.question(self._params))

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
        try:  # read once (text is evaluated here); parse_answer below only checks the numbers
            answer = _as_floats(answer)
        except (TypeError, ValueError) as exc:
            return mk(False, f"could not read your answer: {exc}")
        if np.any(np.isinf(answer)):  # before the hints, which evaluate h(answer) and need it finite
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
        d_ref = ex.distance(ans, self._ref)
        if d_ref <= ex.precision.near_factor and all(
                val is None or d_ref < ex.distance(ans, val) for _, val in self._mistakes):
            return mk(False, ex.precision.near_message())
        if ex.kind == INTERVAL:
            lo_ok = ex.close(ans[0], self._ref[0])
            hi_ok = ex.close(ans[1], self._ref[1])
            part = ("the lower endpoint is right, the upper one is not. " if lo_ok and not hi_ok else
                    "the upper endpoint is right, the lower one is not. " if hi_ok and not lo_ok else "")
            return mk(False, part + (self._hint(ans) or "not right yet."))
        if ex.kind == VECTOR:
            wrong = np.flatnonzero([not ex.close(x, r) for x, r in zip(ans, self._ref)])
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
_UNSIGNED = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf(?:inity)?"  # a number literal, no sign
_NUM = rf"[-+]?(?:{_UNSIGNED})"
_TOKEN = re.compile(rf"\s*(?:(?P<num>{_UNSIGNED})|(?P<op>\*\*|[-+*/^()]))", re.IGNORECASE)
_MAX_TEXT, _MAX_DEPTH, _MAX_EXP = 2000, 50, 400


def _literal(text: str):
    """A number literal as an exact Fraction (float for inf and huge exponents)."""
    low = text.lower()
    if low.startswith("inf"):
        return math.inf
    m = re.search(r"e([-+]?\d+)$", low)
    if m and abs(int(m.group(1))) > _MAX_EXP:  # Fraction('1e999999') would build a huge integer
        return float(text)
    return Fraction(text)


def _to_float(x) -> float:
    try:
        return float(x)
    except OverflowError:  # a Fraction beyond the float range
        return math.inf if x > 0 else -math.inf


def _shrink(x):
    """A Fraction that grew beyond ~1e600 (or below 1e-600) becomes a float (inf or 0)."""
    if isinstance(x, Fraction) and x.numerator.bit_length() + x.denominator.bit_length() > 4096:
        return _to_float(x)
    return x


def _evaluate(text: str) -> float:
    """The value of an arithmetic expression: numbers, + - * / ^ ** and parentheses.

    A hand-written recursive-descent parser over exact fractions (floats only for inf
    and powers): nothing is ever passed to ``eval``.
    """
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"expected a number or an expression such as -5/9 or 1.2e-3, got {text!r}")
        tokens.append(("num", m.group("num")) if m.group("num") else ("op", m.group("op")))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if not tokens:
        raise ValueError("the answer is empty")
    i = 0

    def peek():
        return tokens[i] if i < len(tokens) else (None, None)

    def take():
        nonlocal i
        i += 1
        return tokens[i - 1]

    def arith(op, x, y):
        return _shrink(_arith(op, x, y))

    def _arith(op, x, y):
        if isinstance(x, float) or isinstance(y, float):  # inf or a huge power: float arithmetic
            x, y = _to_float(x), _to_float(y)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            if (isinstance(x, float) and math.isinf(x) and y == 0) or (isinstance(y, float) and math.isinf(y) and x == 0):
                raise ValueError(f"{text!r} is not a number (inf * 0)")
            return x * y
        if y == 0:
            raise ValueError(f"division by zero in {text!r}")
        return x / y

    def expr(depth):
        x = term(depth)
        while peek() in (("op", "+"), ("op", "-")):
            x = arith(take()[1], x, term(depth))
        return x

    def term(depth):
        x = unary(depth)
        while peek() in (("op", "*"), ("op", "/")):
            x = arith(take()[1], x, unary(depth))
        return x

    def bounded(depth):
        if depth > _MAX_DEPTH:
            raise ValueError(f"too deeply nested (more than {_MAX_DEPTH} parentheses, signs or powers in a chain)")

    def unary(depth):
        bounded(depth)
        if peek() in (("op", "+"), ("op", "-")):
            sign = take()[1]
            x = unary(depth + 1)  # a chain of signs nests like parentheses (and is bounded alike)
            return -x if sign == "-" else x
        return power(depth)

    def power(depth):
        x = atom(depth)
        if peek() in (("op", "^"), ("op", "**")):
            take()
            y = unary(depth + 1)  # right-associative; -2^2 = -(2^2)
            if (isinstance(x, Fraction) and isinstance(y, Fraction) and y.denominator == 1 and abs(y) <= 64
                    and not (x == 0 and y < 0)
                    and (x.numerator.bit_length() + x.denominator.bit_length()) * abs(y) <= 8192):
                return _shrink(x ** int(y))
            try:
                out = _to_float(x) ** _to_float(y)
            except OverflowError:
                out = math.inf if _to_float(x) > 0 or _to_float(y) % 2 == 0 else -math.inf
            except ZeroDivisionError:
                raise ValueError(f"division by zero in {text!r}") from None
            if isinstance(out, complex) or math.isnan(out):
                raise ValueError(f"{text!r} is not a real number")
            return out
        return x

    def atom(depth):
        bounded(depth)
        kind, val = peek()
        if kind == "num":
            take()
            return _literal(val)
        if (kind, val) == ("op", "("):
            take()
            x = expr(depth + 1)
            if peek() != ("op", ")"):
                raise ValueError(f"unbalanced parentheses in {text!r}")
            take()
            return x
        raise ValueError(f"expected a number or an expression such as -5/9 or 1.2e-3, got {text!r}")

    value = expr(0)
    if i != len(tokens):
        raise ValueError(f"expected a number or an expression such as -5/9 or 1.2e-3, got {text!r}")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"{text!r} is not a number")
    return _to_float(value)


def _split_items(text: str) -> list:
    """Top-level items of ``text``: separated by ',' or ';' (or, for plain numbers, spaces)."""
    text = text.strip()
    if len(text) >= 2 and text[0] + text[-1] in ("()", "[]"):
        depth = 0
        for k, ch in enumerate(text):  # strip the outer pair only if it encloses everything
            depth += 1 if ch in "([" else (-1 if ch in ")]" else 0)
            if depth == 0 and k < len(text) - 1:
                break
        else:
            text = text[1:-1]
    items, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced parentheses in {text!r}")
        if ch in ",;" and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in {text!r}")
    if len(items) == 1:
        words = items[0].split()
        if len(words) > 1 and all(re.fullmatch(_NUM, w, flags=re.IGNORECASE) for w in words):
            return words  # "0.5 1e-1": numbers separated by spaces
    return [it.replace("[", "(").replace("]", ")") for it in items]


def _numbers_in(text: str) -> list:
    text = text.strip()
    if not text:
        raise ValueError("the answer is empty")
    if len(text) > _MAX_TEXT:
        raise ValueError(f"the answer is too long ({len(text)} characters)")
    items = _split_items(text)
    if any(not it.strip() for it in items):
        raise ValueError(f"expected numbers separated by commas, got {text!r}")
    return [_evaluate(it) for it in items]


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
    except OverflowError:  # an int or Fraction beyond the largest float, e.g. 10**400: infinite as a float
        if isinstance(value, numbers.Real):
            return np.array([math.inf if value > 0 else -math.inf])
        raise TypeError("expected numbers within the float range (about 1.8e308)") from None
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


def _with_precision(ex: Exercise, question: str) -> str:
    """The question with the shared precision phrase (per entry/endpoint for vectors, intervals)."""
    phrase = ex.precision.phrase()
    if ex.kind == INTERVAL:
        phrase = phrase.replace("Precision: ", "Precision: each endpoint ", 1)
    elif ex.kind == VECTOR:
        phrase = phrase.replace("Precision: ", "Precision: each entry ", 1)
    return question.rstrip() + "\n" + phrase


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
