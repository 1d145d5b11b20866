"""clipsgd: gradient clipping in (differentially) private SGD, made executable.

Companion to Chen, Wu, Hong, "Understanding Gradient Clipping in Private SGD: A
Geometric Perspective", NeurIPS 2020, arXiv:2006.15429.

Where things are
----------------
* the clipping rule: :mod:`clipsgd.clip`
* the perturbation and the DP-SGD update: :mod:`clipsgd.updates`
* algorithms as data: :mod:`clipsgd.algorithms`
* objectives: :mod:`clipsgd.problems`
* the engine (many runs at once): :mod:`clipsgd.engine`
* exact 1-D analysis (h(x), stationary points): :mod:`clipsgd.exact`
* privacy accounting (dp-accounting underneath): :mod:`clipsgd.privacy`
* geometry of gradient distributions: :mod:`clipsgd.diagnostics`
"""

from . import bounds, datasets, diagnostics, privacy, problems
from .algorithms import (
    DPSGD,
    SGD,
    AutoClipSGD,
    ClippedSGD,
    DiceSGD,
    QuantileClipDPSGD,
    Sampling,
    Schedule,
)
from .clip import ClipInfo, clip, clip_numpy
from .engine import DivergenceError, Result, run, run_numpy
from .sweep import sweep  # the function; the module stays importable as clipsgd.sweep
from .exact import StationarySet, expected_clipped_gradient, perturbed_clip_mean, stationary_points

__version__ = "0.1.0"

__all__ = [
    "problems",
    "bounds",
    "diagnostics",
    "datasets",
    "privacy",
    "SGD",
    "ClippedSGD",
    "DPSGD",
    "AutoClipSGD",
    "DiceSGD",
    "QuantileClipDPSGD",
    "Sampling",
    "Schedule",
    "clip",
    "clip_numpy",
    "ClipInfo",
    "run",
    "run_numpy",
    "Result",
    "DivergenceError",
    "expected_clipped_gradient",
    "perturbed_clip_mean",
    "stationary_points",
    "StationarySet",
    "sweep",
]
