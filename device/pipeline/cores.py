"""Keep the interpreter off the core that serves the camera and the stream.

    plan = plan_cores(threads=3)          # on a 4-core Pi: inference {0, 1, 2}, io {3}
    pin_current_thread(plan.io)           # threads started from here on inherit it

An invoke split across interpreter threads waits for its slowest thread, so a frame
decode or a JPEG encode preempting one of them stalls the whole invoke. With fewer
interpreter threads than cores, pisight gives the capture, decode, output and HTTP
threads one core of their own and the inference thread the others.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

log = logging.getLogger("pisight.cores")


@dataclass(frozen=True)
class CorePlan:
    inference: frozenset[int]
    io: frozenset[int]

    @property
    def all(self) -> frozenset[int]:
        return self.inference | self.io


def plan_cores(threads: int) -> CorePlan | None:
    """None when there is no spare core (or the platform cannot pin threads)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or threads >= len(cores):
        return None
    return CorePlan(frozenset(cores[:-1]), frozenset(cores[-1:]))


def pin_current_thread(cpus: frozenset[int]) -> None:
    """Restrict the calling thread (only it, on Linux) to cpus; best effort."""
    try:
        os.sched_setaffinity(threading.get_native_id(), cpus)
    except OSError as exc:  # a container may forbid it: run unpinned
        log.debug("cannot pin thread to cores %s: %s", sorted(cpus), exc)


def name_current_thread(name: str) -> None:
    """Give the calling thread its OS name (Linux, 15 bytes), so `top -H` and
    /proc/PID/task/*/comm show which pipeline stage uses the CPU; best effort."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass
