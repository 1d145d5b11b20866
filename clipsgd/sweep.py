r"""Grids of runs: every (algorithm parameters, seed) point, resumable, on any executor.

:func:`sweep` runs :func:`clipsgd.run` at every point of the cartesian product

.. math:: \{\text{values of } p_1\} \times \dots \times \{\text{values of } p_m\} \times \{\text{seeds}\}

and reduces each :class:`~clipsgd.engine.Result` to a small dict of numbers
(``metrics``, by default :func:`default_metrics`). It runs

* in this process, one point after another (``executor=None``, the default);
* on any ``concurrent.futures``-style executor: anything with ``submit(fn, *args)``
  returning futures with ``result()``/``done()`` (``ThreadPoolExecutor``,
  ``ProcessPoolExecutor``, ``dask.distributed.Client`` or ``Client.get_executor()``).
  With a dask ``Client`` the problem is scattered to the workers once.

Store and resume
----------------
With ``store=PATH`` every finished point is written to ``PATH/<key>.json`` as soon as
it finishes (by the submitting process, so workers need no shared file system), through
a temporary file and :func:`os.replace`: a file is either complete or absent, never half
written. ``key`` is a stable hash (SHA-256 of a canonical JSON) of everything that
determines the result: the problem's data, the resolved algorithm description, the
seed, ``steps``, ``runs``, the run options and the name of the ``metrics`` function.
A sweep started again on the same store (``resume=True``, the default) loads the points
already there and runs only the missing ones; an interrupted sweep therefore loses at
most the points that were running, and never computes a finished point twice. Two grid
points that resolve to the same algorithm share one file.

Results are identical whatever the executor: a point is a single :func:`clipsgd.run`
call with its own seed, and the engine is bit-reproducible for a given seed.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import enum
import hashlib
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Callable, Optional

import numpy as np

from ._validate import check_int

__all__ = ["sweep", "grid_points", "default_metrics", "load_store", "point_key", "SweepTable"]

#: Version of the on-disk record format (part of every key).
STORE_FORMAT = 1
_MANIFEST = "sweep.json"


# ------------------------------------------------------------------- canonical forms
def _jsonable(value):
    """Plain JSON types (floats keep inf/nan; arrays become nested lists)."""
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    raise TypeError(f"cannot store a value of type {type(value).__name__} ({value!r}); "
                    "metrics must return numbers, strings, lists or arrays")


def _canonical(obj) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"))


def _algorithm_description(algorithm) -> dict:
    """Class name and every field of a frozen algorithm description."""
    if not dataclasses.is_dataclass(algorithm) or isinstance(algorithm, type):
        raise TypeError(f"algorithm must be a clipsgd algorithm description (got {type(algorithm).__name__})")
    desc = {"class": type(algorithm).__name__}
    for f in dataclasses.fields(algorithm):
        desc[f.name] = _jsonable(getattr(algorithm, f.name))
    return desc


def _array_digest(a) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def _problem_fingerprint(problem) -> dict:
    """Name, kind, dimension and a digest of the data (and of a custom oracle's name)."""
    fp = {
        "name": problem.name,
        "kind": int(problem.kind),
        "dim": int(problem.dim),
        "X": _array_digest(problem.X),
        "Y": _array_digest(problem.Y),
        "P": _array_digest(problem.P),
    }
    if problem.grad_fn is not None:
        fn = getattr(problem.grad_fn, "py_func", problem.grad_fn)
        fp["grad_fn"] = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    return fp


def _callable_name(fn) -> Optional[str]:
    if fn is None:
        return None
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def point_key(problem_fingerprint: dict, algorithm, seed: int, steps: int, runs: int,
              options: dict) -> str:
    """Stable 20-hex-digit key of one sweep point (SHA-256 of its canonical JSON)."""
    payload = {
        "format": STORE_FORMAT,
        "problem": problem_fingerprint,
        "algorithm": _algorithm_description(algorithm),
        "seed": int(seed),
        "steps": int(steps),
        "runs": int(runs),
        "options": options,
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:20]


# ------------------------------------------------------------------------ the grid
def grid_points(grid: Optional[Mapping], seeds) -> list:
    """The cartesian product of the grid values (in key order) times the seeds (innermost).

    Examples
    --------
    >>> [tuple(p.items()) for p in grid_points({"c": [1.0, 2.0]}, seeds=[0, 1])]
    [(('c', 1.0), ('seed', 0)), (('c', 1.0), ('seed', 1)), (('c', 2.0), ('seed', 0)), (('c', 2.0), ('seed', 1))]
    """
    grid = {} if grid is None else dict(grid)
    for name, values in grid.items():
        if name == "seed":
            raise ValueError("grid must not contain 'seed'; pass the seeds as seeds=[...]")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"grid[{name!r}] must be a list of values (got {values!r})")
    lists = [list(v) for v in grid.values()]
    for name, values in zip(grid, lists):
        if not values:
            raise ValueError(f"grid[{name!r}] must contain at least one value")
    seeds = _seeds(seeds)
    points = []
    for combo in itertools.product(*lists):
        for s in seeds:
            p = dict(zip(grid, combo))
            p["seed"] = s
            points.append(p)
    return points


