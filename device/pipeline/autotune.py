"""`--threads auto`: the inference setting chosen by the pipeline's own throughput.

    tuner = Tuner(pool, stats, candidates(cores=4), TuningOptions(), on_chosen=remember)
    tuner.start()     # thread "tuning": each candidate for a moment, then the best

How many interpreter threads pay depends on the CPU, the model and what else the
pipeline does on those cores, so the pipeline measures instead of guessing: the first
seconds of a run try each candidate on the real frames (none is lost: the pool switches
between frames) and keep the one that processed the most frames a second; within
`tie` of the best, the one with the shortest invokes wins (a camera-bound run: lower
latency is all a setting can still give). `cache.py` keeps the choice per model and
CPU, so only the first run of a model on a machine spends those seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pisight.device.pipeline.inference import InferencePool, InferenceSetting
from pisight.device.pipeline.stats import RunStats

log = logging.getLogger("pisight.tuning")
MAX_INTERPRETERS = 4  # each holds its own copy of the activations


def candidates(cores: int) -> tuple[InferenceSetting, ...]:
    """The settings worth trying on `cores` cores, today's default (all cores but one, one
    interpreter) first, so a run too short to finish tuning keeps the old behaviour."""
    cores = max(1, cores)
    found = [InferenceSetting(max(1, cores - 1))]
    for total in sorted({max(1, cores - 1), cores}):
        for interpreters in range(1, min(total, MAX_INTERPRETERS) + 1):
            if total % interpreters == 0:
                setting = InferenceSetting(total // interpreters, interpreters)
                if setting not in found:
                    found.append(setting)
    return tuple(found)


@dataclass(frozen=True)
class TuningOptions:
    warmup_s: float = 0.5
    """After each switch, time the new interpreters run before measuring."""
    measure_s: float = 1.5
    """How long each candidate is measured (longer while it has done fewer than min_frames)."""
    min_frames: int = 10
    tie: float = 0.03
    """Candidates within this share of the best rate count as equally fast."""

    def seconds(self, count: int) -> float:
        return count * (self.warmup_s + self.measure_s)


TUNING = TuningOptions()


@dataclass(frozen=True)
class Trial:
    setting: InferenceSetting
    fps: float
    invoke_ms: float


@dataclass(frozen=True)
class Choice:
    setting: InferenceSetting
    trials: tuple[Trial, ...]

    def reason(self) -> str:
        """'2 interpreters x 1 thread: 241.3 fps (1x1 183.2, 1x2 154.0)'."""
        best = next(t for t in self.trials if t.setting == self.setting)
        others = ", ".join(
            f"{t.setting.short} {t.fps:.1f}" for t in self.trials if t.setting != self.setting
        )
        return f"{self.setting.phrase()}: {best.fps:.1f} fps ({others or 'no other candidate'})"


def choose(trials: Sequence[Trial], tie: float) -> InferenceSetting:
    best = max(t.fps for t in trials)
    fast = [t for t in trials if t.fps >= best * (1.0 - tie)]
    return min(fast, key=lambda t: t.invoke_ms).setting


class Tuner:
    def __init__(
        self,
        pool: InferencePool,
        stats: RunStats,
        settings: Sequence[InferenceSetting],
        options: TuningOptions,
        done: threading.Event,
        on_chosen: Callable[[Choice], None] | None = None,
    ) -> None:
        self._pool = pool
        self._stats = stats
        self._settings = tuple(settings)
        self._options = options
        self._done = done
        self._on_chosen = on_chosen
        self.choice: Choice | None = None

    def run(self) -> None:
        """Try each setting, switch to the best, report it (the tuning thread's body)."""
        trials = []
        for setting in self._settings:
            try:
                self._pool.switch(setting)
            except Exception as exc:  # e.g. no memory for another interpreter: keep running
                log.warning("tuning stopped at %s (%s); staying on %s", setting.short, exc,
                            self._pool.setting.phrase())  # fmt: skip
                return
            trial = self._measure(setting)
            if trial is None:  # the run ended first: keep what runs, remember nothing
                return
            trials.append(trial)
            log.debug("tuning: %s %.1f fps, invoke %.2f ms", setting.short, trial.fps,
                      trial.invoke_ms)  # fmt: skip
        best = choose(trials, self._options.tie)
        self._pool.switch(best)
        self.choice = Choice(best, tuple(trials))
        if self._on_chosen:
            self._on_chosen(self.choice)

    def _measure(self, setting: InferenceSetting) -> Trial | None:
        options, stats = self._options, self._stats
        if self._done.wait(options.warmup_s):
            return None
        frames, invoke_ms, started = stats.frames, stats.inference_ms_total, time.monotonic()
        if self._done.wait(options.measure_s):
            return None
        give_up = started + 5 * options.measure_s  # a stalled camera: decide on what came
        while stats.frames - frames < options.min_frames and time.monotonic() < give_up:
            if self._done.wait(0.1):
                return None
        elapsed = time.monotonic() - started
        count = stats.frames - frames
        if count == 0:
            return None
        return Trial(setting, count / elapsed, (stats.inference_ms_total - invoke_ms) / count)
