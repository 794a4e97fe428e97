"""k2p-1.0's three tools as subcommands: the same files in, the same results out.

    k2p-keras kernel2pwm KERNEL.txt [OUT]
    k2p-keras pwm2kernel PWM.meme [OUT]
    k2p-keras kernel2pwm-mle KERNELS.hdf5 SEQUENCES.hdf5 OUT.hdf5
"""
import math
import sys

import click
import numpy as np

from ..axes import filters_to_keras_kernel
from ..errors import K2PError
from ..extract import extract
from ..io.matrices import read_hdf5_tensor, read_kernel_text, write_hdf5_tensor, write_kernel_text
from ..io.meme import Motif, motif_base, read_meme, write_meme
from ..model.conv import ConvSpec
from ..model.files import is_keras_model_file
from ..transform import kernel_to_pwm, pwm_to_kernel
from ..validate import check_kernel
from .group import base_option, cli, CONVENTION, output_path_callback, text_output


def refuse_keras_model(path, what):
    """k2p-1.0's tools read kernel matrices; a Keras model file gets a pointer to the model command."""
    if path != "-" and is_keras_model_file(path):
        raise K2PError(f"this is a Keras model file, not {what}; for the PWMs of a model's motif Conv1D "
                       f"run: k2p-keras {path} SEQUENCES -o motifs.meme", path=path)


