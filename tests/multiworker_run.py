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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def main(index, ports):
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})
    from k2p_keras._tf import import_tensorflow

    tf = import_tensorflow()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    print(f"replicas={strategy.num_replicas_in_sync}")

    import numpy as np

    from k2p_keras.scan.devices import worker_share
    from k2p_keras.scan.best_windows import scan_best_windows
    from mirrored_scan_run import assert_same_stats, check_extract
    from test_scan import sequences

    assert worker_share(strategy) == (index, 2), worker_share(strategy)
    # Five batches: worker 0 scans three (the last holds one sequence), worker 1 two.
    rng = np.random.default_rng(3)
    batches = [sequences(rng, 7, 40, "zero"), sequences(rng, 5, 40, "quarter"), sequences(rng, 7, 40, "soft"),
               sequences(rng, 6, 40, "zero"), sequences(rng, 1, 40, "zero")]
    kernel, bias = rng.normal(size=(9, 4, 5)), rng.normal(size=5)
    # With the diagnostics' sums and their labels, travelling with the batches.
    batches = [(x, (rng.random((len(x), 2)) < 0.5).astype(float)) for x in batches]
    options = dict(padding="same", both_strands=True, active_only=True, letter_threshold=0.0, score_bins=50,
                   diagnostics=True, n_labels=2)
    single = scan_best_windows(batches, kernel, bias, rescore="tensorflow", **options)
    seen = []
    mine = scan_best_windows(batches, kernel, bias, strategy=strategy, progress=seen.append, **options)
    assert seen == ([7, 7, 1] if index == 0 else [5, 6]), seen  # its own share only
    assert_same_stats(mine, single)

    check_extract(strategy, 49)  # 7 batches of 8: worker 0 scans four, the last of one sequence
    print("OK")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:4])
