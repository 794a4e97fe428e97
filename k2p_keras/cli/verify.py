"""``k2p-keras verify MODEL SEQS``: do the PWMs reproduce the filters on every window?"""
import click

from ..axes import ALPHABET
from ..errors import K2PError
from ..io.fasta import N_ENCODINGS
from ..verify import DEFAULT_TOLERANCE, prepare_verification, verify_pwms, VerifyRequest
from .group import base_option, cli, progress_bar


@cli.command("verify")
@click.argument("model", type=click.Path(exists=True))  # a Keras 3 model folder too
@click.argument("sequences", type=click.Path(exists=True, dir_okay=False, allow_dash=True))  # '-': stdin
@click.option("--pwms", "pwms_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Check the PWMs of this MEME file (motifs named <layer>_<index>[_suffix]) "
                   "instead of the exact ones.")
@base_option()
@click.option("--tolerance", type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE, show_default=True,
              help="Largest difference allowed, relative to max(1, the filter's largest |conv + bias|).")
@click.option("--layer", default=None, help="Name of the Conv1D [default: the first on the one-hot input].")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="When MODEL is an architecture JSON (model.to_json()): its weights, the file save_weights "
                   "wrote (.h5, or Keras 3's .weights.h5).")
@click.option("--alphabet", default=ALPHABET, show_default=True, metavar="[ACGT|ATCG|...]",
              help="The order of the model's one-hot channels: the layer is fed in it; FASTA is encoded "
                   "in it, HDF5 and .npy sequences are taken as stored in it.")
@click.option("--dataset", default=None,
              help="HDF5 dataset holding the sequences [default: the one shaped like the model's input].")
@click.option("--n-encoding", type=click.Choice(N_ENCODINGS), default="zero", show_default=True,
              help="How N and other IUPAC codes in FASTA are encoded: zero rows or 0.25 rows.")
@click.option("--batch-size", type=click.IntRange(1), default=512, show_default=True)
@click.option("--no-keras", is_flag=True,
              help="Compute the layer with TensorFlow's conv on the weights read from the file, "
                   "without loading the model with Keras.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def verify(model, sequences, pwms_path, base, tolerance, layer, weights, alphabet, dataset, n_encoding, batch_size,
           no_keras, quiet):
    """Check that log_b P(window) + constant equals the filter's conv + bias on every window.

    The layer is computed by the model itself (loaded with Keras in safe mode, the conv's
    activation set aside, folded BatchNormalization applied in inference mode); when Keras
    cannot load the file, TensorFlow's conv on the weights read from it stands in (a warning
    says so). Prints the largest absolute difference per PWM; exits with status 1 when one
    exceeds --tolerance x max(1, the filter's largest |conv + bias|).

    Without --pwms the exact PWMs at --base are checked (Theorem 1 holds for every base).
    PWMs from a file use the base recorded in their alternate name (ln_b=...), else --base.
    """
    request = VerifyRequest(layer=layer, pwms=pwms_path, base=base, tolerance=tolerance, dataset=dataset,
                            n_encoding=n_encoding, batch_size=batch_size, use_keras=not no_keras, weights=weights,
                            alphabet=alphabet)
    inputs = prepare_verification(model, sequences, request)
    with progress_bar(inputs.source.count, quiet, label="verifying") as progress:
        result = verify_pwms(inputs.spec, inputs.source.iter_batches(request.batch_size), inputs.pwm_set,
                             inputs.preactivation, request.tolerance, progress)
    if pwms_path is None:  # on stdout, with the table: stderr keeps one line for a failure
        click.echo(f"# checked: the exact transformation at a fixed base, b = {base:g} (not a MEME file of yours: "
                   f"give --pwms FILE.meme to check it)")
    click.echo(result.report(), nl=False)
    if not result.ok:
        raise K2PError(result.failure(), path=model)
