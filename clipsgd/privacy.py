r"""Privacy accounting for DP-SGD runs: describe the run, let ``dp_accounting`` count it.

clipsgd does not write an accountant for the Poisson-subsampled Gaussian. A run
describes itself as a frozen value, :class:`PrivacyEvent` (*what happened*), which is
handed to Google's ``dp_accounting`` (RDP or PLD accountant: *how to count it*). The
result is a :class:`PrivacyReport`: epsilon at a stated delta, the accountant, the
neighbouring relation, the sampling scheme, and warnings in plain words whenever the
number needs one.

>>> rdp = privacy_report(noise_multiplier=1.1, sample_rate=0.01, steps=1000, delta=1e-5,
...                      accountant="rdp")
>>> pld = privacy_report(noise_multiplier=1.1, sample_rate=0.01, steps=1000, delta=1e-5)
>>> pld.epsilon < rdp.epsilon, pld.warnings  # PLD is the tighter upper bound
(True, ())

What is counted
---------------
One DP-SGD step, with clip threshold :math:`c`, noise multiplier :math:`z` and Poisson
sampling rate :math:`q`, releases

.. math::

    \tilde g_t = \sum_{i \in \mathcal B_t} \operatorname{clip}(g_i, c) + N(0, z^2 c^2 I_d),
    \qquad \Pr[i \in \mathcal B_t] = q \text{ independently},

and the optimizer applies :math:`x \leftarrow x - \alpha_t \tilde g_t / B` with the
*expected* batch size :math:`B = q n`. One step is one application of the
Poisson-subsampled Gaussian mechanism (noise multiplier :math:`z` relative to the L2
sensitivity :math:`c` of the sum); ``steps`` of them compose adaptively:
``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(z)), steps)``.

*Gradient accumulation / microbatches.* What counts is the number of noisy releases, not
the number of forward passes: if a logical batch is accumulated over several
microbatches and noised once, that is **one noise draw and one accountant step per
optimizer update**, and ``steps`` is the number of optimizer updates. (Noising every
microbatch and counting only the updates would be wrong in the other direction: each
noisy release must be counted.)

Noise on the sum vs noise on the mean
-------------------------------------
The noise is added to the **sum** of clipped gradients, whose sensitivity is :math:`c`
(add/remove-one: one record adds or removes one vector of norm :math:`\le c`). The
update divides by the expected batch size, so the noise on the *averaged* update has
per-coordinate standard deviation

.. math::

    \sigma = \frac{z c}{B}, \qquad B = q n,

see :func:`averaged_noise_std`; this :math:`\sigma` is the one in the utility bounds
(Theorem 3 of the paper: :math:`c^2 + d\sigma^2`). Two classic slips: (i) calling
:math:`\sigma` itself the noise multiplier (it is :math:`z = \sigma B / c`); (ii) dividing
by the *realised* batch size :math:`|\mathcal B_t|`, which is data-dependent under
Poisson sampling, so the released quantity is no longer the analysed Gaussian mechanism
(its sensitivity is not :math:`c / B`). Dividing by the expected size keeps the
analysis valid (Abadi et al. 2016).

Neighbouring relations (:class:`Neighbouring`)
----------------------------------------------
========================  ====================================  ================
relation                  neighbours differ by                  L2 sensitivity
========================  ====================================  ================
``add_remove``            one record added or removed            :math:`c`
``replace_one``           one record replaced by another         :math:`2c`
``zero_out``              one record replaced by a record        :math:`c`
                          whose clipped gradient is 0
========================  ====================================  ================

``zero_out`` is ``dp_accounting``'s ``REPLACE_SPECIAL``; for Poisson sampling it gives
the same numbers as ``add_remove``. It is the meaningful relation for fixed-size batches
(``shuffle``, ``replacement``), where adding a record changes :math:`n` and hence every
batch.

In clipsgd the noise multiplier always means :math:`z = \text{std of the noise on the
sum} / c`. Beware: ``dp_accounting`` is not uniform here. Its PLD accountant treats
``GaussianDpEvent(z)`` under ``REPLACE_ONE`` as a shift of :math:`2` noise-multiplier
units (sensitivity :math:`2c`, as above), while its RDP accountant composes the same
event as :math:`\alpha / (2 z^2)`, i.e. sensitivity :math:`c` under replace-one. clipsgd
therefore never hands a replace-one Gaussian (without subsampling) to the RDP
accountant: it hands over the equivalent add/remove Gaussian with multiplier
:math:`z/2`. The tests pin both accountants to the closed form
:math:`\mathrm{RDP}(\alpha) = T \alpha (2c)^2 / (2 z^2 c^2) = 2 T \alpha / z^2`.
``dp_accounting``'s RDP accountant has no Poisson-subsampled Gaussian under
replace-one; for that combination clipsgd raises and points to ``accountant="pld"``.

Why the RDP and PLD numbers differ (:class:`Accountant`)
--------------------------------------------------------
Both are valid upper bounds on the true epsilon; they differ in how much they lose.

* **RDP** (Rényi DP; Mironov 2017, arXiv:1702.07476; sampled Gaussian: Mironov, Talwar,
  Zhang 2019, arXiv:1908.10530) tracks the Rényi divergence at a grid of orders
  :math:`\alpha`, composes by adding, and converts to :math:`(\varepsilon, \delta)` at the
  end with :math:`\varepsilon = \min_\alpha \bigl[\mathrm{RDP}(\alpha) +
  \log(1 - 1/\alpha) - \log(\delta \alpha)/(\alpha - 1)\bigr]` (Canonne, Kamath, Steinke
  2020, arXiv:2004.00010, Prop. 12). The conversion is lossy and the order grid is
  finite, so RDP **overestimates** epsilon, typically by 5-20 % in DP-SGD regimes. It
  is fast (closed forms per order).
* **PLD** (privacy loss distributions; Koskela, Jälkö, Honkela 2020,
  arXiv:1906.03049; ``dp_accounting``'s connect-the-dots discretisation, Doroshenko et
  al. 2022, arXiv:2207.04380) composes the whole distribution of the privacy loss by
  FFT and reads off :math:`\delta(\varepsilon)` directly. With pessimistic rounding it
  is still an upper bound, and it is **near-exact** numerically (error of the order of
  the discretisation interval, ``pld_discretization = 1e-4`` by default, refined to
  epsilon / 1000 where epsilon is below 0.1, and to target / 1000 for calibration to a
  small target, see :func:`calibration_discretization`). It is slower:
  about a second, more for small :math:`z`, and up to minutes and gigabytes when epsilon
  is in the hundreds or more (a run with no meaningful privacy). So with the PLD
  accountant every function first computes the RDP epsilon (fast), and if it exceeds
  ``rdp_screen`` (default :data:`RDP_SCREEN` = 50) it returns that RDP upper bound, with a
  warning, instead of PLD's; :func:`privacy_report` then reads ``accountant = rdp``.
  The same happens, with its own warning, for more than :data:`PLD_MAX_STEPS` = 1e6 steps
  (PLD's time grows steeply with the steps: 1.1 s per evaluation at 1e6, 31 s at 1e7),
  and when PLD's epsilon is ``inf`` because delta is below the tail mass it truncates
  (about 1e-15). ``rdp_screen=None`` forces PLD (except in that last case).

For :math:`q = 1` the exact answer is known in closed form: the Gaussian mechanism
composed :math:`T` times is one Gaussian mechanism with :math:`\mu = \sqrt T / z`
(:math:`2\sqrt T/z` for replace-one), whose privacy loss distribution is itself Gaussian
(Balle & Wang 2018, arXiv:1805.06530; Dong, Roth, Su 2019, arXiv:1905.02383), see
:func:`gaussian_mechanism_delta`. With ``accountant="pld"`` and :math:`q = 1` clipsgd
evaluates that closed form instead of discretising it (``dp_accounting``'s PLD agrees with
it to about 1e-8, which the tests check; RDP stays above it).

Why epsilon = inf at z = 0
--------------------------
Without noise the released sum is a deterministic function of the batch. Whenever the
differing record is in the batch (probability :math:`q` per step), the output can differ
with certainty, e.g. the record's gradient points in a direction no other gradient
has. So the privacy profile is :math:`\delta(\varepsilon) = 1 - (1 - q)^T` for *every*
:math:`\varepsilon` (the probability that the record is ever sampled): no finite
epsilon reaches a delta below that. clipsgd returns ``inf`` (and ``delta_for`` returns
:math:`1 - (1-q)^T`) without error. (If you ask for a delta at or above that
catastrophic probability, epsilon is honestly 0; it is never a useful guarantee.)

The empty Poisson batch
-----------------------
With Poisson sampling a batch is empty with probability :math:`(1-q)^n`. Such a step
**still adds the noise** :math:`N(0, z^2c^2 I)` to the (zero) sum, moves the iterate, and
**is counted** as a step by the accountant (``steps`` counts updates, not non-empty
batches). The analysis *needs* this: the mixture :math:`(1-q) N(0, \sigma^2) + q N(c,
\sigma^2)` that the accountant models contains the "record not sampled" branch, whose
output is pure noise. Skipping empty batches (no update, no noise) would release the
data-dependent event "the batch was empty", a different mechanism from the analysed one;
in the extreme case of the empty dataset against a one-record dataset, "a step
happened" has probability 0 against :math:`q`, so :math:`\delta \ge q` at every
epsilon. The tests check the accountant's one-step total-variation distance
:math:`\delta(0) = q\,(2\Phi(1/(2z)) - 1) < q` (noise on every step).

Sampling schemes (:class:`clipsgd.algorithms.Sampling`)
-------------------------------------------------------
* ``poisson``: the scheme the accountants analyse; reported as is.
* ``shuffle`` (fixed-size batches read from a stream of random permutations, as the
  engine does): **not** Poisson sampling, and the Poisson accountant is not valid for it
  (shuffled batches can leak more than the Poisson number suggests: Chua et al. 2024,
  arXiv:2403.17673 and arXiv:2411.04205). No amplification theorem for shuffling is
  available in ``dp_accounting``, so clipsgd reports an honest upper bound without
  amplification: every record is in at most one batch per permutation (at most twice
  in a batch that straddles two permutations), so for the worst-placed record the run
  is a composition of Gaussian mechanisms, i.e. one Gaussian mechanism with
  :math:`\mu = s\sqrt{E + 2D}/z`, where :math:`E = \lceil T B / n \rceil` permutations
  are touched, :math:`D` is the largest number of straddling batches one record can hit
  twice, and :math:`s = 1` (zero-out) or :math:`2` (replace-one). The report carries a
  warning saying so. For the usual (much smaller) number, train with ``poisson``.
* ``replacement`` (:math:`B` indices drawn uniformly with replacement per step):
  ``dp_accounting`` has the event (``SampledWithReplacementDpEvent``) but no accountant
  for it. clipsgd bounds it with RDP after revealing how many times the record was
  drawn, :math:`k \sim \mathrm{Binomial}(B, 1/n)`. Precisely: release the drawn indices
  along with the noisy sum (the sum is a post-processing of that, so this can only
  increase the divergence); given the indices, the step is a Gaussian mechanism with
  sensitivity :math:`k s c`, and the Rényi divergence of a pair sharing the index
  distribution averages :math:`e^{(\alpha-1)D_\alpha}` over it:

  .. math::

      \mathrm{RDP}_{\text{step}}(\alpha) = \frac{1}{\alpha - 1} \log \mathbb E_k
      \exp\Bigl(\frac{(\alpha - 1)\alpha k^2 s^2}{2 z^2}\Bigr).

  Valid but loose (amplification only through :math:`\Pr[k = 0]`); reported with a
  warning.

Honest scope
------------
clipsgd's Gaussian noise is for teaching and research and is not hardened against
floating-point attacks (e.g. Mironov 2012, "On significance of the least significant
bits for differential privacy", CCS 2012). The numbers here are the guarantees of the
*idealised* mechanism with real-valued Gaussian noise. Every report says so.

Edge cases
----------
==============================  ===============================================
input                           result
==============================  ===============================================
``noise_multiplier = 0``        epsilon ``inf`` (delta below :math:`1-(1-q)^T`)
``noise_multiplier > Z_HUGE``   accounted at :data:`Z_HUGE` = 1e100 (an upper bound)
``steps = 0``                   epsilon 0, delta 0 (nothing was released)
``sample_rate = 1``             the Gaussian mechanism, exact closed form
q outside (0, 1]                :class:`ValueError` naming ``sample_rate``
delta outside (0, 1)            :class:`ValueError` naming ``delta``
negative z, ``steps < 0``       :class:`ValueError` naming the parameter
unknown accountant etc.         :class:`ValueError` listing the allowed values
==============================  ===============================================

References
----------
Abadi et al., "Deep Learning with Differential Privacy", CCS 2016, arXiv:1607.00133.
Mironov, "Rényi Differential Privacy", arXiv:1702.07476.
Mironov, Talwar, Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism",
arXiv:1908.10530.
Balle, Wang, "Improving the Gaussian Mechanism for Differential Privacy", arXiv:1805.06530.
Koskela, Jälkö, Honkela, "Computing Tight Differential Privacy Guarantees Using FFT",
arXiv:1906.03049.
Doroshenko, Ghazi, Kamath, Kumar, Manurangsi, "Connect the Dots: Tighter Discrete
Approximations of Privacy Loss Distributions", arXiv:2207.04380.
Wang, Balle, Kasiviswanathan, "Subsampled Rényi Differential Privacy and Analytical
Moments Accountant", arXiv:1808.00087.
Chua et al., "How Private are DP-SGD Implementations?", ICML 2024, arXiv:2403.17673.
Mironov, "On Significance of the Least Significant Bits for Differential Privacy",
CCS 2012.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import warnings
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Optional

import numpy as np

from ._validate import (
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_rate,
    check_real,
)
from .algorithms import Sampling

__all__ = [
    "Accountant",
    "Neighbouring",
    "Sampling",
    "PrivacyEvent",
    "PrivacyReport",
    "SCOPE_STATEMENT",
    "PLD_DISCRETIZATION",
    "RDP_SCREEN",
    "PLD_MAX_STEPS",
    "Z_NEGLIGIBLE",
    "Z_HUGE",
    "event_for",
    "epsilon",
    "delta_for",
    "calibrate_noise_multiplier",
    "calibration_discretization",
    "rdp_curve",
    "privacy_report",
    "averaged_noise_std",
    "gaussian_mechanism_delta",
    "gaussian_mechanism_epsilon",
    "shuffle_participation",
]

SCOPE_STATEMENT = (
    "clipsgd's Gaussian noise is for teaching and research and is not hardened against "
    "floating-point attacks (e.g. Mironov 2012)"
)

#: Default interval of the PLD discretisation (``dp_accounting``'s default).
PLD_DISCRETIZATION = 1e-4

#: :func:`privacy_report` skips the (slow) PLD refinement when the RDP epsilon exceeds this.
RDP_SCREEN = 50.0

#: Above this many steps (and ``q < 1``) the PLD accountant is replaced by RDP, with a
#: warning, like above :data:`RDP_SCREEN`: one PLD evaluation at epsilon ~ 3 took 1.1 s at
#: 1e6 steps and 31 s at 1e7 (calibration needs 10-20 of them; at 1e9 it ran > 60 s without
#: output). ``rdp_screen=None`` forces PLD.
PLD_MAX_STEPS = 10**6


#: Largest ratio of the (RDP) epsilon to a PLD interval finer than the default: a finer
#: interval is coarsened to epsilon / PLD_MAX_RESOLUTION (still an upper bound). At z = 1,
#: q = 0.01, 1000 steps an interval of 1e-7 (ratio ~2e7) took > 60 s and 3.4 GB, 1e-8 failed
#: allocating 4.2 GiB, and a ratio of 1e6 took 20 s; calibration to epsilon = 1e-4 (interval
#: 1e-7) probed small z at that interval and ran out of memory (6 GB) after 41 s.
PLD_MAX_RESOLUTION = 10**5


class Accountant(str, Enum):
    """Which ``dp_accounting`` accountant counts the event."""

    RDP = "rdp"  # Rényi DP + conversion: upper bound, fast
    PLD = "pld"  # privacy loss distribution: near-exact upper bound, slower


class Neighbouring(str, Enum):
    """The neighbouring relation the guarantee is stated for (see the module docstring)."""

    ADD_REMOVE = "add_remove"  # one record added or removed: sensitivity c
    REPLACE_ONE = "replace_one"  # one record replaced by another: sensitivity 2c
    ZERO_OUT = "zero_out"  # one record replaced by a zero-gradient record: sensitivity c


def _enum(cls, name, value):
    """Coerce a string (or member) to ``cls``; ValueError naming ``name`` otherwise."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls(value.strip().lower().replace("-", "_"))
        except ValueError:
            pass
    allowed = ", ".join(repr(m.value) for m in cls)
    raise ValueError(f"{name} must be one of {allowed} (got {value!r})")


