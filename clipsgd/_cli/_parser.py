"""What every clipsgd command line shares: the parser class and the one-line error.

:class:`ArgumentParser` is :class:`argparse.ArgumentParser` with one change: an argument
such as ``-1e308``, ``-2.5E-3`` or ``-inf`` is read as a negative *number*, not as an
unknown option. Plain argparse only recognises ``-3`` and ``-0.5`` (its private
``_negative_number_matcher`` is ``^-\\d+$|^-\\d*\\.\\d+$``), so ``--atoms 1e308 -1e308``
failed with "unrecognized arguments: -1e308". Sub-parsers made with ``add_parser`` are of
the parent's class, so building the top-level parser with this class covers every
command. (As in argparse, the widening is off for a parser that itself defines an
option that looks like a negative number.)

:func:`error_line` prints the one line that replaces a traceback for bad input:
``<prog> <command>: error: <message>``.
"""

from __future__ import annotations

import argparse
import re
import sys

__all__ = ["ArgumentParser", "NEGATIVE_NUMBER", "error_line", "describe_error"]

#: A negative number as the shell gives it: ``-3``, ``-.5``, ``-2.``, ``-1e308``,
#: ``-2.5E-3``, ``-inf``, ``-infinity`` (any case), all of which ``float()`` reads.
NEGATIVE_NUMBER = re.compile(r"^-(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf(?:inity)?)$", re.IGNORECASE)


class ArgumentParser(argparse.ArgumentParser):
    """:class:`argparse.ArgumentParser` that reads ``-1e308`` and ``-inf`` as numbers.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`argparse.ArgumentParser`.

    Notes
    -----
    Only argparse's test "does this argument look like a negative number?" changes (see
    :data:`NEGATIVE_NUMBER`); everything else is argparse's own behaviour.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER


def describe_error(exc: BaseException) -> str:
    """The message of a user error, one line: ``"answers.csv: No such file or directory"``
    for a file error (rather than ``"[Errno 2] ..."``), ``str(exc)`` otherwise.

    Parameters
    ----------
    exc : BaseException
        The ValueError, TypeError or OSError a command raised.

    Returns
    -------
    str
    """
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


def error_line(prog: str, message: str) -> None:
    """Print ``"<prog>: error: <message>"`` on stderr (argparse's format, no usage block).

    Parameters
    ----------
    prog : str
        The program and command, e.g. ``"clipsgd reproduce"``.
    message : str
        What was wrong, naming the parameter and the allowed values.
    """
    print(f"{prog}: error: {message}", file=sys.stderr)
