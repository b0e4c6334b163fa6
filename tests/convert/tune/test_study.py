"""The search machinery on arithmetic trials: samplers, resuming, workers, failures, budget."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pisight.convert.tune.samplers import make_sampler
from pisight.convert.tune.space import SearchSpace, grid_of
from pisight.convert.tune.study import TuneOptions, best_trial, run_tune
from tests.convert.tune.fake_trials import (
    SMALL_SPACE,
    FakeTrial,
    killed_worker,
    worker,
)


def options(tmp_path: Path, **changes) -> TuneOptions:
    return TuneOptions(**{"out": tmp_path / "tune", "trials": 4, "space": SMALL_SPACE, **changes})


def params(study: optuna.Study) -> list[tuple]:
    return [
        tuple(sorted(t.params.items())) for t in study.get_trials(states=(TrialState.COMPLETE,))
    ]


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid"])
def test_each_sampler_runs_the_trials_asked_for(tmp_path: Path, sampler: str) -> None:
    wanted = SMALL_SPACE.grid_size() if sampler == "grid" else 6
    study = run_tune(options(tmp_path, sampler=sampler, trials=wanted), FakeTrial())
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == wanted
    assert sampler in type(study.sampler).__name__.lower()
    for trial in done:
        assert trial.params["alpha"] in SMALL_SPACE.alphas
        assert 1e-3 <= trial.params["learning_rate"] <= 3e-3
        assert trial.values[1] == trial.user_attrs["latency_ms"]
    if sampler == "grid":  # the grid's twelve points, each once
        assert len(set(params(study))) == 12


def test_the_grid_takes_the_listed_values() -> None:
    grid = grid_of(SMALL_SPACE)
    assert grid["input_size"] == [96, 128, 160] and grid["learning_rate"] == [1e-3, 3e-3]


def test_an_unknown_sampler_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="choose one of tpe, random, grid"):
        make_sampler("bayes", SearchSpace())


def test_a_restarted_run_continues_the_same_study(tmp_path: Path) -> None:
    first = run_tune(options(tmp_path, trials=3, sampler="random"), FakeTrial())
    assert len(first.trials) == 3
    before = params(first)  # the study object reads the database: keep what it held
    again = run_tune(options(tmp_path, trials=5, sampler="random"), FakeTrial())
    assert again.study_name == first.study_name
    assert [t.number for t in again.trials] == [0, 1, 2, 3, 4]
    assert params(again)[:3] == before
    # Enough trials already: nothing new runs.
    assert len(run_tune(options(tmp_path, trials=5, sampler="random"), FakeTrial()).trials) == 5


def test_resuming_over_another_space_is_refused(tmp_path: Path) -> None:
    run_tune(options(tmp_path, trials=1), FakeTrial())
    other = SearchSpace(alphas=(0.75,))
    with pytest.raises(ValueError, match="another search space"):
        run_tune(options(tmp_path, trials=2, space=other), FakeTrial())


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path: Path) -> None:
    study = run_tune(options(tmp_path, trials=12, sampler="grid"), FakeTrial(fail_alpha=0.5))
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 6 and len(study.get_trials(states=(TrialState.COMPLETE,))) == 6
    assert all(t.user_attrs["error"] == "ValueError: alpha 0.5 cannot train here" for t in failed)
    assert all(t.params["alpha"] == 0.5 for t in failed)


def test_a_trial_past_its_time_is_killed_and_recorded(tmp_path: Path) -> None:
    started = time.monotonic()
    study = run_tune(options(tmp_path, trials=1, trial_timeout_s=2), FakeTrial(delay_s=60))
    assert time.monotonic() - started < 45  # the child was killed, not waited for
    (trial,) = study.trials
    assert trial.state == TrialState.FAIL
    assert "ran out of time (2 s" in trial.user_attrs["error"]


def test_a_trial_in_its_own_process_returns_its_result(tmp_path: Path) -> None:
    study = run_tune(options(tmp_path, trials=1, trial_timeout_s=120), FakeTrial())
    assert study.trials[0].state == TrialState.COMPLETE


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_the_best_trial_keeps_within_the_budget(tmp_path: Path, sampler: str) -> None:
    budget = 12.0  # alpha 0.35 at 160 (8.75 ms) fits, alpha 0.5 at 160 (12.5) does not
    study = run_tune(options(tmp_path, trials=8, sampler=sampler, budget_ms=budget), FakeTrial())
    best = best_trial(study, budget)
    assert best is not None and best.user_attrs["latency_ms"] <= budget
    fastest_first = [t for t in study.trials if t.user_attrs["latency_ms"] > budget]
    assert all(t.user_attrs["under_budget"] is False for t in fastest_first)
    unconstrained = best_trial(study, None)
    assert unconstrained.user_attrs["map50"] >= best.user_attrs["map50"]
    for trial in study.trials:  # the constraint the sampler reads (TPE models it)
        excess = trial.constraints["latency_over_budget_ms"]
        assert excess == pytest.approx(trial.user_attrs["latency_ms"] - budget)


@pytest.mark.parametrize("sampler", ["grid", "random"])
def test_two_workers_share_one_study_without_repeating_a_trial(
    tmp_path: Path, sampler: str
) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    context = multiprocessing.get_context("spawn")
    workers = [  # the same command on two machines: same seed, same space
        context.Process(target=worker, args=(tmp_path / f"w{i}", storage, 12, sampler, 0))
        for i in range(2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(180)
        assert process.exitcode == 0
    study = optuna.load_study(study_name="pisight-tune", storage=storage)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 12
    # A worker that asked for a trial once the other had filled the study ran none.
    assert {t.state for t in study.trials if t not in done} <= {TrialState.PRUNED}
    assert len(set(params(study))) == 12  # no point twice (the grid: each of its twelve once)
    by_worker = {Path(t.user_attrs["bundle"]).parents[2].name for t in done}
    assert by_worker == {"w0", "w1"}  # both did some of the work


def test_a_killed_worker_s_trial_is_failed_and_retried_on_restart(tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=killed_worker, args=(tmp_path / "tune", marker))
    process.start()
    process.join(120)
    assert process.exitcode == -9 and marker.exists()
    time.sleep(3)  # past the grace period: its heartbeat has stopped
    process = context.Process(target=killed_worker, args=(tmp_path / "tune", marker))
    process.start()
    process.join(120)
    assert process.exitcode == 0
    storage = f"sqlite:///{(tmp_path / 'tune' / 'study.db').resolve()}"
    study = optuna.load_study(study_name="pisight-tune", storage=storage)
    states = [t.state for t in study.trials]
    assert states[0] == TrialState.FAIL and states.count(TrialState.COMPLETE) == 2
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == 0]
    assert retried and retried[0].params == study.trials[0].params


def test_a_search_killed_outright_takes_its_trial_s_process_along(tmp_path: Path) -> None:
    from tests.convert.tune.fake_trials import search_with_a_long_trial

    pid_file = tmp_path / "trial.pid"
    context = multiprocessing.get_context("spawn")
    search = context.Process(target=search_with_a_long_trial, args=(tmp_path / "t", pid_file))
    search.start()
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    trial_pid = int(pid_file.read_text())
    search.kill()
    search.join(10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{trial_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{trial_pid}").exists()  # no orphan left training
