"""One worker of two on this machine whose partner may be killed mid-scan: it fails in one line.

    python tests/multiworker_lost_run.py INDEX PORT0 PORT1

Run twice at once by tests/test_multiworker.py, which kills one of them once it has scanned a
batch. Each worker scans its share of 40 small batches read a quarter of a second apart (a scan
long enough to be killed in), printing ``scanned`` after each; then the sums are all-reduced.
A K2PError is printed alone on its line as ``ERROR <message>`` (exit 3); ``OK`` when the scan ends.
Only 127.0.0.1 is used.
"""
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

BATCHES, PAUSE = 40, 0.25


def main(index, ports):
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})
    from k2p_keras._tf import import_tensorflow

    tf = import_tensorflow()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    print(f"replicas={strategy.num_replicas_in_sync}", flush=True)

    import numpy as np

    from k2p_keras.errors import K2PError
    from k2p_keras.scan.best_windows import scan_best_windows
    from test_scan import sequences

    rng = np.random.default_rng(3)
    kernel, bias = rng.normal(size=(9, 4, 5)), rng.normal(size=5)

    def batches():
        for i in range(BATCHES):
            time.sleep(PAUSE)
            yield sequences(np.random.default_rng(i), 8, 40, "zero")

    try:
        scan_best_windows(batches(), kernel, bias, strategy=strategy, progress=lambda n: print("scanned", flush=True))
    except K2PError as err:
        print(f"ERROR {err}", flush=True)
        sys.exit(3)
    print("OK", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:4])
