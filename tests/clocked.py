"""`python -m tests.clocked MODULE ARGS...` (or `-c CODE`): run `python -m MODULE ARGS...` with the clock at
COSTPLANE_TEST_CLOCK.

A pinned test clock (tests/clock.py) is time-machine's and lives in the test process only; the Celery workers and
the sandbox server that integration tests start are other processes. The test starts them through this module with
the instant it is at, so they read the same time as the test: the same "today", the same hour of the sandbox's
schedules, the same due times for countdowns.
"""

from __future__ import annotations

import runpy
import sys

import time_machine

from tests.clock import run_clock

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m tests.clocked MODULE [ARGS...] | -c CODE")
    instant = run_clock()
    if instant is not None:
        time_machine.travel(instant, tick=True).start()
    if sys.argv[1] == "-c":  # `python -c CODE`, as python itself takes it
        code = sys.argv[2]
        sys.argv = ["-c", *sys.argv[3:]]
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
    else:
        module = sys.argv[1]
        sys.argv = [module, *sys.argv[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
