"""The scan under tf.distribute.MirroredStrategy on two logical CPUs equals the one-device scan.

    python tests/mirrored_scan_run.py

Run by tests/test_devices.py in a fresh interpreter: the logical devices must be set up
before TensorFlow initialises its devices. Exits non-zero (an assertion) on a difference.
The test runs it with TensorFlow's oneDNN kernels on (TF_ENABLE_ONEDNN_OPTS=1), as they are
by default on many x86 CPUs: they fail on a replica's empty shard where the plain kernels pass.
"""
import os
import pathlib
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from k2p_keras._tf import import_tensorflow  # noqa: E402

from k2p_keras import extract  # noqa: E402
from k2p_keras.scan.devices import run_on_replicas  # noqa: E402
from k2p_keras.scan.tf_steps import StepSettings, traced_step
from k2p_keras.scan.best_windows import scan_best_windows  # noqa: E402
from test_scan import sequences  # noqa: E402

SUMS = ("score_sum", "row_weight", "max_preactivation", "letter_counts", "letter_totals")


def assert_same_stats(mine, single):
    for name in SUMS:
        np.testing.assert_allclose(getattr(mine, name), getattr(single, name), rtol=1e-12, atol=1e-12, err_msg=name)
    for name in ("n_sequences", "n_used", "n_letter_windows"):
        assert np.array_equal(getattr(mine, name), getattr(single, name)), name
    for name in ("count", "score_sum", "row_weight"):
        np.testing.assert_allclose(getattr(mine.score_histogram, name), getattr(single.score_histogram, name),
                                   rtol=1e-12, atol=1e-12, err_msg=name)
    if single.diagnostics is not None:
        for name in ("count", "label_count", "activation_sum", "label_activation_sum", "positions"):
            np.testing.assert_allclose(getattr(mine.diagnostics, name), getattr(single.diagnostics, name),
                                       rtol=1e-12, atol=1e-12, err_msg=name)


def check_scan(strategy):
    """Odd batches (7, 5), one smaller than the replicas (1); zero, 0.25 and soft N rows; both strands;
    the diagnostics with labels, split among the replicas as the batches are."""
    rng = np.random.default_rng(3)
    batches = [sequences(rng, 7, 40, "zero"), sequences(rng, 5, 40, "quarter"), sequences(rng, 7, 40, "soft"),
               sequences(rng, 1, 40, "zero")]
    labelled = [(x, (rng.random((len(x), 2)) < 0.5).astype(float)) for x in batches]
    kernel, bias = rng.normal(size=(9, 4, 5)), rng.normal(size=5)
    for options in (dict(padding="same", both_strands=True, active_only=True),
                    dict(padding="valid", strides=2, both_strands=False),
                    dict(padding="same", both_strands=True, diagnostics=True, n_labels=2)):
        options.update(letter_threshold=0.0, score_bins=50)
        given = labelled if options.get("n_labels") else batches
        single = scan_best_windows(given, kernel, bias, rescore="tensorflow", **options)
        mine = scan_best_windows(given, kernel, bias, strategy=strategy, **options)
        assert_same_stats(mine, single)


def check_any_batch_size(strategy):
    """1, 2, 3 and 5 sequences on two replicas (fewer than the replicas, even, uneven), each scan
    alone and all together with an empty batch among them, equal the one-device scan."""
    rng = np.random.default_rng(7)
    kernel, bias = rng.normal(size=(9, 4, 5)), rng.normal(size=5)
    sizes = (1, 2, 3, 5)
    for options in (dict(padding="same", both_strands=True), dict(padding="valid", both_strands=False)):
        options.update(letter_threshold=0.0, score_bins=20)
        for n_encoding in ("zero", "soft"):  # letter codes, and rows rescored by the TensorFlow step itself
            runs = [[sequences(rng, n, 40, n_encoding)] for n in sizes]
            runs.append([sequences(rng, 3, 40, n_encoding), np.zeros((0, 40, 4)), sequences(rng, 1, 40, n_encoding)])
            for batches in runs:
                single = scan_best_windows(batches, kernel, bias, rescore="tensorflow", **options)
                mine = scan_best_windows(batches, kernel, bias, strategy=strategy, **options)
                assert_same_stats(mine, single)
                assert int(np.max(mine.n_sequences)) == sum(len(b) for b in batches)


def check_shards_on_both_devices(strategy):
    """A batch of 3 on two replicas: shards of 2 and 1 sequences."""
    tf = import_tensorflow()
    step = traced_step(StepSettings(1, False, False, 0.0, False, 0))
    kernel = np.ones((3, 4, 2))
    args = (tf.constant([0, 0]), tf.constant(kernel, tf.float32), tf.constant(kernel), tf.zeros([2, 3, 6], tf.float64),
            tf.zeros([2], tf.float64), tf.zeros([2], tf.float64), tf.zeros([2], tf.float64), tf.ones([2], tf.float64))
    outs = run_on_replicas(strategy, step, np.eye(4, dtype=np.float32)[np.zeros((3, 10), int)], *args)
    assert [float(out["n_used"][0]) for out in outs] == [2.0, 1.0]
    # Fewer sequences than replicas: no replica is handed an empty shard.
    outs = run_on_replicas(strategy, step, np.eye(4, dtype=np.float32)[np.zeros((1, 10), int)], *args)
    assert [float(out["n_used"][0]) for out in outs] == [1.0]
    assert run_on_replicas(strategy, step, np.zeros((0, 10, 4), np.float32), *args) == []


def check_extract(strategy, n_sequences=57):
    """extract() with strategy=: the same ln b, PWMs and heuristic counts (strong sites, both strands)."""
    import keras

    rng = np.random.default_rng(4)
    x = sequences(rng, n_sequences, 30, "zero")  # batches of 8: 57 or 49 leave a last one of one sequence
    x[:n_sequences // 2, 10:16] = np.eye(4)[[0, 1, 2, 3, 3, 0]]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30, 4)), keras.layers.Conv1D(4, 6, name="motif_conv"),
                              keras.layers.Activation("relu"), keras.layers.GlobalMaxPooling1D(),
                              keras.layers.Dense(1)])
    options = dict(method="both", both_strands=True, sites="strong", batch_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both_strands on a forward-only model: scanned anyway
        single = extract(model, x, **options)
        mine = extract(model, x, strategy=strategy, **options)
    np.testing.assert_allclose(mine.exact.ln_base, single.exact.ln_base, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mine.exact.pwms, single.exact.pwms, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mine.heuristic.pwms, single.heuristic.pwms, rtol=1e-12, atol=1e-12)
    assert mine.n_sequences == single.n_sequences == n_sequences


def main():
    # Before TensorFlow starts its devices: in main, so that importing this module is harmless.
    tf = import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    print(f"replicas={strategy.num_replicas_in_sync}")
    check_shards_on_both_devices(strategy)
    check_any_batch_size(strategy)
    check_scan(strategy)
    check_extract(strategy)
    print("OK")


if __name__ == "__main__":
    main()
