"""``k2p-keras MODEL SEQS``: exact (and heuristic) PWMs of a saved Keras model's motif Conv1D.

A thin shell over :func:`k2p_keras.extract.plan_extraction` and its ``run``: parse the
options, print the pattern check, show progress, write the files.
"""
import re
import sys
import threading
from dataclasses import fields, replace

import click

from .._numba import parallel_launches_from_threads_safe
from ..annotate.run.influence import influence_passes, NULLS
from ..annotate.run.model_split import split_at_activation
from ..annotate.draw.logos import require_matplotlib
from ..annotate.match.tomtom import (load_database, require_annotate, TOMTOM_COMPILE_SECONDS, tomtom_compiled,
                               warm_up_tomtom)
from ..errors import K2PError, OptionError, PatternError
from ..extract import plan_extraction
from ..io.fasta import N_ENCODINGS
from ..io.sequences import holds_sequences
from ..model.files import is_keras_model_file
from ..motifs.mle import BASE_ESTIMATORS
from ..options import check_base_option, make_options, METHODS, Options
from ..scan.devices import DEVICES_HELP, parse_devices, strategy_for_devices
from ..scan.route import scan_route
from ..validate import check_batch_size
from .group import (cli, MODEL_COMMAND, output_path_callback, progress_bar, q_threshold_option, SectionedCommand, SectionOption,
                    taxon_option)

# The database's name after --annotate, as it was spelled before --db (`--annotate JASPAR2024`,
# `--annotate=my.meme`): what a database's name looks like, unlike sequences' (`.meme`, a release).
_OLD_ANNOTATE_DB = re.compile(r"(?i)^jaspar\d{4}$|\.meme$")


def devices_callback(ctx, param, value):
    """Click callback for --devices: its spelling checked before TensorFlow loads."""
    try:
        return None if value is None else parse_devices(value)
    except OptionError as err:
        raise click.BadParameter(err.detail) from None


def batch_size_callback(ctx, param, value):
    """Click callback for --batch-size: "auto" or a whole number >= 1."""
    try:
        return check_batch_size(value, "--batch-size")
    except K2PError as err:
        raise click.BadParameter(err.message.removeprefix("--batch-size: ")) from None


def base_callback(ctx, param, value):
    """Click callback for --base: "mle" or a number greater than 1."""
    try:
        return check_base_option("mle" if value.strip().lower() == "mle" else value)
    except OptionError as err:
        raise click.BadParameter(err.detail) from None


# How each option of Options is spelled on the command line; its default and help come from
# Options. ``strategy`` has no flag: --devices makes one.
FLAGS = {
    "method": dict(type=click.Choice(METHODS)),
    "base": dict(metavar="[mle|B]", callback=base_callback),
    "base_estimator": dict(type=click.Choice(BASE_ESTIMATORS)),
    "sites": dict(metavar="[strong|active|all|strong=F]"),
    "both_strands": dict(is_flag=True),
    "threshold": dict(type=float),
    "threshold_fraction": dict(type=float),
    "strict": dict(is_flag=True),
    "layer": dict(),
    "weights": dict(type=click.Path(exists=True, dir_okay=False)),
    "alphabet": dict(metavar="[ACGT|ATCG|...]"),
    "dataset": dict(),
    "n_encoding": dict(type=click.Choice(N_ENCODINGS)),
    "open_timeout": dict(type=click.FloatRange(min=0, min_open=True), metavar="SECONDS"),
    "batch_size": dict(metavar="[auto|N]", callback=batch_size_callback),
    "influence": dict(is_flag=True),
    "influence_null": dict(type=click.Choice(NULLS)),
    "diagnostics": dict(is_flag=True),
    "cluster": dict(is_flag=True),
}


def options_of_extract(command):
    """Add a click option for every field of :class:`~k2p_keras.options.Options` in :data:`FLAGS`,
    in the ``--help`` section the field names."""
    for field in reversed(fields(Options)):
        if field.name not in FLAGS:
            continue
        spec = dict(FLAGS[field.name])
        decls = spec.pop("decls", ("--" + field.name.replace("_", "-"),))
        command = click.option(*decls, field.name, default=field.default, help=field.metadata["help"],
                               show_default=field.default is not None and not spec.get("is_flag"),
                               cls=SectionOption, section=field.metadata["section"], **spec)(command)
    return command


def option(*decls, section, **spec):
    """A command-line-only option, in a section of ``--help`` (:data:`~k2p_keras.cli.group.HELP_SECTIONS`)."""
    return click.option(*decls, cls=SectionOption, section=section, **spec)