# ----------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _quiet_dp_accounting():
    """Silence ``dp_accounting``'s absl warnings (e.g. an RDP order excluded because a
    series did not converge; the order is then simply not used, which is safe)."""
    logger = logging.getLogger("absl")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


def _dpa():
    import dp_accounting  # imported lazily: it pulls in scipy.stats (about a second)

    return dp_accounting


def _relation(neighbouring: Neighbouring):
    nr = _dpa().NeighboringRelation
    return {
        Neighbouring.ADD_REMOVE: nr.ADD_OR_REMOVE_ONE,
        Neighbouring.REPLACE_ONE: nr.REPLACE_ONE,
        Neighbouring.ZERO_OUT: nr.REPLACE_SPECIAL,
    }[neighbouring]


def _default_orders() -> tuple:
    from dp_accounting.rdp.rdp_privacy_accountant import DEFAULT_RDP_ORDERS

    return tuple(float(a) for a in DEFAULT_RDP_ORDERS)


def _check_orders(orders) -> tuple:
    if orders is None:
        return _default_orders()
    try:
        arr = np.asarray(orders, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"orders must be a sequence of real numbers > 1 (got {orders!r})") from None
    if arr.size == 0 or np.any(np.isnan(arr)) or np.any(arr <= 1.0):
        raise ValueError(f"orders must be a non-empty sequence of Rényi orders > 1 (got {orders!r})")
    return tuple(float(a) for a in arr)


