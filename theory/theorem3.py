"""Theorem 3 (DP-SGD: Theorem 2 with ``c^2 -> kappa c^2 + d sigma^2``).

Setting. At step t the update is ``x_{t+1} = x_t - alpha v_t``,
``v_t = m_t + N_t``, ``N_t ~ N(0, sigma^2 I_d)`` independent of everything else, and
``m_t`` the batch average of clipped per-example gradients ``s_i = clip(g_i, c)``:

* fixed-size batches (uniform without replacement, with replacement, or full batch):
  ``m = (1/B) sum_{i in batch} s_i``;  here ``kappa = 1``;
* Poisson sampling with rate q, normalised by the *expected* batch size ``q n``
  (Abadi et al. 2016): ``m = (1/(q n)) sum_i B_i s_i``, ``B_i ~ Bernoulli(q)``;
  here ``kappa = 1 + (1 - q)/(q n)``.

With noise multiplier z (noise ``N(0, (z c)^2 I)`` on the *sum*, sensitivity c),
``sigma = z c / B`` (fixed size) or ``sigma = z c / (q n)`` (Poisson).

Statement. For any symmetric ``p~_t`` and ``a`` in (0, 1),

    (1/T) sum_t E[ P_{p~_t}(||xi|| < a c) min(||g_t||^2, (1 - a) c ||g_t||) ]
        <= D_f/(alpha T) + G alpha (kappa c^2 + d sigma^2)/2 + (1/T) sum_t E[b_t].

*Correction to the paper's Theorem 3* (Chen, Wu, Hong 2020, arXiv 2006.15429):
"c^2 -> c^2 + d sigma^2" holds for fixed-size batches; with
Poisson sampling normalised by ``q n`` the batch size is random and ``E||m||^2`` can
exceed ``c^2``: the exact worst case (all ``s_i`` equal with norm c) is
``c^2 (1 + (1 - q)/(q n))``.

Proof. ``E_t <g, v> = E_t <g, m> = E_{i ~ unif} <g, clip(g + xi_i)>`` (E N = 0 and the
batch average is unbiased for the population average), and
``E_t ||v||^2 = E_t ||m||^2 + d sigma^2`` (independence, E N = 0, E||N||^2 = d sigma^2).
Then Theorem 2's descent algebra with ``c^2`` replaced by the bound on ``E||v||^2``.
"""

from __future__ import annotations

import sympy as sp
import sympy.stats as st

try:
    from ._steps import Derivation, P, S, format_steps
except ImportError:
    from _steps import Derivation, P, S, format_steps

TITLE = "Theorem 3: DP-SGD, c^2 -> kappa c^2 + d sigma^2"


def kappa_poisson(q, n):
    """Second-moment inflation of a Poisson batch normalised by ``q n``: ``1 + (1-q)/(q n)``."""
    return 1 + (1 - q) / (q * n)


