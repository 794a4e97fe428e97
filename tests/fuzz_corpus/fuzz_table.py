"""A mutation campaign over every kind of input: the table of inputs per kind x outcome.

    PYTHONPATH=$PWD python tests/fuzz_corpus/fuzz_table.py [--per-kind 30] [--seed 0]

Each input is a seed from ``seeds/`` damaged by one mutation of ``fuzzing.py`` and run
through its command in a worker process (k2p-keras imported once, commands run with click's
CliRunner). The parent kills and restarts the worker when one input runs past ``--timeout``
seconds or past ``--memory`` GiB of resident memory; that input counts as a timeout.
"""
import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzzing  # noqa: E402

WORKER = """
import json, sys
sys.path.insert(0, {here!r})
import fuzzing
for line in sys.stdin:
    job = json.loads(line)
    code, out, err, exc = fuzzing.run_in_process(job["argv"], timeout=job["timeout"])
    result = fuzzing.outcome(code, err, exc, job["out"])
    detail = repr(exc) if exc is not None else (err.strip().splitlines() or [""])[-1]
    print(json.dumps({{"outcome": result, "detail": detail[:200]}}), flush=True)
"""


class Worker:
    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-c", WORKER.format(here=str(HERE))], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def rss_gib(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024 ** 2
        except OSError:
            pass
        return 0.0

    def run(self, argv, out, timeout, memory):
        self.process.stdin.write(json.dumps({"argv": argv, "out": str(out), "timeout": timeout}) + "\n")
        os.set_blocking(self.process.stdout.fileno(), False)
        start, buffer = time.monotonic(), ""
        while time.monotonic() - start < timeout + 30 and self.rss_gib() < memory:
            chunk = self.process.stdout.readline()
            if chunk:
                buffer += chunk
                if buffer.endswith("\n"):
                    return json.loads(buffer)
            elif self.process.poll() is not None:
                return {"outcome": "traceback", "detail": f"worker died ({self.process.returncode})"}
            else:
                time.sleep(0.02)
        self.process.kill()
        self.process.wait()
        return {"outcome": "timeout", "detail": f"past {timeout} s or {memory} GiB"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=60)
    parser.add_argument("--memory", type=float, default=3.0, help="GiB of resident memory per input")
    parser.add_argument("--details", action="store_true", help="Print every input that broke the promise.")
    args = parser.parse_args()
    table = collections.defaultdict(collections.Counter)
    broken = []
    worker = Worker()
    with tempfile.TemporaryDirectory() as folder:
        for k, (kind, (_, mutations, _)) in enumerate(fuzzing.KINDS.items()):
            for i in range(args.per_kind):
                number = args.seed * 100_000 + k * 1000 + i
                mutation = mutations[i % len(mutations)]
                try:
                    path, argv, out = fuzzing.make_input(kind, mutation, number, folder)
                except Exception as exc:  # noqa: BLE001 - a mutation h5py cannot write is skipped
                    table[kind]["(not made)"] += 1
                    continue
                if worker.process.poll() is not None:
                    worker = Worker()
                result = worker.run(argv, out, args.timeout, args.memory)
                if result["outcome"] == "timeout":
                    worker = Worker()
                table[kind][result["outcome"]] += 1
                if not fuzzing.kept_promise(result["outcome"]):
                    broken.append((kind, mutation.__name__, number, result["outcome"], result["detail"]))
                for leftover in (path, out):
                    if os.path.isfile(leftover):
                        os.remove(leftover)
    worker.process.kill()
    columns = fuzzing.OUTCOMES
    print("| kind | inputs | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    totals = collections.Counter()
    for kind, counts in table.items():
        made = sum(v for key, v in counts.items() if key in columns)
        totals.update({key: v for key, v in counts.items() if key in columns})
        print(f"| {kind} | {made} | " + " | ".join(str(counts[c]) for c in columns) + " |")
    print(f"| **all** | {sum(totals.values())} | " + " | ".join(str(totals[c]) for c in columns) + " |")
    if args.details:
        for row in broken:
            print("\t".join(str(x) for x in row))


if __name__ == "__main__":
    main()
