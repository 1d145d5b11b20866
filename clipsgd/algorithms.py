r"""Algorithms as data: small frozen descriptions that the one engine interprets.

=================  =======================================================================
description        update (batch :math:`\mathcal B_t`, expected size :math:`B`)
=================  =======================================================================
:class:`SGD`       :math:`x \leftarrow x - \frac{\alpha_t}{B}\sum_{i\in\mathcal B_t} g_i`
:class:`ClippedSGD` :math:`x \leftarrow x - \frac{\alpha_t}{B}\sum_i \operatorname{clip}(g_i + k\zeta_i, c)`
:class:`DPSGD`     :math:`x \leftarrow x - \frac{\alpha_t}{B}\bigl(\sum_i \operatorname{clip}(g_i + k\zeta_i, c) + z c\,\nu\bigr)`,
                   :math:`\nu \sim N(0, I_d)`
=================  =======================================================================

:math:`\zeta_i \sim N(0, I_d)` is the paper's pre-clipping perturbation, drawn fresh per
example and per step (``k = 0``: plain clipping). The Gaussian noise goes on the **sum**
of clipped gradients, whose L2 sensitivity is :math:`c` (Abadi et al. 2016,
arXiv:1607.00133); dividing by the *expected* batch size keeps the privacy analysis of
Poisson sampling valid. The perturbation changes no privacy number: it is applied before
clipping, so the sensitivity stays :math:`c`.

Sampling schemes (:class:`Sampling`): ``poisson`` (each example independently with rate
q; the batch may be empty, and still gets its noise), ``shuffle`` (fixed-size batches read
from a fresh random permutation each epoch; batches run on across epoch boundaries) and
``replacement`` (B indices drawn uniformly with replacement; B = 1 is textbook SGD).

Learning-rate schedules (:class:`Schedule`): ``constant`` :math:`\alpha_t = \alpha`,
``inverse_sqrt`` :math:`\alpha_t = \alpha/\sqrt{1 + t}`, ``inverse`` :math:`\alpha_t =
\alpha/(1+t)`, ``cosine`` :math:`\alpha_t = \alpha (1 + \cos(\pi t/T))/2`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Optional

import numpy as np

from ._validate import (
    check_clip_threshold,
    check_int,
    check_nonnegative,
    check_positive,
    check_rate,
    check_real,
)

__all__ = [
    "Sampling",
    "Schedule",
    "Method",
    "SGD",
    "ClippedSGD",
    "DPSGD",
    "AutoClipSGD",
    "DiceSGD",
    "QuantileClipDPSGD",
    "EngineSpec",
]


class _Choice(str, Enum):
    """A named choice; shown as its string (``'poisson'``), which is also what the
    descriptions accept, so an algorithm's repr can be pasted back as code."""

    def __repr__(self):
        return repr(self.value)


class Sampling(_Choice):
    """How a batch is drawn at each step."""

    POISSON = "poisson"
    SHUFFLE = "shuffle"
    REPLACEMENT = "replacement"


class Schedule(_Choice):
    """Learning-rate schedule."""

    CONSTANT = "constant"
    INVERSE_SQRT = "inverse_sqrt"
    INVERSE = "inverse"
    COSINE = "cosine"


class Method(int, Enum):
    """How per-example gradients are turned into the summed update (engine codes)."""

    CLIP = 0  # sum_i clip(g_i + k zeta_i, c)  (c = inf: plain SGD)
    AUTO = 1  # sum_i c (g_i + k zeta_i) / (||g_i + k zeta_i|| + gamma)
    DICE = 2  # clipped error feedback: mean clip_C1(g_i) + clip_C2(e)
    QUANTILE = 3  # c_t follows a private estimate of a quantile of ||g_i||


def _enum(cls, name, value):
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"{name} must be one of {allowed} (got {value!r})") from None


@dataclass(frozen=True)
class EngineSpec:
    """Everything the kernel needs, normalised (built by ``Algorithm.spec(n)``)."""

    method: int
    c: float
    noise_multiplier: float
    k: float
    sampling: int  # 0 poisson, 1 shuffle, 2 replacement
    sample_rate: float
    batch_size: int
    expected_batch: float
    params: tuple = ()


_SAMPLING_CODE = {Sampling.POISSON: 0, Sampling.SHUFFLE: 1, Sampling.REPLACEMENT: 2}


