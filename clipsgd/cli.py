"""Command-line interface: ``clipsgd <command> ...``.

Each command lives in its own module under :mod:`clipsgd._cli` and exposes
``register(subparsers)``, which adds its parser(s) and sets ``func`` (a callable taking the
parsed namespace and returning an exit code). Adding a command = adding a module and a
line to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "clipsgd._cli.reproduce",  # the main job: figures, report.md, results.json
    "clipsgd._cli.verify",  # numerical verification of the theory
    "clipsgd._cli.privacy",  # epsilon, calibrate
    "clipsgd._cli.sweep",  # grids of runs, resumable
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clipsgd",
        description="Gradient clipping in private SGD (Chen, Wu, Hong 2020), executable.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError) as exc:  # bad input, or an output folder that cannot be written
        print(f"clipsgd {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