def _no_noise_delta(sample_rate: float, steps: int) -> float:
    r""":math:`1 - (1-q)^T`: probability that the record is sampled at least once."""
    if sample_rate >= 1.0:
        return 1.0 if steps > 0 else 0.0
    return float(-math.expm1(steps * math.log1p(-sample_rate)))


def averaged_noise_std(noise_multiplier, clip_threshold, expected_batch_size) -> float:
    r"""Per-coordinate std of the noise on the *averaged* update, :math:`\sigma = z c / B`.

    The noise :math:`N(0, z^2 c^2 I)` is added to the **sum** of clipped gradients
    (sensitivity :math:`c`); the update divides by the expected batch size :math:`B`
    (:math:`qn` for Poisson sampling), so the mean carries :math:`z c / B`.

    Parameters
    ----------
    noise_multiplier : float >= 0
        :math:`z`.
    clip_threshold : float > 0
        :math:`c`.
    expected_batch_size : float > 0
        :math:`B` (not the realised batch size; see the module docstring).

    Examples
    --------
    >>> averaged_noise_std(1.0, 2.0, 100)  # z c / B = 1 * 2 / 100
    0.02
    """
    z = check_nonnegative("noise_multiplier", noise_multiplier)
    c = check_positive("clip_threshold", clip_threshold)
    b = check_positive("expected_batch_size", expected_batch_size)
    return z * c / b


# --------------------------------------------------------- Gaussian mechanism, closed form

def gaussian_mechanism_delta(mu, epsilon) -> float:
    r"""Exact :math:`\delta(\varepsilon)` of the Gaussian mechanism with :math:`\mu =
    \Delta / \sigma` (sensitivity over noise std).

    .. math::

        \delta(\varepsilon) = \Phi\Bigl(-\frac{\varepsilon}{\mu} + \frac{\mu}{2}\Bigr)
        - e^{\varepsilon}\, \Phi\Bigl(-\frac{\varepsilon}{\mu} - \frac{\mu}{2}\Bigr)

    (Balle & Wang 2018, arXiv:1805.06530, Thm. 8). :math:`T` compositions of the
    Gaussian mechanism with multiplier :math:`z` are one with :math:`\mu = \sqrt{T}/z`
    (add/remove) or :math:`2\sqrt{T}/z` (replace-one): :math:`\mu`-GDP composes as
    :math:`\sqrt{\sum \mu_j^2}` (Dong, Roth, Su 2019, arXiv:1905.02383). This is the
    exact answer the accountants approximate at :math:`q = 1`.

    Examples
    --------
    At :math:`\mu = 1, \varepsilon = 1`: :math:`\Phi(-1/2) - e\,\Phi(-3/2) = 0.308538 -
    2.718282 \times 0.066807 = 0.126937` (the value ``dp_accounting``'s PLD test pins
    for three compositions at :math:`z = \sqrt 3`).

    >>> round(gaussian_mechanism_delta(1.0, 1.0), 6)
    0.126937
    """
    from scipy.special import log_ndtr

    mu = check_nonnegative("mu", mu, allow_inf=True)
    eps = check_nonnegative("epsilon", epsilon, allow_inf=True)
    if mu == 0.0 or math.isinf(eps):
        return 0.0
    if math.isinf(mu):
        return 1.0
    la = float(log_ndtr(-eps / mu + mu / 2))
    lb = eps + float(log_ndtr(-eps / mu - mu / 2))
    if lb >= la:  # rounding only; the true difference is >= 0
        return 0.0
    return float(math.exp(la) * -math.expm1(lb - la))


def gaussian_mechanism_epsilon(mu, delta) -> float:
    r"""Exact :math:`\varepsilon(\delta)` of the Gaussian mechanism (inverse of
    :func:`gaussian_mechanism_delta`, by bracketing and Brent's method to ~1e-12).

    Examples
    --------
    >>> round(gaussian_mechanism_epsilon(1.0, 0.12693674), 6)
    1.0
    """
    from scipy.optimize import brentq

    mu = check_nonnegative("mu", mu, allow_inf=True)
    d = check_open_unit("delta", delta)
    if mu == 0.0:
        return 0.0
    if math.isinf(mu):
        return math.inf
    f = lambda e: gaussian_mechanism_delta(mu, e) - d  # noqa: E731 (decreasing in e)
    if f(0.0) <= 0.0:
        return 0.0
    hi = 1.0
    while f(hi) > 0.0:
        hi *= 2.0
    return float(brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-12))


# ------------------------------------------------------------------ the Poisson accountant

def _check_common(noise_multiplier, sample_rate, steps):
    z = check_nonnegative("noise_multiplier", noise_multiplier)
    q = check_rate("sample_rate", sample_rate)
    t = check_int("steps", steps, 0)
    return z, q, t


def _unsupported(neighbouring, accountant) -> ValueError:
    return ValueError(
        f"neighbouring={neighbouring.value!r} with Poisson sampling (sample_rate < 1) "
        f"is not supported by dp_accounting's {accountant.value.upper()} accountant; "
        "use accountant='pld'")


@functools.lru_cache(maxsize=128)
def _poisson_accountant(z, q, steps, accountant, neighbouring, orders, disc):
    """A ``dp_accounting`` accountant that has composed the run (cached: pure inputs).

    ``z`` above :data:`Z_HUGE` is accounted as :data:`Z_HUGE` (an upper bound, see there).
    """
    dpa = _dpa()
    z = min(z, Z_HUGE)
    gauss = dpa.GaussianDpEvent(z)
    if neighbouring is Neighbouring.REPLACE_ONE and q == 1.0:
        # Without subsampling, replace-one is the Gaussian mechanism with sensitivity 2c:
        # hand over the add/remove Gaussian with multiplier z/2 (the two dp_accounting
        # accountants disagree on REPLACE_ONE Gaussians; see the module docstring).
        event = dpa.SelfComposedDpEvent(dpa.GaussianDpEvent(z / 2.0), steps)
        relation = dpa.NeighboringRelation.ADD_OR_REMOVE_ONE
    elif q == 1.0:
        event = dpa.SelfComposedDpEvent(gauss, steps)  # Poisson with q = 1: everyone
        relation = _relation(neighbouring)
    else:
        event = dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, gauss), steps)
        relation = _relation(neighbouring)
    with _quiet_dp_accounting():
        if accountant is Accountant.RDP:
            from dp_accounting.rdp import RdpAccountant

            acc = RdpAccountant(orders=list(orders), neighboring_relation=relation)
        else:
            from dp_accounting.pld import PLDAccountant

            acc = PLDAccountant(relation, value_discretization_interval=disc)
        if not acc.supports(event):
            raise _unsupported(neighbouring, accountant)
        acc.compose(event)
    return acc


def _gaussian_mu(z, steps, neighbouring) -> float:
    r""":math:`\mu = s\sqrt{T}/z` of the Gaussian mechanism composed ``steps`` times
    (:math:`s = 2` for replace-one, else 1)."""
    s = 2.0 if neighbouring is Neighbouring.REPLACE_ONE else 1.0
    return s * math.sqrt(steps) / z


def _resolve(accountant, neighbouring, orders, pld_discretization):
    acc = _enum(Accountant, "accountant", accountant)
    nb = _enum(Neighbouring, "neighbouring", neighbouring)
    orders = _check_orders(orders)
    disc = _check_discretization(pld_discretization)
    return acc, nb, orders, disc


def _check_discretization(pld_discretization):
    """None (the default: 1e-4, refined for small epsilon, see _epsilon) or a float > 0."""
    if pld_discretization is None:
        return None
    return check_positive("pld_discretization", pld_discretization)


_SCREEN_DELTA = 1e-5  # the delta at which delta_for screens (it has no delta of its own)

#: Below this noise multiplier, :math:`1/z^2` overflows the RDP series; such a run is
#: accounted as :math:`z = 0` (``inf``, a valid upper bound: its epsilon exceeds 1e100).
Z_NEGLIGIBLE = 1e-100

#: Above this noise multiplier the run is accounted at ``Z_HUGE`` itself. ``dp_accounting``
#: squares :math:`z` (its RDP series computes ``sigma**2 * log(1/q - 1)``), which overflows
#: for :math:`z \gtrsim 1.3 \times 10^{154}`; epsilon and delta are non-increasing in
#: :math:`z`, so the numbers at ``Z_HUGE`` are valid upper bounds for any larger :math:`z`.
#: At ``Z_HUGE`` both accountants report epsilon = 0 at delta = 1e-5, and delta(0) is
#: <= 1e-15 (PLD) or 3.2e-8 (RDP: the square root of its floor on RDP values), for q in
#: [1e-12, 1], steps <= 1e6 and every neighbouring relation (measured).
Z_HUGE = 1e100

# RDP values below this are raised to it before the conversion to (epsilon, delta): a larger
# RDP is still a valid bound, and dp_accounting's conversion fails on a positive RDP below
# about 1e-16 (log1p(-exp(-r)) with exp(-r) == 1.0) and reads a negative one (rounding in
# its series for huge z or tiny q) as "delta = 0", which is optimistic.
_RDP_FLOOR = 1e-15