@dataclass(frozen=True, kw_only=True)
class SGD:
    r"""Plain mini-batch SGD (no clipping, no noise).

    Parameters
    ----------
    lr : float
        Learning rate :math:`\alpha > 0`.
    schedule : {"constant", "inverse_sqrt", "inverse", "cosine"}
    sampling : {"replacement", "shuffle", "poisson"}
    batch_size : int, optional
        Batch size B for ``replacement``/``shuffle`` sampling (default 1).
    sample_rate : float, optional
        Rate q in (0, 1] for ``poisson`` sampling (expected batch q n).
    """

    lr: float
    schedule: Schedule = Schedule.CONSTANT
    sampling: Sampling = Sampling.REPLACEMENT
    batch_size: Optional[int] = None
    sample_rate: Optional[float] = None

    def __post_init__(self):
        object.__setattr__(self, "lr", check_positive("lr", self.lr))
        object.__setattr__(self, "schedule", _enum(Schedule, "schedule", self.schedule))
        object.__setattr__(self, "sampling", _enum(Sampling, "sampling", self.sampling))
        if self.sampling is Sampling.POISSON:
            if self.sample_rate is None:
                raise ValueError("sample_rate must be given (in (0, 1]) for sampling='poisson'")
            if self.batch_size is not None:
                raise ValueError("batch_size is not used with sampling='poisson'; give sample_rate")
            object.__setattr__(self, "sample_rate", check_rate("sample_rate", self.sample_rate))
        else:
            if self.sample_rate is not None:
                raise ValueError(
                    f"sample_rate is only used with sampling='poisson' (got sampling={self.sampling.value!r});"
                    " give batch_size"
                )
            b = 1 if self.batch_size is None else self.batch_size
            object.__setattr__(self, "batch_size", check_int("batch_size", b, 1))

    # -- what the engine reads ------------------------------------------------------
    clip_threshold = math.inf
    noise_multiplier = 0.0
    k = 0.0

    @property
    def private(self) -> bool:
        """True when the run is a Gaussian mechanism that the accountant can count."""
        return False

    @property
    def privacy_status(self) -> str:
        """One line for reports: what privacy a run of this algorithm has (when not private)."""
        if self.private:
            return "accounted (see Result.privacy)"
        return "non-private: no Gaussian noise, no epsilon"

    def learning_rates(self, steps: int) -> np.ndarray:
        r"""The sequence :math:`\alpha_0, ..., \alpha_{T-1}`."""
        t = np.arange(steps, dtype=float)
        if self.schedule is Schedule.CONSTANT:
            return np.full(steps, self.lr)
        if self.schedule is Schedule.INVERSE_SQRT:
            return self.lr / np.sqrt(1.0 + t)
        if self.schedule is Schedule.INVERSE:
            return self.lr / (1.0 + t)
        return self.lr * 0.5 * (1.0 + np.cos(np.pi * t / max(steps, 1)))

    def expected_batch(self, n: int) -> float:
        """Normaliser of the summed update: q n (Poisson) or B."""
        if self.sampling is Sampling.POISSON:
            return self.sample_rate * n
        return float(self.batch_size)

    def spec(self, n: int) -> EngineSpec:
        if self.sampling is not Sampling.POISSON and self.sampling is Sampling.SHUFFLE and self.batch_size > n:
            raise ValueError(f"batch_size must be <= n={n} for sampling='shuffle' (got {self.batch_size})")
        return EngineSpec(
            method=int(self.method),
            c=float(self.clip_threshold),
            noise_multiplier=float(self.noise_multiplier),
            k=float(self.k),
            sampling=_SAMPLING_CODE[self.sampling],
            sample_rate=float(self.sample_rate or 0.0),
            batch_size=int(self.batch_size or 0),
            expected_batch=self.expected_batch(n),
            params=self._method_params(),
        )

    method = Method.CLIP

    def _method_params(self) -> tuple:
        """Extra numbers for the kernel: (gamma, c2, target_quantile, quantile_lr, z_count)."""
        return (0.0, 0.0, 0.0, 0.0, 0.0)

    def with_(self, **changes):
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class ClippedSGD(SGD):
    r"""Clipped SGD with the optional pre-clipping perturbation (no privacy noise).

    Parameters
    ----------
    c : float
        Clip threshold in (0, inf].
    k : float, default 0
        Perturbation scale: clip :math:`g_i + k \zeta_i`, :math:`\zeta_i \sim N(0, I_d)`.
    """

    c: float
    k: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "c", check_clip_threshold("c", self.c))
        object.__setattr__(self, "k", check_nonnegative("k", self.k))

    @property
    def clip_threshold(self):
        return self.c


