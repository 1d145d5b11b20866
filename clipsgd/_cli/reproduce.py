"""``clipsgd reproduce --out DIR [--quick]``: the main job."""


def register(sub):
    p = sub.add_parser("reproduce", help="reproduce the paper's phenomena: figures, report.md, results.json")
    p.add_argument("--out", default="clipsgd-out", help="output folder (default: clipsgd-out)")
    p.add_argument("--quick", action="store_true", help="smaller runs (about a minute on 2 cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="*", help="run only sections whose name contains these strings")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_main)


def _main(args):
    from clipsgd.reproduce import reproduce

    reproduce(args.out, quick=args.quick, seed=args.seed, verbose=not args.quiet, only=args.only)
    print(f"report: {args.out}/report.md")
    return 0