def _replace_one_rdp(z, q, t, orders) -> np.ndarray:
    r"""An RDP upper bound for replace-one neighbours of the Poisson-subsampled Gaussian,
    which ``dp_accounting``'s RDP accountant does not support.

    Replacing record :math:`x` by :math:`x'` is two zero-out steps through the dataset
    :math:`D_0` in which that record is the zero record: :math:`D \to D_0 \to D'`. The weak
    triangle inequality of Rényi divergence (Mironov 2017, arXiv:1702.07476, Prop. 11),
    applied to the composed mechanism, gives

    .. math:: R_{\text{rep}}(\alpha) \le \frac{\alpha - 1/2}{\alpha - 1} R_0(2\alpha)
              + R_0(2\alpha - 1),

    with :math:`R_0` the zero-out RDP curve (``dp_accounting``'s bound covers both
    directions). Loose (group privacy of size 2), but valid and cheap.
    """
    a = np.asarray(orders, dtype=np.float64)
    r0 = rdp_curve(z, q, t, orders=np.concatenate([2.0 * a, 2.0 * a - 1.0]),
                   neighbouring=Neighbouring.ZERO_OUT)
    return (a - 0.5) / (a - 1.0) * r0[: a.size] + r0[a.size:]


def _rdp_values(z, q, t, nb, orders) -> np.ndarray:
    """The RDP curve on ``orders`` (replace-one with q < 1: the bound above), floored at
    ``_RDP_FLOOR`` (valid: a larger RDP is still an upper bound)."""
    if nb is Neighbouring.REPLACE_ONE and q < 1.0:
        rdp = _replace_one_rdp(z, q, t, orders)
    else:
        rdp = _poisson_accountant(z, q, t, Accountant.RDP, nb, orders, None).rdp
    return np.maximum(np.asarray(rdp, dtype=np.float64), _RDP_FLOOR)


def _rdp_epsilon(z, q, t, d, nb, orders=None) -> float:
    """The RDP epsilon at ``d`` (default orders; replace-one with q < 1: the bound above)."""
    from dp_accounting.rdp.rdp_privacy_accountant import compute_epsilon

    orders = _default_orders() if orders is None else orders
    rdp = _rdp_values(z, q, t, nb, orders)
    with _quiet_dp_accounting():
        return float(compute_epsilon(orders, rdp, d)[0])


def _rdp_delta(z, q, t, e, nb, orders=None) -> float:
    """The RDP delta at ``e`` (default orders; replace-one with q < 1: the bound above)."""
    from dp_accounting.rdp.rdp_privacy_accountant import compute_delta

    orders = _default_orders() if orders is None else orders
    rdp = _rdp_values(z, q, t, nb, orders)
    with _quiet_dp_accounting():
        return float(min(1.0, max(0.0, compute_delta(orders, rdp, e)[0])))


def _require_rdp_support(q, nb):
    """The explicit RDP accountant has no Poisson-subsampled replace-one Gaussian."""
    if nb is Neighbouring.REPLACE_ONE and q < 1.0:
        raise _unsupported(nb, Accountant.RDP)


def _screen(rdp, t, rdp_screen) -> Optional[float]:
    """The RDP epsilon ``rdp()`` (default orders) when it exceeds ``rdp_screen`` or ``t``
    exceeds :data:`PLD_MAX_STEPS`, else None (PLD with q < 1 only).

    The PLD accountant's memory and time grow with the range of the privacy loss, i.e.
    with epsilon (measured here: RDP epsilon 50 -> 2-5 s, 0.3-0.6 GB; 1000 -> 15 s, 0.9 GB;
    17000 -> 50 s, 2.9 GB; z = 1e-3 -> a 38 GiB allocation). Above ``rdp_screen`` there is
    no meaningful privacy to refine, so the RDP upper bound is used instead of PLD.
    """
    if rdp_screen is None:
        return None
    e_rdp = rdp()
    return e_rdp if (e_rdp > rdp_screen or t > PLD_MAX_STEPS) else None


def _check_screen(rdp_screen):
    return None if rdp_screen is None else check_positive("rdp_screen", rdp_screen, allow_inf=True)


_PLD_TINY_DELTA = (
    "PLD cannot resolve this delta (dp_accounting's PLD truncates tails of probability mass "
    "about 1e-15 and counts them pessimistically, so its epsilon is inf for delta below about "
    "1e-15); the RDP upper bound is returned instead")


def _pld_too_long(t) -> str:
    return (
        f"steps = {t} > PLD_MAX_STEPS = {PLD_MAX_STEPS:g}: the PLD accountant's time grows "
        "steeply with the number of steps (measured at epsilon ~ 3: 1e6 steps 1.1 s, 1e7 steps "
        "31 s per evaluation), so the RDP accountant was used instead (an upper bound on PLD's "
        "epsilon; rdp_screen=None forces PLD)")


def _warn_screened(what, e_rdp, rdp_screen, t):
    """Say why RDP replaced PLD: no meaningful privacy, too many steps, or a tiny delta."""
    if rdp_screen is None or not e_rdp > rdp_screen:  # the other reasons: see _epsilon
        why = _pld_too_long(t) if t > PLD_MAX_STEPS else _PLD_TINY_DELTA
        warnings.warn(f"{what}: {why}", RuntimeWarning, stacklevel=3)
        return
    warnings.warn(
        f"{what}: the RDP accountant gives epsilon = {e_rdp:.4g} > rdp_screen = {rdp_screen:g} "
        "(no meaningful privacy), where the PLD accountant would need memory and time that grow "
        "with epsilon; the RDP upper bound is returned instead of PLD (rdp_screen=None forces "
        "PLD)", RuntimeWarning, stacklevel=3)


def _pld_interval(disc, rdp) -> float:
    """The PLD interval used for ``disc``: the default when None; an interval finer than the
    default is coarsened to ``epsilon_RDP / PLD_MAX_RESOLUTION`` (``rdp()``, called only
    then) where it is finer than that (PLD's memory grows with epsilon / interval; a coarser
    interval still gives an upper bound)."""
    if disc is None or disc >= PLD_DISCRETIZATION:
        return disc or PLD_DISCRETIZATION
    return max(disc, min(PLD_DISCRETIZATION, rdp() / PLD_MAX_RESOLUTION))


def _warn_if_coarsened(name, z, q, t, d, nb, acc, disc) -> None:
    """Say so when an explicit ``pld_discretization`` was coarsened by :func:`_pld_interval`."""
    if disc is None or acc is not Accountant.PLD or q == 1.0 or t == 0 or z < Z_NEGLIGIBLE:
        return
    used = _pld_interval(disc, lambda: _rdp_epsilon(z, q, t, d, nb))
    if used > disc:
        warnings.warn(
            f"{name}: pld_discretization={disc:g} would need a PLD grid of about epsilon / interval "
            f"> {PLD_MAX_RESOLUTION:g} points (gigabytes); the interval {used:.3g} was used instead "
            "(the result is still an upper bound)", RuntimeWarning, stacklevel=3)


def _epsilon(z, q, t, d, acc, nb, orders, disc, rdp_screen) -> tuple:
    """(epsilon, the accountant that produced it): the body of :func:`epsilon`."""
    if t == 0:
        return 0.0, acc
    if z < Z_NEGLIGIBLE:
        return (math.inf if d < _no_noise_delta(q, t) else 0.0), acc
    if acc is Accountant.PLD and q == 1.0:
        return gaussian_mechanism_epsilon(_gaussian_mu(z, t, nb), d), acc
    if acc is Accountant.RDP:
        _require_rdp_support(q, nb)
        return _rdp_epsilon(z, q, t, d, nb, orders), acc
    rdp = functools.cache(lambda: _rdp_epsilon(z, q, t, d, nb))  # computed at most once, if needed
    e_rdp = _screen(rdp, t, rdp_screen)
    if e_rdp is not None:
        return e_rdp, Accountant.RDP
    a = _poisson_accountant(z, q, t, acc, nb, None, _pld_interval(disc, rdp))
    with _quiet_dp_accounting():
        e = float(a.get_epsilon(d))
    if disc is None and 0.0 < e < 1000.0 * PLD_DISCRETIZATION:
        # PLD overestimates by up to about the interval: refine at e / 1000 when the default
        # is coarse against e (both numbers are upper bounds, so is their minimum)
        fine = _poisson_accountant(z, q, t, acc, nb, None, calibration_discretization(e))
        with _quiet_dp_accounting():
            e = min(e, float(fine.get_epsilon(d)))
    if math.isinf(e):  # delta below PLD's truncated tail mass: RDP's finite bound is valid
        return rdp(), Accountant.RDP
    return e, acc


