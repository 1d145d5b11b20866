"""``clipsgd reproduce --out DIR [--quick]``: the main job."""


def register(sub):
    p = sub.add_parser("reproduce", help="reproduce the paper's phenomena: figures, report.md, results.json")
    p.add_argument("--out", default="clipsgd-out", help="output folder (default: clipsgd-out)")
    p.add_argument("--quick", action="store_true", help="smaller runs (about a minute on 2 cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of every simulation (default 0; same seed, same bits)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only the sections whose name contains one of these strings (at least one; "
                        "report.md then lists the sections run and omitted): " + ", ".join(_names()))
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_main, memory_hint="--quick or --only with fewer sections")


def _names():
    from clipsgd.reproduce import SECTIONS, section_name

    return [section_name(spec) for spec in SECTIONS]


def _main(args):
    from clipsgd.reproduce import reproduce

    reproduce(args.out, quick=args.quick, seed=args.seed, verbose=not args.quiet, only=args.only)
    print(f"report: {args.out}/report.md")
    return 0
