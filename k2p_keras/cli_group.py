"""The ``k2p-keras`` click group and what its commands share (one-line errors, options).

Every command module (``cli_model``, ``cli_verify``, ``cli_tools``, ...) imports ``cli`` from
here and registers itself on it; ``k2p_keras.cli`` imports them all. Nothing here imports a
command module, so there is no import cycle.
"""
import contextlib
import math
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402

from . import __version__  # noqa: E402
from .errors import K2PError, OptionError  # noqa: E402

MODEL_COMMAND = "extract"
CONVENTION = click.Choice(["correlation", "convolution"])


class _Group(click.Group):
    """Sends ``k2p-keras MODEL SEQS ...`` to the model command and turns K2PError into one line."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [MODEL_COMMAND, *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OptionError as err:
            # The library names its parameter; the command line shows it as the option.
            option = "--" + err.option.replace("_", "-")
            raise click.UsageError(f"Invalid value for '{option}': {err.detail} "
                                   f"(see '{ctx.command_path} --help')") from None
        except K2PError as err:
            # One line whatever the message quotes (a library's multi-line error, say).
            raise click.ClickException(" ".join(str(err).split())) from None
        except click.UsageError as err:
            # One line, as for every other error: the message names the option; --help has the rest.
            if err.ctx is not None:
                err.message = f"{err.message} (see '{err.ctx.command_path} --help')"
                err.ctx = None
            raise


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"Warning: {message}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="k2p-keras")
def cli():
    """Exact position weight matrices from the motif-detector filters of a Keras CNN.

    \b
    Main use (the model command, also reachable as `k2p-keras extract ...`):
        k2p-keras MODEL.h5 SEQS.h5 -o motifs.meme
    The tools of k2p-1.0 are the subcommands below.
    """
    warnings.showwarning = _one_line_warning


def base_option(default=math.e):
    def parse(ctx, param, value):
        from .transform import check_base

        try:
            return check_base(value)
        except K2PError as err:
            raise click.BadParameter(err.message) from None

    return click.option("--base", default=default, show_default="e" if default == math.e else True,
                        callback=parse, help="Base b > 1 of the logarithm.")


@contextlib.contextmanager
def text_output(out):
    """Yield a writable destination: the path itself (writers are atomic) or stdout for '-'."""
    yield sys.stdout if out in (None, "-") else out


def output_path(ctx, param, value):
    """Click callback for an output path: its folder must exist, checked before any work.

    The rule for every output, files and folders alike: k2p-keras creates the file or the
    folder named, never missing folders above it (a typo would otherwise make a tree).
    """
    if value is None or value == "-":
        return value
    parent = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(parent):
        raise click.BadParameter(f"the folder {os.path.dirname(value) or '.'!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise click.BadParameter(f"the folder {os.path.dirname(value) or '.'!r} is not writable")
    return value


@contextlib.contextmanager
def progress_bar(total, quiet, label="scanning"):
    """A click progress bar on stderr when it is a terminal; yields a callable taking a count."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
