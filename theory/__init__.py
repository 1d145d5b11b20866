"""Sympy-checked derivations of the results of Chen, Wu, Hong (NeurIPS 2020, arXiv 2006.15429).

One module per result; each reads top to bottom like a proof and exposes
``check() -> list[Step]``, which verifies every step (raising ``StepFailed`` on the
first failure). See ``theory/README.md`` for the statements and their constants.

Run everything from the repository root with ``python -m theory``; a single module with
``python theory/lemma2.py``.
"""

from __future__ import annotations

import importlib

MODULES = (
    "projection",
    "lemma1",
    "lemma2",
    "theorem1",
    "theorem2",
    "theorem3",
    "rates",
    "perturbation",
    "perturbation_bound",
    "perturbation_nd",
)


def load(name):
    """Import ``theory.<name>``."""
    return importlib.import_module(f"{__name__}.{name}")


def check_all():
    """Run every module's ``check()``; return ``{module name: steps}``."""
    return {name: load(name).check() for name in MODULES}
