"""How `pisight run` sets up inference: a forced setting, the cached one, or tuning.

    forced = forced_setting(settings.threads, settings.interpreters)   # None for auto
    detector = Detector.load(replace(options, threads=first_threads(forced)))
    plan = plan_inference(forced, detector, max_frames=None)
    options = replace(options, inference=plan.setting, tuning=plan.tuning, cores=plan.cores,
                      on_tuned=plan.on_tuned)

`--threads N` (and/or `--interpreters K`) forces a setting. `--threads auto` (the
default) takes the setting tuned earlier for this model, runtime and CPU
(setting_cache.py), or tunes in this run's first seconds (autotune.py) and keeps the
choice. Every path logs what it chose and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pisight.device.model.bundle import locate_model
from pisight.device.model.detector import Detector
from pisight.device.model.runtime import default_threads
from pisight.device.pipeline.autotune import TUNING, Choice, TuningOptions, candidates
from pisight.device.pipeline.cores import CorePlan, plan_cores, usable_cores
from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.pipeline.setting_cache import (
    cache_file,
    cache_key,
    load_setting,
    store_setting,
)

log = logging.getLogger("pisight.tuning")
# A run this short ends before tuning would (the demo's 300 frames at Pi speed, tests):
# it keeps the first candidate, today's default, and caches nothing.
MIN_TUNING_FRAMES = 1000


@dataclass(frozen=True)
class InferencePlan:
    setting: InferenceSetting
    tuning: tuple[InferenceSetting, ...]
    cores: CorePlan | None
    on_tuned: Callable[[Choice], None] | None


def forced_setting(threads: int | str | None, interpreters: int | None) -> InferenceSetting | None:
    """The setting --threads N / --interpreters K ask for; None for auto."""
    if interpreters is None and (threads is None or threads == "auto"):
        return None
    count = interpreters or 1
    if isinstance(threads, int):
        return InferenceSetting(threads, count)
    return InferenceSetting(1 if count > 1 else default_threads(), count)


def first_threads(forced: InferenceSetting | None) -> int:
    """The threads of the interpreter `pisight run` loads first."""
    return forced.threads if forced else candidates(usable_cores())[0].threads


def plan_inference(
    forced: InferenceSetting | None,
    detector: Detector,
    max_frames: int | None,
    tuning: TuningOptions = TUNING,
) -> InferencePlan:
    """forced: forced_setting() of the flags; detector: loaded with first_threads()."""
    if forced is not None:
        log.info("inference: %s (forced; --threads auto tunes it)", forced.phrase())
        total = forced.threads * forced.interpreters
        return InferencePlan(forced, (), plan_cores(total), None)
    cores = plan_cores(1)  # the I/O threads keep the last core; the pool pins its workers
    model = locate_model(detector.options.model, detector.options.labels).model
    key = cache_key(model, detector.runtime)
    cached = load_setting(key)
    if cached is not None:
        setting, reason = cached
        log.info("inference: %s, tuned for this model and CPU earlier (%s); kept in %s",
                 setting.phrase(), reason, cache_file())  # fmt: skip
        return InferencePlan(setting, (), cores, None)
    settings = candidates(usable_cores())
    if len(settings) == 1 or (max_frames is not None and max_frames < MIN_TUNING_FRAMES):
        why = "one core" if len(settings) == 1 else f"runs under {MIN_TUNING_FRAMES} frames"
        log.info("inference: %s (no tuning: %s)", settings[0].phrase(), why)
        return InferencePlan(settings[0], (), cores, None)
    log.info("inference: tuning %s in the first %.0f s", ", ".join(s.short for s in settings),
             tuning.seconds(len(settings)))  # fmt: skip

    def on_tuned(choice: Choice) -> None:
        kept = store_setting(key, choice)
        where = f"kept in {kept}" if kept else "not kept (cache not writable)"
        log.info("inference: %s; %s for this model and CPU", choice.reason(), where)

    return InferencePlan(settings[0], settings, cores, on_tuned)
