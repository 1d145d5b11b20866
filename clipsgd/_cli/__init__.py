"""One module per CLI command; see :mod:`clipsgd.cli`."""
