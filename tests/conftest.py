"""Shared test configuration.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=<name>``):

* ``default``: modest example counts so the foundation suite stays well under three
  minutes on two cores; ``deadline=None`` because the first call of a Numba kernel
  compiles (or loads its cache), which would trip hypothesis' per-example deadline.
* ``thorough``: ten times more examples, for a local deep check.

Statistical property tests additionally pin ``derandomize=True`` on themselves, so a
test that compares a Monte-Carlo mean to a closed form within k standard errors sees the
same draws on every run.
"""

import os

from hypothesis import HealthCheck, settings

# derandomize: CI runs a fresh clone (no example database), so every run must draw the
# same examples; a red run then means a real regression, never an unlucky draw.
# HYPOTHESIS_PROFILE=thorough explores new examples.
_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("default", max_examples=25, derandomize=True, **_common)
settings.register_profile("thorough", max_examples=250, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
