"""The search itself: an Optuna study in a database, trials until it holds enough.

    study = run_tune(TuneOptions(out=Path("tune-out"), trials=12, budget_ms=8.0), objective)
    # objective(plan, directory) -> TrialResult   (objective.run_trial with its settings)

Three objectives: mAP@0.5 of the INT8 bundle (up), its latency and its bytes (down).
The study lives in `--storage` (default: sqlite:///OUT/study.db), so a search that was
stopped, killed or lost its machine starts again where it was, and several workers
(processes or machines) pointed at one database share one study: trial numbers come
from the database, so no two workers run the same trial, and the grid sampler hands
trial N the grid's point N.

`trials` counts what the study holds, not what this run adds: a restarted run only
makes up the difference. A trial that raises, crashes or runs past `trial_timeout_s`
is recorded as failed with its error and the search goes on. A worker killed outright
leaves its trial "running"; its heartbeat stops, and the next worker to start a trial
after the grace period marks it failed and queues its plan again, once.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

from pisight.convert.tune.isolation import one_line, run_isolated
from pisight.convert.tune.objective import TrialResult
from pisight.convert.tune.samplers import LATENCY_ATTR, make_sampler
from pisight.convert.tune.space import SearchSpace, TrialPlan, suggest

log = logging.getLogger("pisight.tune")
OBJECTIVES = ("map50", "latency_ms", "bytes")
DIRECTIONS = ("maximize", "minimize", "minimize")
HEARTBEAT_S = 10
GRACE_S = 60
"""A running trial without a heartbeat for this long belonged to a worker that died."""
FINISHED = (TrialState.COMPLETE, TrialState.FAIL)
OVER_BUDGET = "latency_over_budget_ms"

Objective = Callable[[TrialPlan, Path], TrialResult]


@dataclass(frozen=True)
class TuneOptions:
    out: Path
    """Trials' directories, the report, the best bundle (and study.db by default)."""
    trials: int = 12
    """Finished trials (completed or failed) the study should hold."""
    sampler: str = "tpe"
    storage: str | None = None
    """An Optuna storage URL (sqlite:///f.db, postgresql://...) or a path; None: OUT/study.db."""
    study_name: str = "pisight-tune"
    budget_ms: float | None = None
    """Latency budget: trials above it are infeasible (a constraint TPE models; the best is
    chosen under it)."""
    timeout_s: float | None = None
    """This run starts no trial after this many seconds."""
    trial_timeout_s: float | None = None
    """A trial running longer is killed and recorded as failed; None: no limit, in-process."""
    seed: int = 0
    space: SearchSpace = field(default_factory=SearchSpace)
    heartbeat_s: int = HEARTBEAT_S
    grace_s: int = GRACE_S
    stopped: Callable[[], bool] = bool
    """Whether the user stopped the search: a trial failing then is the stop, not a failure
    to record and go on from (the CLI passes device/cli.py's `interrupted`)."""


def storage_url(options: TuneOptions) -> str:
    if options.storage is None:
        return f"sqlite:///{(options.out / 'study.db').resolve()}"
    if "://" in options.storage:
        return options.storage
    return f"sqlite:///{Path(options.storage).resolve()}"


def open_study(options: TuneOptions) -> optuna.Study:
    """Create the study, or load it when the storage already holds one of that name."""
    options.out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # Progress prints each trial
    url = storage_url(options)
    # Heartbeats, their retry callback and metric names are marked experimental since
    # Optuna 2.8/3.2 and unchanged since; the warning would follow every start.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = _storage(url, options)
    sampler = make_sampler(options.sampler, options.space, options.seed)
    study = optuna.create_study(
        storage=storage, sampler=sampler, study_name=options.study_name,
        directions=list(DIRECTIONS), load_if_exists=True,
    )  # fmt: skip
    _check_space(study, options.space)
    study.set_metric_names(list(OBJECTIVES))
    return study


def _storage(url: str, options: TuneOptions) -> optuna.storages.RDBStorage:
    # Two workers on one SQLite file wait for each other's writes (timeout) instead of
    # failing. Two workers starting on a new database both create its tables; the loser's
    # insert fails once the winner's are there, and a second try finds them.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=options.heartbeat_s,
                grace_period=options.grace_s,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )  # fmt: skip
        except SQLAlchemyError:
            if attempt == 4:
                raise
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _check_space(study: optuna.Study, space: SearchSpace) -> None:
    """A study is one search: resuming it over another space would mix two."""
    wanted = json.dumps(asdict(space), sort_keys=True)
    found = study.user_attrs.get("space")
    if found is None:
        study.set_user_attr("space", wanted)
    elif found != wanted:
        raise ValueError(
            f"study {study.study_name!r} was started over another search space "
            f"({found}): use the same space flags or a new --study-name"
        )


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_tune(options: TuneOptions, objective: Objective) -> optuna.Study:
    """Trials until the study holds `options.trials` finished ones (or the time is up)."""
    if options.trials < 1:
        raise ValueError(f"--trials must be at least 1, got {options.trials}")
    study = open_study(options)
    have = finished_trials(study)
    if have >= options.trials:
        log.info("study %s already holds %d finished trials", options.study_name, have)
        return study
    log.info("study %s in %s: %d of %d trials finished, %s sampler", options.study_name,
             storage_url(options), have, options.trials, options.sampler)  # fmt: skip
    progress = Progress(options, time.monotonic())
    study.optimize(
        lambda trial: _objective(trial, options, objective),
        timeout=options.timeout_s,
        catch=(Exception,),
        callbacks=[optuna.study.MaxTrialsCallback(options.trials, states=FINISHED), progress],
    )
    return study