def epsilon(noise_multiplier, sample_rate, steps, delta, accountant="pld",
            neighbouring="add_remove", *, orders=None,
            pld_discretization=None, rdp_screen=RDP_SCREEN) -> float:
    r"""Epsilon at ``delta`` of DP-SGD with Poisson sampling: the Poisson-subsampled
    Gaussian mechanism (rate :math:`q`, noise multiplier :math:`z`) composed ``steps``
    times.

    Parameters
    ----------
    noise_multiplier : float >= 0
        :math:`z`: std of the noise on the *sum* of clipped gradients divided by the clip
        threshold :math:`c` (the noise on the mean is :math:`zc/B`, see
        :func:`averaged_noise_std`).
    sample_rate : float in (0, 1]
        :math:`q`, the Poisson inclusion probability of each record at each step.
    steps : int >= 0
        Number of noisy releases = optimizer updates (one per update also with gradient
        accumulation; empty Poisson batches count).
    delta : float in (0, 1)
    accountant : {"pld", "rdp"}
        PLD: near-exact (an upper bound up to discretisation); RDP: a looser upper bound
        (conversion from Rényi DP), much faster. See the module docstring.
    neighbouring : {"add_remove", "replace_one", "zero_out"}
        ``replace_one`` with :math:`q < 1` needs ``accountant="pld"``.
    orders : sequence of float > 1, optional
        RDP orders (default: ``dp_accounting``'s grid). RDP only.
    pld_discretization : float > 0, optional
        PLD value-discretisation interval. PLD only. Default: 1e-4
        (:data:`PLD_DISCRETIZATION`), and where that gives epsilon below 0.1 it is refined
        at ``epsilon / 1000`` (PLD overestimates by up to about the interval: at z = 548,
        q = 0.01, 1000 steps, delta = 1e-5, 1e-4 gives 0.0024, the refined one 0.00099).
    rdp_screen : float > 0 or None, default :data:`RDP_SCREEN` (50)
        With ``accountant="pld"`` and :math:`q < 1`, the RDP epsilon (default orders;
        for replace-one the group-privacy bound of ``_replace_one_rdp``) is computed first;
        if it exceeds ``rdp_screen``, or ``steps`` exceeds :data:`PLD_MAX_STEPS`, that RDP
        upper bound is returned instead of PLD, with a warning. ``None``: always PLD,
        whatever it costs. (Where PLD's epsilon is ``inf`` for a delta below about 1e-15,
        the finite RDP bound is returned, with a warning, whatever ``rdp_screen``.)

    Returns
    -------
    float
        Epsilon (``inf`` for :math:`z = 0`, or :math:`0 < z <` :data:`Z_NEGLIGIBLE`, unless
        ``delta >= 1 - (1-q)^T``; 0 for ``steps = 0``).

    Warns
    -----
    RuntimeWarning
        When the screen above replaced PLD by RDP (no meaningful privacy, e.g.
        :math:`z = 0.03`, :math:`q = 0.01`, 100 steps: the PLD accountant's memory and time
        grow with epsilon, to tens of GB). The same screen guards :func:`delta_for` and
        :func:`calibrate_noise_multiplier`.

    Examples
    --------
    :math:`q = 1`, :math:`z = \sqrt 3`, 3 steps is the Gaussian mechanism with
    :math:`\mu = 1`, whose exact :math:`\delta(1) = 0.126937`; the RDP number is an
    upper bound above 1:

    >>> round(epsilon(3 ** 0.5, 1.0, 3, 0.126937), 3)
    1.0
    >>> epsilon(3 ** 0.5, 1.0, 3, 0.126937, accountant="rdp") > 1.0
    True
    >>> epsilon(0.0, 0.01, 100, 1e-5)  # no noise
    inf
    """
    z, q, t = _check_common(noise_multiplier, sample_rate, steps)
    d = check_open_unit("delta", delta)
    acc, nb, orders, disc = _resolve(accountant, neighbouring, orders, pld_discretization)
    screen = _check_screen(rdp_screen)
    e, used = _epsilon(z, q, t, d, acc, nb, orders, disc, screen)
    if used is not acc:
        _warn_screened("epsilon", e, screen, t)
    else:
        _warn_if_coarsened("epsilon", z, q, t, d, nb, acc, disc)
    return e


def delta_for(noise_multiplier, sample_rate, steps, epsilon, accountant="pld",
              neighbouring="add_remove", *, orders=None,
              pld_discretization=PLD_DISCRETIZATION, rdp_screen=RDP_SCREEN) -> float:
    r"""Delta at ``epsilon`` of DP-SGD with Poisson sampling (see :func:`epsilon`).

    Parameters
    ----------
    epsilon : float >= 0
        ``epsilon = 0`` gives the total-variation distance between the output
        distributions on neighbouring datasets.
    rdp_screen : float > 0 or None
        As in :func:`epsilon`, with the RDP epsilon taken at ``delta = 1e-5``: above the
        screen the RDP delta is returned (with a warning) instead of PLD's.

    Examples
    --------
    One step with :math:`q = 1`: the Gaussian mechanism, :math:`\delta(0) =
    2\Phi(1/(2z)) - 1`; with :math:`z = 1` that is :math:`0.382925`:

    >>> round(delta_for(1.0, 1.0, 1, 0.0), 4)
    0.3829
    >>> delta_for(0.0, 0.5, 2, 3.0)  # no noise: 1 - (1 - q)^T at every epsilon
    0.75
    """
    z, q, t = _check_common(noise_multiplier, sample_rate, steps)
    e = check_nonnegative("epsilon", epsilon)
    acc, nb, orders, disc = _resolve(accountant, neighbouring, orders, pld_discretization)
    screen = _check_screen(rdp_screen)
    if t == 0:
        return 0.0
    if z < Z_NEGLIGIBLE:
        return _no_noise_delta(q, t)
    if acc is Accountant.PLD and q == 1.0:
        return gaussian_mechanism_delta(_gaussian_mu(z, t, nb), e)
    if acc is Accountant.RDP:
        _require_rdp_support(q, nb)
        return _rdp_delta(z, q, t, e, nb, orders)
    e_rdp = _screen(lambda: _rdp_epsilon(z, q, t, _SCREEN_DELTA, nb), t, screen)
    if e_rdp is not None:  # (``epsilon`` is this function's argument here, not the function)
        _warn_screened(f"delta_for (screened at delta = {_SCREEN_DELTA:g})", e_rdp, screen, t)
        return _rdp_delta(z, q, t, e, nb)
    # the same guard on a too-fine interval as epsilon() (an interval of 1e-8 ran out of memory)
    interval = _pld_interval(disc, lambda: _rdp_epsilon(z, q, t, _SCREEN_DELTA, nb))
    _warn_if_coarsened("delta_for", z, q, t, _SCREEN_DELTA, nb, acc, disc)
    a = _poisson_accountant(z, q, t, acc, nb, None, interval)
    with _quiet_dp_accounting():
        return float(min(1.0, max(0.0, a.get_delta(e))))


def rdp_curve(noise_multiplier, sample_rate, steps, orders=None,
              neighbouring="add_remove") -> np.ndarray:
    r"""Rényi-DP curve :math:`\alpha \mapsto \mathrm{RDP}(\alpha)` of ``steps``
    compositions of the Poisson-subsampled Gaussian (``dp_accounting``'s RDP accountant;
    Mironov, Talwar, Zhang 2019, arXiv:1908.10530).

    For :math:`q = 1` this is :math:`T\alpha/(2z^2)` (add/remove) and
    :math:`T\alpha (2)^2/(2z^2)` (replace-one, sensitivity :math:`2c`).

    Parameters
    ----------
    orders : sequence of float > 1 (``inf`` allowed), optional
        Default: ``dp_accounting``'s grid.

    Returns
    -------
    ndarray, same length as ``orders``

    Examples
    --------
    >>> rdp_curve(2.0, 1.0, 4, orders=[2.0, 3.0])  # 4 * alpha / (2 * 2**2)
    array([1. , 1.5])
    """
    z, q, t = _check_common(noise_multiplier, sample_rate, steps)
    nb = _enum(Neighbouring, "neighbouring", neighbouring)
    orders = _check_orders(orders)
    if t == 0:
        return np.zeros(len(orders))
    if z < Z_NEGLIGIBLE:
        return np.full(len(orders), np.inf)
    a = _poisson_accountant(z, q, t, Accountant.RDP, nb, orders, None)
    return np.asarray(a.rdp, dtype=np.float64)