def sequences_given_as_model(model):
    """The error for sequences given where the model goes (MODEL and SEQS swapped, or MODEL left out)."""
    return click.ClickException(f"{model} holds sequences, not a Keras model: the usage is k2p-keras MODEL SEQS")


def check_sequences_given(model, sequences, options):
    """Fail in one line, naming SEQS and --base, when the options need sequences and none were given."""
    if sequences is not None:
        return
    opts = make_options(**options)
    if opts.needs_sequences and holds_sequences(model):
        raise sequences_given_as_model(model)
    if opts.needs_sequences:
        raise click.UsageError(opts.missing_sequences("give SEQS", "a fixed --base B", flags=True))


def say(quiet, text):
    """A line for people on stderr, unless --quiet."""
    if not quiet:
        click.echo(text, err=True)


class ModelCommand(SectionedCommand):
    """The model command: reads the old ``--annotate DB`` as ``--annotate --db DB``, with a note."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, old_annotate_spelling(args))


def old_annotate_spelling(args):
    """``args`` with ``--annotate=DB``, and ``--annotate DB`` where DB is a MEME file or a JASPAR
    release, as ``--annotate --db DB``; a deprecation note on stderr when so.

    ``--annotate`` is a flag: before ``--db`` it took an optional value, and so swallowed the
    SEQS that followed it (`MODEL --annotate SEQS`). What a database's name looks like is taken
    as the old spelling; anything else after ``--annotate`` is the next argument.
    """
    out, i, args = [], 0, list(args)
    while i < len(args):
        arg = args[i]
        db = None
        if arg.startswith("--annotate="):
            db = arg.partition("=")[2]
        elif arg == "--annotate" and i + 1 < len(args) and _OLD_ANNOTATE_DB.search(args[i + 1]):
            db = args[i + 1]
            i += 1
        if db is None:
            out.append(arg)
        else:
            click.echo(f"Warning: '--annotate {db}' is deprecated: write '--annotate --db {db}'", err=True)
            out += ["--annotate", "--db", db]
        i += 1
    return out


@cli.command(MODEL_COMMAND, cls=ModelCommand)
@click.argument("model", type=click.Path(exists=True))  # a Keras 3 model folder too
@click.argument("sequences", metavar="[SEQS]", required=False,
                type=click.Path(exists=True, dir_okay=False, allow_dash=True))  # '-': standard input
@option("-o", "--output", section="output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
        callback=output_path_callback, help="MEME file to write [default: stdout].")
@options_of_extract
@option("--shared-base/--per-filter-base", "shared_base", section="base", default=None,
        help="Short for --base-estimator shared / per-filter.")
@option("--devices", section="performance", default=None, metavar="[all|N|cpu]", callback=devices_callback,
        help=f"Scan on several devices, each batch split among them: {DEVICES_HELP} "
             f"[default: one device] (docs/distributed.md).")
@option("--summary", section="output", type=click.Path(dir_okay=False), default=None, callback=output_path_callback,
        help="Also write a per-filter table (TSV): ln b, base, SE, log-likelihood, sequences used, "
             "d, IC, consensus (and the heuristic's figures with --method both).")
@option("--logos", "logos_dir", section="output", type=click.Path(file_okay=False), default=None,
        callback=output_path_callback,
        help="Also draw an information-content logo per filter into this folder (PNG; needs matplotlib).")
@option("--annotate", section="annotation", is_flag=True,
        help="Name the known motif each PWM resembles: Tomtom (memelite) against --db. Adds the best "
             "match to --summary. Needs pip install 'k2p-keras[annotate]'.")
@option("--db", section="annotation", default=None, metavar="DB",
        help="The motif database of --annotate, --report, --matches and --cluster: a MEME file or a JASPAR "
             "release (e.g. JASPAR2024) [default: the newest JASPAR CORE release pyjaspar holds, --taxon "
             "vertebrates] (implies --annotate).")
@option("--report", "report_out", section="annotation", type=click.Path(dir_okay=False), default=None,
        callback=output_path_callback,
        help="Write one self-contained HTML report: logos, best matches aligned, tables "
             "(implies --annotate; needs matplotlib).")
@option("--matches", "matches_out", section="annotation", type=click.Path(dir_okay=False), default=None,
        callback=output_path_callback,
        help="Write every significant database match as TSV with Tomtom's columns (implies --annotate).")
@taxon_option(cls=SectionOption, section="annotation")
@q_threshold_option("A database match at or below this q-value is called a match.", cls=SectionOption,
                    section="annotation")
@option("--labels", section="analysis", default=None, metavar="[DATASET|FILE]",
        help="With --influence or --diagnostics: the sequences' labels, for the change of the loss and each "
             "filter's AUROC alone: an HDF5 dataset beside the sequences, or a file: a table (TSV, CSV) of "
             "FASTA record id and label(s), or a label row per sequence in order, or a .npy array "
             "[default: 'y' or 'labels' beside HDF5 sequences, or FASTA headers' label= fields, when there are] "
             "(docs/annotation.md).")
@option("--archetypes", "archetypes_out", section="analysis", type=click.Path(dir_okay=False), default=None,
        callback=output_path_callback,
        help="Write one PWM per redundancy cluster, its most informative filter, as MEME (implies --cluster).")
@option("-q", "--quiet", section="output", is_flag=True,
        help="Nothing on stderr but warnings and errors: no pattern report, progress or notes.")
def extract(model, sequences, output, devices, summary, logos_dir, annotate, db, taxon, q_threshold, matches_out,
            report_out, labels, archetypes_out, quiet, **options):
    """Exact PWMs for every filter of the model's motif Conv1D, written as MEME.

    MODEL is a saved Keras model (.h5, .keras or its folder; or an architecture JSON with
    --weights); it is read, never run, except by --influence, which runs it loaded by Keras in
    safe mode. SEQS are the training sequences (HDF5 or .npy one-hot (N, length, 4) in the
    model's channel order, or FASTA / FASTA.gz, also through a pipe: '-' reads standard input) on
    which the base of the logarithm is estimated
    by maximum likelihood. --method heuristic (or both) also counts the letters of each
    sequence's most activating window, as DeepBind did.
    """
    if click.get_current_context().get_parameter_source("base_estimator") is click.core.ParameterSource.DEFAULT:
        options.pop("base_estimator")  # --shared-base / --per-filter-base, when given, say which
    check_sequences_given(model, sequences, options)
    if logos_dir is not None or report_out is not None:
        require_matplotlib()
    database = None
    if archetypes_out is not None:
        options["cluster"] = True
    if annotate or db is not None or matches_out is not None or report_out is not None:
        require_annotate()  # a missing extra or an unknown database fails before the scan
        database = load_database(db, taxon=taxon)
    if options["cluster"] and database is not None:
        options["cluster"] = database  # the annotation's database is Tomtom's background for the clusters too
    try:
        plan = plan_extraction(model, sequences, labels, **options)
    except PatternError as err:
        raise PatternError(f"{err.message} Export with a fixed --base B, or leave out --strict to estimate it "
                           "from the strong windows anywhere",
                           path=err.path) from None
    except K2PError as err:
        if err.path == model and holds_sequences(model):
            raise sequences_given_as_model(model) from None
        if sequences is not None and err.path == sequences and is_keras_model_file(sequences):
            raise click.ClickException(f"{sequences} holds a Keras model, not sequences: the usage is "
                                       "k2p-keras MODEL SEQS (SEQS: HDF5, .npy or FASTA)") from None
        raise
    if devices is not None:  # after the checks that need no TensorFlow, before the scan
        plan.options = replace(plan.options, strategy=strategy_for_devices(devices))
    say(quiet, plan.spec.report())
    if plan.options.influence:
        split = split_at_activation(plan.runnable, plan.spec.layer_name)
        say(quiet, f"influence: each filter's output replaced by a constant after {' -> '.join(split.chain)}, "
                   f"before {split.pool or 'the layers after it'}"
                   + (f"; labels {plan.labels_source}" if plan.labels_source else ""))
    if plan.options.diagnostics:
        say(quiet, "diagnostics: each sequence's best window"
                   + (f"; labels {plan.labels_source}" if plan.labels_source else ", no labels"))
    for note in plan.notes:
        say(quiet, note)
    warm_up = start_compilations(plan, database, quiet)
    with progress_bar(plan.n_sequences, quiet, steps=progress_steps(plan)) as progress:
        result = plan.run(progress)
    if database is not None:
        if warm_up is not None and warm_up.is_alive():
            say(quiet, "waiting for Tomtom's compilation to finish")
            warm_up.join()
        n_motifs = len(result.motifs())
        say(quiet, f"annotating {n_motifs} PWMs against {database.label} ({len(database.motifs)} motifs)")
        with progress_bar(n_motifs, quiet, label="annotating", unit="PWMs") as progress:
            result.annotate(database, q_threshold=q_threshold, progress=progress)
    if matches_out is not None:
        result.annotation.write_tsv(matches_out)
    if report_out is not None:
        result.write_report(report_out)
    if archetypes_out is not None:
        result.write_archetypes(archetypes_out)
    if summary:
        result.write_summary(summary)
    if logos_dir is not None:
        result.write_logos(logos_dir)
    result.write_meme(sys.stdout if output in (None, "-") else output)
    if not quiet:
        for line in result.describe():
            click.echo(line, err=True)
        if result.annotation is not None:
            click.echo(result.annotation.format_summary(), nl=False, err=True)


def progress_steps(plan):
    """What each pass of ``plan`` over the sequences does, in order: the progress bar's labels."""
    o = plan.options
    own_diagnostics = o.diagnostics and not o.estimating  # a pass of their own
    if not o.estimating:
        steps = ["scanning", "heuristic: second pass"][:plan.passes - own_diagnostics]
    else:
        exact = ["largest activations", "windows anywhere"] if plan.spec.scope == "anywhere" else ["scanning"]
        heuristic = {0: [], 1: ["heuristic: second pass"] if plan.spec.scope != "block" else ["heuristic"],
                     2: ["heuristic: first pass", "heuristic: second pass"]}[plan.passes - len(exact)]
        steps = exact + heuristic
    if own_diagnostics:
        steps.append("diagnostics")
    if o.influence:
        split = split_at_activation(plan.runnable, plan.spec.layer_name)
        steps += (["influence"] if influence_passes(split, plan.n_sequences) == 1
                  else ["influence: the constants", "influence: nullified"])
    return steps


def about(seconds):
    """A duration for people: ``about 90 s``, ``about 5 min``; a (fewest, most) pair as ``1 to 5 min``."""
    if isinstance(seconds, tuple):
        return f"{round(seconds[0] / 60)} to {round(seconds[1] / 60)} min"
    return f"about {seconds} s" if seconds < 120 else f"about {round(seconds / 60)} min"


def start_compilations(plan, database, quiet):
    """Say which one-time compilations this run pays, and start Tomtom's in a thread beside the scan.

    numba compiles the scan's kernels at the first scan after an install, and memelite's Tomtom
    at the first annotation; both are cached on disk for later runs. With a database, the scan's
    kernels are loaded first (numba compiles under one lock, which Tomtom's compilation would
    hold for minutes), then Tomtom compiles in a thread while the scan runs, where numba lets two
    threads run its parallel kernels at once (:func:`k2p_keras._numba.parallel_launches_from_threads_safe`);
    elsewhere it compiles after the scan.

    Returns
    -------
    threading.Thread or None
        The thread compiling Tomtom, when annotating beside the scan.
    """
    route = scan_route("auto", plan.options.strategy) if plan.passes else None
    if route == "lookup":
        from ..scan.best_windows import compiled_kernels_cached, COMPILE_SECONDS, load_compiled_kernels  # numba loads here

        # The diagnostics' variant of the sums' kernel is compiled by the first run that asks for
        # it: a plain first run says so, and a later --diagnostics run names the one it compiles.
        diagnostics = plan.options.diagnostics
        if compiled_kernels_cached(plan.options.strategy) is False:
            say(quiet, f"compiling the scan's kernels once (numba), {about(COMPILE_SECONDS)}; later runs skip this"
                       + ("" if diagnostics else " (the first with --diagnostics compiles one more kernel)"))
        elif diagnostics and compiled_kernels_cached(plan.options.strategy, diagnostics) is False:
            say(quiet, f"compiling the diagnostics' scan kernel once (numba), {about(COMPILE_SECONDS)}; "
                       "later runs skip this")
    if database is None:
        if plan.options.cluster is not False and tomtom_compiled() is False:  # the clusters run Tomtom after the scan
            say(quiet, f"compiling Tomtom once (memelite) for the clusters, {about(TOMTOM_COMPILE_SECONDS)}; "
                       "later runs skip this")
        return None
    if route == "lookup":
        load_compiled_kernels(plan.options.diagnostics)
    # The clusters run Tomtom in the scan's thread (ExtractionPlan.run): two threads' parallel
    # kernels then, safe only on numba's OpenMP or TBB layer; without clusters, no numba kernel
    # runs beside the thread on the TensorFlow route or without a scan.
    no_other_kernels = route in (None, "tensorflow") and plan.options.cluster is False
    beside = no_other_kernels or bool(parallel_launches_from_threads_safe())
    if tomtom_compiled() is False:
        say(quiet, f"compiling Tomtom once (memelite), {about(TOMTOM_COMPILE_SECONDS)}"
                   f"{', while the scan runs' if beside and plan.passes else ''}; later runs skip this")
    if not beside:
        return None
    thread = threading.Thread(target=warm_up_tomtom, args=(database, plan.spec.kernel.shape[0]),
                              name="k2p-keras Tomtom compilation", daemon=True)
    thread.start()
    return thread
