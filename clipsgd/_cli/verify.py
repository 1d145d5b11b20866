"""``clipsgd verify [--quick] [--seed S] [--json PATH]``: numerical verification of the theory.

Runs every check of :mod:`clipsgd.verify` and prints the table (result, instance family,
number of instances, worst margin RHS - LHS with its Monte-Carlo standard error, verdict).
The exit code is 1 if any result fails, 0 otherwise.
"""

from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser(
        "verify",
        help="verify every lemma and theorem numerically (table of worst margins)",
        description="Numerical verification of Lemmas 1-2, Theorems 1-3, the perturbation "
        "results and the privacy calibration on many random instances and simulated runs. "
        "Exit code 1 if any result fails.",
    )
    p.add_argument("--quick", action="store_true", help="fewer instances and runs (under a minute)")
    p.add_argument("--seed", type=int, default=0, help="seed of all instances and runs (default 0)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the full report as JSON")
    p.add_argument("--only", action="append", default=None, metavar="CHECK",
                   help="run only this check group (repeatable): lemma1, lemma2, lemma2_tight, "
                   "theorem1, theorem2, theorem3, theorem3_kappa, perturbation, privacy")
    p.add_argument("--verbose", "-v", action="store_true", help="print each result as it finishes")
    p.set_defaults(func=_verify, memory_hint="--quick or --only with fewer checks")


def _verify(args) -> int:
    from clipsgd.verify import format_table, verify

    def show(r):
        print(f"  {r.verdict:4s} {r.key:22s} {r.seconds:6.1f}s", file=sys.stderr, flush=True)

    report = verify(quick=args.quick, seed=args.seed, only=args.only,
                    progress=show if args.verbose else None)
    print(format_table(report))
    if args.json:
        report.to_json(args.json)
    return 0 if report.passed else 1