def calibrate_noise_multiplier(target_epsilon, delta, sample_rate, steps, accountant="pld",
                               neighbouring="add_remove", *, rtol=0.01, orders=None,
                               pld_discretization=None, rdp_screen=RDP_SCREEN) -> float:
    r"""Smallest noise multiplier (up to ``rtol``) whose epsilon does not exceed the target.

    Never overshoots: the returned :math:`z` satisfies ``epsilon(z, ...) <= target_epsilon``
    (checked by the accountant itself, not extrapolated), and :math:`z \le (1 + r)
    z^*`, where :math:`z^* = \inf\{z: \varepsilon(z) \le \varepsilon_{\text{target}}\}` and
    :math:`r` = ``rtol``. Here :math:`\varepsilon(z)` is :func:`epsilon` with the same
    arguments, including its ``rdp_screen``: a target above the screen (no meaningful
    privacy) is calibrated against the RDP bound, with a warning; ``rdp_screen=None``
    calibrates against PLD throughout. Method: bracket :math:`[z_{lo}, z_{hi}]` with
    :math:`\varepsilon(z_{lo}) > \varepsilon_{\text{target}} \ge \varepsilon(z_{hi})`, then
    bisect in :math:`\log z` until :math:`z_{hi}/z_{lo} \le 1 + r`, and return
    :math:`z_{hi}` (epsilon is non-increasing in :math:`z`, so :math:`z^* > z_{lo}`). For
    PLD the bracket starts from the (cheap) RDP calibration, since RDP epsilon is an upper
    bound on PLD epsilon.

    Parameters
    ----------
    target_epsilon : float > 0
    delta : float in (0, 1)
    sample_rate, steps, accountant, neighbouring, orders, rdp_screen
        As in :func:`epsilon`.
    pld_discretization : float > 0, optional
        PLD value-discretisation interval. Default: :func:`calibration_discretization`
        of the target, ``min(1e-4, target_epsilon / 1000)``: PLD's epsilon exceeds the
        true one by up to about the interval, so a fixed 1e-4 made small targets
        overshoot the noise (target 1e-3, q = 0.01, 1000 steps, delta = 1e-5: z = 2378
        instead of 548). An explicit interval above ``target_epsilon / 1000`` gets a
        RuntimeWarning. The calibrated z meets the target *at this interval*; report it
        with the same one (the CLI does).
    rtol : float in (0, 1)
        Relative tolerance on :math:`z` (default 1 %).

    Returns
    -------
    float
        :math:`z` (0.0 when no noise is needed: ``steps = 0``, or ``delta`` at least
        the no-noise failure probability :math:`1 - (1-q)^T`).

    Raises
    ------
    ValueError
        Bad input, or a target below what the accountant can resolve (PLD cannot report
        epsilon below about its discretisation interval).

    Examples
    --------
    One step with :math:`q = 1` at :math:`\delta = 0.126937` and target 1 needs
    :math:`\mu = 1`, i.e. :math:`z = 1`:

    >>> z = calibrate_noise_multiplier(1.0, 0.126937, 1.0, 1, accountant="pld")
    >>> 1.0 <= z <= 1.01
    True
    """
    target = check_positive("target_epsilon", target_epsilon)
    d = check_open_unit("delta", delta)
    z0, q, t = _check_common(0.0, sample_rate, steps)
    r = check_real("rtol", rtol)
    if not 0.0 < r < 1.0:
        raise ValueError(f"rtol must be in (0, 1) (got {rtol!r})")
    auto = calibration_discretization(target)
    acc, nb, orders, disc = _resolve(accountant, neighbouring, orders,
                                     auto if pld_discretization is None else pld_discretization)
    if disc > auto and acc is Accountant.PLD and pld_discretization is not None:
        warnings.warn(
            f"pld_discretization={disc:g} is coarse against target_epsilon={target:g}: PLD's "
            "epsilon exceeds the true one by up to about the interval, so the calibrated noise "
            "multiplier can be far above the smallest one meeting the target; use "
            f"pld_discretization <= {auto:g} (target_epsilon / 1000), or leave it unset",
            RuntimeWarning, stacklevel=2)
    screen = _check_screen(rdp_screen)

    def eps(z):  # epsilon() without its warning (said once, at the end)
        return _epsilon(z, q, t, d, acc, nb, orders, disc, screen)[0]

    if t == 0 or eps(0.0) <= target:
        return 0.0
    z_max = 1e6
    guess, step = _first_guess(target, d, q, t, acc, nb, r, disc, screen)
    # Upper end: where epsilon <= target.
    hi, grow = guess, step
    while (e_hi := eps(hi)) > target:
        if hi >= z_max:
            raise ValueError(
                f"target_epsilon={target!r} is not reached for noise_multiplier <= {z_max:g} "
                f"with the {acc.value.upper()} accountant (epsilon there is {e_hi:.3g})"
                + (f" (PLD cannot resolve epsilon much below pld_discretization={disc:g}; use a "
                   "smaller one)" if acc is Accountant.PLD and q < 1.0 and e_hi < 100 * disc else
                   " (RDP's finite order grid cannot reach tiny epsilon; use accountant='pld')"
                   if acc is Accountant.RDP else ""))
        hi, grow = min(hi * grow, z_max), grow * grow  # (the squared growth could jump past z_max)
    # Lower end: where epsilon > target (exists: epsilon -> inf as z -> 0 here).
    lo, grow = hi / step, step
    while eps(lo) <= target:
        hi, lo, grow = lo, lo / grow, grow * grow
    hi = _shrink_bracket(eps, target, lo, hi, r)
    e, used = _epsilon(hi, q, t, d, acc, nb, orders, disc, screen)
    if not e <= target:  # final check, by the accountant itself
        raise RuntimeError(f"calibration failed: epsilon({hi!r}) > {target!r}")  # pragma: no cover
    if used is not acc:
        _warn_screened("calibrate_noise_multiplier (at the calibrated z)", e, screen, t)
    return float(hi)


def calibration_discretization(target_epsilon) -> float:
    r"""The PLD discretisation interval :func:`calibrate_noise_multiplier` uses by default:
    ``min(PLD_DISCRETIZATION, target_epsilon / 1000)``.

    PLD's (pessimistic) epsilon exceeds the true one by up to about the interval, so the
    interval must be small against the target for the calibrated :math:`z` to be within
    ``rtol`` of the smallest :math:`z` meeting it.

    Examples
    --------
    >>> calibration_discretization(2.0), calibration_discretization(1e-2)
    (0.0001, 1e-05)
    """
    target = check_positive("target_epsilon", target_epsilon)
    return min(PLD_DISCRETIZATION, target / 1000.0)


def _first_guess(target, d, q, t, acc, nb, r, disc, screen) -> tuple:
    """(first z, growth factor of the bracket): a cheaper accountant's calibration and how
    far it may be off, or (1, 2) when there is none.

    For PLD: the same accountant on a 10x coarser grid (pessimistic rounding: a slightly
    larger epsilon, hence z), or, for a coarse grid already, RDP (an upper bound on PLD, so
    a z at least as large). A cheaper accountant that cannot reach the target (e.g. RDP's
    finite order grid for epsilon = 0.01) just gives no guess. For :math:`q = 1` PLD is a
    closed form and needs none.
    """
    if acc is not Accountant.PLD or q == 1.0:
        return 1.0, 2.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if disc < 1e-3:
                return calibrate_noise_multiplier(
                    target, d, q, t, acc, nb, rtol=r, pld_discretization=10.0 * disc,
                    rdp_screen=screen), 1.0 + r
            if nb is not Neighbouring.REPLACE_ONE:
                return calibrate_noise_multiplier(target, d, q, t, Accountant.RDP, nb, rtol=0.05), 1.25
    except ValueError:
        pass
    return 1.0, 2.0


def _shrink_bracket(f, target, lo, hi, rtol):
    r"""Shrink ``[lo, hi]`` with ``f(lo) > target >= f(hi)`` (``f`` non-increasing) until
    ``hi / lo <= 1 + rtol``; return ``hi``.

    Each round proposes the root of the secant of :math:`\log f` against :math:`\log z`,
    nudged up by :math:`r/2`, then probes :math:`r` away on the other side, so a good
    secant finishes in two evaluations; every third round is a plain bisection in
    :math:`\log z`, which guarantees progress.
    """
    rnd = 0
    while hi / lo > 1.0 + rtol:
        rnd += 1
        f_lo, f_hi = f(lo), f(hi)
        cand = math.sqrt(lo * hi)
        if rnd % 3 and math.isfinite(f_lo) and f_hi > 0.0:
            w = (math.log(f_lo) - math.log(target)) / (math.log(f_lo) - math.log(f_hi))
            cand = lo * (hi / lo) ** min(max(w, 0.0), 1.0) * (1.0 + rtol / 2.0)
        span = hi / lo
        cand = min(max(cand, lo * span**0.02), hi / span**0.02)  # strictly inside
        if f(cand) <= target:
            hi = cand
            probe = hi / (1.0 + rtol)
            if probe > lo:
                if f(probe) <= target:
                    hi = probe
                else:
                    lo = probe
        else:
            lo = cand
            probe = lo * (1.0 + rtol)
            if probe < hi:
                if f(probe) <= target:
                    hi = probe
                else:
                    lo = probe
    return hi


# ----------------------------------------------------------------- events for other schemes

