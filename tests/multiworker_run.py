"""One worker of a two-worker MultiWorkerMirroredStrategy on this machine: its scan equals one device's.

    python tests/multiworker_run.py INDEX PORT0 PORT1

Run twice at once by tests/test_devices.py (the workers must meet). Each worker is given
every sequence, scans its share of the batches, and after the all-reduce must hold the
sums, ln b and PWMs of a one-device scan of all the sequences; exits non-zero (an
assertion) otherwise.
"""
import json
import os
import pathlib
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def main(index, ports):
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})
    from k2p_keras._tf import import_tensorflow

    tf = import_tensorflow()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    print(f"replicas={strategy.num_replicas_in_sync}")

    import keras
    import numpy as np

    from k2p_keras import extract
    from k2p_keras.devices import worker_share
    from k2p_keras.scan import scan_best_windows
    from mirrored_scan_run import assert_same_stats
    from test_scan import sequences

    assert worker_share(strategy) == (index, 2), worker_share(strategy)
    # Five batches: worker 0 scans three (the last holds one sequence), worker 1 two.
    rng = np.random.default_rng(3)
    batches = [sequences(rng, 7, 40, "zero"), sequences(rng, 5, 40, "quarter"), sequences(rng, 7, 40, "soft"),
               sequences(rng, 6, 40, "zero"), sequences(rng, 1, 40, "zero")]
    kernel, bias = rng.normal(size=(9, 4, 5)), rng.normal(size=5)
    options = dict(padding="same", both_strands=True, exclude_inactive=True, letter_threshold=0.0, score_bins=50)
    single = scan_best_windows(batches, kernel, bias, rescore="tensorflow", **options)
    seen = []
    mine = scan_best_windows(batches, kernel, bias, strategy=strategy, progress=seen.append, **options)
    assert seen == ([7, 7, 1] if index == 0 else [5, 6]), seen  # its own share only
    assert_same_stats(mine, single)

    x = sequences(np.random.default_rng(4), 49, 30, "zero")  # 7 batches of 8, the last of 1
    x[:25, 10:16] = np.eye(4)[[0, 1, 2, 3, 3, 0]]
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
    assert mine.n_sequences == 49
    print("OK")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:4])
