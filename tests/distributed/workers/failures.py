"""Run under mpiexec: rank 1 fails in the way argv[1] names while rank 0 waits in a collective."""

import os
import signal
import sys
import time

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist

mode = sys.argv[1]
dist.init_process_group(timeout=float(sys.argv[2]) if len(sys.argv) > 2 else 1800)
if dist.get_rank() == 1:
    if mode == "raise":
        raise ValueError("boom on rank 1")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "thread":
        import threading

        th = threading.Thread(target=lambda: 1 / 0, name="worker")
        th.start()
        th.join()
        time.sleep(60)
    if mode == "hang":
        time.sleep(60)  # alive but silent: rank 0's wait must give up
t = tg.ones(3)
dist.all_reduce(t)
print("rank", dist.get_rank(), "was not stopped")