def shuffle_participation(steps, batch_size, n) -> tuple[int, int]:
    r"""Worst-case participation of one record in ``steps`` shuffled batches.

    The engine reads fixed-size batches of ``batch_size`` from a stream of independent
    random permutations of the ``n`` records (batches run on across permutation
    boundaries). Returns ``(E, D)``: :math:`E = \lceil T B / n \rceil` permutations are
    (partly) read, so a record occurs at most :math:`E` times; :math:`D` is the largest
    number of batches in which one record can occur **twice** (a batch straddling a
    permutation boundary can hold the last record of one permutation and the first of
    the next). The record's squared sensitivity summed over steps is at most
    :math:`(E + 2D) s^2 c^2`, whatever the permutations.

    Straddled boundaries are the :math:`p n` (:math:`1 \le p < E`) not divisible by
    :math:`B`; a record can use boundaries whose permutation pairs are disjoint, so
    :math:`D` is a maximum matching on a path, found greedily.

    Examples
    --------
    :math:`n = 1000, B = 100, T = 25`: 2500 records read, 3 permutations, boundaries at
    1000 and 2000 coincide with batch boundaries:

    >>> shuffle_participation(25, 100, 1000)
    (3, 0)
    >>> shuffle_participation(3, 2, 3)  # stream a b c | c' ...: batch 2 may be (c, c)
    (2, 1)
    """
    t = check_int("steps", steps, 0)
    b = check_int("batch_size", batch_size, 1)
    n = check_int("n", n, 1)
    if b > n:
        raise ValueError(f"batch_size must be <= n={n} for sampling='shuffle' (got {b})")
    if t == 0:
        return 0, 0
    e = -(-t * b // n)  # ceil(T B / n), exact in integers
    doubles, used = 0, False  # used: the permutation p-1 is already in a matched pair
    for p in range(1, e):
        if (p * n) % b != 0 and not used:
            doubles += 1
            used = True
        else:
            used = False
    return e, doubles


def _replacement_rdp(z_eff, n, batch_size, steps, orders) -> np.ndarray:
    r"""RDP of ``steps`` rounds of with-replacement sampling, revealing the draw count.

    :math:`\frac{T}{\alpha - 1}\log \sum_k \mathrm{Bin}(k; B, 1/n)
    \exp((\alpha-1)\alpha k^2/(2 z_{\text{eff}}^2))`, with :math:`z_{\text{eff}}` the
    multiplier relative to the per-occurrence sensitivity.
    """
    from scipy.special import logsumexp
    from scipy.stats import binom

    z_eff = min(z_eff, Z_HUGE)  # an upper bound for larger z (z**2 overflows near 1e154)
    k = np.arange(batch_size + 1, dtype=np.float64)
    logp = binom.logpmf(k, batch_size, 1.0 / n)
    out = np.empty(len(orders))
    for j, a in enumerate(orders):
        if math.isinf(a):
            out[j] = math.inf if batch_size > 0 else 0.0
            continue
        out[j] = steps * float(logsumexp(logp + (a - 1.0) * a * k**2 / (2.0 * z_eff**2))) / (a - 1.0)
    return out


@dataclass(frozen=True)
class PrivacyEvent:
    r"""What a DP-SGD run did, as a value: noise multiplier, sampling, number of steps.

    Built by :func:`event_for`. :attr:`dp_event` gives the run in ``dp_accounting``'s
    vocabulary; :meth:`report` counts it.

    Attributes
    ----------
    noise_multiplier : float
        :math:`z` (noise std on the sum of clipped gradients over :math:`c`).
    sample_rate : float
        :math:`q` for Poisson; :math:`\min(1, B/n)` for the fixed-size schemes.
    steps : int
        Optimizer updates = noisy releases.
    sampling : Sampling
    batch_size, n : int or None
        Needed for ``shuffle`` (or ``sample_rate`` alone, then :math:`n/B = 1/q`) and
        for ``replacement``.
    """

    noise_multiplier: float
    sample_rate: float
    steps: int
    sampling: Sampling = Sampling.POISSON
    batch_size: Optional[int] = None
    n: Optional[int] = None

    def __post_init__(self):
        z = check_nonnegative("noise_multiplier", self.noise_multiplier)
        q = check_rate("sample_rate", self.sample_rate)
        t = check_int("steps", self.steps, 0)
        s = _enum(Sampling, "sampling", self.sampling)
        b = None if self.batch_size is None else check_int("batch_size", self.batch_size, 1)
        m = None if self.n is None else check_int("n", self.n, 1)
        if s is Sampling.REPLACEMENT and (b is None or m is None):
            raise ValueError("sampling='replacement' needs batch_size and n (the dataset size)")
        if s is Sampling.SHUFFLE and b is not None and m is not None and b > m:
            raise ValueError(f"batch_size must be <= n={m} for sampling='shuffle' (got {b})")
        for name, value in (("noise_multiplier", z), ("sample_rate", q), ("steps", t),
                            ("sampling", s), ("batch_size", b), ("n", m)):
            object.__setattr__(self, name, value)

    @property
    def dp_event(self):
        """The run as a ``dp_accounting`` ``DpEvent`` (what happened, not how to count it).

        * poisson: ``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(z)), T)``
        * replacement: ``SelfComposedDpEvent(SampledWithReplacementDpEvent(n, B,
          GaussianDpEvent(z)), T)`` (no ``dp_accounting`` accountant supports it)
        * shuffle: ``UnsupportedDpEvent()``: ``dp_accounting`` has no event for a stream
          of shuffled batches (clipsgd's bound is in :meth:`report`).
        """
        dpa = _dpa()
        g = dpa.GaussianDpEvent(self.noise_multiplier)
        if self.sampling is Sampling.POISSON:
            return dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(self.sample_rate, g), self.steps)
        if self.sampling is Sampling.REPLACEMENT:
            return dpa.SelfComposedDpEvent(
                dpa.SampledWithReplacementDpEvent(self.n, self.batch_size, g), self.steps)
        return dpa.UnsupportedDpEvent()

    def report(self, delta, accountant="pld", neighbouring="add_remove", *,
               pld_discretization=None, rdp_screen=RDP_SCREEN) -> "PrivacyReport":
        """Count this event: a :class:`PrivacyReport` at ``delta`` (see :func:`privacy_report`)."""
        d = check_open_unit("delta", delta)
        acc = _enum(Accountant, "accountant", accountant)
        nb = _enum(Neighbouring, "neighbouring", neighbouring)
        disc = _check_discretization(pld_discretization)
        return _report(self, d, acc, nb, disc, _check_screen(rdp_screen))


def event_for(noise_multiplier, sample_rate=None, steps=0, sampling="poisson",
              batch_size=None, n=None) -> PrivacyEvent:
    r"""Describe a DP-SGD run as a :class:`PrivacyEvent` (validated).

    Parameters
    ----------
    noise_multiplier : float >= 0
    sample_rate : float in (0, 1], optional
        Required for ``poisson``. For ``shuffle`` / ``replacement`` it may be omitted when
        ``batch_size`` and ``n`` are given (then it is :math:`\min(1, B/n)`); if all three
        are given they must agree.
    steps : int >= 0
    sampling : {"poisson", "shuffle", "replacement"}
    batch_size, n : int >= 1, optional
        ``replacement`` needs ``n`` (and ``batch_size``, or ``sample_rate`` with
        :math:`qn` an integer).

    Examples
    --------
    >>> ev = event_for(1.1, 0.01, 1000)
    >>> ev.dp_event.count, ev.dp_event.event.sampling_probability
    (1000, 0.01)
    """
    s = _enum(Sampling, "sampling", sampling)
    b = None if batch_size is None else check_int("batch_size", batch_size, 1)
    m = None if n is None else check_int("n", n, 1)
    q = None if sample_rate is None else check_rate("sample_rate", sample_rate)
    if s is Sampling.POISSON:
        if q is None:
            raise ValueError("sample_rate must be given (in (0, 1]) for sampling='poisson'")
        return PrivacyEvent(noise_multiplier, q, steps, s, None, m)
    if b is not None and m is not None:
        implied = min(1.0, b / m)
        if q is not None and not math.isclose(q, implied, rel_tol=1e-9):
            raise ValueError(
                f"sample_rate={q!r} does not match batch_size/n = {b}/{m} for sampling={s.value!r}")
        q = implied
    elif q is None:
        raise ValueError(f"sampling={s.value!r} needs sample_rate, or batch_size and n")
    if s is Sampling.REPLACEMENT:
        if m is None:
            raise ValueError("n (the dataset size) must be given for sampling='replacement'")
        if b is None:
            b = round(q * m)
            if b < 1 or not math.isclose(b, q * m, rel_tol=1e-9):
                raise ValueError(
                    f"batch_size must be given for sampling='replacement' (sample_rate * n = {q * m!r})")
    return PrivacyEvent(noise_multiplier, q, steps, s, b, m)


# --------------------------------------------------------------------------------- reports

