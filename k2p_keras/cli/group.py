"""The ``k2p-keras`` click group and what its commands share (one-line errors, options).

Every command module (``model``, ``verify``, ``tools``, ``annotate``, ``report``) imports
``cli`` from here and registers itself on it; ``k2p_keras.cli`` imports them all. Nothing here
imports a command module, so there is no import cycle.
"""
import contextlib
import math
import os
import signal
import sys
import threading
import time
import warnings

import click

from .._version import __version__
from ..annotate.match.tomtom import DEFAULT_Q_THRESHOLD, DEFAULT_TAXON
from ..errors import K2PError, OptionError
from ..validate import check_base

MODEL_COMMAND = "extract"
CONVENTION = click.Choice(["correlation", "convolution"])

# Set in the context's meta (shared by every nested context) when ``k2p-keras MODEL ...`` was
# sent to the model command without its name: messages then name the command as typed.
_ROUTED = "k2p_keras.routed"

#: The parts of a sectioned ``--help``, in order (what every run uses first): each option's
#: ``section`` (:class:`SectionOption`).
HELP_SECTIONS = {"output": "Output", "input": "Input", "base": "Base estimation", "heuristic": "Heuristic",
                 "annotation": "Annotation and report", "analysis": "Influence, clusters and diagnostics",
                 "performance": "Performance"}

# The widest first column of --help before an option's text goes below its name (click's default).
_HELP_COLUMN = 30


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that atomic writers remove their temporary files."""


class _Stopped(click.ClickException):
    """Ctrl-C (exit 130) or SIGTERM (exit 143), the shells' convention of 128 + the signal number."""

    def __init__(self, signum):
        super().__init__(f"stopped by {signal.Signals(signum).name}; no output was written")
        self.exit_code = 128 + signum


def _raise_terminated(signum, frame):
    raise Terminated()


def typed_command(ctx):
    """The command as the user typed it: ``k2p-keras MODEL`` when the model command was reached
    without its name, else the context's command path (``k2p-keras verify``)."""
    if ctx.meta.get(_ROUTED) and ctx.info_name == MODEL_COMMAND and ctx.parent is not None:
        return f"{ctx.parent.command_path} MODEL"
    return ctx.command_path


class _Group(click.Group):
    """Sends ``k2p-keras MODEL SEQS ...`` to the model command and turns K2PError into one line."""

    def parse_args(self, ctx, args):
        # Anything but a command's name or the group's own options (--help, --version) starts
        # the model command's line, options included: `k2p-keras -o m.meme MODEL SEQS` as
        # `k2p-keras MODEL SEQS -o m.meme`.
        if args and args[0] not in self.commands and not self._own_option(ctx, args[0]):
            args = [MODEL_COMMAND, *args]
            ctx.meta[_ROUTED] = True
        return super().parse_args(ctx, args)

    def _own_option(self, ctx, arg):
        return any(arg in param.opts or arg in param.secondary_opts for param in self.get_params(ctx))

    def invoke(self, ctx):
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
        try:
            with _warnings_on_stderr():
                return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Stopped(signal.SIGINT) from None
        except Terminated:
            raise _Stopped(signal.SIGTERM) from None
        except OptionError as err:
            # The library names its parameter; the command line shows it as the option.
            option = "--" + err.option.replace("_", "-")
            command = ctx.command_path if ctx.invoked_subcommand is None else (
                f"{ctx.command_path} MODEL" if ctx.meta.get(_ROUTED) else f"{ctx.command_path} {ctx.invoked_subcommand}")
            raise click.UsageError(f"Invalid value for '{option}': {err.detail} "
                                   f"(see '{command} --help')") from None
        except K2PError as err:
            # One line whatever the message quotes (a library's multi-line error, say).
            raise click.ClickException(" ".join(str(err).split())) from None
        except click.UsageError as err:
            # One line, as for every other error: the message names the option; --help has the rest.
            if err.ctx is not None:
                err.message = f"{err.message} (see '{typed_command(err.ctx)} --help')"
                err.ctx = None
            raise
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"Warning: {message}", err=True)


@contextlib.contextmanager
def _warnings_on_stderr():
    """While a command runs: every warning shown is one line on stderr, and the package's own
    (what the command tells its user) are shown whatever ``PYTHONWARNINGS`` or ``-W`` say.

    Other packages' warnings still pass the user's filters. The filters and
    ``warnings.showwarning`` are restored afterwards (a notebook or a test calling the CLI).
    """
    with warnings.catch_warnings():
        # Each distinct message once per place, as Python's "default" action shows them.
        warnings.filterwarnings("default", module=r"k2p_keras(\.|$)")
        warnings.showwarning = _one_line_warning
        yield


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="k2p-keras")
def cli():
    """Exact position weight matrices from the motif-detector filters of a Keras CNN.

    \b
    Main use (the model command, also reachable as `k2p-keras extract ...`):
        k2p-keras MODEL.h5 SEQS.h5 -o motifs.meme
        k2p-keras MODEL --help        its options
    The other commands below: verify (PWMs against the layer), annotate (motifs
    against JASPAR), report (motifs over training), and k2p-1.0's kernel2pwm,
    pwm2kernel and kernel2pwm-mle.
    """


