"""Interleaved repeats: the one timing loop of the benchmarks (machines here are shared and noisy)."""
import time


def interleaved(calls, repeats):
    """Time each of ``calls`` (name -> callable) ``repeats`` times, rotating the order every repeat.

    A busy machine then weighs on every call alike. Returns ``(times, results)``: per name the
    seconds of each repeat, and what each call returned.
    """
    names = list(calls)
    times = {name: [] for name in names}
    results = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            results[name].append(calls[name]())
            times[name].append(time.perf_counter() - start)
    return times, results
