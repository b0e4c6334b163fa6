"""What `--prune`, `--cluster` and `--qat` do when nothing else is said: the recipes.

    recipe = recipe_for(prune=0.3, structure="channel", clusters=None, qat=False)
    recipe.epochs, recipe.learning_rate          # 30, 1e-3
    clusters = default_clusters(prune=0.5, structure="unstructured", qat=False)   # 10
    limit = default_max_drop(prune=0.5, clusters=10, qat=False)                   # 2.0

Each figure is what reached the accepted results on the demo detector
(scripts/optimize-demo-model.sh, issue 19): a newcomer who types only `--prune 0.5
--finetune-data DIR` gets the recipe that was measured, not a generic one.

- channel pruning: 30 epochs at 1e-3. Whole channels cost more to win back than
  scattered weights; 20 epochs left the loss still falling and the mAP drop over 2 points.
- unstructured and 2:4 pruning: 10 epochs at 5e-4, and (unstructured) 10 shared values
  per kernel on top: half the weights zero alone took the gzipped INT8 file only to
  ~0.78x of plain INT8; clustered, the surviving values have ~3.3 bits each (~0.6x).
- clustering alone: 10 epochs at 5e-4, as after pruning.
- every pruning and clustering fine-tune distils the model as given: its class scores on
  every anchor are a second target beside the labels (with 1,500 images of a new seed,
  labels alone left 50 % unstructured sparsity 2.5 points short; with the teacher it
  kept within 0.8 on the held-out images and 1.5 on unseen ones).
- QAT alone: 6 epochs at 5e-4 (it starts from the trained weights, the float model
  teaching it).

The accuracy gate allows 2 points of mAP@0.5 against post-training INT8 of the model as
given when weights are pruned or clustered, 1 point for QAT alone (it should gain) and
1 point against FP32 for a plain conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

from pisight.convert.optimize.gate import HOLDOUT_SHARE


@dataclass(frozen=True)
class Recipe:
    epochs: int
    learning_rate: float


CHANNEL = Recipe(epochs=30, learning_rate=1e-3)
MAGNITUDE = Recipe(epochs=10, learning_rate=5e-4)
"""Unstructured and 2:4 pruning, and clustering (each step fine-tunes this long)."""
QAT = Recipe(epochs=6, learning_rate=5e-4)
DEFAULT_CLUSTERS = 10
PRUNING_MAX_DROP = 2.0
"""Points of mAP@0.5 pruning or clustering may cost against post-training INT8."""
PLAIN_MAX_DROP = 1.0
"""Points QAT may cost against post-training INT8, and quantization against FP32."""


def recipe_for(prune: float | None, structure: str, clusters: int | None, qat: bool) -> Recipe:
    if prune is not None and structure == "channel":
        return CHANNEL
    if prune is not None or clusters:
        return MAGNITUDE
    return QAT if qat else MAGNITUDE


def default_clusters(
    prune: float | None, structure: str, qat: bool, per_tensor: bool = False
) -> int | None:
    """10 with unstructured pruning, else none: QAT cannot follow clustering, and one scale
    per tensor scatters the shared values again (plan.check_plan)."""
    if prune is not None and structure == "unstructured" and not qat and not per_tensor:
        return DEFAULT_CLUSTERS
    return None


def default_max_drop(prune: float | None, clusters: int | None, qat: bool) -> float:
    return PRUNING_MAX_DROP if prune is not None or clusters else PLAIN_MAX_DROP


HELP = (
    "Defaults when only --prune/--cluster/--qat is given (measured on the demo detector): "
    f"--prune-structure channel: {CHANNEL.epochs} epochs at {CHANNEL.learning_rate:g}; "
    f"unstructured and 2:4: {MAGNITUDE.epochs} epochs at {MAGNITUDE.learning_rate:g}, and "
    f"unstructured adds --cluster {DEFAULT_CLUSTERS} (another {MAGNITUDE.epochs} epochs; "
    "not with --qat or --per-tensor; --cluster 0 turns it off); "
    f"--qat alone: {QAT.epochs} epochs at {QAT.learning_rate:g}; each fine-tune learns "
    "the given model's class scores too (distillation). "
    f"Without --eval-data, {HOLDOUT_SHARE:.0%} of --finetune-data is held out: every "
    "fine-tune keeps its best epoch on it, and the bundle is refused if it loses more "
    "mAP@0.5 on it than --max-map-drop against post-training INT8 (default "
    f"{PRUNING_MAX_DROP:g} points for pruning and clustering, {PLAIN_MAX_DROP:g} for QAT)."
)
