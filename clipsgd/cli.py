"""Command-line interface: ``clipsgd <command> ...``.

Each command lives in its own module under :mod:`clipsgd._cli` and exposes
``register(subparsers)``, which adds its parser(s) and sets ``func`` (a callable taking the
parsed namespace and returning an exit code) and optionally ``memory_hint`` (what to try
after a MemoryError, e.g. ``"--quick"``).

Errors become one line on stderr, ``clipsgd <command>: error: ...``, never a traceback:
bad input (ValueError, TypeError) and files (OSError) exit with status 2, running out of
memory (MemoryError) with status 1. Negative numbers in scientific notation (``--atoms
1e308 -1e308``) are numbers, not options (see :mod:`clipsgd._cli._parser`). Adding a command = adding a module and a
line to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._cli._parser import ArgumentParser, describe_error, error_line

COMMAND_MODULES = (
    "clipsgd._cli.reproduce",  # the main job: figures, report.md, results.json
    "clipsgd._cli.verify",  # numerical verification of the theory
    "clipsgd._cli.privacy",  # epsilon, calibrate
    "clipsgd._cli.sweep",  # grids of runs, resumable
)


def build_parser() -> argparse.ArgumentParser:
    """The ``clipsgd`` parser with every command of :data:`COMMAND_MODULES`.

    Returns
    -------
    argparse.ArgumentParser
        A :class:`clipsgd._cli._parser.ArgumentParser` (so ``-1e308`` is a number, not
        an option, in every command).
    """
    parser = ArgumentParser(
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
    """Run ``clipsgd <command> ...``; return the exit status (0 success, 1 failure, 2 bad input).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``clipsgd`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError) as exc:  # bad input, or an output folder that cannot be written
        _error(args, describe_error(exc))
        return 2
    except MemoryError as exc:  # a resource limit, not bad input: status 1
        detail = f" ({exc})" if str(exc) else ""
        hint = getattr(args, "memory_hint", None) or "smaller sizes"
        _error(args, f"out of memory while running '{args.command}'{detail}; try {hint}, or free memory")
        return 1


def _error(args, message: str) -> None:
    """The one line on stderr that replaces a traceback: ``clipsgd <command>: error: ...``."""
    error_line(f"clipsgd {args.command}", message)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
