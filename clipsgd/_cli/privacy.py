"""``clipsgd epsilon ...`` and ``clipsgd calibrate ...``: privacy accounting from the shell.

Examples::

    clipsgd epsilon --noise-multiplier 1.1 --sample-rate 0.01 --steps 1000 --delta 1e-5
    clipsgd epsilon --noise-multiplier 1.1 --sampling shuffle --batch-size 100 --n 10000 \\
        --steps 1000 --delta 1e-5
    clipsgd calibrate --epsilon 2 --delta 1e-5 --sample-rate 0.01 --steps 1000 --json
"""

from __future__ import annotations

import json
import math

_ACCOUNTANTS = ("pld", "rdp")
_RELATIONS = ("add_remove", "replace_one", "zero_out")
_SAMPLINGS = ("poisson", "shuffle", "replacement")


def register(sub):
    p = sub.add_parser(
        "epsilon",
        help="epsilon at delta of a DP-SGD run (Poisson-subsampled Gaussian, dp_accounting)",
        description="Privacy spent by DP-SGD: epsilon at the given delta. With --sampling "
        "shuffle or replacement, an honest bound and a warning are printed instead of the "
        "Poisson number.",
    )
    p.add_argument("--noise-multiplier", "-z", type=float, required=True,
                   help="z: noise std on the sum of clipped gradients / clip threshold")
    p.add_argument("--sample-rate", "-q", type=float, default=None,
                   help="q in (0, 1]: Poisson sampling rate (or B/n for fixed-size batches)")
    p.add_argument("--steps", "-T", type=int, required=True,
                   help="number of optimizer updates (noisy releases)")
    p.add_argument("--delta", "-d", type=float, required=True, help="delta in (0, 1)")
    _common(p)
    p.add_argument("--sampling", choices=_SAMPLINGS, default="poisson",
                   help="batch sampling scheme (default: poisson)")
    p.add_argument("--batch-size", "-B", type=int, default=None,
                   help="fixed batch size (shuffle, replacement)")
    p.add_argument("--n", type=int, default=None, help="dataset size (shuffle, replacement)")
    p.set_defaults(func=_epsilon, memory_hint="--accountant rdp (lighter than pld)")

    c = sub.add_parser(
        "calibrate",
        help="smallest noise multiplier meeting a target epsilon (never overshoots)",
        description="Noise multiplier z with epsilon(z) <= target, within --rtol of the "
        "smallest such z (Poisson sampling).",
    )
    c.add_argument("--epsilon", "-e", type=float, required=True, help="target epsilon > 0")
    c.add_argument("--delta", "-d", type=float, required=True, help="delta in (0, 1)")
    c.add_argument("--sample-rate", "-q", type=float, required=True,
                   help="q in (0, 1]: Poisson sampling rate")
    c.add_argument("--steps", "-T", type=int, required=True, help="number of optimizer updates")
    _common(c)
    c.add_argument("--rtol", type=float, default=0.01,
                   help="relative tolerance on z (default 0.01)")
    c.set_defaults(func=_calibrate, memory_hint="--accountant rdp (lighter than pld)")


def _common(p):
    p.add_argument("--accountant", choices=_ACCOUNTANTS, default="pld",
                   help="pld (near-exact, default) or rdp (faster, looser upper bound)")
    p.add_argument("--neighbouring", "--neighboring", choices=_RELATIONS, default="add_remove",
                   help="neighbouring relation (default: add_remove)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _num(x):
    return "inf" if math.isinf(x) else repr(float(x))


def _epsilon(args) -> int:
    from clipsgd.privacy import privacy_report

    rep = privacy_report(
        args.noise_multiplier, args.sample_rate, args.steps, args.delta,
        sampling=args.sampling, accountant=args.accountant, neighbouring=args.neighbouring,
        batch_size=args.batch_size, n=args.n,
    )
    if args.json:
        print(json.dumps(rep.to_dict()))
        return 0
    print(f"epsilon = {_num(rep.epsilon)} at delta = {args.delta!r}")
    print(rep.summary())
    return 0


def _calibrate(args) -> int:
    import warnings

    from clipsgd.privacy import (
        SCOPE_STATEMENT,
        calibrate_noise_multiplier,
        calibration_discretization,
        privacy_report,
    )

    with warnings.catch_warnings():  # said once, below, from the report of the calibrated run
        warnings.simplefilter("ignore", RuntimeWarning)
        z = calibrate_noise_multiplier(
            args.epsilon, args.delta, args.sample_rate, args.steps, accountant=args.accountant,
            neighbouring=args.neighbouring, rtol=args.rtol,
        )
    # reported at the discretisation the calibration used (finer for small targets)
    rep = privacy_report(z, args.sample_rate, args.steps, args.delta, accountant=args.accountant,
                         neighbouring=args.neighbouring,
                         pld_discretization=calibration_discretization(args.epsilon))
    achieved, used = rep.epsilon, rep.accountant.value  # (rdp when the screen replaced pld)
    if args.json:
        print(json.dumps({
            "noise_multiplier": z, "epsilon": _num(achieved) if math.isinf(achieved) else achieved,
            "target_epsilon": args.epsilon, "delta": args.delta, "sample_rate": args.sample_rate,
            "steps": args.steps, "accountant": used, "requested_accountant": args.accountant,
            "neighbouring": args.neighbouring, "sampling": "poisson", "rtol": args.rtol,
            "warnings": list(rep.warnings), "scope": SCOPE_STATEMENT,
        }))
        return 0
    print(f"noise_multiplier = {z!r}")
    print(f"  gives epsilon = {_num(achieved)} <= target {args.epsilon!r} at delta = {args.delta!r}")
    print(f"  [{used} accountant, {args.neighbouring} neighbouring, poisson sampling, "
          f"q = {args.sample_rate!r}, steps = {args.steps}]")
    print(f"  within {args.rtol:.3g} (relative) of the smallest noise multiplier that meets the target")
    for w in rep.warnings:
        print(f"warning: {w}")
    print(f"note: {SCOPE_STATEMENT}.")
    return 0
