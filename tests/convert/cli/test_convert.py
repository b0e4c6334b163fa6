"""`pisight convert` defaults: what --prune, --cluster and --qat do when nothing else is said."""

from __future__ import annotations

import argparse

import pytest

from pisight.convert.cli.convert import add_arguments, options_from, plan_from


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["demo.keras", "--out", "bundle", "--finetune-data", "d", *extra])


@pytest.mark.parametrize(
    ("extra", "clusters", "epochs", "learning_rate"),
    [
        (["--prune", "0.3", "--prune-structure", "channel"], None, 30, 1e-3),
        (["--prune", "0.5"], 10, 10, 5e-4),
        (["--prune", "0.5", "--cluster", "0"], None, 10, 5e-4),
        (["--prune", "0.5", "--prune-structure", "2:4"], None, 10, 5e-4),
        (["--prune", "0.5", "--qat"], None, 10, 5e-4),
        (["--prune", "0.5", "--per-tensor"], None, 10, 5e-4),
        (["--qat"], None, 6, 5e-4),
        (["--cluster", "16"], 16, 10, 5e-4),
        (["--prune", "0.3", "--prune-structure", "channel", "--finetune-epochs", "4",
          "--finetune-lr", "2e-4"], None, 4, 2e-4),
    ],
)  # fmt: skip
def test_each_technique_gets_its_measured_recipe(
    extra: list[str], clusters: int | None, epochs: int, learning_rate: float
) -> None:
    plan = plan_from(_args(*extra))
    assert plan.clusters == clusters
    assert (plan.finetune.epochs, plan.finetune.learning_rate) == (epochs, learning_rate)


def test_the_gate_is_on_unless_skipped() -> None:
    assert options_from(_args("--prune", "0.5")).gate is True
    skipped = options_from(_args("--prune", "0.5", "--skip-accuracy-gate"))
    assert skipped.gate is False and skipped.max_map_drop is None
