"""One worker of a two-worker MultiWorkerMirroredStrategy on this machine, asking for a scan.

    python tests/multiworker_run.py INDEX PORT0 PORT1

Run twice by tests/test_devices.py (the workers must meet). A scan across machines is not
supported: prints the OptionError's message and exits 0 when extract refuses the strategy.
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
    import numpy as np

    from k2p_keras import extract
    from k2p_keras.errors import OptionError

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    print(f"replicas={strategy.num_replicas_in_sync}")
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, size=(20, 100))]
    try:
        extract(pathlib.Path(__file__).parents[1] / "example_models" / "deepbind.h5", x, strategy=strategy)
    except OptionError as err:
        print(f"refused: {err}")
        return
    raise AssertionError("a two-worker strategy was not refused")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:4])
