"""How PWMs are made: every option and its default, stated once.

:class:`Options` is what :func:`k2p_keras.extract`, the ``k2p-keras`` command and
:class:`~k2p_keras.callback.PWMCallback` take; :func:`make_options` checks keyword arguments
into one.
"""
from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from .annotate.run.influence import NULLS
from .axes import ALPHABET
from .errors import K2PError, OptionError
from .io.guard import DEFAULT_OPEN_TIMEOUT
from .io.fasta import N_ENCODINGS
from .model.activations import check_threshold_fraction
from .motifs.mle import BASE_ESTIMATORS, check_base_estimator, DEFAULT_BASE_ESTIMATOR
from .motifs.sites import DEFAULT_SITES, site_rule, SITES_HELP
from .scan.devices import check_strategy
from .validate import check_alphabet, check_base, check_batch_size, check_positive_number

if TYPE_CHECKING:  # the name for a type hint only: options never load TensorFlow
    import tensorflow as tf


METHODS = ("exact", "heuristic", "both")


def _option_error(err, option):
    """A validation error of :mod:`k2p_keras.validate` as the OptionError of ``option``."""
    message = err.message
    for prefix in (f"{option}: ", "base: ", "base estimator: ", "threshold fraction: ", "fraction: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    return OptionError(message, option)


def check_base_option(base):
    """``base=`` (``--base``): ``"mle"``, or a base b > 1 given as a number, a numeral or ``"e"``
    (:func:`~k2p_keras.validate.check_base`); :class:`OptionError` naming ``base`` otherwise."""
    if isinstance(base, str):
        if base == "mle":
            return "mle"
        try:
            float(base)
        except ValueError:
            if base.strip().lower() != "e":
                raise OptionError(f"expected 'mle' or a number greater than 1, got {base!r}", "base") from None
    try:
        return check_base(base)
    except K2PError as err:
        raise _option_error(err, "base") from None


def _option(default, section, help, types):
    """An option's default, the part of ``--help`` it belongs to and its help, stated once."""
    return field(default=default, metadata={"section": section, "help": help, "types": types})


@dataclass(frozen=True)
class Options:
    # Each field's help serves the command line's --help and this class's docstring (below).
    method: str = _option("exact", "heuristic", types='{"exact", "heuristic", "both"}', help=(
        "Exact PWMs (k2p's transformation), heuristic ones (DeepBind: the letters of each sequence's "
        "most activating window), or both (motif names end in _exact and _heuristic)."))
    base: str | float = _option("mle", "base", types='"mle" or float', help=(
        "Estimate the logarithm's base b by maximum likelihood on the sequences ('mle'), or use this "
        "base b > 1 for every filter (the exact PWMs then need no sequences)."))
    base_estimator: str = _option(DEFAULT_BASE_ESTIMATOR, "base", types='{"shared", "per-filter", "shrunk"}', help=(
        "How the filters share the estimated base: one for all ('shared', k2p-1.0's choice), one per "
        "filter ('per-filter'), or one per filter shrunk toward the shared one by its standard error "
        "('shrunk'; empirical Bayes). --shared-base and --per-filter-base (shared_base=True/False) "
        "are the first two (docs/base-estimation.md)."))
    sites: str | float = _option(DEFAULT_SITES, "base", types='{"strong", "active", "all"}, "strong=F" or float',
                            help=SITES_HELP)
    both_strands: bool = _option(False, "input", types="bool", help=(
        "The model scans the reverse complement too: a sequence's best window is the best over "
        "both strands (found in the graph when the model merges both strands' scans)."))
    threshold: float | None = _option(None, "heuristic", types="float or None", help=(
        "Heuristic: a sequence counts when its largest activation exceeds this [default: 0, DeepBind's rule]."))
    threshold_fraction: float | None = _option(None, "heuristic", types="float or None", help=(
        "Heuristic, instead of the threshold: a sequence counts when its largest activation exceeds this "
        "fraction of the filter's largest activation over the data (Basset: 0.5)."))
    strict: bool = _option(False, "base", types="bool", help=(
        "Refuse to estimate the base unless the layers after the conv pick each sequence's (or pooling "
        "block's) best window, as the MLE assumes (an activation, then a max-pool); without it, the base "
        "comes from the strong windows anywhere, with a warning."))
    layer: str | None = _option(None, "input", types="str or None", help=(
        "Name of the conv to transform [default: the first convolution reading the one-hot input]."))
    weights: str | os.PathLike | None = _option(None, "input", types="path or None", help=(
        "When the model is an architecture JSON (model.to_json()): its weights, the file save_weights "
        "wrote (.h5, or Keras 3's .weights.h5)."))
    alphabet: str = _option(ALPHABET, "input", types="str", help=(
        "The order of the model's one-hot channels, e.g. ATCG. FASTA is encoded in it; HDF5 and .npy "
        "sequences (and arrays) are taken as stored in it; the MEME files list A, C, G, T all the same."))
    dataset: str | None = _option(None, "input", types="str or None", help=(
        "For an HDF5 sequence file: the dataset holding the sequences [default: the one shaped like "
        "the model's input]."))
    n_encoding: str = _option("zero", "input", types='{"zero", "quarter"}', help=(
        "How N and the other IUPAC codes in FASTA are encoded, as in training: all-zero rows or 0.25 rows."))
    open_timeout: float = _option(DEFAULT_OPEN_TIMEOUT, "input", types="float", help=(
        "Seconds a child process may take to walk each HDF5 file or .keras zip before this process opens "
        "it (libhdf5 can spin on a damaged file); a file that takes longer is refused in one line."))
    batch_size: int | str = _option("auto", "performance", types='int or "auto"', help=(
        "Sequences per scanned batch; 'auto': as many as fit the scan's memory budget (docs/performance.md)."))
    strategy: tf.distribute.Strategy | None = _option(
        None, "performance", types="tf.distribute.Strategy or None", help=(
        "Scan on several devices, each batch split among the strategy's replicas "
        "(docs/distributed.md) [default: one device]."))
    influence: bool = _option(False, "analysis", types="bool", help=(
        "Also measure each filter's influence: how far the model's outputs (and, with labels, its loss) "
        "move when the filter's map is replaced by a constant (Basset's nullification; runs the model, "
        "loaded by Keras in safe mode). Summary columns influence* (docs/annotation.md)."))
    influence_null: str = _option("auto", "analysis", types='{"auto", "pooled", "map"}', help=(
        "Influence: the constant a filter's map is replaced by: the mean over sequences of its pooled "
        "value ('pooled', when a global pool reads the map), or the map's mean over sequences and "
        "positions (Basset's 'map'); 'auto': pooled when a global pool follows, else map."))
    diagnostics: bool = _option(False, "analysis", types="bool", help=(
        "Also describe each filter's best window per sequence (from the base's own scan): mean "
        "activation, where the best windows lie, and with labels the filter's AUROC alone and its "
        "mean activation per class. Summary columns and report plots (docs/annotation.md)."))
    cluster: bool | str | os.PathLike = _option(
        False, "analysis", types="bool, or a MEME file or JASPAR release", help=(
        "Also group redundant filters, one cluster per learned motif: filters of 8 bits or more that match "
        "each other (Tomtom, any offset or strand, q <= 0.05) or share a significant best database motif, "
        "--db's database (else the newest JASPAR CORE vertebrates). "
        "Summary column cluster (docs/annotation.md)."))

    @property
    def estimating(self):
        """The exact PWMs' base is estimated (rather than given)."""
        return isinstance(self.base, str) and self.method != "heuristic"

    @property
    def needs_sequences(self):
        return bool(self.sequence_uses())

    def sequence_uses(self, flags=False):
        """What the sequences are needed for, in words, for the messages that ask for them (empty
        when none): ``["to estimate the base", "for the diagnostics"]``; ``flags``: each with the
        command line's option that asks for it (``"for the diagnostics (--diagnostics)"``)."""
        uses = [("to estimate the base", None, self.estimating),
                ("for the heuristic PWMs", f"--method {self.method}", self.method != "exact"),
                ("for the influence", "--influence", self.influence),
                ("for the diagnostics", "--diagnostics", self.diagnostics)]
        return [words + (f" ({flag})" if flags and flag else "") for words, flag, needed in uses if needed]

    def missing_sequences(self, give="give sequences", fixed_base="a fixed base", flags=False):
        """The one-line message when sequences are needed and none were given: what for, what to do."""
        uses = self.sequence_uses(flags)
        listed = " and ".join([", ".join(uses[:-1]), uses[-1]] if len(uses) > 1 else uses)
        return (f"sequences are needed {listed}: {give}"
                + (f", or {fixed_base}" if uses == ["to estimate the base"] else ""))

    def checked(self):
        """These options after checking each value; raises :class:`OptionError` naming the option."""
        if self.method not in METHODS:
            raise OptionError(f"expected one of {', '.join(METHODS)}, got {self.method!r}", "method")
        base = check_base_option(self.base)
        try:
            check_base_estimator(self.base_estimator)
        except K2PError as err:
            raise _option_error(err, "base_estimator") from None
        if base != "mle":
            if self.method == "heuristic":
                raise OptionError("a fixed base applies to the exact PWMs (method 'exact' or 'both')", "base")
        if self.threshold is not None and self.threshold_fraction is not None:
            raise OptionError("give threshold or threshold_fraction, not both", "threshold_fraction")
        if self.method == "exact":
            for name in ("threshold", "threshold_fraction"):
                if getattr(self, name) is not None:
                    raise OptionError("applies to the heuristic PWMs (method 'heuristic' or 'both')", name)
        if self.threshold is not None and not math.isfinite(float(self.threshold)):
            raise OptionError(f"expected a finite number, got {self.threshold!r}", "threshold")
        fraction = self.threshold_fraction
        if fraction is not None:
            try:
                fraction = check_threshold_fraction(fraction)
            except K2PError as err:
                raise _option_error(err, "threshold_fraction") from None
        try:
            alphabet = check_alphabet(self.alphabet)
        except K2PError as err:
            raise _option_error(err, "alphabet") from None
        if self.n_encoding not in N_ENCODINGS:
            raise OptionError(f"expected one of {', '.join(N_ENCODINGS)}, got {self.n_encoding!r}", "n_encoding")
        try:
            size = check_batch_size(self.batch_size)
        except K2PError as err:
            raise _option_error(err, "batch_size") from None
        try:
            timeout = check_positive_number(self.open_timeout, "open_timeout")
        except K2PError as err:
            raise _option_error(err, "open_timeout") from None
        if self.strategy is not None:
            try:
                check_strategy(self.strategy)
            except K2PError as err:
                raise _option_error(err, "strategy") from None
        try:
            sites = site_rule(self.sites).label
        except K2PError as err:
            raise _option_error(err, "sites") from None
        if self.influence_null not in NULLS:
            raise OptionError(f"expected one of {', '.join(NULLS)}, got {self.influence_null!r}", "influence_null")
        influence = False if self.influence is None else self.influence
        if not isinstance(influence, bool):
            raise OptionError(f"expected True or False, got {self.influence!r}", "influence")
        diagnostics = False if self.diagnostics is None else self.diagnostics
        if not isinstance(diagnostics, bool):
            raise OptionError(f"expected True or False, got {self.diagnostics!r}", "diagnostics")
        cluster = False if self.cluster is None else self.cluster
        # A MotifDatabase (anything holding motifs) is taken as it is.
        if not isinstance(cluster, (bool, str, os.PathLike)) and not hasattr(cluster, "motifs"):
            raise OptionError(f"expected True, False, a MEME file or a JASPAR release, got {cluster!r}", "cluster")
        return replace(self, base=base, batch_size=size, threshold_fraction=fraction, sites=sites,
                       alphabet=alphabet, influence=influence, diagnostics=diagnostics, cluster=cluster,
                       open_timeout=timeout)

    def keywords(self):
        """These options as the keyword arguments of :func:`k2p_keras.extract`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def shared_base(self):
        """One base for all filters (``base_estimator == "shared"``)."""
        return self.base_estimator == "shared"

    def base_mode(self):
        """In words: how the base of the exact PWMs is chosen."""
        if not self.estimating:
            return "none (heuristic PWMs)" if self.method == "heuristic" else f"fixed, b = {self.base:g}"
        return f"maximum likelihood on {self.sites} sites, {ESTIMATOR_WORDS[self.base_estimator]}"


#: Each base estimator in the words of the MEME header, the summary and the report.
ESTIMATOR_WORDS = {"shared": "one shared base", "per-filter": "one base per filter",
                   "shrunk": "one base per filter shrunk toward the shared one (empirical Bayes)"}


Options.__doc__ = "\n".join([
    "How PWMs are made; the defaults here are the defaults everywhere (command line, callback, API).",
    "", "Attributes", "----------"] + [
    f"{f.name} : {f.metadata['types']}\n" + textwrap.fill(
        f.metadata["help"], width=92, initial_indent="    ", subsequent_indent="    ") for f in fields(Options)])

#: The defaults, for callers that show them (``--help``).
DEFAULTS = Options()


def make_options(**options):
    """:class:`Options` from keyword arguments, unknown names refused, every value checked.

    ``shared_base=True`` / ``False`` (the older spelling, and the command line's ``--shared-base``
    / ``--per-filter-base``) stands for ``base_estimator="shared"`` / ``"per-filter"``; None for
    neither.
    """
    legacy = options.pop("shared_base", None)
    if legacy is not None:
        if not isinstance(legacy, bool):
            raise OptionError(f"expected True or False, got {legacy!r}", "shared_base")
        meant = "shared" if legacy else "per-filter"
        given = options.get("base_estimator")
        if given is not None and given != meant:
            raise OptionError(f"shared_base={legacy} means base_estimator={meant!r}, but base_estimator={given!r} "
                              f"was given too: give one", "base_estimator")
        options["base_estimator"] = meant
    known = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    return Options(**options).checked()