@dataclass(frozen=True, kw_only=True)
class DPSGD(ClippedSGD):
    r"""DP-SGD (Abadi et al. 2016): clipped per-example gradients plus Gaussian noise
    :math:`N(0, (z c)^2 I)` on their sum, divided by the expected batch size.

    Parameters
    ----------
    noise_multiplier : float
        z >= 0. The noise on the averaged update has standard deviation
        :math:`\sigma = z c / B` per coordinate.
    sampling : default "poisson"
        Poisson sampling is what the DP-SGD accountant analyses. ``shuffle`` and
        ``replacement`` are allowed; :mod:`clipsgd.privacy` then reports a valid but looser
        bound, with a warning saying why.

    Examples
    --------
    >>> alg = DPSGD(lr=0.1, c=1.0, noise_multiplier=1.1, sample_rate=0.01)
    >>> alg.expected_batch(60000), alg.noise_std(60000)
    (600.0, 0.0018333333333333335)
    """

    # field() keeps z required: a bare annotation would inherit SGD.noise_multiplier = 0.0
    # as a silent default (a "DP-SGD" without noise).
    noise_multiplier: float = field()
    sampling: Sampling = Sampling.POISSON

    def __post_init__(self):
        super().__post_init__()
        z = check_nonnegative("noise_multiplier", self.noise_multiplier)
        object.__setattr__(self, "noise_multiplier", z)
        if z > 0 and math.isinf(self.c):
            raise ValueError("c must be finite when noise_multiplier > 0 (the noise scale is z * c)")

    @property
    def private(self) -> bool:
        return True

    def privacy_event(self, n: int, steps: int):
        """This algorithm, run for ``steps`` steps on ``n`` examples, as a
        :class:`clipsgd.privacy.PrivacyEvent` (hand it to an accountant)."""
        from .privacy import event_for

        return event_for(
            getattr(self, "effective_noise_multiplier", self.noise_multiplier),
            sample_rate=self.sample_rate if self.sampling is Sampling.POISSON else None,
            steps=steps, sampling=self.sampling.value,
            batch_size=self.batch_size, n=n,
        )

    def noise_std(self, n: int) -> float:
        """Per-coordinate std of the noise on the averaged update, :math:`z c / B`."""
        return self.noise_multiplier * self.c / self.expected_batch(n)


@dataclass(frozen=True, kw_only=True)
class AutoClipSGD(DPSGD):
    r"""Automatic (normalised) clipping, AUTO-S (Bu et al. 2022, arXiv:2206.07136).

    Each per-example gradient is replaced by :math:`c\, g_i / (\lVert g_i \rVert + \gamma)`,
    whose norm is below :math:`c`, so the sensitivity of the sum is still :math:`c` and
    the Gaussian noise :math:`N(0, (zc)^2 I)` gives the same privacy as DP-SGD (Poisson
    sampling). ``noise_multiplier = 0`` gives the non-private normalised method.

    Parameters
    ----------
    gamma : float > 0, default 0.01
        Stability constant; ``gamma -> 0`` is pure normalisation.
    """

    gamma: float = 0.01
    noise_multiplier: float = 0.0
    method = Method.AUTO

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "gamma", check_positive("gamma", self.gamma))
        if math.isinf(self.c):
            raise ValueError("c must be finite for AutoClipSGD (it is the output scale)")

    @property
    def private(self) -> bool:
        return self.noise_multiplier > 0

    def _method_params(self):
        return (self.gamma, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, kw_only=True)
class DiceSGD(DPSGD):
    r"""DiceSGD: clipped error feedback (Zhang, Bu, Wu, Hong 2023, arXiv:2311.14632).

    .. math::

        v_t = \frac1B \sum_{i} \operatorname{clip}(g_i, C_1) + \operatorname{clip}(e_t, C_2),
        \quad x \leftarrow x - \alpha_t (v_t + w_t),
        \quad e_{t+1} = e_t + \frac1B\sum_i g_i - v_t,

    with :math:`w_t \sim N(0, (z C_1/B)^2 I)` (``c`` is :math:`C_1`). The error
    :math:`e` accumulates what clipping removed and feeds it back, so the fixed point is
    a stationary point of f (no clipping bias).

    Privacy: **not accounted by clipsgd.** The error-feedback term is a function of past
    private data, so the DP-SGD accountant does not apply; the paper's own analysis
    requires a larger noise that depends on :math:`C_2/C_1`. Results carry no epsilon
    and are labelled non-private.

    Parameters
    ----------
    c2 : float > 0
        Clip threshold :math:`C_2` of the fed-back error.
    """

    c2: float = 1.0
    noise_multiplier: float = 0.0
    method = Method.DICE

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "c2", check_clip_threshold("c2", self.c2))

    @property
    def private(self) -> bool:
        return False

    @property
    def privacy_status(self) -> str:
        return ("NON-PRIVATE as far as clipsgd knows: DiceSGD's error feedback is not covered by "
                "the DP-SGD accountant, so no epsilon is reported (even with noise_multiplier > 0)")

    def _method_params(self):
        return (0.0, self.c2, 0.0, 0.0, 0.0)


