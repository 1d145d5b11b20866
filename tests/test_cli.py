"""The command-line entry point's error handling: one line on stderr, never a traceback."""

import pytest

from clipsgd.cli import main


def _raise_memory_error(message):
    def command(args):
        raise MemoryError(*([message] if message else []))

    return command


# each command with the smallest valid arguments, the module and function it runs, and the
# hint its out-of-memory message must give
COMMANDS = [
    (["sweep", "--quiet"], "clipsgd._cli.sweep", "_main", "fewer --runs"),
    (["reproduce", "--quick"], "clipsgd._cli.reproduce", "_main", "--quick or --only"),
    (["verify", "--quick"], "clipsgd._cli.verify", "_verify", "--quick or --only"),
    (["epsilon", "-z", "1", "-q", "0.1", "-T", "10", "-d", "1e-5"], "clipsgd._cli.privacy", "_epsilon",
     "--accountant rdp"),
    (["calibrate", "-e", "1", "-d", "1e-5", "-q", "0.1", "-T", "10"], "clipsgd._cli.privacy", "_calibrate",
     "--accountant rdp"),
]


@pytest.mark.parametrize("argv, module, func, hint", COMMANDS, ids=[c[0][0] for c in COMMANDS])
@pytest.mark.parametrize("message", ["Unable to allocate 8.0 GiB for an array", ""])
def test_out_of_memory_is_one_line_and_status_1(monkeypatch, capsys, argv, module, func, hint, message):
    import importlib

    monkeypatch.setattr(importlib.import_module(module), func, _raise_memory_error(message))
    assert main(argv) == 1  # a resource limit, not bad input (that is status 2)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err and captured.out == ""
    assert lines[0].startswith(f"clipsgd {argv[0]}: error: out of memory while running '{argv[0]}'")
    assert f"; try {hint}" in lines[0]
    assert (f"({message})" in lines[0]) == bool(message)  # numpy's size detail, when it gives one


def test_bad_input_is_still_status_2(monkeypatch, capsys):
    import clipsgd._cli.sweep as sweep_cli

    def bad(args):
        raise ValueError("steps must be an integer >= 1 (got 0)")

    monkeypatch.setattr(sweep_cli, "_main", bad)
    assert main(["sweep"]) == 2
    assert capsys.readouterr().err == "clipsgd sweep: error: steps must be an integer >= 1 (got 0)\n"


def test_negative_numbers_in_scientific_notation_are_values_in_every_command():
    # argparse alone reads only -3 and -0.5 as numbers: '--atoms 1e308 -1e308' failed with
    # "unrecognized arguments: -1e308". The shared parser class widens the test.
    from clipsgd.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["sweep", "--atoms", "1e308", "-1e308", "-2.5E-3", "-.5", "-3", "--k", "-inf"])
    assert args.atoms == [1e308, -1e308, -2.5e-3, -0.5, -3.0] and args.k == [-float("inf")]
    args = parser.parse_args(["epsilon", "-z", "-1e-3", "-q", "0.1", "-T", "10", "-d", "1e-5"])
    assert args.noise_multiplier == -1e-3  # parsed, then rejected by the library with its range


@pytest.mark.parametrize("text", ["-1e308", "-2.5E-3", "-.5e1", "-3", "-0.5", "-2.", "-inf", "-Infinity"])
def test_negative_number_pattern_accepts_what_float_reads(text):
    from clipsgd._cli._parser import NEGATIVE_NUMBER

    assert NEGATIVE_NUMBER.match(text) and float(text) < 0


@pytest.mark.parametrize("text", ["-e5", "-1e", "--1", "-x", "-1e3x", "-", "-nan"])
def test_negative_number_pattern_leaves_options_alone(text):
    # anything else still looks like an option (an unknown one is argparse's usual error)
    from clipsgd._cli._parser import NEGATIVE_NUMBER

    assert not NEGATIVE_NUMBER.match(text)


def test_a_negative_scientific_value_reaches_validation_not_the_option_parser(capsys):
    # the library's message (naming the parameter and range) instead of argparse's confusion
    assert main(["sweep", "--atoms", "1", "2", "--c", "-1e-3", "--quiet", "--steps", "1", "--runs", "1",
                 "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("clipsgd sweep: error: c must be in (0, inf]") and "unrecognized" not in err
