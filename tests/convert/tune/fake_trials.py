"""Stand-ins for a real trial: the study machinery is real, the detector is arithmetic.

Module-level and picklable, so spawned workers and trial processes can run them. The
numbers are a caricature of the real trade-off: wider and larger is slower and better.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from pisight.convert.tune.objective import TrialResult
from pisight.convert.tune.space import SearchSpace, TrialPlan
from pisight.convert.tune.study import TuneOptions, run_tune

SMALL_SPACE = SearchSpace(
    alphas=(0.35, 0.5), input_sizes=(96, 128, 160), finest_strides=(16,),
    learning_rates=(1e-3, 3e-3), epochs=(2,), crops=(0.3,),
)  # fmt: skip


def latency_of(plan: TrialPlan) -> float:
    return round(plan.alpha * (plan.input_size / 32) ** 2, 3)


@dataclass(frozen=True)
class FakeTrial:
    delay_s: float = 0.0
    fail_alpha: float | None = None
    """Plans with this width raise, as a trial that cannot train would."""

    def __call__(self, plan: TrialPlan, directory: Path) -> TrialResult:
        directory.mkdir(parents=True, exist_ok=True)
        time.sleep(self.delay_s)
        if plan.alpha == self.fail_alpha:
            raise ValueError(f"alpha {plan.alpha} cannot train here")
        bundle = directory / "bundle"
        bundle.mkdir(exist_ok=True)
        (bundle / "model.tflite").write_bytes(b"fake model")
        accuracy = 0.4 + 0.4 * plan.alpha + plan.input_size / 1000 - abs(plan.learning_rate - 2e-3)
        return TrialResult(
            map50=round(accuracy, 4), latency_ms=latency_of(plan),
            bytes=int(plan.alpha * 1e6), cpu="fake cpu", bundle=str(bundle), seconds=self.delay_s,
        )  # fmt: skip


@dataclass(frozen=True)
class KillsItsWorker:
    """Kills the whole worker process mid-trial, once (a marker file remembers)."""

    marker: Path

    def __call__(self, plan: TrialPlan, directory: Path) -> TrialResult:
        if not self.marker.exists():
            self.marker.write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)
        return FakeTrial()(plan, directory)


def worker(out: Path, storage: str, trials: int, sampler: str, seed: int) -> None:
    """One of two processes sharing a study."""
    options = TuneOptions(out=out, trials=trials, sampler=sampler, storage=storage,
                          seed=seed, space=SMALL_SPACE)  # fmt: skip
    run_tune(options, FakeTrial(delay_s=0.3))


def killed_worker(out: Path, marker: Path) -> None:
    options = TuneOptions(out=out, trials=3, sampler="random", space=SMALL_SPACE,
                          heartbeat_s=1, grace_s=2)  # fmt: skip
    run_tune(options, KillsItsWorker(marker))


@dataclass(frozen=True)
class SaysWhereItRuns:
    """Writes its process id, then trains for a long time."""

    pid_file: Path

    def __call__(self, plan: TrialPlan, directory: Path) -> TrialResult:
        self.pid_file.write_text(str(os.getpid()))
        time.sleep(120)
        return FakeTrial()(plan, directory)


def search_with_a_long_trial(out: Path, pid_file: Path) -> None:
    options = TuneOptions(out=out, trials=1, space=SMALL_SPACE, trial_timeout_s=300)
    run_tune(options, SaysWhereItRuns(pid_file))