def check():
    """Run the derivation; return its steps (raises StepFailed on a failed step)."""
    Dv = Derivation(TITLE)
    c, sigma, alpha, G, D_f, T = sp.symbols("c sigma alpha G D_f T", positive=True)
    d, n, B = sp.symbols("d n B", positive=True, integer=True)
    q = sp.Symbol("q", positive=True)

    # --- Gaussian noise: E <g, N> = 0 and E ||m + N||^2 = ||m||^2 + d sigma^2 (per coordinate)
    Z = st.Normal("Z", 0, 1)
    mj, gj = sp.symbols("m_j g_j", real=True)
    Dv.identity("noise is unbiased", "E[g_j (sigma Z)] = 0", st.E(gj * sigma * Z), 0)
    Dv.identity("noise second moment (one coordinate)", "E[(m_j + sigma Z)^2] = m_j^2 + sigma^2",
                st.E((mj + sigma * Z) ** 2), mj**2 + sigma**2)
    Dv.identity("noise second moment (d coordinates)",
                "sum_{j=1}^d (m_j^2 + sigma^2) = ||m||^2 + d sigma^2",
                sp.Sum(sigma**2, (sp.Symbol("j"), 1, d)).doit(), d * sigma**2)

    # --- fixed-size batch: ||m|| <= (1/B) sum ||s_i|| <= c
    sn = sp.symbols("snorm1:4", nonnegative=True)
    Dv.nonneg("fixed batch: ||m|| <= c (B = 3 shown)",
              "c - (1/B) sum_i ||s_i|| = (1/B) sum_i (c - ||s_i||) >= 0 (triangle inequality first)",
              c - sum(sn) / 3, S(*[P(sp.Rational(1, 3), c - si) for si in sn]),
              hypotheses=[c - si for si in sn])

    # --- Poisson batch: exact second moment (scalar coordinates, n = 3 atoms; per coordinate)
    s = sp.symbols("s1:4", real=True)
    Bs = [st.Bernoulli(f"B{i}", q) for i in range(1, 4)]
    qq = sp.Symbol("qq", positive=True)
    second = st.E((sum(Bi * si for Bi, si in zip(Bs, s)) / (q * 3)) ** 2)
    formula = (q * (1 - q) * sum(si**2 for si in s) + q**2 * sum(s) ** 2) / (q * 3) ** 2
    Dv.identity("Poisson batch: E||m||^2 (n = 3, one coordinate)",
                "E[(sum_i B_i s_i/(q n))^2] = [q(1-q) sum s_i^2 + q^2 (sum s_i)^2]/(q n)^2",
                sp.expand(second), sp.expand(formula))
    # bound: with sum ||s_i||^2 <= n c^2 and ||sum s_i||^2 <= n^2 c^2
    A1, A2 = sp.symbols("sum_sq sq_sum", nonnegative=True)
    Dv.nonneg("Poisson batch: E||m||^2 <= c^2 (1 + (1-q)/(q n))",
              "(qn)^2 [c^2 kappa] - [q(1-q) sum||s_i||^2 + q^2 ||sum s_i||^2] "
              "= q(1-q)(n c^2 - sum||s_i||^2) + q^2 (n^2 c^2 - ||sum s_i||^2) >= 0",
              c**2 * kappa_poisson(q, n) - (q * (1 - q) * A1 + q**2 * A2) / (q * n) ** 2,
              S(P(q, 1 - q, n * c**2 - A1), P(q**2, n**2 * c**2 - A2)),
              hypotheses=[1 - q, n * c**2 - A1, n**2 * c**2 - A2], positive=[(q * n) ** 2],
              multiplier=(q * n) ** 2)
    Dv.identity("Poisson batch: the bound is attained",
                "all s_i equal with norm c: q(1-q) n c^2 + q^2 n^2 c^2 = (qn)^2 c^2 kappa",
                q * (1 - q) * n * c**2 + q**2 * n**2 * c**2, (q * n) ** 2 * c**2 * kappa_poisson(q, n))
    Dv.identity("Poisson batch: unbiased",
                "E[sum_i B_i s_i/(q n)] = (1/n) sum_i s_i",
                st.E(sum(Bi * si for Bi, si in zip(Bs, s)) / (q * 3)), sum(s) / 3)
    Dv.limit("Poisson batch: kappa -> 1 as q n -> infinity", "1 + (1-q)/(qn) -> 1 (n -> oo)",
             kappa_poisson(q, n), n, sp.oo, 1)

    # --- descent algebra with K = kappa c^2 + d sigma^2
    K = sp.Symbol("K", positive=True)
    vsq, f_t, inner = sp.symbols("vsq f_t inner", real=True)
    Dv.nonneg("one step", "G alpha^2 K/2 - G alpha^2 E||v||^2/2 >= 0 when E||v||^2 <= K",
              G * alpha**2 * K / 2 - G * alpha**2 * vsq / 2, P(G, alpha**2, sp.Rational(1, 2), K - vsq),
              hypotheses=[K - vsq])
    SumM, SumB = sp.symbols("SumM SumB", real=True)
    Dv.identity("sum and divide",
                "(D_f + T G alpha^2 K/2 - alpha(SumM - SumB))/(alpha T) = RHS - SumM/T",
                ((D_f + T * G * alpha**2 * K / 2) - alpha * (SumM - SumB)) / (alpha * T),
                D_f / (alpha * T) + G * alpha * K / 2 + SumB / T - SumM / T)
    z = sp.Symbol("z", positive=True)
    Dv.identity("noise multiplier to sigma",
                "noise N(0,(zc)^2) on the sum, divided by B: sigma = zc/B, d sigma^2 = d z^2 c^2 / B^2",
                d * (z * c / B) ** 2, d * z**2 * c**2 / B**2)
    return Dv.steps


if __name__ == "__main__":
    print(format_steps(TITLE, check()))
