"""Runtime of the MLE of the base with each site estimator, on 200,000 sequences.

    python benchmarks/sites_runtime.py            # 200,000 sequences of 200 bp, 64 filters of length 24
    python benchmarks/sites_runtime.py --quick    # 20,000 sequences

Each estimator is what ``extract_pwms(spec, batches, ExactRequest(sites=...))`` runs: one pass of
``scan_best_windows`` over the sequences (``active_only`` for ``active``, the score
histogram for ``strong``), then ``site_sums`` and ``estimate_base`` (shared and per-filter
bases). The sequences are a pool of random one-hot float32 batches held in memory and
cycled (the scan's cost does not depend on the letters), so that reading files is not
timed. Repeats rotate the estimators' order, so a busy machine weighs on each alike; a
ratio is the ratio of medians against ``all`` (k2p-1.0's estimator) in the same run.
"""
import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from k2p_keras.motifs.mle import estimate_base  # noqa: E402
from k2p_keras.scan.tf_steps import conv_preactivation
from k2p_keras.scan.best_windows import scan_best_windows  # noqa: E402
from k2p_keras.scan.stats import SCORE_BINS
from k2p_keras.motifs.sites import SITES, site_rule, site_sums  # noqa: E402

BATCH = 512
POOL = 10_240  # sequences held in memory, cycled


def pooled_batches(pool, n_sequences):
    """``n_sequences`` sequences in batches of ``BATCH``, cycling through ``pool`` (a list of batches)."""
    done = 0
    while done < n_sequences:
        for batch in pool:
            take = min(len(batch), n_sequences - done)
            yield batch[:take]
            done += take
            if done >= n_sequences:
                return


def run_estimator(sites, pool, n_sequences, kernel, bias):
    """One MLE as extract_pwms runs it; returns (scan seconds, estimate seconds, shared ln b, n_used)."""
    rule = site_rule(sites)
    started = time.perf_counter()
    stats = scan_best_windows(pooled_batches(pool, n_sequences), kernel, bias,
                              active_only=rule.kind == "active",
                              score_bins=SCORE_BINS if rule.kind == "strong" else None)
    scanned = time.perf_counter()
    sums = site_sums(stats, rule, bias)
    shared = estimate_base(kernel, sums.score_sum, sums.row_weight, shared=True)
    estimate_base(kernel, sums.score_sum, sums.row_weight, on_degenerate="nan")
    return scanned - started, time.perf_counter() - scanned, float(shared.ln_base[0]), sums.n_used


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="sequences scanned")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--kernel-length", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 sequences, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats = 20_000, 2
    rng = np.random.default_rng(0)
    kernel = rng.normal(0.0, 0.5, (args.kernel_length, 4, args.filters))
    pool = [np.eye(4, dtype=np.float32)[rng.integers(0, 4, (BATCH, args.length))] for _ in range(POOL // BATCH)]
    # Biases that switch on half of the best windows, so that "active" leaves out half.
    bias = -np.median(conv_preactivation(pool[0], kernel).max(axis=1), axis=0)
    run_estimator("all", pool, BATCH, kernel, bias)  # trace and warm up every step once
    for sites in SITES:
        run_estimator(sites, pool, BATCH, kernel, bias)
    times = {sites: [] for sites in SITES}
    results = {}
    for repeat in range(args.repeats):
        order = SITES[repeat % len(SITES):] + SITES[:repeat % len(SITES)]
        for sites in order:
            scan_s, estimate_s, ln_b, n_used = run_estimator(sites, pool, args.n, kernel, bias)
            times[sites].append((scan_s, estimate_s))
            results[sites] = (ln_b, n_used)
    print(f"# MLE of the base per site estimator: {args.n:,} sequences of {args.length} bp, {args.filters} filters "
          f"of length {args.kernel_length}, batches of {BATCH}, {args.repeats} repeats (medians), "
          f"{os.cpu_count()} CPUs")
    print(f"# command: python benchmarks/sites_runtime.py {' '.join(sys.argv[1:])}".rstrip())
    print("| sites | passes over the data | scan s | estimate s (shared + per filter) | total s | "
          "total vs all (range) | shared ln b | windows used (mean per filter) |")
    print("|---|---|---|---|---|---|---|---|")
    base_total = [s + e for s, e in times["all"]]
    for sites in SITES:
        totals = [s + e for s, e in times[sites]]
        ratios = [t / b for t, b in zip(totals, base_total)]
        ln_b, n_used = results[sites]
        print(f"| {sites} | 1 | {statistics.median(s for s, _ in times[sites]):.2f} | "
              f"{statistics.median(e for _, e in times[sites]):.4f} | {statistics.median(totals):.2f} | "
              f"{statistics.median(totals) / statistics.median(base_total):.3f} ({min(ratios):.3f}-{max(ratios):.3f}) | "
              f"{ln_b:.4f} | {n_used.mean():,.0f} |")


if __name__ == "__main__":
    main()
