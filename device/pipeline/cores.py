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

    def spare(self, threads: int) -> bool:
        """Whether `threads` interpreter threads in all leave the I/O core to itself."""
        return threads <= len(self.inference)

    def inference_cpus(self, threads: int) -> frozenset[int]:
        return self.inference if self.spare(threads) else self.all

    def io_cpus(self, threads: int) -> frozenset[int]:
        return self.io if self.spare(threads) else self.all


def usable_cores() -> int:
    """The cores this thread may run on (a container or `taskset` may allow fewer)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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


class IoThreads:
    """The threads that serve frames (capture, the pipeline's stages, HTTP), by native id,
    so that a new inference setting can move them: onto the spare core while the
    interpreters leave one, onto every core when they use them all (else the I/O threads,
    squeezed onto one shared core, could no longer feed the interpreters)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[int] = set()
        self._cpus: frozenset[int] | None = None

    def join(self, name: str) -> None:
        """Register the calling thread (and name it for the OS), on the current I/O cores."""
        name_current_thread(name)
        with self._lock:
            self._ids.add(threading.get_native_id())
            cpus = self._cpus
        if cpus is not None:
            pin_current_thread(cpus)

    def move(self, cpus: frozenset[int]) -> None:
        with self._lock:
            self._cpus = cpus
            for native_id in list(self._ids):
                try:
                    os.sched_setaffinity(native_id, cpus)
                except OSError:  # the thread has ended (or pinning is forbidden)
                    self._ids.discard(native_id)


IO_THREADS = IoThreads()  # affinity belongs to the process: one registry for it


def name_current_thread(name: str) -> None:
    """Give the calling thread its OS name (Linux, 15 bytes), so `top -H` and
    /proc/PID/task/*/comm show which pipeline stage uses the CPU; best effort."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass
