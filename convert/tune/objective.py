"""One trial of `pisight tune`: train, prune, convert to INT8, score and time it.

    result = run_trial(plan, TrialSettings(data="train", eval_data="held-out", ...), Path("t/3"))
    result.map50, result.latency_ms, result.bytes          # the three objectives

The steps are the commands a person would run by hand, called in-process with the
same options: `pisight train` (with --teacher when the plan says so), `pisight
convert` to INT8 (channel pruning with a short fine-tune when the plan prunes),
`pisight eval` of the bundle on held-out images, `pisight bench` here or on the Pi.
What is scored is the INT8 bundle a Pi would run, never the float model. Everything
a trial writes stays in its directory; the best trial's bundle is copied out at the end.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pisight.convert.conversion.converter import convert_model
from pisight.convert.conversion.options import ConvertOptions
from pisight.convert.data.datasets import load_dataset
from pisight.convert.optimize.plan import OptimizePlan
from pisight.convert.report.evaluate import evaluate_model
from pisight.convert.ssd.anchors import AnchorConfig
from pisight.convert.ssd.finetune import FinetuneOptions
from pisight.convert.ssd.train import TrainOptions, train
from pisight.convert.ssd.train_data import Augmentation
from pisight.convert.tune.latency import BenchHost, measure_latency
from pisight.convert.tune.space import TrialPlan

log = logging.getLogger("pisight.tune")


@dataclass(frozen=True)
class TrialSettings:
    """What every trial shares: the data, the teacher, where latency is measured."""

    data: str
    """Training dataset."""
    eval_data: str
    """Held-out dataset the INT8 bundle's mAP@0.5 is measured on (never trained on)."""
    val_data: str | None = None
    """Validation during training (the saved model is its best epoch); None: a share of data."""
    calibration: str | None = None
    """INT8 calibration images; None: the training data."""
    teacher: str | None = None
    """The --teacher model, for plans with teacher=True."""
    init_from: str | None = None
    """A trained detector every trial starts from (pisight train --init-from): trials then
    fine-tune, prune and shrink its input rather than train from nothing."""
    anchors: AnchorConfig = field(default_factory=AnchorConfig)
    batch_size: int = 16
    finetune_epochs: int = 4
    """Fine-tuning epochs after channel pruning."""
    calibration_samples: int = 100
    bench_host: BenchHost | None = None
    threads: int | None = None
    """Interpreter threads for the latency; None: all cores but one of the machine that
    measures (`pisight run`'s default there)."""
    bench_runs: int = 50
    seed: int = 0


@dataclass(frozen=True)
class TrialResult:
    map50: float
    latency_ms: float
    bytes: int
    cpu: str
    """The CPU the latency was measured on."""
    bundle: str
    seconds: float
    latency_where: str = "this machine"
    map50_fp32_val: float | None = None
    """Best validation mAP@0.5 of the float model during training."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Trial:
    """run_trial with its settings bound: the study's objective(plan, directory), picklable
    so a trial can run in a child process (isolation.py)."""

    settings: TrialSettings

    def __call__(self, plan: TrialPlan, directory: Path) -> TrialResult:
        return run_trial(plan, self.settings, directory)


def run_trial(plan: TrialPlan, settings: TrialSettings, directory: Path) -> TrialResult:
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    if plan.teacher and settings.teacher is None:
        raise ValueError("the plan distills from a teacher but tune was given no --teacher")
    model = directory / "model.keras"
    trained = train(train_options(plan, settings, model))
    bundle = directory / "bundle"
    convert_model(convert_options(plan, settings, model, bundle))
    held_out = load_dataset(settings.eval_data)
    scored = evaluate_model(bundle, held_out, threads=settings.threads)
    latency = measure_latency(bundle, settings.bench_host, settings.threads, settings.bench_runs)
    result = TrialResult(
        map50=round(scored.map50, 4), latency_ms=latency.p50_ms,
        bytes=(bundle / "model.tflite").stat().st_size, cpu=latency.cpu, bundle=str(bundle),
        seconds=round(time.monotonic() - started, 1), latency_where=latency.where,
        map50_fp32_val=trained.best_map50,
    )  # fmt: skip
    log.info("trial in %s: mAP@0.5 %.3f, p50 %.2f ms, %d bytes", directory, result.map50,
             result.latency_ms, result.bytes)  # fmt: skip
    return result


def train_options(plan: TrialPlan, settings: TrialSettings, out: Path) -> TrainOptions:
    return TrainOptions(
        data=settings.data, out=out, input_size=plan.input_size, alpha=plan.alpha,
        epochs=plan.epochs, batch_size=settings.batch_size, learning_rate=plan.learning_rate,
        seed=settings.seed, val_data=settings.val_data,
        # A few validations, the last at the final epoch; no early stop: epochs is searched.
        eval_every=max(1, plan.epochs // 3), patience=plan.epochs + 1,
        anchors=settings.anchors, finest_stride=plan.finest_stride,
        augmentation=replace(Augmentation(), crop=plan.crop),
        teacher=settings.teacher if plan.teacher else None,
        init_from=settings.init_from,
        command=f"pisight tune trial: {plan.describe()}",
    )  # fmt: skip


def convert_options(
    plan: TrialPlan, settings: TrialSettings, model: Path, bundle: Path
) -> ConvertOptions:
    optimize = OptimizePlan()
    if plan.sparsity > 0:
        optimize = OptimizePlan(
            prune=plan.sparsity, structure="channel", finetune_data=settings.data,
            finetune=FinetuneOptions(epochs=settings.finetune_epochs, learning_rate=1e-3,
                                     seed=settings.seed),
        )  # fmt: skip
    return ConvertOptions(
        model=str(model), out=bundle, per_tensor=True,
        calibration=settings.calibration or settings.data,
        calibration_samples=settings.calibration_samples, seed=settings.seed,
        # The search scores every trial itself on held-out data; a gate refusing a trial
        # would lose its point on the front, and tflite-runtime's check costs a venv run.
        gate=False, check_legacy_runtime=False, agreement_frames=20, optimize=optimize,
        command=f"pisight tune trial: {plan.describe()}",
    )  # fmt: skip
