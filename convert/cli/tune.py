"""`pisight tune`: search width, input size, training and pruning for the best INT8 detector.

    pisight tune --data train --eval-data held-out --out tune-out --trials 12 --budget-ms 8
    pisight tune ... --sampler random            # or grid: every listed value combined
    pisight tune ... --teacher models/demo/demo.keras --teachers both
    pisight tune ... --init-from models/demo/demo.keras --alphas 0.5   # shrink a trained one
    pisight tune ... --bench-host pi@pi4.local   # latency on the Pi, over SSH
    pisight tune ... --storage postgresql://host/db --study-name shapes   # many workers

Each trial trains a detector (pisight train), converts it to INT8 (pisight convert),
scores it on --eval-data and times it; the study lives in OUT/study.db, so running the
same command again continues it (a killed run too), and a second process with the same
--storage joins it. At the end: OUT/report.md (Pareto front table), OUT/pareto.png,
OUT/tune.json and OUT/bundle, the chosen trial's bundle.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pisight.convert.cli.train import add_anchor_arguments, anchor_config
from pisight.convert.tune.latency import DEFAULT_DEVICE_PYTHON, BenchHost
from pisight.convert.tune.objective import Trial, TrialSettings
from pisight.convert.tune.report import write_report
from pisight.convert.tune.samplers import SAMPLERS
from pisight.convert.tune.space import SearchSpace
from pisight.convert.tune.study import TuneOptions, run_tune, storage_url
from pisight.device.cli import INTERRUPTED, interrupted

log = logging.getLogger("pisight.tune")
SPACE = SearchSpace()
TEACHER_CHOICES = {"no": (False,), "yes": (True,), "both": (False, True)}
# Each trial's training epochs and conversion steps: -v shows them, by default one line
# per trial does (the progress line of study.Progress).
TRIAL_LOGGERS = (
    "pisight.train", "pisight.finetune", "pisight.prune", "pisight.convert",
    "pisight.verify", "pisight.detector", "pisight.calibration", "pisight.eval",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(command_line="")
    add = parser.add_argument
    add("--data", required=True, metavar="DATASET", help="training dataset")
    add(
        "--eval-data",
        required=True,
        metavar="DATASET",
        help="held-out dataset each trial's INT8 bundle is scored on (never trained on)",
    )
    add("--val-data", metavar="DATASET", help="validation during training (default: 15%% of data)")
    add("--calib", metavar="DATA", help="INT8 calibration images (default: the training data)")
    add("--out", type=Path, default=Path("tune-out"), help="trials, report and best bundle")
    add("--trials", type=int, default=12, help="finished trials the study should hold")
    add("--sampler", choices=list(SAMPLERS), default="tpe", help="tpe (Bayesian), random, grid")
    add("--storage", help="Optuna storage URL or SQLite file (default OUT/study.db)")
    add("--study-name", default="pisight-tune")
    add("--budget-ms", type=float, help="latency budget (p50 ms): a constraint, not an objective")
    add("--timeout", type=float, metavar="S", help="start no trial after this many seconds")
    add(
        "--trial-timeout",
        type=float,
        metavar="S",
        help="kill a trial after this many seconds and record it failed (runs each apart)",
    )
    add("--seed", type=int, default=0)
    add("--batch-size", type=int, default=16)
    add("--finetune-epochs", type=int, default=4, help="fine-tuning epochs after pruning")
    add("--teacher", metavar="BIG.keras", help="a trained detector for distillation trials")
    add(
        "--init-from",
        metavar="MODEL.keras",
        help="every trial starts from this trained detector's weights (its width: --alphas)",
    )
    add(
        "--threads",
        type=int,
        help="interpreter threads for latency (default: all cores but one, as pisight run)",
    )
    add("--bench-host", metavar="USER@HOST[:PORT]", help="measure latency on this Pi instead")
    add("--identity", type=Path, help="ssh key for --bench-host")
    add("--known-hosts", type=Path, help="known_hosts file for --bench-host")
    add("--device-python", default=DEFAULT_DEVICE_PYTHON, help="pisight's Python on the Pi")
    add_anchor_arguments(parser)
    _add_space_arguments(parser)
    # fmt: on


def _add_space_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "search space", "values to choose from; learning rate, epochs and crop are ranges "
        "for tpe and random (smallest to largest value) and the listed points for grid",
    )  # fmt: skip
    add = group.add_argument
    add("--alphas", type=float, nargs="+", default=SPACE.alphas, help="MobileNetV2 widths")
    add("--input-sizes", type=int, nargs="+", default=SPACE.input_sizes)
    add("--finest-strides", type=int, nargs="+", default=SPACE.finest_strides)
    add("--lrs", type=float, nargs="+", default=SPACE.learning_rates, help="learning rates")
    add("--epochs", type=int, nargs="+", default=SPACE.epochs)
    add("--crops", type=float, nargs="+", default=SPACE.crops, help="random-crop probabilities")
    add("--sparsities", type=float, nargs="+", default=SPACE.sparsities,
        help="shares of channels pruned (0: none)")  # fmt: skip
    add(
        "--teachers",
        choices=list(TEACHER_CHOICES),
        default=None,
        help="distill from --teacher: no, yes or both (default: both with --teacher, else no)",
    )


def options_from(args: argparse.Namespace) -> tuple[TuneOptions, TrialSettings]:
    teachers = args.teachers or ("both" if args.teacher else "no")
    if teachers != "no" and not args.teacher:
        raise ValueError(f"--teachers {teachers} needs --teacher BIG.keras")
    if args.teacher and not Path(args.teacher).is_file():
        raise FileNotFoundError(f"no teacher model at {args.teacher}: give a .keras file")
    if args.init_from and not Path(args.init_from).is_file():
        raise FileNotFoundError(f"--init-from {args.init_from} does not exist: give a .keras file")
    space = SearchSpace(
        alphas=tuple(args.alphas), input_sizes=tuple(args.input_sizes),
        finest_strides=tuple(args.finest_strides), learning_rates=tuple(args.lrs),
        epochs=tuple(args.epochs), crops=tuple(args.crops),
        sparsities=tuple(args.sparsities), teachers=TEACHER_CHOICES[teachers],
    )  # fmt: skip
    host = None
    if args.bench_host:
        host = BenchHost(args.bench_host, args.identity, args.known_hosts, args.device_python)
    settings = TrialSettings(
        data=args.data, eval_data=args.eval_data, val_data=args.val_data,
        calibration=args.calib, teacher=args.teacher, init_from=args.init_from,
        anchors=anchor_config(args),
        batch_size=args.batch_size, finetune_epochs=args.finetune_epochs,
        bench_host=host, threads=args.threads,
        seed=args.seed,
    )  # fmt: skip
    options = TuneOptions(
        out=args.out, trials=args.trials, sampler=args.sampler, storage=args.storage,
        study_name=args.study_name, budget_ms=args.budget_ms, timeout_s=args.timeout,
        trial_timeout_s=args.trial_timeout, seed=args.seed, space=space, stopped=interrupted,
    )  # fmt: skip
    return options, settings


def main(args: argparse.Namespace) -> int:
    options, settings = options_from(args)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        for name in TRIAL_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("data", "eval_data"):
        if not Path(getattr(settings, name)).exists():
            flag = "--" + name.replace("_", "-")
            raise FileNotFoundError(f"{flag} {getattr(settings, name)} does not exist")
    try:
        study = run_tune(options, Trial(settings))
    except BaseException as exc:
        if not (isinstance(exc, KeyboardInterrupt) or interrupted()):
            raise
        # The study is in the database, the stopped trial recorded as failed.
        print(f"pisight: interrupted; the study in {storage_url(options)} keeps its finished "
              "trials: run the same command to continue", file=sys.stderr)  # fmt: skip
        return INTERRUPTED
    summary = write_report(study, options, options.out, args.command_line)
    chosen = summary["chosen"]
    counts = summary["trials"]
    print(f"trials: {counts['complete']} completed, {counts['fail']} failed; "
          f"Pareto front: {', '.join(f'#{n}' for n in summary['pareto']) or '-'}")  # fmt: skip
    if chosen is None:
        print(f"no completed trial within the budget; see {options.out / 'report.md'}")
        return 1
    print(
        f"chosen: trial {chosen['number']} ({chosen['plan']}) mAP@0.5 {chosen['map50']:.3f} "
        f"p50 {chosen['latency_ms']:.2f} ms on {chosen['cpu']}, {chosen['bytes']:,} bytes; "
        f"bundle {chosen['bundle_copy'] or chosen['bundle']}; report {options.out / 'report.md'}"
    )
    return 0
