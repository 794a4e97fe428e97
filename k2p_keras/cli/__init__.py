"""The ``k2p-keras`` command line: thin wrappers around the library.

    k2p-keras MODEL SEQS -o motifs.meme       exact PWMs of a saved Keras model (cli/model.py)
    k2p-keras verify MODEL SEQS               the PWMs against the layer, every window (cli/verify.py)
    k2p-keras annotate MOTIFS.meme            known motifs (JASPAR) for each PWM, Tomtom (cli/annotate.py)
    k2p-keras report FOLDER -o report.html    filters' motifs over training, a PWMCallback folder (cli/report.py)
    k2p-keras kernel2pwm KERNEL.txt [OUT]     k2p-1.0's three tools, same files, same results (cli/tools.py)
    k2p-keras pwm2kernel PWM.meme [OUT]
    k2p-keras kernel2pwm-mle KERNELS.hdf5 SEQUENCES.hdf5 OUT.hdf5
"""
from . import annotate, model, report, tools, verify  # noqa: F401  (each registers its commands on `cli`)
from .group import cli

__all__ = ["cli", "main"]


def main(argv=None):
    """Entry point of the ``k2p-keras`` script."""
    return cli.main(args=argv, prog_name="k2p-keras")
