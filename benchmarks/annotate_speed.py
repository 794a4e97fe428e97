"""Time annotation of 64 filters against the whole default database (JASPAR CORE vertebrates).

    python benchmarks/annotate_speed.py

Three figures, each in a fresh Python process so that nothing is shared by accident:

- **cold**: numba's on-disk cache pointed at an empty folder, so memelite's kernels are
  compiled during the first call (what a user's very first annotation costs);
- **first call**: the on-disk cache filled by the cold run, as in every later session;
- **warm**: a second call in the same process.

Loading the database through pyjaspar is timed apart (it is cached per process). The 64
query PWMs are the exact PWMs of random 24-column filters at ln b = 2.5 with 16 JASPAR 2016
motifs planted in them, so that some queries match and most do not, as in a trained model.
"""
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
import numpy as np
from k2p_keras.annotate.match.tomtom import annotate_motifs, load_database
from k2p_keras.io.meme import Motif, read_meme
from k2p_keras.transform import kernel_to_pwm

rng = np.random.default_rng(0)
jaspar = read_meme(sys.argv[1]).motifs
motifs = []
for t in range(64):
    pwm = kernel_to_pwm(rng.normal(0, 0.6, (24, 4)), np.exp(2.5))
    if t % 4 == 0:
        planted = jaspar[(t * 37) % len(jaspar)].pwm[:20]
        pwm[2:2 + len(planted)] = planted
    motifs.append(Motif(f"conv_{t}", pwm))
start = time.perf_counter(); database = load_database(); load = time.perf_counter() - start
start = time.perf_counter(); annotation = annotate_motifs(motifs, database); first = time.perf_counter() - start
start = time.perf_counter(); annotate_motifs(motifs, database); warm = time.perf_counter() - start
matched = sum(annotation.verdict(m.name) == "match" for m in motifs)
print(json.dumps({"database": database.label, "targets": len(database), "load": load, "first": first,
                  "warm": warm, "matched": matched}))
"""


def _run(cache_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme")],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    import numba

    with tempfile.TemporaryDirectory(prefix="numba_cache_") as cache:
        cold = _run(cache)
        cached = _run(cache)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} CPUs visible, numba {numba.__version__} "
          f"({numba.get_num_threads()} threads), Python {platform.python_version()}")
    print(f"database: {cold['database']} ({cold['targets']} motifs), loaded through pyjaspar in "
          f"{cached['load']:.1f} s")
    print(f"64 filters x {cold['targets']} motifs ({cold['matched']} filters match at q <= 0.05):")
    print(f"  cold (numba compiles):      {cold['first']:8.2f} s")
    print(f"  first call, cache on disk:  {cached['first']:8.2f} s")
    print(f"  warm (same process):        {cached['warm']:8.2f} s  "
          f"(cold / warm = {cold['first'] / cached['warm']:.0f}x)")


if __name__ == "__main__":
    main()
