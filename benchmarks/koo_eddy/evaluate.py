"""Score every PWM set of every cached model (converged and mid-training): rows for the table."""
import csv
import json
import pathlib
import time

from .model import CONV_NAME, mean_auroc, predict
from .pwm_sets import KOO, koo_set, library_set
from .scoring import score_set

# The mid-training snapshot: the first epoch whose validation AUROC reaches MID_AUROC, when that
# comes before the best epoch; otherwise (reached at the best epoch, or never) half the best epoch.
MID_AUROC = 0.85


def read_history(folder):
    with open(pathlib.Path(folder) / "history.csv") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def mid_epoch(history, best_epoch):
    reached = [int(r["epoch"]) for r in history if r["val_auroc"] >= MID_AUROC]
    if reached and reached[0] < best_epoch:
        return reached[0]
    return max(1, best_epoch // 2)


def snapshots(folder):
    """[(snapshot, epoch, model file)]: the converged model (best validation loss) and the mid one."""
    folder = pathlib.Path(folder)
    info = json.loads((folder / "info.json").read_text())
    mid = mid_epoch(read_history(folder), info["best_epoch"])
    return info, [("converged", info["best_epoch"], folder / "final.keras"),
                  ("mid", mid, folder / f"epoch_{mid:02d}.keras")]


def evaluate_model(folder, data, db, set_names, log=print):
    """Rows (one per snapshot and PWM set) for one trained model."""
    import keras

    info, snaps = snapshots(folder)
    x_test, y_test = data.x("test"), data.y("test")
    rows = []
    for snapshot, epoch, path in snaps:
        started = time.perf_counter()
        model = keras.models.load_model(str(path), compile=False)
        auroc = mean_auroc(y_test, predict(model, x_test))
        for name in set_names:
            if name == KOO:
                pwms, note = koo_set(path, x_test, CONV_NAME), ""
            else:
                pwms, note = library_set(path, x_test, name)
            row = {"model": f"CNN-{info['pool']}", "pool": info["pool"], "seed": info["seed"], "snapshot": snapshot,
                   "epoch": epoch, "test_auroc": round(auroc, 4), "set": name}
            if pwms is None:
                row["note"] = note
            else:
                row.update(score_set(pwms, db))
            rows.append(row)
        log(f"CNN-{info['pool']} seed {info['seed']} {snapshot} (epoch {epoch}, test AUROC {auroc:.3f}): "
            f"{len(set_names)} sets in {time.perf_counter() - started:.0f} s; "
            + ", ".join(f"{r['set']} {r.get('match', '-')}/{r.get('coverage', '-')}" for r in rows[-len(set_names):]))
    return rows
