"""The inference stage: one or more interpreters on alternate frames, results in order.

    pool = InferencePool(load, prepared, InOrder(), done, InferenceSetting(1, 2))
    pool.start([detector])           # the detector already loaded, plus what the setting needs
    ticket, inferred = ...           # the decode thread reads pool.results in frame order
    pool.switch(InferenceSetting(threads=2, interpreters=1))   # the tuning thread
    pool.restart_stuck()             # the metrics thread, once a second

Why more than one: an invoke split across interpreter threads waits for its slowest
thread, so one interpreter with every core loses to the pipeline's own threads each
time they preempt one of its threads. Two one-thread interpreters taking turns lose
only the preempted invoke's time (on a 2-core Xeon, LiteRT 2.3: 262 fps with one
2-thread interpreter, 280-320 with two 1-thread ones). Frames are taken from the
prepared slot with a ticket, so the decode thread gets them back in the order they
came however the invokes finish (docs/ARCHITECTURE.md, "A frame's path").

An invoke cannot be interrupted from Python: one past its deadline is abandoned (its
thread left blocked in C++, its ticket skipped) and a fresh interpreter takes over.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pisight.device.model.detector import Detector, RawOutputs
from pisight.device.pipeline.cores import CorePlan, name_current_thread, pin_current_thread
from pisight.device.pipeline.handoff import POLL_S, InOrder, LatestSlot, SlotClosedError
from pisight.device.pipeline.watchdog import InvokeWatchdog
from pisight.device.sources.frames import Frame

log = logging.getLogger("pisight.inference")


@dataclass(frozen=True)
class InferenceSetting:
    threads: int
    """Threads of each interpreter."""
    interpreters: int = 1
    """Interpreters taking turns on frames."""

    @property
    def short(self) -> str:
        """'2x1': interpreters x threads, as logs and the cache write it."""
        return f"{self.interpreters}x{self.threads}"

    def phrase(self) -> str:
        def count(n: int, word: str) -> str:
            return f"{n} {word}" if n == 1 else f"{n} {word}s"

        return f"{count(self.interpreters, 'interpreter')} x {count(self.threads, 'thread')}"


@dataclass
class Prepared:
    frame: Frame
    tensor: np.ndarray


@dataclass
class Inferred:
    frame: Frame
    raw: RawOutputs


class _Worker:
    def __init__(self, detector: Detector, timeout_s: float) -> None:
        self.detector = detector
        self.watchdog = InvokeWatchdog(timeout_s)
        self.retired = False
        self.ticket: int | None = None  # the frame it is on, to skip if it is abandoned


class InferencePool:
    def __init__(
        self,
        load: Callable[[int], Detector],
        prepared: LatestSlot[Prepared],
        results: InOrder[Inferred],
        done: threading.Event,
        setting: InferenceSetting,
        timeout_s: float,
        cores: CorePlan | None = None,
    ) -> None:
        """load(threads) -> a new Detector on the same model. cores: where the workers run
        (the inference cores while the setting leaves the I/O core spare, else all of
        them); None: never pin."""
        self._load = load
        self._prepared = prepared
        self.results = results
        self._done = done
        self.setting = setting
        self._timeout_s = timeout_s
        self._cores = cores
        self._lock = threading.Lock()  # workers, setting
        self._dispatch = threading.Lock()  # a frame and its ticket are taken together
        self._next_ticket = 0
        self._workers: list[_Worker] = []
        self._retired: list[_Worker] = []  # finishing their last frame after a switch
        self._threads: list[threading.Thread] = []
        self.restarts = 0
        self.guard: Callable[[Any], Any] = lambda target: target
        self.on_switch: Callable[[InferenceSetting], None] = lambda setting: None

    # -- setting ---------------------------------------------------------------------

    def start(self, loaded: Detector | None = None) -> None:
        """Start the setting's workers, the first on `loaded` when it has the setting's
        threads (a cached setting may want others than the run loaded first)."""
        # One with helper threads made them on every core: not where a setting that leaves
        # the I/O core spare wants them.
        cores = self._cores
        placed = self.setting.threads == 1 or cores is None or self._cpus(self.setting) == cores.all
        usable = (
            loaded is not None and (loaded.options.threads or 1) == self.setting.threads and placed
        )
        detectors = [loaded] if usable else []
        detectors += [
            self.load(self.setting) for _ in range(self.setting.interpreters - len(detectors))
        ]
        with self._lock:
            for detector in detectors:
                self._spawn(_Worker(detector, self._timeout_s))

    def switch(self, setting: InferenceSetting) -> None:
        """Run on `setting` from now on: its interpreters are loaded and warmed up first,
        then the old workers finish the frame they hold and stop. No frame is lost."""
        if setting == self.setting:
            return
        fresh = [self.load(setting) for _ in range(setting.interpreters)]
        with self._lock:
            for worker in self._workers:
                worker.retired = True
            self._retired = [w for w in self._retired if w.ticket is not None] + self._workers
            self._workers = []
            self.setting = setting
            for detector in fresh:
                self._spawn(_Worker(detector, self._timeout_s))
        self.on_switch(setting)

    def load(self, setting: InferenceSetting) -> Detector:
        """A warmed-up detector with setting's threads, made on the cores its workers will
        use: an interpreter's own threads inherit the affinity of the thread that creates
        them, and one of them preempted by the I/O threads would stall every invoke."""
        cpus = self._cpus(setting)
        pinned = _affinity() if cpus is not None else None
        if cpus is not None and pinned is not None:
            pin_current_thread(cpus)
        try:
            detector = self._load(setting.threads)
        finally:
            if pinned is not None:
                pin_current_thread(pinned)
        detector.warm_up()
        return detector

    @property
    def detectors(self) -> list[Detector]:
        with self._lock:
            return [w.detector for w in self._workers]

    # -- workers ---------------------------------------------------------------------

    def _spawn(self, worker: _Worker) -> None:
        self._workers.append(worker)
        pin = self._cpus(self.setting)
        index = len(self._workers) - 1
        name = "inference" if self.setting.interpreters == 1 else f"inference-{index}"
        thread = threading.Thread(
            target=self.guard(lambda: self._work(worker, worker.watchdog.generation, pin)),
            name=name, daemon=True,
        )  # fmt: skip
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _cpus(self, setting: InferenceSetting) -> frozenset[int] | None:
        """The inference cores while setting leaves the I/O core spare, else every core."""
        if self._cores is None:
            return None
        return self._cores.inference_cpus(setting.threads * setting.interpreters)

    def _take(self) -> tuple[int, Prepared] | None:
        with self._dispatch:
            prepared = self._prepared.get(timeout=POLL_S)
            if prepared is None:
                return None
            ticket = self._next_ticket
            self._next_ticket += 1
            return ticket, prepared

    def _work(self, worker: _Worker, generation: int, cores: frozenset[int] | None) -> None:
        name_current_thread(threading.current_thread().name)
        if cores:
            pin_current_thread(cores)
        watchdog = worker.watchdog
        while not self._done.is_set() and not worker.retired and watchdog.current(generation):
            try:
                taken = self._take()
            except SlotClosedError:  # the source ended: after the last ticket taken
                self.results.finish(self._next_ticket)
                return
            if taken is None:
                continue
            worker.ticket, prepared = taken
            watchdog.begin()
            raw = worker.detector.infer(prepared.tensor)
            if not watchdog.end(generation):
                return  # abandoned while stuck: restart_stuck skipped the ticket
            ticket, worker.ticket = worker.ticket, None
            if not self.results.put(ticket, Inferred(prepared.frame, raw), self._done):
                return

    def restart_stuck(self) -> None:
        """Replace each worker stuck in an invoke with a fresh one on a new interpreter (a
        retired one is only given up: its ticket skipped, so the frames after it flow)."""
        with self._lock:
            for worker in [w for w in self._retired if w.watchdog.stuck()]:
                log.warning("a retired interpreter's invoke ran over %g s; its frame is dropped",
                            worker.watchdog.timeout_s)  # fmt: skip
                self._abandon(worker)
                self._retired.remove(worker)
            stuck = [w for w in self._workers if w.watchdog.stuck()]
        for worker in stuck:
            log.warning(
                "invoke ran over %g s; restarting inference on a new interpreter",
                worker.watchdog.timeout_s,
            )
            try:
                detector = self.load(self.setting)
            except Exception as exc:  # keep the stream (stale) up; try again next tick
                log.warning("reloading the model failed: %s", exc)
                continue
            with self._lock:
                self._abandon(worker)
                if worker in self._workers:
                    self._workers.remove(worker)
                self._spawn(_Worker(detector, self._timeout_s))

    def _abandon(self, worker: _Worker) -> None:
        worker.watchdog.restart()
        if worker.ticket is not None:
            self.results.skip(worker.ticket)
        self.restarts += 1

    def join(self, timeout_s: float) -> None:
        for thread in list(self._threads):
            thread.join(timeout=timeout_s)


def _affinity() -> frozenset[int] | None:
    try:
        return frozenset(os.sched_getaffinity(threading.get_native_id()))
    except (AttributeError, OSError):
        return None
