"""What `pisight tune` searches over, and one trial's choice from it.

    space = SearchSpace(alphas=(0.35, 0.5), input_sizes=(160, 224))
    plan = suggest(trial, space)          # TrialPlan(alpha=0.35, input_size=224, ...)
    grid_of(space)                        # {"alpha": [0.35, 0.5], ...} for the grid sampler

Every dimension is a tuple of values. Categorical ones (width, input size, finest stride,
pruning share, teacher) are chosen from it; for the learning rate, epochs and crop
probability the TPE and random samplers draw anywhere between its smallest and largest
value (the learning rate on a log scale) and the grid sampler takes the values listed.
A dimension with one value is fixed, and costs the grid nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import optuna

from pisight.convert.ssd.model import FINEST_STRIDES


@dataclass(frozen=True)
class SearchSpace:
    alphas: tuple[float, ...] = (0.35, 0.5)
    """MobileNetV2 widths."""
    input_sizes: tuple[int, ...] = (160, 192, 224)
    """Square input sides."""
    finest_strides: tuple[int, ...] = (8, 16)
    """8 adds a feature map for small objects (more compute)."""
    learning_rates: tuple[float, ...] = (1e-3, 3e-3)
    """Peak Adam learning rate: a log-scale range (TPE, random) or the grid's values."""
    epochs: tuple[int, ...] = (10, 20)
    """Training epochs: an integer range, or the grid's values."""
    crops: tuple[float, ...] = (0.0, 0.6)
    """Augmentation strength (random-crop probability): a range, or the grid's values."""
    sparsities: tuple[float, ...] = (0.0,)
    """Share of prunable channels removed after training (0: none), then fine-tuned."""
    teachers: tuple[bool, ...] = (False,)
    """With (True) or without the --teacher model's distillation; True needs a teacher."""

    def __post_init__(self) -> None:
        for name, values in asdict(self).items():
            if not values:
                raise ValueError(f"the search space's {name} is empty: give at least one value")
        if not set(self.finest_strides) <= set(FINEST_STRIDES):
            raise ValueError(f"finest strides must be among {FINEST_STRIDES}")
        if any(not 0.0 <= s < 1.0 for s in self.sparsities):
            raise ValueError("pruning shares must be within 0..1 (0: no pruning)")
        if min(self.learning_rates) <= 0 or min(self.epochs) < 1:
            raise ValueError("learning rates must be above 0 and epochs at least 1")

    def grid_size(self) -> int:
        size = 1
        for values in grid_of(self).values():
            size *= len(values)
        return size


@dataclass(frozen=True)
class TrialPlan:
    """One point of the space: how one trial trains, prunes and converts its detector."""

    alpha: float
    input_size: int
    finest_stride: int
    learning_rate: float
    epochs: int
    crop: float
    sparsity: float
    teacher: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        teacher = " teacher" if self.teacher else ""
        pruned = f" pruned {self.sparsity:.0%}" if self.sparsity else ""
        return (
            f"alpha {self.alpha:g} {self.input_size}px stride {self.finest_stride} "
            f"lr {self.learning_rate:.2g} {self.epochs} epochs crop {self.crop:.2f}"
            f"{pruned}{teacher}"
        )


def grid_of(space: SearchSpace) -> dict[str, list]:
    """The grid sampler's search space: every listed value of every dimension."""
    return {
        "alpha": list(space.alphas),
        "input_size": list(space.input_sizes),
        "finest_stride": list(space.finest_strides),
        "learning_rate": sorted(space.learning_rates),
        "epochs": sorted(space.epochs),
        "crop": sorted(space.crops),
        "sparsity": list(space.sparsities),
        "teacher": list(space.teachers),
    }


def suggest(trial: optuna.Trial, space: SearchSpace) -> TrialPlan:
    """Ask the trial's sampler for one plan (the names are the study's parameter names)."""
    lr, epochs, crop = space.learning_rates, space.epochs, space.crops
    return TrialPlan(
        alpha=trial.suggest_categorical("alpha", space.alphas),
        input_size=trial.suggest_categorical("input_size", space.input_sizes),
        finest_stride=trial.suggest_categorical("finest_stride", space.finest_strides),
        learning_rate=_ranged(trial, "learning_rate", lr, log=True),
        epochs=int(_ranged(trial, "epochs", epochs)),
        crop=_ranged(trial, "crop", crop),
        sparsity=trial.suggest_categorical("sparsity", space.sparsities),
        teacher=trial.suggest_categorical("teacher", space.teachers),
    )


def _ranged(trial: optuna.Trial, name: str, values: tuple, log: bool = False) -> float:
    low, high = min(values), max(values)
    if isinstance(low, int) and isinstance(high, int):
        return trial.suggest_int(name, low, high)
    return trial.suggest_float(name, float(low), float(high), log=log and low > 0)