@dataclass(frozen=True)
class PrivacyReport:
    r"""Privacy spent by a run: :math:`(\varepsilon, \delta)` and everything needed to read it.

    Attributes
    ----------
    epsilon, delta : float
    accountant : Accountant
        The accountant that produced ``epsilon`` (may differ from the one asked for,
        with a warning).
    neighbouring : Neighbouring
        The relation the guarantee holds for (may differ from the one asked for, with a
        warning: fixed-size batches use ``zero_out`` instead of ``add_remove``).
    sampling : Sampling
    noise_multiplier, sample_rate : float
    steps : int
    warnings : tuple of str
        Everything a reader must know before quoting the number.
    basis : str
        One line: which mechanism the number bounds.
    batch_size, n : int or None
    """

    epsilon: float
    delta: float
    accountant: Accountant
    neighbouring: Neighbouring
    sampling: Sampling
    noise_multiplier: float
    sample_rate: float
    steps: int
    warnings: tuple = ()
    basis: str = ""
    batch_size: Optional[int] = None
    n: Optional[int] = None

    def summary(self) -> str:
        """A few lines for humans: the guarantee, its basis, warnings, and the scope note."""
        eps = "inf" if math.isinf(self.epsilon) else f"{self.epsilon:.4g}"
        lines = [
            f"({eps}, {self.delta:.3g})-DP  [{self.accountant.value} accountant, "
            f"{self.neighbouring.value} neighbouring, {self.sampling.value} sampling]",
            f"z = {self.noise_multiplier:.4g}, q = {self.sample_rate:.4g}, steps = {self.steps}",
        ]
        if self.basis:
            lines.append(f"basis: {self.basis}")
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(f"note: {SCOPE_STATEMENT}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict:
        """JSON-ready dict (enums as strings, ``inf`` as the string ``"inf"``)."""
        out = asdict(self)
        for key in ("accountant", "neighbouring", "sampling"):
            out[key] = getattr(self, key).value
        out["warnings"] = list(self.warnings)
        if math.isinf(self.epsilon):
            out["epsilon"] = "inf"
        out["scope"] = SCOPE_STATEMENT
        return out


_FIXED_SIZE_ADD_REMOVE = (
    "add/remove-one neighbouring is not meaningful for fixed-size batches (adding a record "
    "changes n, hence every batch); the guarantee is stated for the zero-out relation instead "
    "(one record replaced by a record whose clipped gradient is 0; dp_accounting's "
    "REPLACE_SPECIAL), which for Poisson sampling gives the same numbers as add/remove"
)


def _report(ev: PrivacyEvent, d, acc, nb, disc, rdp_screen) -> PrivacyReport:
    warnings = []
    z, q, t = ev.noise_multiplier, ev.sample_rate, ev.steps
    common = dict(delta=d, sampling=ev.sampling, noise_multiplier=z, sample_rate=q, steps=t,
                  batch_size=ev.batch_size, n=ev.n)
    if z == 0.0 and t > 0:
        warnings.append(
            "noise_multiplier = 0: no privacy. Without noise the update is a deterministic "
            "function of the batch, so a record that is sampled can be revealed with certainty "
            "(delta(epsilon) = P[record ever sampled] for every epsilon)")

    if ev.sampling is Sampling.POISSON:
        if nb is Neighbouring.REPLACE_ONE and q < 1.0 and acc is Accountant.RDP:
            warnings.append(
                "dp_accounting's RDP accountant has no Poisson-subsampled Gaussian under "
                "replace-one; the PLD accountant was used")
            acc = Accountant.PLD
        e, used = _epsilon(z, q, t, d, acc, nb, _default_orders(), disc, rdp_screen)
        if used is not acc and not (rdp_screen is not None and e > rdp_screen):
            acc = used
            warnings.append(_pld_too_long(t) if t > PLD_MAX_STEPS else _PLD_TINY_DELTA)
        elif used is not acc:
            acc = used
            warnings.append(
                f"epsilon is above rdp_screen = {rdp_screen:g} by the RDP accountant (no meaningful "
                "privacy); the PLD refinement, slow and memory-hungry in this regime, was skipped "
                "and the RDP upper bound is reported"
                + (" (replace-one: via group privacy of two zero-out steps)"
                   if nb is Neighbouring.REPLACE_ONE else ""))
        basis = f"Poisson-subsampled Gaussian (q = {q:.4g}, z = {z:.4g}) composed {t} times"
        return PrivacyReport(epsilon=e, accountant=acc, neighbouring=nb, warnings=tuple(warnings),
                             basis=basis, **common)

    if nb is Neighbouring.ADD_REMOVE:
        warnings.append(_FIXED_SIZE_ADD_REMOVE)
        nb = Neighbouring.ZERO_OUT
    s = 2.0 if nb is Neighbouring.REPLACE_ONE else 1.0  # sensitivity per occurrence, units of c

    if ev.sampling is Sampling.SHUFFLE:
        if ev.batch_size is not None and ev.n is not None:
            e_perm, doubles = shuffle_participation(t, ev.batch_size, ev.n)
        else:  # only q = B/n known: E = ceil(T q), and assume every boundary straddles
            e_perm = math.ceil(t * q) if t > 0 else 0
            doubles = e_perm // 2
        weight = e_perm + 2 * doubles  # sum over steps of (occurrences in the batch)^2
        warnings.append(
            "sampling='shuffle' (fixed-size batches read from random permutations) is not "
            "Poisson sampling, and the Poisson-subsampled accountant is not valid for it: "
            "shuffled batches can leak more than the Poisson number suggests (Chua et al. 2024, "
            "arXiv:2403.17673). Reported instead: an upper bound without amplification, "
            f"each record being in at most {e_perm} batches ({doubles} of them possibly twice), "
            "i.e. the Gaussian mechanism composed over passes. For the usual, much smaller "
            "epsilon, train with sampling='poisson' at the same expected batch size")
        if z == 0.0 or weight == 0:
            e = 0.0 if (weight == 0) else math.inf
        else:
            z_eff = z / (s * math.sqrt(weight))  # one Gaussian: mu^2 adds over releases
            e = epsilon(z_eff, 1.0, 1, d, acc, Neighbouring.ADD_REMOVE, pld_discretization=disc)
        mu = math.inf if z == 0.0 else s * math.sqrt(weight) / z
        basis = (f"Gaussian mechanism with mu = {mu:.4g} (= {s:g} * sqrt({e_perm} + 2 * {doubles}) / z): "
                 "every record in at most one batch per permutation")
        return PrivacyReport(epsilon=e, accountant=acc, neighbouring=nb, warnings=tuple(warnings),
                             basis=basis, **common)

    # replacement
    b, n = ev.batch_size, ev.n
    warnings.append(
        "sampling='replacement' (batch indices drawn with replacement) has no accountant in "
        "dp_accounting; clipsgd bounds it with RDP after revealing how many times the record "
        "was drawn at each step (k ~ Binomial(B, 1/n)): valid but loose, since the only "
        "amplification left is P[k = 0]. Train with sampling='poisson' for a tight number")
    if acc is Accountant.PLD:
        warnings.append("accountant='pld' is not available for sampling='replacement'; RDP was used")
        acc = Accountant.RDP
    if t == 0:
        e = 0.0
    elif z == 0.0:
        e = math.inf
    else:
        from dp_accounting.rdp.rdp_privacy_accountant import compute_epsilon

        orders = _default_orders()
        rdp = _replacement_rdp(z / s, n, b, t, orders)
        with _quiet_dp_accounting():
            e = float(compute_epsilon(orders, rdp, d)[0])
    basis = (f"with-replacement sampling (B = {b}, n = {n}), draw count revealed, "
             f"Gaussian (z = {z:.4g}) per occurrence, composed {t} times")
    return PrivacyReport(epsilon=e, accountant=acc, neighbouring=nb, warnings=tuple(warnings),
                         basis=basis, **common)


def privacy_report(noise_multiplier, sample_rate, steps, delta, sampling="poisson",
                   accountant="pld", neighbouring="add_remove", batch_size=None, n=None, *,
                   pld_discretization=None, rdp_screen=RDP_SCREEN) -> PrivacyReport:
    r"""The privacy a DP-SGD run spent, as a :class:`PrivacyReport` (the engine calls this
    for every private run).

    Equivalent to ``event_for(...).report(delta, accountant, neighbouring)``. For
    ``poisson`` the epsilon is :func:`epsilon`; for ``shuffle`` and ``replacement`` it
    is an honest (looser) bound, explained in the report's warnings and in the module
    docstring. Nothing is ever silently reported with the Poisson accountant for a
    scheme it does not cover.

    Parameters
    ----------
    noise_multiplier, sample_rate, steps, delta
        As in :func:`epsilon` (``sample_rate`` may be ``None`` for the fixed-size
        schemes when ``batch_size`` and ``n`` are given).
    sampling : {"poisson", "shuffle", "replacement"}
    accountant : {"pld", "rdp"}
    neighbouring : {"add_remove", "replace_one", "zero_out"}
    batch_size, n : int, optional
        Fixed batch size and dataset size (``shuffle``, ``replacement``).
    pld_discretization : float > 0, optional
        PLD value-discretisation interval (default as in :func:`epsilon`).
    rdp_screen : float > 0 or None, default 50
        With the PLD accountant and Poisson sampling, the cheap RDP epsilon is computed
        first (default orders, well under a second); if it exceeds ``rdp_screen`` the run
        has no meaningful privacy (a likelihood ratio up to :math:`e^{50}`), PLD (seconds
        to minutes and gigabytes in that regime) is skipped, and the RDP upper bound is
        reported with a warning (``accountant`` then reads ``rdp``). ``None``: always PLD.

    Examples
    --------
    >>> r = privacy_report(1.0, None, 25, 1e-5, sampling="shuffle", batch_size=100, n=1000,
    ...                    accountant="rdp")
    >>> r.neighbouring.value, len(r.warnings), "Mironov 2012" in str(r)
    ('zero_out', 2, True)
    """
    ev = event_for(noise_multiplier, sample_rate, steps, sampling, batch_size, n)
    return ev.report(delta, accountant, neighbouring, pld_discretization=pld_discretization,
                     rdp_screen=rdp_screen)