@cli.command("kernel2pwm")
@click.argument("kernel", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("out", required=False, type=click.Path(dir_okay=False, allow_dash=True), callback=output_path_callback)
@base_option()
@click.option("--motif-name", default="temp_motif", show_default=True, help="Name on the MOTIF line.")
@click.option("--use-meme-header", is_flag=True, help="Start with the MEME v4 header (version, alphabet, background).")
@click.option("--save-matrix-only", is_flag=True, help="Write only the probability rows.")
@click.option("--convention", type=CONVENTION, default="convolution", show_default=True,
              help="Row order of KERNEL: 'convolution' (k2p-1.0 files) or 'correlation' (Keras).")
@click.option("--sep", default=None, help="Column separator of KERNEL (default: any whitespace).")
def kernel2pwm(kernel, out, base, motif_name, use_meme_header, save_matrix_only, convention, sep):
    """Transform one kernel matrix (rows = positions, columns A C G T) into a PWM.

    KERNEL is a text file ('-' for stdin); the PWM goes to OUT (default stdout).
    """
    refuse_keras_model(kernel, "a kernel matrix (k2p-1.0's text format)")
    matrix = read_kernel_text(sys.stdin if kernel == "-" else kernel, sep=sep)
    pwm = kernel_to_pwm(matrix, base, convention=convention)
    with text_output(out) as dest:
        if save_matrix_only:
            write_kernel_text(dest, pwm)
        else:
            write_meme(dest, [Motif(motif_name, pwm)], header=use_meme_header, layout="k2p-1.0")


@cli.command("pwm2kernel")
@click.argument("pwm", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("out", required=False, type=click.Path(dir_okay=False, allow_dash=True), callback=output_path_callback)
@base_option(help="Base b > 1 of the logarithm [default: the ln_b k2p-keras recorded in each motif "
                  "(ln_b=...,SE=...), else e].")
@click.option("--delta", type=float, default=None,
              help="Replaces zero probabilities before the log [default: smallest positive entry / 10].")
@click.option("--shift", type=float, default=0.0, show_default=True, help="Added to every kernel entry.")
@click.option("--shift-by-minimum", is_flag=True, help="Add |min| so the smallest kernel entry is 0.")
@click.option("--convention", type=CONVENTION, default="convolution", show_default=True,
              help="Row order of the kernel written: 'convolution' (k2p-1.0) or 'correlation' (Keras).")
@click.option("--motif", "motif_name", default=None,
              help="Convert only this motif [default: every motif of PWM, each kernel led by '# name'].")
@click.option("--to-keras", "model", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Instead of a text kernel: set the filters of this Keras model's Conv1D to the "
                   "motifs (filter k = motif k, bias 0; the other filters keep their weights).")
@click.option("--layer", default=None,
              help="With --to-keras: the Conv1D to set [default: the first on the one-hot input].")
@click.option("--align", type=click.Choice(["center", "left", "right"]), default="center", show_default=True,
              help="With --to-keras: where a motif shorter than the kernel sits (the rest is uniform).")
@click.option("-o", "--output", "model_out", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              callback=output_path_callback,
              help="The kernel text to write (as OUT) [default: stdout]; with --to-keras, the model file "
                   "to write (.keras or .h5).")
@click.pass_context
def pwm2kernel(ctx, pwm, out, base, delta, shift, shift_by_minimum, convention, motif_name, model, layer, align,
               model_out):
    """Transform MEME motifs into kernel matrices (text, one row per position).

    Every motif of PWM is converted (or the one --motif names); with several, each kernel is
    led by a '# name' line. With --to-keras MODEL -o NEW_MODEL, the motifs go into the
    filters of the model's Conv1D instead, and the model is saved to NEW_MODEL.
    """
    if delta is not None and not (math.isfinite(delta) and delta > 0):
        raise click.BadParameter(f"must be a positive number, got {delta}", param_hint="--delta")
    if ctx.get_parameter_source("base") is click.core.ParameterSource.DEFAULT:
        base = None  # each motif's recorded base, else e
    if model is not None:
        _pwm_into_model(ctx, pwm, out, model, model_out, layer, motif_name, base, delta, shift,
                        shift_by_minimum, align)
        return
    if layer is not None:
        raise click.UsageError("--layer applies with --to-keras MODEL")
    if out is not None and model_out is not None:
        raise click.UsageError("give the output once: OUT or -o")

    meme = read_meme(sys.stdin if pwm == "-" else pwm)
    motifs = [meme.get(motif_name)] if motif_name is not None else meme.motifs
    kernels = {m.name: pwm_to_kernel(m.pwm, motif_base(m, base), delta=delta, shift=shift,
                                     shift_by_minimum=shift_by_minimum, convention=convention, name=f"motif {m.name}")
               for m in motifs}
    with text_output(out if model_out is None else model_out) as dest:
        # One motif: k2p-1.0's file, rows only.
        write_kernel_text(dest, kernels if len(kernels) > 1 else next(iter(kernels.values())))


def _pwm_into_model(ctx, pwm, out, model, model_out, layer, motif_name, base, delta, shift, shift_by_minimum,
                    align):
    """``pwm2kernel --to-keras``: the motifs into the model's Conv1D, the model saved to ``-o``."""
    if out is not None:
        raise click.UsageError("with --to-keras the model goes to -o NEW_MODEL, not to OUT")
    if ctx.get_parameter_source("convention") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--convention does not apply with --to-keras (Keras kernels are cross-correlations)")
    if model_out is None:
        raise click.UsageError("--to-keras needs -o NEW_MODEL (.keras or .h5)")
    from ..initializer import set_model_file_from_meme  # it subclasses Keras: TensorFlow loads with it

    meme = read_meme(sys.stdin if pwm == "-" else pwm)
    name, chosen = set_model_file_from_meme(model, meme, model_out, layer=layer, base=base, shift=shift,
                                            align=align, motifs=None if motif_name is None else [motif_name],
                                            delta=delta, shift_by_minimum=shift_by_minimum)
    click.echo(f"{len(chosen)} motifs set in layer {name!r} (filters 0..{len(chosen) - 1}, bias 0); "
               f"wrote {model_out}", err=True)


@cli.command("kernel2pwm-mle")
@click.argument("kernels", type=click.Path(dir_okay=False))
@click.argument("sequences", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False), callback=output_path_callback)
@click.option("--kernel-tensor-name", default=None, help="Dataset of KERNELS (F, L, 4) [default: the first].")
@click.option("--sequence-tensor-name", default=None, help="Dataset of SEQUENCES (N, length, 4) [default: the first].")
@click.option("--pwm-tensor-name", default="PWM_tensor", show_default=True, help="Dataset written to OUT.")
@click.option("--shared-base/--per-filter-base", default=True, show_default=True,
              help="One base for all kernels (k2p-1.0) or one per kernel.")
@click.option("--convention", type=CONVENTION, default="convolution", show_default=True,
              help="Row order of KERNELS: 'convolution' (k2p-1.0 files) or 'correlation' (Keras).")
@click.option("--batch-size", type=click.IntRange(1), default=1024, show_default=True)
def kernel2pwm_mle(kernels, sequences, out, kernel_tensor_name, sequence_tensor_name, pwm_tensor_name,
                   shared_base, convention, batch_size):
    """PWMs for a kernel tensor with the base estimated by maximum likelihood on SEQUENCES.

    Writes the PWM tensor (F, L, 4) to OUT; ln b and its standard error go to stderr.
    """
    refuse_keras_model(kernels, "a kernel tensor (k2p-1.0's HDF5 (F, L, 4))")
    tensor = read_hdf5_tensor(kernels, kernel_tensor_name).astype(np.float64)
    if tensor.ndim != 3 or tensor.shape[2] != 4:
        raise K2PError(f"kernel tensor must have shape (F, L, 4), got {tensor.shape}", path=kernels)
    if convention == "convolution":
        tensor = tensor[:, ::-1, :]
    try:
        spec = ConvSpec.from_kernel(check_kernel(filters_to_keras_kernel(tensor), "kernel tensor", single=False,
                                                 float32=True),
                                    name="kernel")
    except K2PError as err:
        raise K2PError(err.message, path=kernels) from None
    try:
        # k2p-1.0's MLE: every sequence's best window is a site (and its results are reproduced).
        result = extract(spec, sequences, shared_base=shared_base, sites="all", dataset=sequence_tensor_name,
                         batch_size=batch_size)
    except K2PError as err:
        raise K2PError(err.message, path=err.path or sequences) from None
    exact = result.exact
    write_hdf5_tensor(out, pwm_tensor_name, exact.pwms)
    for t, (v, se) in enumerate(zip(exact.ln_base, exact.se)):
        click.echo(f"kernel {t}: ln b = {v:.6f} (SE {se:.2g}), b = {math.exp(v):.6g}", err=True)
