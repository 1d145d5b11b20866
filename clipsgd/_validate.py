"""Parameter validation shared by every public entry point.

Each checker raises :class:`ValueError` (or :class:`TypeError`) whose message names the
parameter and the allowed range, e.g. ``"c must be > 0 (got -1.0)"``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_real",
    "check_positive",
    "check_nonnegative",
    "check_open_unit",
    "check_rate",
    "check_int",
    "check_bool",
    "check_finite_array",
    "check_clip_threshold",
]


def check_real(name: str, value) -> float:
    """Return ``value`` as a float, or raise TypeError/ValueError naming ``name``.

    Python and NumPy reals (and 0-d real arrays) are accepted; booleans, strings,
    ``None``, arrays and complex numbers (even with a zero imaginary part) are a
    TypeError ``"<name> must be a real number (got ...)"``; NaN is a ValueError.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        try:
            arr = np.asarray(value)
        except Exception:  # pragma: no cover - defensive
            arr = None
        if (arr is None or arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number)
                or np.issubdtype(arr.dtype, np.complexfloating)):
            # (a complex number, e.g. 1+1j, is a number but not a real one: same message)
            raise TypeError(f"{name} must be a real number (got {value!r})")
        value = arr.item()
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def check_positive(name: str, value, allow_inf: bool = False) -> float:
    """A real number in (0, inf) (or (0, inf] when ``allow_inf``)."""
    v = check_real(name, value)
    if not v > 0 or (math.isinf(v) and not allow_inf):
        rng = "(0, inf]" if allow_inf else "(0, inf)"
        raise ValueError(f"{name} must be in {rng} (got {value!r})")
    return v


def check_nonnegative(name: str, value, allow_inf: bool = False) -> float:
    """A real number in [0, inf) (or [0, inf] when ``allow_inf``)."""
    v = check_real(name, value)
    if v < 0 or (math.isinf(v) and not allow_inf):
        rng = "[0, inf]" if allow_inf else "[0, inf)"
        raise ValueError(f"{name} must be in {rng} (got {value!r})")
    return v


def check_open_unit(name: str, value) -> float:
    """A real number in the open interval (0, 1) (e.g. delta)."""
    v = check_real(name, value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be in (0, 1) (got {value!r})")
    return v


def check_rate(name: str, value) -> float:
    """A sampling rate in (0, 1]."""
    v = check_real(name, value)
    if not 0.0 < v <= 1.0:
        raise ValueError(f"{name} must be in (0, 1] (got {value!r})")
    return v


def check_int(name: str, value, minimum: int = 0) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer (got {value!r})")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} (got {value})")
    return value


def check_bool(name: str, value) -> bool:
    """``True`` or ``False`` (also NumPy's); anything else (``"no"``, 0, None) is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False (got {value!r})")
    return bool(value)


def check_clip_threshold(name: str, value) -> float:
    """A clip threshold c in (0, inf]; ``inf`` means no clipping."""
    return check_positive(name, value, allow_inf=True)


def check_finite_array(name: str, value, ndim=None, dtype=np.float64) -> np.ndarray:
    """Convert to a C-contiguous float array; reject NaN/inf and wrong dimensionality."""
    if np.iscomplexobj(value):
        raise TypeError(f"{name} must be an array of real numbers (got complex values)")
    try:
        arr = np.asarray(value, dtype=dtype)
        if arr.ndim:  # ascontiguousarray would turn a 0-d input into shape (1,)
            arr = np.ascontiguousarray(arr)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} must have ndim in {allowed} (got shape {arr.shape})"
            )
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s); all entries must be finite")
    return arr