def _objective(trial: optuna.Trial, options: TuneOptions, objective: Objective) -> tuple:
    _stop_when_full(trial, options.trials)
    plan = suggest(trial, options.space)
    directory = options.out / "trials" / f"{trial.number:04d}"
    trial.set_user_attr("plan", plan.describe())
    log.info("trial %d: %s", trial.number, plan.describe())
    started = time.monotonic()
    try:
        result = run_isolated(objective, (plan, directory), options.trial_timeout_s)
    except Exception as exc:
        trial.set_user_attr("error", "interrupted" if options.stopped() else one_line(exc))
        trial.set_user_attr("seconds", round(time.monotonic() - started, 1))
        if options.stopped():
            raise KeyboardInterrupt from exc
        raise
    for key, value in result.to_json().items():
        trial.set_user_attr(key, value)
    if options.budget_ms is not None:
        trial.set_user_attr("under_budget", result.latency_ms <= options.budget_ms)
        # <= 0 is feasible; TPE models the feasible trials apart from the others.
        trial.set_constraint(OVER_BUDGET, result.latency_ms - options.budget_ms)
    return result.map50, result.latency_ms, result.bytes


def _stop_when_full(trial: optuna.Trial, wanted: int) -> None:
    """Workers finishing at once could each start one more trial; the database numbers
    trials in order, so a trial runs only while fewer than `wanted` came before it.
    The one that does not is recorded as pruned, and its worker stops."""
    earlier = trial.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
    if sum(t.number < trial.number for t in earlier) >= wanted:
        trial.study.stop()
        raise optuna.TrialPruned(f"the study already holds {wanted} trials")


class Progress:
    """One line per finished trial: what it scored, the best so far, the time left."""

    def __init__(self, options: TuneOptions, started: float) -> None:
        self.options, self.started, self.ran = options, started, 0

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.PRUNED:
            return  # a surplus trial (_stop_when_full), not one that ran
        self.ran += 1
        done = finished_trials(study)
        print(self.line(study, trial, done), flush=True)

    def line(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, done: int) -> str:
        attrs = trial.user_attrs
        if trial.state == TrialState.COMPLETE:
            what = (
                f"mAP@0.5 {attrs['map50']:.3f}, {attrs[LATENCY_ATTR]:.2f} ms, "
                f"{attrs['bytes'] / 1e3:.0f} KB"
            )
            if self.options.budget_ms is not None and not attrs.get("under_budget"):
                what += " (over budget)"
        else:
            what = f"{trial.state.name.lower()}: {attrs.get('error', 'no answer')}"
        best = best_trial(study, self.options.budget_ms)
        best_text = "none yet" if best is None else (
            f"#{best.number} mAP@0.5 {best.user_attrs['map50']:.3f} at "
            f"{best.user_attrs[LATENCY_ATTR]:.2f} ms"
        )  # fmt: skip
        return (
            f"trial {trial.number} [{done}/{self.options.trials}] {what} | best"
            f"{' under budget' if self.options.budget_ms is not None else ''}: {best_text} | "
            f"{self._left(done)}"
        )

    def _left(self, done: int) -> str:
        elapsed = time.monotonic() - self.started
        remaining = max(0, self.options.trials - done)
        estimate = elapsed / max(self.ran, 1) * remaining
        if self.options.timeout_s is not None:
            estimate = min(estimate, max(0.0, self.options.timeout_s - elapsed))
        return f"~{estimate / 60:.0f} min left ({remaining} trials to go)"


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def best_trial(study: optuna.Study, budget_ms: float | None) -> optuna.trial.FrozenTrial | None:
    """The most accurate completed trial within the budget; the faster of equals."""
    feasible = [
        t for t in completed(study)
        if budget_ms is None or t.user_attrs[LATENCY_ATTR] <= budget_ms
    ]  # fmt: skip
    if not feasible:
        return None
    return max(feasible, key=lambda t: (t.user_attrs["map50"], -t.user_attrs[LATENCY_ATTR]))
