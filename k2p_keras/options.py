"""How PWMs are made: every option and its default, stated once.

:class:`Options` is what :func:`k2p_keras.extract`, the ``k2p-keras`` command and
:class:`~k2p_keras.callback.PWMCallback` take; :func:`make_options` checks keyword arguments
into one.
"""
import math
from dataclasses import dataclass, fields, replace

from .errors import K2PError, OptionError
from .motifs.sites import DEFAULT_SITES, site_rule
from .validate import check_batch_size


N_ENCODINGS = ("zero", "quarter")


METHODS = ("exact", "heuristic", "both")


def _option_error(err, option):
    """A validation error of :mod:`k2p_keras.validate` as the OptionError of ``option``."""
    message = err.message
    for prefix in (f"{option}: ", "base: ", "threshold fraction: ", "fraction: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    return OptionError(message, option)


@dataclass(frozen=True)
class Options:
    """How PWMs are made; the defaults here are the defaults everywhere (CLI, callback, API).

    Attributes
    ----------
    method : {"exact", "heuristic", "both"}
        Exact PWMs (k2p's transformation), heuristic ones (DeepBind: letters of each
        sequence's most activating window), or both.
    base : "mle" or float
        Estimate the logarithm's base by maximum likelihood on the sequences, or use this
        base ``b > 1`` for every filter (no sequences needed for the exact PWMs).
    shared_base : bool
        One base for all filters (k2p-1.0's choice) instead of one per filter.
    sites : {"strong", "active", "all"}, "strong=F", float or None
        Which best windows the MLE treats as binding sites (:mod:`k2p_keras.sites`): those
        activating the filter at least half (or F) as much as its strongest window
        ("strong", the default, chosen by benchmarks/paper), those that switch it on
        ("active"), or every sequence's ("all": k2p-1.0 and the paper). The base only sets
        how sharp the PWMs are; every base reproduces the filter exactly. None: the default,
        or "active" when ``exclude_inactive`` is set.
    both_strands : bool
        The model scans the reverse complement too: a sequence's best window is the best
        over both strands.
    exclude_inactive : bool
        The older spelling of ``sites="active"``.
    threshold : float or None
        Heuristic: a sequence counts when its maximal activation output exceeds this
        (None: 0, DeepBind's rule).
    threshold_fraction : float or None
        Heuristic, instead of ``threshold``: a sequence counts when its maximal activation
        exceeds this fraction of the filter's largest activation over the data (Basset: 0.5).
    force : bool
        Estimate the base even when the layers after the conv break the MLE's assumption.
    layer : str or None
        The Conv1D to transform; by default the first one reading the one-hot input.
    dataset : str or None
        For an HDF5 sequence file: the dataset holding the sequences.
    n_encoding : {"zero", "quarter"}
        How N and IUPAC codes in FASTA are encoded, as in training.
    batch_size : int or "auto"
        Sequences per scanned batch. "auto": as many as the scan's route keeps within a
        byte budget (:func:`k2p_keras.scan.auto_batch_size`: 16 MB of one-hot rows for the
        CPU's compiled lookups, about 10,000 sequences of 101 bp and 1,000 of 1,000 bp; for
        TensorFlow's convolution 256 MB on a CPU, an eighth of a GPU's memory).
    strategy : tf.distribute.Strategy or None
        Scan on several devices: each batch is split among the strategy's replicas
        (``tf.distribute.MirroredStrategy()`` over a machine's GPUs; across machines
        ``MultiWorkerMirroredStrategy``, each worker scanning its share; :mod:`k2p_keras.devices`).
        The best windows are then rescored by TensorFlow, not numba. None: one device,
        TensorFlow's choice.
    """

    method: str = "exact"
    base: object = "mle"
    shared_base: bool = True
    sites: object = None
    both_strands: bool = False
    exclude_inactive: bool = False
    threshold: float = None
    threshold_fraction: float = None
    force: bool = False
    layer: str = None
    dataset: str = None
    n_encoding: str = "zero"
    batch_size: object = "auto"
    strategy: object = None

    @property
    def estimating(self):
        """The exact PWMs' base is estimated (rather than given)."""
        return isinstance(self.base, str) and self.method != "heuristic"

    @property
    def needs_sequences(self):
        return self.estimating or self.method != "exact"

    def checked(self):
        """These options after checking each value; raises :class:`OptionError` naming the option."""
        from .validate import check_base

        if self.method not in METHODS:
            raise OptionError(f"expected one of {', '.join(METHODS)}, got {self.method!r}", "method")
        base = self.base
        if isinstance(base, str):
            if base != "mle":
                raise OptionError(f"expected 'mle' or a number greater than 1, got {base!r}", "base")
        else:
            try:
                base = check_base(base)
            except K2PError as err:
                raise _option_error(err, "base") from None
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
            from .model.activations import check_threshold_fraction

            try:
                fraction = check_threshold_fraction(fraction)
            except K2PError as err:
                raise _option_error(err, "threshold_fraction") from None
        if self.n_encoding not in N_ENCODINGS:
            raise OptionError(f"expected one of {', '.join(N_ENCODINGS)}, got {self.n_encoding!r}", "n_encoding")
        try:
            size = check_batch_size(self.batch_size)
        except K2PError as err:
            raise _option_error(err, "batch_size") from None
        if self.strategy is not None:
            from .scan.devices import check_strategy

            try:
                check_strategy(self.strategy)
            except K2PError as err:
                raise _option_error(err, "strategy") from None
        sites = self.sites
        if sites is None:
            sites = "active" if self.exclude_inactive else DEFAULT_SITES
        try:
            sites = site_rule(sites, self.exclude_inactive).label
        except K2PError as err:
            raise _option_error(err, "sites") from None
        return replace(self, base=base, batch_size=size, threshold_fraction=fraction, sites=sites)

    def base_mode(self):
        """In words: how the base of the exact PWMs is chosen."""
        if not self.estimating:
            return "none (heuristic PWMs)" if self.method == "heuristic" else f"fixed, b = {self.base:g}"
        return (f"maximum likelihood on {self.sites} sites, "
                + ("one shared base" if self.shared_base else "one base per filter"))


#: The defaults, for callers that show them (``--help``).
DEFAULTS = Options()


def make_options(**options):
    """:class:`Options` from keyword arguments, unknown names refused, every value checked."""
    known = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    return Options(**options).checked()
