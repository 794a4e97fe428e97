"""MultiWorkerMirroredStrategy without hangs: a worker killed mid-scan makes the other fail in one line.

Two workers on this machine (127.0.0.1 only), tests/multiworker_lost_run.py. TensorFlow's
coordination service notices the dead worker when its heartbeats stop (10 s by default), aborts
the survivor's all-reduce, and the survivor says in one line which worker is gone
(k2p_keras.scan.devices.lost_worker_message). Every wait is bounded by a subprocess timeout.
"""
import os
import queue
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO

pytest.importorskip("tensorflow")

HERE = REPO / "tests"
# Bounds on the waits (not timings): start-up of two TensorFlow workers on a busy machine, and
# the survivor's end after the kill (heartbeat 10 s, plus the abort and the exit).
START_BOUND, END_BOUND = 300, 180


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [str(s.getsockname()[1]) for s in sockets]
    for s in sockets:
        s.close()
    return ports


def lines_of(process):
    """A queue of the process's stdout lines (None at its end), read by a thread: waits can be bounded."""
    found = queue.Queue()

    def read():
        for line in process.stdout:
            found.put(line.rstrip("\n"))
        found.put(None)

    threading.Thread(target=read, daemon=True).start()
    return found


@pytest.mark.slow
@pytest.mark.parametrize("killed", [1, 0], ids=["worker 1 killed", "worker 0 (the leader) killed"])
def test_a_worker_killed_mid_scan_makes_the_other_fail_in_one_line(killed):
    ports = free_ports(2)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers = [subprocess.Popen([sys.executable, str(HERE / "multiworker_lost_run.py"), str(i), *ports], cwd=HERE,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
    survivor = workers[1 - killed]
    try:
        lines, seen, deadline = lines_of(workers[killed]), [], time.monotonic() + START_BOUND
        while "scanned" not in seen:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, f"worker {killed} ended before scanning: {seen} {workers[killed].stderr.read()}"
            seen.append(line)
        workers[killed].kill()
        killed_at = time.monotonic()
        out, err = survivor.communicate(timeout=END_BOUND)
        took = time.monotonic() - killed_at
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    errors = [line for line in out.splitlines() if line.startswith("ERROR ")]
    assert survivor.returncode == 3 and len(errors) == 1, out[-2000:] + err[-3000:]
    message = errors[0][len("ERROR "):]
    print(f"\nworker {1 - killed}, {took:.1f} s after the kill: {message}")
    assert message.startswith(f"worker {1 - killed} of 2: worker {killed}")
    assert message.endswith("the PWMs need every worker's share: restart every worker")


# TensorFlow's own words (2.21), as a survivor's all-reduce was aborted in the runs above.
UNHEALTHY = ("Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are unhealthy "
             "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task "
             "logs for an earlier error, or scheduler events (e.g. preemption, eviction) to debug further.")
LEADER = ("Collective ops is aborted by: Failed to send RPC to coordination service. Either the leader task was "
          "preempted/died/restarted unexpectedly or this task is experiencing network issues. Check earlier logs "
          "from 1) this task, 2) the leader (usually slice 0 task 0), and 3) cluster scheduler to debug further.\n"
          "Additional GRPC error information from remote target /job:worker/replica:0/task:0 while calling "
          "/tensorflow.CoordinationService/Heartbeat:")


def test_tensorflow_s_reasons_become_one_line_naming_the_worker():
    from k2p_keras.scan.devices import lost_worker_message

    dead = lost_worker_message(None, UNHEALTHY, "found after 3 s in the all-reduce")
    leader = lost_worker_message(None, LEADER, "found after 2 s in the all-reduce")
    assert dead.startswith("worker 0 of 1: worker 1 stopped answering (no heartbeat for 10 s), found after 3 s")
    assert leader.startswith("worker 0 of 1: worker 0, the leader of TensorFlow's coordination service, cannot be "
                             "reached, found after 2 s")
    assert "\n" not in dead + leader