class SectionOption(click.Option):
    """A click option that belongs to a part of ``--help`` (a key of :data:`HELP_SECTIONS`)."""

    def __init__(self, *args, section=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.section = section


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its options by section (:data:`HELP_SECTIONS`), in that
    order, each option where it was declared within its section (the common ones first); the usage line names the
    command as typed (``k2p-keras MODEL [SEQS] [OPTIONS]``), arguments first."""

    def format_usage(self, ctx, formatter):
        pieces = self.collect_usage_pieces(ctx)
        options = [piece for piece in pieces if piece == self.options_metavar]
        formatter.write_usage(typed_command(ctx).removesuffix(" MODEL"),
                              " ".join([piece for piece in pieces if piece not in options] + options))

    def format_options(self, ctx, formatter):
        by_section = {}
        help_option = self.get_help_option(ctx)
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                section = "output" if param is help_option else getattr(param, "section", None)
                by_section.setdefault(section if section in HELP_SECTIONS else None, []).append(record)
        # One column for the options' names in every section, as in a single list.
        width = min(max(len(name) for rows in by_section.values() for name, _ in rows), _HELP_COLUMN)
        for key, title in [*HELP_SECTIONS.items(), (None, "Other options")]:
            if key in by_section:
                with formatter.section(title):
                    formatter.write_dl([(name.ljust(width), text) for name, text in by_section[key]],
                                       col_max=_HELP_COLUMN)


# One naming rule: a function adding an option to a command is ``<name>_option`` (a decorator); a
# click callback checking an option's value is ``<name>_callback(ctx, param, value)``.

def base_option(default=math.e, help="Base b > 1 of the logarithm."):
    """``--base``, a number b > 1, for the tools (the model command's ``--base`` also takes "mle":
    :func:`k2p_keras.cli.extract.base_callback`)."""
    def base_callback(ctx, param, value):
        try:
            return check_base(value)
        except K2PError as err:
            raise click.BadParameter(err.message) from None

    return click.option("--base", default=default, show_default="e" if default == math.e else True,
                        callback=base_callback, help=help)


def taxon_option(**extra):
    """``--taxon``, for the commands that compare motifs with a JASPAR release (``extra``: click's,
    e.g. ``cls=SectionOption, section=...``)."""
    return click.option("--taxon", default=DEFAULT_TAXON, show_default=True,
                        help="With a JASPAR release: the CORE taxon (vertebrates, as human and mouse models need; "
                             "plants, insects, nematodes, fungi, urochordates; 'all').", **extra)


def q_threshold_option(help="A database match at or below this q-value (over the database) is significant.",
                       **extra):
    """``--q-threshold``: the false discovery rate at which a database match is called a match."""
    return click.option("--q-threshold", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_Q_THRESHOLD,
                        show_default=True, help=help, **extra)


@contextlib.contextmanager
def text_output(out):
    """Yield a writable destination: the path itself (writers are atomic) or stdout for '-'."""
    yield sys.stdout if out in (None, "-") else out


def output_path_callback(ctx, param, value):
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


class Progress:
    """One step's count, rate and time left, as a line on a terminal.

    The rate leaves out the first update: the first batch carries TensorFlow's tracing (and
    the file's opening), which would make the time left at the start many times too long.

    Parameters
    ----------
    total : int or None
        Items in the step (None when unknown: no percentage, no time left).
    label : str
        What the step does, e.g. ``scanning``.
    unit : str
        What is counted, e.g. ``sequences``.
    clock : callable
        Seconds, monotonic (``time.monotonic``).
    """

    def __init__(self, total, label, unit="sequences", clock=time.monotonic):
        self.total, self.label, self.unit, self.clock = total, label, unit, clock
        self.done = 0
        self._warm = None  # (time, count) after the first update: where the rate starts

    def update(self, count):
        self.done += int(count)
        if self._warm is None:
            self._warm = (self.clock(), self.done)

    def rate(self):
        """Items per second since the first update, or None before a second one."""
        if self._warm is None:
            return None
        seconds, counted = self.clock() - self._warm[0], self.done - self._warm[1]
        return counted / seconds if counted > 0 and seconds > 0 else None

    def seconds_left(self):
        """Time left at the current rate, or None when unknown."""
        rate = self.rate()
        return None if rate is None or self.total is None else max(self.total - self.done, 0) / rate

    def line(self):
        """E.g. ``scanning: 120,000/500,000 sequences (24%), 48,310/s, 00:07 left``."""
        text = f"{self.label}: {self.done:,}"
        if self.total:
            text += f"/{self.total:,} {self.unit} ({100 * self.done // self.total}%)"
        else:
            text += f" {self.unit}"
        rate, left = self.rate(), self.seconds_left()
        text += ", warming up" if rate is None else f", {rate:,.0f}/s"
        if left is not None:
            minutes, seconds = divmod(int(round(left)), 60)
            text += f", {minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d} left" if minutes >= 60 \
                else f", {minutes:02d}:{seconds:02d} left"
        return text


@contextlib.contextmanager
def progress_bar(total, quiet, label="scanning", steps=None, unit="sequences"):
    """Progress on stderr when it is a terminal; yields a callable taking a count (or None).

    ``steps`` names consecutive passes of ``total`` items each (e.g. ``["scanning",
    "heuristic: second pass"]``): each gets its own line, rate and time left.
    """
    if quiet or not sys.stderr.isatty():
        yield None
        return
    labels = list(steps) if steps else [label]
    state = {"bar": Progress(total, labels[0], unit), "step": 0, "shown": 0.0}

    def show(final=False):
        click.echo("\r\033[K" + state["bar"].line(), nl=final, err=True)

    def update(count):
        bar = state["bar"]
        bar.update(count)
        now = time.monotonic()
        finished = bar.total is not None and bar.done >= bar.total
        if finished or now - state["shown"] >= 0.25:
            state["shown"] = now
            show(final=finished)
        if finished and state["step"] + 1 < len(labels):
            state["step"] += 1
            state["bar"] = Progress(total, labels[state["step"]], unit)

    try:
        yield update
    finally:
        bar = state["bar"]
        if bar.done and (bar.total is None or bar.done < bar.total):
            show(final=True)