def _seeds(seeds) -> list:
    if isinstance(seeds, (int, np.integer)):
        seeds = [seeds]
    out = [check_int("seeds", s, 0) for s in seeds]
    if not out:
        raise ValueError("seeds must contain at least one seed")
    return out


def _resolver(algorithm, grid):
    """params -> algorithm, from a base description (fields replaced) or a factory."""
    if dataclasses.is_dataclass(algorithm) and not isinstance(algorithm, type):
        names = {f.name for f in dataclasses.fields(algorithm)}
        unknown = [p for p in (grid or {}) if p not in names]
        if unknown:
            raise ValueError(f"grid parameter(s) {unknown} are not fields of {type(algorithm).__name__}; "
                             f"allowed: {sorted(names)}")
        return lambda params: dataclasses.replace(algorithm, **params)
    if callable(algorithm):
        return lambda params: algorithm(**params)
    raise TypeError("algorithm must be an algorithm description (e.g. DPSGD(...)) or a callable "
                    f"make_algorithm(**params) returning one (got {type(algorithm).__name__})")


# --------------------------------------------------------------------------- metrics
def default_metrics(result) -> dict:
    r"""Summary numbers of one :class:`~clipsgd.engine.Result` (means over its runs).

    ``x_mean`` (a float for d = 1, a list for d <= 8), ``x_std`` (same shape),
    ``dist_to_opt`` :math:`\frac1R\sum_r\lVert x_r - x^*\rVert` when :math:`x^*` is known,
    ``loss`` and ``grad_norm`` at the last record (when recorded), ``clip_fraction``
    over all steps, and ``epsilon`` for private algorithms.
    """
    x = np.asarray(result.x)
    d = x.shape[1]
    out = {}
    if d <= 8:
        xm, xs = x.mean(axis=0), x.std(axis=0)
        out["x_mean"] = float(xm[0]) if d == 1 else xm.tolist()
        out["x_std"] = float(xs[0]) if d == 1 else xs.tolist()
    x_star = getattr(result.problem, "x_star", None)
    if x_star is not None:
        out["dist_to_opt"] = float(np.linalg.norm(x - np.asarray(x_star)[None, :], axis=1).mean())
    loss = np.asarray(result.loss)[:, -1]
    if np.isfinite(loss).all():
        out["loss"] = float(loss.mean())
        out["grad_norm"] = float(np.asarray(result.grad_norm)[:, -1].mean())
    cf_ = np.asarray(result.clip_fraction, dtype=float)
    if cf_.size and np.isfinite(cf_).any():
        out["clip_fraction"] = float(np.nanmean(cf_))
    privacy = result.get("privacy")
    eps = getattr(privacy, "epsilon", None) if privacy is not None else None
    if eps is not None:
        out["epsilon"] = float(eps)
    return out

#: Columns every row has besides the metrics: a metric must not take their names.
_RESERVED_COLUMNS = ("seed", "key", "diverged", "error")


