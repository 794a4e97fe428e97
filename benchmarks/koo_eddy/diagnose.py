"""Why the per-filter MLE misses filters mid-training: how many filters any one base per filter
could name (the ceiling of every exact estimator), and where the exact PWM's bits sit.

    python -m benchmarks.koo_eddy.diagnose --cache DIR [--pools 25] [--seeds 0,1,2] [--out FILE]

For each CNN-N snapshot: the per-filter MLE's ``ln b`` of every filter is multiplied by each
factor of :data:`FACTORS` (the PWMs stay exact at every factor) and the filters naming a
planted motif are counted as in the table (benchmarks.koo_eddy.scoring). ``any`` counts the
filters named at some factor: no estimator that picks one base per filter can name more.
The bits columns compare the per-filter PWMs with our heuristic's (half the max, the same
windows' letter frequencies): bits in the columns where the sites' letters are near uniform
(heuristic < 0.1 bits: flanks) and in the others (core).
"""
import argparse
import pathlib
import time
import warnings

import numpy as np
from scipy.special import softmax

from k2p_keras import extract
from k2p_keras.transform import information_content

from .data import load_data
from .evaluate import snapshots
from .scoring import assign, database, filter_hits

def ic_matched(kernel, target_bits, ln_base):
    """Per filter, the ``ln b`` at which the exact PWM's information (bits summed over its columns)
    equals ``target_bits``; ``ln_base`` (the MLE) where the target is out of reach. The information
    of ``softmax(v W)`` grows with ``v`` (its entropy's derivative is ``-v Var_v(W)``): bisection."""
    out = np.array(ln_base, dtype=np.float64)
    for t in range(kernel.shape[2]):
        def bits(v):
            return information_content(softmax(v * kernel[:, :, t], axis=1)).sum()
        lo, hi = 1e-6, max(1.0, out[t])
        while bits(hi) < target_bits[t] and hi < 1e3:
            hi *= 2
        if not bits(lo) < target_bits[t] < bits(hi):
            continue
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if bits(mid) < target_bits[t] else (lo, mid)
        out[t] = 0.5 * (lo + hi)
    return out


def ic_match_rows(path, x, db):
    """per-filter, ic-match and our heuristic (half the max) on one snapshot: match, coverage."""
    from .scoring import score_set
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = extract(str(path), x, labels=False, base_estimator="per-filter").exact
        heuristic = extract(str(path), x, labels=False, method="heuristic", threshold_fraction=0.5).sets[0]
    heur = np.stack([m.pwm for m in heuristic.motifs()])
    target = np.array([information_content(p).sum() for p in heur])
    ln_b = ic_matched(exact.kernel, target, exact.ln_base)
    matched = np.stack([softmax(ln_b[t] * exact.kernel[:, :, t], axis=1) for t in range(len(ln_b))])
    out = {}
    for name, pwms in (("per-filter", exact.pwms), ("ic-match", matched), ("heuristic half", heur)):
        scored = score_set(pwms, db)
        out[name] = f"{scored['match']}/{scored['filters']} ({scored['coverage']})"
    out["factor"] = f"{np.median(ln_b / exact.ln_base):.2f} ({np.min(ln_b / exact.ln_base):.2f}-{np.max(ln_b / exact.ln_base):.2f})"
    return out


FACTORS = np.round(np.exp(np.linspace(np.log(0.4), np.log(3.0), 21)), 2)
FLANK_BITS = 0.1


def diagnose(path, x, db):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = extract(str(path), x, labels=False, base_estimator="per-filter").exact
        heuristic = extract(str(path), x, labels=False, method="heuristic", threshold_fraction=0.5).sets[0]
    kernel, n_filters = exact.kernel, exact.kernel.shape[2]
    pwms = [softmax(k * exact.ln_base[t] * kernel[:, :, t], axis=1) for t in range(n_filters) for k in FACTORS]
    named = np.array([a is not None for a in assign(filter_hits(pwms, db))]).reshape(n_filters, len(FACTORS))
    heur = np.stack([m.pwm for m in heuristic.motifs()])
    ic_exact = np.stack([information_content(p) for p in exact.pwms])
    ic_heur = np.stack([information_content(p) for p in heur])
    flank = ic_heur < FLANK_BITS
    return {"per_factor": named.sum(axis=0), "any": int(named.any(axis=1).sum()),
            "flank_bits": float((ic_exact * flank).sum(axis=1).mean()),
            "flank_bits_heur": float((ic_heur * flank).sum(axis=1).mean()),
            "core_bits": float((ic_exact * ~flank).sum(axis=1).mean()),
            "core_bits_heur": float((ic_heur * ~flank).sum(axis=1).mean())}


def _snapshots(cache, args):
    """Each cached model snapshot of ``--pools`` x ``--seeds``: (pool, seed, snapshot, epoch, path), converged first."""
    for pool in [int(p) for p in args.pools.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            _, snaps = snapshots(cache / "data0_n25000" / f"cnn{pool}_seed{seed}")
            for snapshot, epoch, path in snaps[::-1]:
                yield pool, seed, snapshot, epoch, path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--pools", default="25")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=None)
    parser.add_argument("--ic-match", action="store_true",
                        help="Score the information-matched bases (ic_matched) instead of the factor grid.")
    args = parser.parse_args(argv)
    if args.ic_match:
        return ic_match_main(args)
    started = time.perf_counter()
    cache = pathlib.Path(args.cache)
    x = load_data(cache, 0, 25000, 200).x("test")
    db = database()
    head = ("| model | seed | snapshot | " + " | ".join(f"x{k:g}" for k in FACTORS)
            + " | any factor | flank bits exact / heuristic | core bits exact / heuristic |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for pool, seed, snapshot, epoch, path in _snapshots(cache, args):
        d = diagnose(path, x, db)
        lines.append(f"| CNN-{pool} | {seed} | {snapshot} ({epoch}) | "
                     + " | ".join(str(n) for n in d["per_factor"])
                     + f" | {d['any']} | {d['flank_bits']:.2f} / {d['flank_bits_heur']:.2f}"
                     f" | {d['core_bits']:.2f} / {d['core_bits_heur']:.2f} |")
        print(lines[-1], flush=True)
    lines.append("")
    lines.append(f"Runtime {time.perf_counter() - started:.0f} s.")
    if args.out:
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")


def ic_match_main(args):
    started = time.perf_counter()
    cache = pathlib.Path(args.cache)
    x = load_data(cache, 0, 25000, 200).x("test")
    db = database()
    lines = ["| model | seed | snapshot | per-filter MLE | ic-match | our heuristic (half the max) "
             "| ic-match ln b / MLE ln b: median (range) |", "|---|---|---|---|---|---|---|"]
    for pool, seed, snapshot, epoch, path in _snapshots(cache, args):
        r = ic_match_rows(path, x, db)
        lines.append(f"| CNN-{pool} | {seed} | {snapshot} ({epoch}) | {r['per-filter']} | {r['ic-match']} "
                     f"| {r['heuristic half']} | {r['factor']} |")
        print(lines[-1], flush=True)
    lines += ["", f"Runtime {time.perf_counter() - started:.0f} s."]
    if args.out:
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
