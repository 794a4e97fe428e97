"""The ``k2p-keras`` command line: thin wrappers around the library, one module per command
(``k2p-keras MODEL SEQS`` is :mod:`.extract`; ``k2p-keras --help`` lists them).

The module map: docs/ARCHITECTURE.md.
"""
from . import annotate, extract, report, tools, verify  # noqa: F401  (each registers its commands on `cli`)
from .group import cli

__all__ = ["cli", "main"]


def main(argv=None):
    """Entry point of the ``k2p-keras`` script."""
    return cli.main(args=argv, prog_name="k2p-keras")