class _NamedMetrics:
    """``{name: fn}`` as one ``metrics(result) -> dict``: column ``name`` holds ``fn(result)``."""

    def __init__(self, functions: dict):
        self.functions = functions

    def __call__(self, result) -> dict:
        return {name: fn(result) for name, fn in self.functions.items()}


def _is_anonymous(fn) -> bool:
    """A lambda: its qualified name (``<lambda>``) is shared by every other lambda in scope."""
    return getattr(fn, "__name__", None) == "<lambda>"


def _metrics_spec(metrics, grid, store):
    """``(callable or None, its identity in the store key)`` from the ``metrics`` argument.

    A callable is identified by its qualified name (as it always was, so stores made
    before keep resuming); a dict by its names and functions. A lambda given alone with a
    ``store`` is a ValueError: two different lambdas would get the same key, and one
    would silently load (or overwrite) the other's stored results.
    """
    if metrics is None:
        return None, None
    if isinstance(metrics, Mapping):
        if not metrics:
            raise ValueError("metrics must map at least one column name to a function")
        taken = set(_RESERVED_COLUMNS) | set(grid or {})
        for name, fn in metrics.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"metrics names must be non-empty strings (got {name!r})")
            if name in taken:
                raise ValueError(f"metrics name {name!r} is a column of every row already; "
                                 f"choose a name other than {sorted(taken)}")
            if not callable(fn):
                raise TypeError(f"metrics[{name!r}] must be a callable result -> value "
                                f"(got {type(fn).__name__})")
        functions = dict(metrics)
        return _NamedMetrics(functions), {name: _callable_name(fn) for name, fn in functions.items()}
    if not callable(metrics):
        raise TypeError("metrics must be a callable result -> dict or a dict {name: callable result -> value} "
                        f"(got {type(metrics).__name__})")
    if store is not None and _is_anonymous(metrics):
        raise ValueError("metrics is a lambda: its name '<lambda>' is the same for every lambda, so the store "
                         "could not tell two different metrics apart (one would load or overwrite the other's "
                         "results); pass a named function (def) or a dict {'name': function}")
    return metrics, _callable_name(metrics)