@dataclass(frozen=True, kw_only=True)
class QuantileClipDPSGD(DPSGD):
    r"""DP-SGD whose clip threshold tracks a quantile of the per-example norms
    (Andrew, Thakkar, McMahan, Ramaswamy 2021, arXiv:1905.03871).

    At each step, with :math:`b_t = \#\{i \in \mathcal B_t: \lVert g_i\rVert \le c_t\}`,

    .. math::

        \tilde b_t = \frac{b_t + N(0, \sigma_b^2)}{B}, \qquad
        c_{t+1} = c_t \exp\bigl(-\eta_c (\tilde b_t - \gamma)\bigr),

    with target quantile :math:`\gamma`, step :math:`\eta_c` and count noise
    :math:`\sigma_b` (``count_noise_multiplier``). ``c`` is the initial threshold.

    Parameters
    ----------
    target_quantile : float in (0, 1), default 0.5
        :math:`\gamma`. The end points are excluded: :math:`\tilde b_t` is about
        :math:`[0, 1]`-valued, so :math:`\gamma = 1` would only ever grow :math:`c` (and
        :math:`\gamma = 0` only shrink it).
    quantile_lr : float >= 0, default 0.2
        :math:`\eta_c`; a step can multiply :math:`c` by up to :math:`e^{\eta_c}`.
    count_noise_multiplier : float >= 0, default 0
        :math:`\sigma_b`.

    Privacy: the count query has sensitivity 1 (the paper centres it at 1/2 for
    sensitivity 1/2: we use that centring, so the noisy count is a Gaussian mechanism with
    multiplier :math:`2\sigma_b` in units of its sensitivity). Both mechanisms use the same
    Poisson sample, so a step is one Gaussian mechanism with effective multiplier
    :math:`z_{\mathrm{eff}} = (z^{-2} + (2\sigma_b)^{-2})^{-1/2}` (Andrew et al., Sec. 3.2),
    which is what the accountant is given.
    """

    target_quantile: float = 0.5
    quantile_lr: float = 0.2
    count_noise_multiplier: float = 0.0
    method = Method.QUANTILE

    def __post_init__(self):
        super().__post_init__()
        tq = check_real("target_quantile", self.target_quantile)
        if not 0.0 < tq < 1.0:
            raise ValueError(
                f"target_quantile must be in (0, 1) (got {self.target_quantile!r}): the fraction "
                "b of the batch below the threshold lies in [0, 1], so the update c <- c * "
                "exp(-quantile_lr * (b - target_quantile)) could only grow c (target 1: c "
                "diverges) or only shrink it (target 0: c collapses to 0)")
        object.__setattr__(self, "target_quantile", tq)
        object.__setattr__(self, "quantile_lr", check_nonnegative("quantile_lr", self.quantile_lr))
        object.__setattr__(self, "count_noise_multiplier",
                           check_nonnegative("count_noise_multiplier", self.count_noise_multiplier))
        if math.isinf(self.c):
            raise ValueError("c (the initial threshold) must be finite for QuantileClipDPSGD")

    @property
    def private(self) -> bool:
        # always accounted: without noise on the sum or on the count the effective
        # multiplier is 0 and the reported epsilon is inf (never a silent None)
        return True

    @property
    def effective_noise_multiplier(self) -> float:
        r""":math:`(z^{-2} + (2\sigma_b)^{-2})^{-1/2}`, the multiplier the accountant sees."""
        z, sb = self.noise_multiplier, self.count_noise_multiplier
        if z == 0 or sb == 0:
            return 0.0
        return (z ** -2 + (2 * sb) ** -2) ** -0.5

    def _method_params(self):
        return (0.0, 0.0, self.target_quantile, self.quantile_lr, self.count_noise_multiplier)

