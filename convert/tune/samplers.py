"""The three searches the documents name, as Optuna samplers chosen by name.

    sampler = make_sampler("tpe", space, seed=0)

- `tpe`: Bayesian optimisation (Tree-structured Parzen Estimator, multi-objective), which
  models the good and the bad trials so far; with a latency budget each trial records
  its excess over it (study.py, `Trial.set_constraint`) and TPE proposes within it.
- `random`: independent uniform draws; the baseline any cleverer search must beat.
  The budget only filters its results, as the grid's.
- `grid`: every combination of the listed values (space.grid_of), in an order that two
  workers sharing a study split between them without repeating a point.

Workers sharing a study give the same --seed. A seeded sampler would then propose the
same sequence in every worker, so the random draws are seeded per trial instead, from
the seed and the trial's number (the database hands each number out once): trial 7
gets the same proposal whichever worker runs it, and no two trials the same draws.
The grid's order is shuffled by the seed once, alike in every worker; trial N takes its
point N.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from pisight.convert.tune.space import SearchSpace, grid_of

LATENCY_ATTR = "latency_ms"


def trial_seed(seed: int | None, number: int) -> int:
    return (0 if seed is None else seed) * 1_000_003 + number


def _reseed(sampler: optuna.samplers.BaseSampler, seed: int) -> None:
    """Optuna 5.0's samplers draw from `_rng` (TPE also from its startup RandomSampler)."""
    for owner in (sampler, getattr(sampler, "_random_sampler", None)):
        rng = getattr(owner, "_rng", None)
        if rng is not None:
            rng.rng.seed(seed)


class TrialSeededTPE(optuna.samplers.TPESampler):
    def __init__(self, seed: int | None, **kwargs) -> None:
        super().__init__(seed=seed, **kwargs)
        self.base_seed = seed

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        _reseed(self, trial_seed(self.base_seed, trial.number))
        super().before_trial(study, trial)


class TrialSeededRandom(optuna.samplers.RandomSampler):
    def __init__(self, seed: int | None) -> None:
        super().__init__(seed=seed)
        self.base_seed = seed

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        _reseed(self, trial_seed(self.base_seed, trial.number))
        super().before_trial(study, trial)


def _tpe(space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    del space  # TPE reads the space from the trials' distributions
    return TrialSeededTPE(seed, multivariate=True, n_startup_trials=5)


def _random(space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    del space
    return TrialSeededRandom(seed)


def _grid(space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GridSampler(grid_of(space), seed=seed)


SAMPLERS: dict[str, Callable[..., optuna.samplers.BaseSampler]] = {
    "tpe": _tpe,
    "random": _random,
    "grid": _grid,
}


def make_sampler(
    name: str, space: SearchSpace, seed: int | None = 0
) -> optuna.samplers.BaseSampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name](space, seed)