def _run_point(problem, algorithm, seed, steps, runs, run_kwargs, metrics):
    """Worker side of one point: run, reduce with ``metrics``, return plain JSON data."""
    from .engine import run

    from .engine import DivergenceError

    t0 = time.perf_counter()
    try:
        res = run(problem, algorithm, steps, runs=runs, seed=seed, **run_kwargs)
    except DivergenceError as exc:  # a result of the grid (lr too large), not a failure of the sweep
        return {"metrics": {"diverged": True, "error": str(exc)}, "wall_time": time.perf_counter() - t0}
    m = (metrics or default_metrics)(res)
    if not isinstance(m, Mapping):
        raise TypeError(f"metrics must return a dict of numbers (got {type(m).__name__})")
    return {"metrics": {**_jsonable(m), "diverged": False}, "wall_time": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- store
def _default_file_mode() -> int:
    """0666 minus the process umask: the mode ``open(path, "w")`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def _write_atomic(path: str, data: dict) -> None:
    """Write JSON to ``path`` via a temporary file in the same folder and os.replace."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; a store is as readable as any file written here
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_record(path: str) -> Optional[dict]:
    try:
        with open(path) as fh:
            rec = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or "metrics" not in rec or "key" not in rec:
        return None
    return rec


def load_store(store) -> "SweepTable":
    """Every finished point in a store folder, as a :class:`SweepTable` (sorted by key)."""
    store = os.fspath(store)
    if not os.path.isdir(store):
        raise ValueError(f"store must be an existing folder (got {store!r})")
    records = []
    for name in sorted(os.listdir(store)):
        if name.startswith(".") or not name.endswith(".json") or name == _MANIFEST:
            continue
        rec = _read_record(os.path.join(store, name))
        if rec is not None:
            records.append(rec)
    return SweepTable([_row(r["params"], r) for r in records], records=records)


def _row(params: dict, record: dict) -> dict:
    row = dict(params)
    row.update(record["metrics"])
    row["key"] = record["key"]
    return row


class SweepTable(list):
    """The rows of a sweep (dicts: grid parameters, ``seed``, metrics, ``key``), in grid order.

    Attributes
    ----------
    records : list of dict
        The full stored records (with algorithm description, wall time, ...).
    computed, loaded : int
        Points run by this call, and points taken from the store.
    """

    def __init__(self, rows=(), records=(), computed=0, loaded=0):
        super().__init__(rows)
        self.records = list(records)
        self.computed = computed
        self.loaded = loaded

    @property
    def columns(self) -> list:
        """Column names, in first-seen order."""
        seen = {}
        for row in self:
            for k in row:
                seen.setdefault(k, None)
        return list(seen)

    def column(self, name) -> np.ndarray:
        """One column as an array (NaN where a row lacks it)."""
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; columns are {self.columns}")
        vals = [row.get(name, math.nan) for row in self]
        try:
            return np.asarray(vals, dtype=float)
        except (TypeError, ValueError):
            return np.asarray(vals, dtype=object)

    @property
    def params(self) -> list:
        """Names of the grid parameters (without ``seed``)."""
        for rec in self.records:
            return [n for n in rec.get("params", {}) if n != "seed"]
        return []

    def mean_over_seeds(self) -> list:
        """One row per distinct grid point: scalar metrics averaged over its seeds
        (``n_seeds`` counts them; ``diverged`` becomes the fraction of seeds that diverged,
        and a metric missing from a diverged seed is left out of its point)."""
        names = self.params
        groups: dict = {}
        for row in self:
            groups.setdefault(_canonical({k: row.get(k) for k in names}), []).append(row)
        out = []
        for rows in groups.values():
            base = {k: rows[0].get(k) for k in names}
            base["n_seeds"] = len(rows)
            for col in self.columns:
                if col in names or col in ("seed", "key"):
                    continue
                vals = [r.get(col) for r in rows]
                if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                    base[col] = float(np.mean(vals))
                elif col == "diverged" and all(isinstance(v, bool) for v in vals):
                    base[col] = float(np.mean(vals))  # the fraction of seeds that diverged
            out.append(base)
        return out


# -------------------------------------------------------------------------- progress
class _Progress:
    """A one-line text progress bar on stderr (no dependencies)."""

    def __init__(self, total: int, loaded: int, enabled: bool, stream=None, width: int = 28):
        self.total, self.loaded, self.enabled = total, loaded, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = loaded
        self.t0 = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self.draw()

    def draw(self, final: bool = False):
        if not self.enabled:
            return
        frac = self.done / self.total if self.total else 1.0
        fill = int(round(frac * self.width))
        el = time.perf_counter() - self.t0
        computed = self.done - self.loaded
        remaining = self.total - self.done
        eta = f", ~{_hms(el / computed * remaining)} left" if computed and remaining else ""
        from_store = f" ({self.loaded} from store)" if self.loaded else ""
        line = (f"sweep [{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} points"
                f"{from_store}, {_hms(el)} elapsed{eta}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:  # logs: one line per 10%, and the last
            decile = int(frac * 10)
            if decile == self._last_decile and not final:
                return
            self._last_decile = decile
            self.stream.write(line + "\n")
        self.stream.flush()

    def step(self):
        self.done += 1
        self.draw(final=self.done == self.total)

    def close(self):
        if self.enabled and self.tty and self.done != self.total:
            self.stream.write("\n")
            self.stream.flush()


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ------------------------------------------------------------------------- executors
def _wait_first(pending: set):
    """(done, not_done) as soon as at least one future in ``pending`` is done."""
    sample = next(iter(pending))
    if isinstance(sample, cf.Future):
        return cf.wait(pending, return_when=cf.FIRST_COMPLETED)
    if type(sample).__module__.split(".")[0] == "distributed":
        from distributed import wait

        res = wait(list(pending), return_when="FIRST_COMPLETED")
        return set(res.done), set(res.not_done)
    while True:  # any other futures: poll
        done = {f for f in pending if f.done()}
        if done:
            return done, pending - done
        time.sleep(0.005)


# ------------------------------------------------------------------------------ sweep
def sweep(problem, algorithm, grid: Optional[Mapping] = None, *, seeds=(0,), steps: int, runs: int = 1,
          store=None, resume: bool = True, executor=None, progress: bool = True,
          metrics: Optional[Callable] = None, max_pending: int = 64, **run_kwargs) -> SweepTable:
    r"""Run ``algorithm`` at every point of ``grid`` x ``seeds``; store and return the metrics.

    Parameters
    ----------
    problem : Problem
    algorithm : algorithm description or callable
        A base description (e.g. ``DPSGD(lr=0.1, c=1.0, noise_multiplier=1.0,
        sample_rate=0.01)``) whose fields named in ``grid`` are replaced at each point
        (``dataclasses.replace``, so every point is validated), or a factory
        ``make_algorithm(**params)`` returning a description.
    grid : dict of str -> list, optional
        Parameter values; the points are their cartesian product, in key order.
    seeds : int or list of int
        Seeds (innermost loop); point ``(params, s)`` is ``run(..., seed=s)``.
    steps, runs : int
        Passed to :func:`clipsgd.run` (``runs`` independent runs per point).
    store : path, optional
        Folder for one JSON file per finished point (created if missing).
    resume : bool, default True
        Reuse points already in ``store``; False recomputes and overwrites them.
    executor : optional
        ``None`` runs the points here one by one; otherwise any object with
        ``submit(fn, *args)`` (``concurrent.futures`` executors, a
        ``dask.distributed.Client`` or its ``get_executor()``).
    progress : bool, default True
        A text progress bar on stderr.
    metrics : callable or dict of str -> callable, optional
        ``metrics(result) -> dict`` of JSON-serialisable values (numbers, lists,
        arrays, strings), evaluated where the point runs; default
        :func:`default_metrics`. Or a dict ``{name: fn}``: column ``name`` holds
        ``fn(result)`` (a name must not be ``seed``, ``key``, ``diverged``, ``error`` or
        a grid parameter). The store key contains the function's qualified name (for a
        dict: the names and functions), so with a ``store`` a lambda cannot be passed
        alone (every lambda is called ``<lambda>``: two would share stored results);
        inside a dict the name identifies it.
    max_pending : int, default 64
        Most points submitted to ``executor`` and not yet finished.
    **run_kwargs
        More :func:`clipsgd.run` options (``x0``, ``record_every``, ``record_loss``,
        ``delta``).

    Returns
    -------
    SweepTable
        One row per point (grid order): the grid parameters, ``seed``, the metrics and
        ``key`` (the store file name).

    Notes
    -----
    A point whose runs diverge (:class:`clipsgd.engine.DivergenceError`: the step size is
    too large) is a result, not a failure: its row has ``diverged = True`` and the error
    message, and the sweep goes on (every other row has ``diverged = False``). If a point
    raises anything else, the points not yet started are cancelled, the finished ones stay
    in the store, and the exception propagates (with a note naming the point).

    Examples
    --------
    Clipped SGD on Example 1 of arXiv:2006.15429 (:math:`a = (-3, -3, 9)`) stalls at
    the zero of :math:`h(x) = \frac13\sum_i \operatorname{clip}(x - a_i, c)`: -2.5 for
    c = 1, but :math:`x^* = 1` for c = 20, which clips no gradient near :math:`x^*`
    (there they are about (4, 4, -8)):

    >>> from clipsgd import problems, ClippedSGD
    >>> t = sweep(problems.example1(), ClippedSGD(lr=0.01, c=1.0), {"c": [1.0, 20.0]},
    ...           seeds=[0], steps=3000, runs=200, progress=False)
    >>> [round(r["x_mean"], 1) for r in t]
    [-2.5, 1.0]
    """
    from .problems import Problem

    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a clipsgd Problem (got {type(problem).__name__})")
    steps = check_int("steps", steps, 1)
    runs = check_int("runs", runs, 1)
    max_pending = check_int("max_pending", max_pending, 1)
    unknown = set(run_kwargs) - {"x0", "record_every", "record_loss", "delta"}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)} (run options are "
                        "x0, record_every, record_loss, delta)")
    points = grid_points(grid, seeds)
    resolve = _resolver(algorithm, grid)
    metrics, metrics_id = _metrics_spec(metrics, grid, store)

    options = {k: (_array_digest(np.asarray(v, float)) if k == "x0" and v is not None else v)
               for k, v in sorted(run_kwargs.items())}
    options["metrics"] = metrics_id
    fingerprint = _problem_fingerprint(problem)
    tasks = []  # (key, params, algorithm)
    for p in points:
        params = {k: v for k, v in p.items() if k != "seed"}
        alg = resolve(params)
        tasks.append((point_key(fingerprint, alg, p["seed"], steps, runs, options), p, alg))

    if store is not None:
        store = os.fspath(store)
        os.makedirs(store, exist_ok=True)
        _write_atomic(os.path.join(store, _MANIFEST), {
            "format": STORE_FORMAT, "problem": fingerprint, "grid": _jsonable(dict(grid or {})),
            "seeds": _seeds(seeds), "steps": steps, "runs": runs, "options": options,
            "algorithm": (_algorithm_description(algorithm) if dataclasses.is_dataclass(algorithm)
                          else _callable_name(algorithm)),
        })

    records: dict = {}
    if store is not None and resume:
        for key in {t[0] for t in tasks}:
            rec = _read_record(os.path.join(store, key + ".json"))
            if rec is not None:
                records[key] = rec
    loaded_keys = set(records)
    todo, seen = [], set()
    for key, p, alg in tasks:
        if key not in records and key not in seen:
            seen.add(key)
            todo.append((key, p, alg))

    bar = _Progress(len({t[0] for t in tasks}), len(loaded_keys), progress)

    def finish(key, p, alg, out):
        rec = {"key": key, "params": _jsonable(p), "algorithm": _algorithm_description(alg),
               "steps": steps, "runs": runs, "options": options, "metrics": out["metrics"],
               "wall_time": out["wall_time"],
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if store is not None:
            _write_atomic(os.path.join(store, key + ".json"), rec)
        records[key] = rec
        bar.step()

    def annotate(exc, p):
        if hasattr(exc, "add_note"):
            exc.add_note(f"clipsgd.sweep: while running point {p}")

    try:
        if executor is None:
            for key, p, alg in todo:
                try:
                    out = _run_point(problem, alg, p["seed"], steps, runs, run_kwargs, metrics)
                except Exception as exc:
                    annotate(exc, p)
                    raise
                finish(key, p, alg, out)
        else:
            _run_on_executor(executor, problem, todo, steps, runs, run_kwargs, metrics,
                             max_pending, finish, annotate)
    finally:
        bar.close()

    rows, recs = [], []
    for key, p, alg in tasks:
        rec = records[key]
        row = dict(p)
        row.update(rec["metrics"])
        row["key"] = key
        rows.append(row)
        recs.append(rec)
    return SweepTable(rows, records=recs, computed=len(todo), loaded=len(loaded_keys))


def _run_on_executor(executor, problem, todo, steps, runs, run_kwargs, metrics, max_pending,
                     finish, annotate):
    if not hasattr(executor, "submit"):
        raise TypeError(f"executor must have a submit(fn, *args) method (got {type(executor).__name__})")
    problem_ref = problem
    if hasattr(executor, "scatter"):  # dask.distributed.Client: ship the data once
        problem_ref = executor.scatter(problem, broadcast=True)
    queue = list(reversed(todo))
    pending: dict = {}
    try:
        while queue or pending:
            while queue and len(pending) < max_pending:
                key, p, alg = queue.pop()
                fut = executor.submit(_run_point, problem_ref, alg, p["seed"], steps, runs,
                                      run_kwargs, metrics)
                pending[fut] = (key, p, alg)
            done, _ = _wait_first(set(pending))
            for fut in done:
                key, p, alg = pending.pop(fut)
                try:
                    out = fut.result()
                except Exception as exc:
                    annotate(exc, p)
                    raise
                finish(key, p, alg, out)
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise
